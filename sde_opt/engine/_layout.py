"""Which chains the engine runs with the path axis last.

Inside a segment the engine can hold every state leaf as ``(*leaf_shape, paths)`` instead of
``(paths, *leaf_shape)``. XLA's CPU compiler vectorizes along the minor axis: path-first, a
d = 10 state fills one 8-lane vector and two lanes of a second per path; path-last, the lanes run
across paths and are all used, for the Threefry hash, the erfinv and the step alike
(``benchmarks/bare_loop.py``: the fixed-horizon loop with the engine's per-step checks 2.0–2.3×
faster, ``benchmarks/RESULTS.md``).

The layout changes nothing in a computation of correctly rounded elementwise operations (+, −, ×,
÷, √, comparisons, selects), but XLA sums a row and a column in different orders, so a reduction
(a norm, a dot product, a matrix–vector product, a softmax) inside the step would change the last
bits of the results; so can a transcendental function (tanh, exp, log, …), whose vectorized
polynomial XLA compiles differently with the layout and with what it is fused with. And path-
first, XLA fuses the generator's last multiplications into the step and may fold them with the
step's own constants (``c₁·(c₂·z)`` → ``(c₁c₂)·z``), which path-last, where the normals are a loop
carry, it cannot: a step that multiplies the noise directly rounds differently in the two layouts
(``so.SDE``'s Euler–Maruyama step does). The engine therefore lays paths last only when the step
and the position map are built from correctly rounded elementwise and structural primitives alone
and the step passes its noise through an optimization barrier before using it (as ``GradientSDE``
does), read off their jaxprs; events and observables, which often reduce, see path-first copies.
Every other chain runs path-first, exactly as before.
"""

from __future__ import annotations

import jax
from jax.extend import core as jex_core

from ..noise import StandardNormal

# Primitives that act on each element alone and are correctly rounded (IEEE 754 basic
# operations, comparisons, selects, conversions, integer and bit operations): the same bits in
# vector and scalar code, whatever the layout. Functions that XLA evaluates by polynomial
# approximation (exp, log, tanh, sin, erf, …) are left out on purpose: their vectorized code
# depends on the layout and on what they are fused with, and a review found tanh, expm1, arcsinh,
# arccos and sigmoid in a step rounding differently path-first and path-last.
_ELEMENTWISE = frozenset({
    "abs", "add", "and", "bitcast_convert_type", "ceil", "clamp", "conj",
    "convert_element_type", "copy", "copy_p", "div", "eq", "floor", "ge", "gt", "imag",
    "integer_pow", "is_finite", "le", "lt", "max", "min", "mul", "ne", "neg", "nextafter", "not",
    "or", "population_count", "real", "reduce_precision", "rem", "round", "select_n",
    "shift_left", "shift_right_arithmetic", "shift_right_logical", "sign", "sqrt", "square",
    "sub", "xor",
})
# Primitives that only move or create elements (no arithmetic across elements).
_STRUCTURAL = frozenset({
    "broadcast_in_dim", "concatenate", "expand_dims", "iota", "optimization_barrier", "reshape",
    "slice", "split", "squeeze", "transpose",
})
# Calls whose body is another jaxpr, checked recursively.
_CALLS = frozenset({
    "checkpoint", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call",
    "custom_vjp_call_jaxpr", "jit", "pjit", "remat",
})


def _sub_jaxprs(params):
    for value in params.values():
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, jex_core.ClosedJaxpr):
                yield v.jaxpr
            elif isinstance(v, jex_core.Jaxpr):
                yield v


def elementwise_only(jaxpr) -> bool:
    """True when every equation of ``jaxpr`` (and of the jaxprs it calls) is a correctly rounded
    elementwise operation or a structural one: its results are then the same bits in any memory
    layout."""
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in _ELEMENTWISE or name in _STRUCTURAL:
            continue
        if name in _CALLS:
            subs = list(_sub_jaxprs(eqn.params))
            if subs and all(elementwise_only(s) for s in subs):
                continue
        return False
    return True


def noise_behind_barrier(closed_jaxpr, n_state_leaves: int) -> bool:
    """True when the step's noise (its inputs after the ``n_state_leaves`` state leaves) is used
    only by ``optimization_barrier``: nothing in the step can then be folded into the generator's
    arithmetic, whichever the layout."""
    jaxpr = closed_jaxpr.jaxpr
    noise = set(jaxpr.invars[n_state_leaves:])
    if any(isinstance(v, jex_core.Var) and v in noise for v in jaxpr.outvars):
        return False
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "optimization_barrier":
            continue
        if any(isinstance(v, jex_core.Var) and v in noise for v in eqn.invars):
            return False
    return True


def paths_last(chain, point) -> bool:
    """Whether the engine may hold ``chain``'s states path-last: its noise is the engine's
    standard normal stream, ``chain.step`` and ``chain.position`` are elementwise
    (``elementwise_only``) for a start of the structure of ``point``, and the step passes its
    noise through an optimization barrier (``noise_behind_barrier``)."""
    if not isinstance(chain.noise, StandardNormal):
        return False
    try:
        state = jax.eval_shape(chain.init, point)
        pos = jax.eval_shape(chain.position, state)
        dtype = jax.tree_util.tree_leaves(pos)[0].dtype
        noise = jax.ShapeDtypeStruct(tuple(chain.noise.shape), dtype)
        step = jax.make_jaxpr(chain.step)(state, noise)
        position = jax.make_jaxpr(chain.position)(state).jaxpr
    except Exception:  # noqa: BLE001 — a chain this check cannot trace keeps the default layout
        return False
    n_state = len(jax.tree_util.tree_leaves(state))
    return (elementwise_only(step.jaxpr) and elementwise_only(position)
            and noise_behind_barrier(step, n_state))

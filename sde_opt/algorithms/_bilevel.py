"""Building blocks of the bilevel algorithms: inner gradient loops, CG (lineax), Neumann series.

Everything is written with the level oracles of [`AbstractBilevel`][sde_opt.AbstractBilevel]
(gradients, JVPs and HVPs; never a dense Hessian). Oracle calls are counted in an int32 vector
``counts`` carried in each algorithm's state, in the order of ``COUNT_NAMES``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from .._checks import check_positive, check_shape, is_concrete
from ..problems._base import check_problem
from ..problems.bilevel import AbstractBilevel

COUNT_NAMES = ("grad_f", "grad_g", "jvp", "hvp")
"""Oracle calls counted per run: upper gradients (∇ₓF, ∇ᵧF) as one call, lower gradients ∇ᵧG,
cross Jacobian-vector products ∇²ₓᵧG v, lower Hessian-vector products ∇²ᵧG v."""


def zero_counts():
    return jnp.zeros(len(COUNT_NAMES), jnp.int32)


def add_counts(counts, grad_f=0, grad_g=0, jvp=0, hvp=0):
    return counts + jnp.stack([jnp.asarray(c, jnp.int32) for c in (grad_f, grad_g, jvp, hvp)])


def check_bilevel(owner: str, problem) -> None:
    check_problem(owner, problem, game=False)
    if not isinstance(problem, AbstractBilevel):
        raise TypeError(f"{owner}: problem must be a bilevel problem (a subclass of "
                        f"so.problems.AbstractBilevel with upper/lower levels); got "
                        f"{type(problem).__name__}")


def check_count(owner: str, name: str, value) -> int:
    """Loop lengths D, N, Q: Python integers ≥ 1 (they fix the compiled loop)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1; got {value!r}")
    return int(value)


def check_scalar_step(owner: str, name: str, value) -> None:
    """A step size: one real number > 0 (a vector of steps is refused, not broadcast)."""
    check_positive(owner, name, value, scalar=True)


def check_flag(owner: str, name: str, value) -> bool:
    """A Python/NumPy bool (``'no'`` or ``0.5`` are refused rather than read as True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False; got {value!r} "
                        f"({type(value).__name__})")
    return bool(value)


def start_y(owner: str, problem, x0, y0):
    """The inner start: zeros of y's shape, or ``y0`` checked for its shape and for positive
    curvature of the lower level there (``check_lower_curvature``); ``x0`` is checked for
    the problem's x shape."""
    check_shape(owner, "x0 (the upper-level start)", x0, tuple(problem.shape))
    if y0 is None:
        y0 = jnp.zeros(problem.y_shape, x0.dtype)
    else:
        check_shape(owner, "y0 (the inner start)", y0, tuple(problem.y_shape))
        y0 = jnp.asarray(y0, x0.dtype)
    return check_lower_curvature(owner, problem, x0, y0)


def check_lower_curvature(owner: str, problem, x, y):
    """At the start (x, y): raise if ∇²ᵧg(x, y) is not positive definite; returns y.

    This is the curvature check conjugate gradients relies on; the smallest eigenvalue is found
    from d_y Hessian-vector products (a check only, not part of any algorithm). With concrete
    values the error names the point; inside ``jit``/``vmap`` (the engine) it is raised at run time
    by ``equinox.error_if`` (the returned y carries the check).
    """
    eye = jnp.eye(y.shape[0], dtype=y.dtype)
    h = jax.vmap(lambda e: problem.lower_hvp(x, y, e))(eye)
    if is_concrete(x) and is_concrete(y):
        lam = float(np.linalg.eigvalsh(np.asarray(h, np.float64)).min())
        if not lam > 0:
            raise ValueError(
                f"{owner}: the lower level is not strongly convex at the start: λ_min(∇²ᵧg(x0, y0)) "
                f"= {lam:.4g} <= 0 at x0 = {np.asarray(x).tolist()}, y0 = {np.asarray(y).tolist()}; "
                "the CG solve of AID (and the Neumann series of StocBiO) needs positive curvature")
        return y
    lam = jnp.linalg.eigvalsh(0.5 * (h + h.T)).min()
    return eqx.error_if(y, ~(lam > 0), f"{owner}: the lower level is not strongly convex at the "
                        "start point (λ_min(∇²ᵧg(x0, y0)) <= 0); the CG solve of AID (and the Neumann "
                        "series of StocBiO) needs positive curvature — call init(x0) outside jit to "
                        "see the point")


_UNROLL_MAX = 32
"""Inner loops of at most this many steps are unrolled: a rolled ``while`` loop of a few
matrix-vector products per path costs more in loop overhead and in the transposes XLA inserts
around its batched body than the products themselves (issue 24: StocBiO's step ran ≈ 2× faster
with D = 5, Q = 10 unrolled on one core). The iterates are the same operations in the same
order; XLA fuses the unrolled body differently, so float32 rounding can differ by an ulp."""


def _unroll(steps: int) -> int | bool:
    return True if steps <= _UNROLL_MAX else 1


def inner_gd(problem, x, y, alpha, steps: int):
    """D gradient steps y ← y − α ∇ᵧg(x, y) (deterministic)."""
    a = alpha.astype(y.dtype)
    return jax.lax.fori_loop(0, steps, lambda _, yy: yy - a * problem.lower_grad_y(x, yy), y,
                             unroll=_unroll(steps))


def inner_sgd(problem, x, y, alpha, noises):
    """D stochastic gradient steps y ← y − α ∇ᵧG(x, y; ζ_t), one draw per step (axis 0)."""
    a = alpha.astype(y.dtype)

    def body(yy, z):
        return yy - a * problem.stochastic_lower_grad_y(x, yy, z), None

    return jax.lax.scan(body, y, noises, unroll=_unroll(noises.shape[0]))[0]


def cg(problem, x, y, b, v0, steps: int):
    """N conjugate-gradient steps on ∇²ᵧg(x, y) v = b from the warm start v0.

    The operator is v ↦ ∇²ᵧg(x, y) v, a JVP of ∇ᵧg (no matrix); one HVP per step plus one for the
    initial residual. The textbook recursion (Hestenes–Stiefel) runs exactly ``steps`` steps on
    the problem scaled by s = ‖b‖ + ‖v0‖ (CG is invariant under v ↦ v/s, b ↦ b/s), with a step
    of 0 once the residual is exactly 0: near a stationary point ‖b‖ can be ~1e-10, whose squares
    underflow float32 and made ``jax.scipy.sparse.linalg.cg`` return NaN (0/0). Returns (v,
    number of HVPs).

    Why not lineax: ``lineax.CG`` (0.1.1) accepts a warm start (``options={"y0": v0}``) and gives
    the same iterates (``cg_lineax``, checked in the tests), but inside the engine's
    ``shard_map`` over the path axis its ``FunctionLinearOperator`` rejects the operator: the
    traced vectors carry a sharding that its structure check and closure conversion compare.
    """
    scale = jnp.sqrt(jnp.sum(b * b)) + jnp.sqrt(jnp.sum(v0 * v0))
    scale = jnp.where(scale > 0, scale, jnp.ones_like(scale))
    hvp = lambda v: problem.lower_hvp(x, y, v)  # noqa: E731
    v = v0 / scale
    r = b / scale - hvp(v)
    rr = jnp.sum(r * r)

    def body(_, carry):
        v, r, p, rr = carry
        hp = hvp(p)
        php = jnp.sum(p * hp)
        a = jnp.where(php > 0, rr / jnp.where(php > 0, php, 1), 0)
        v, r = v + a * p, r - a * hp
        rr_new = jnp.sum(r * r)
        beta = jnp.where(rr > 0, rr_new / jnp.where(rr > 0, rr, 1), 0)
        return v, r, r + beta * p, rr_new

    v, _, _, _ = jax.lax.fori_loop(0, steps, body, (v, r, r, rr), unroll=_unroll(steps))
    return v * scale, 1 + steps


def cg_lineax(problem, x, y, b, v0, steps: int):
    """The same N CG steps with lineax (warm start via ``options={"y0": v0}``); outside the engine
    only (see ``cg``). Returns (v, number of HVPs)."""
    op = lx.FunctionLinearOperator(lambda v: problem.lower_hvp(x, y, v),
                                   jax.ShapeDtypeStruct(b.shape, b.dtype),
                                   tags=lx.positive_semidefinite_tag)
    solver = lx.CG(rtol=0.0, atol=0.0, max_steps=steps, stabilise_every=None)
    sol = lx.linear_solve(op, b, solver, options={"y0": v0}, throw=False)
    return sol.value, 1 + sol.stats["num_steps"]


def neumann(hvp, b, alpha, steps: int, noises=None):
    r"""z = α Σ_{q=0}^{Q} Π (I − α H_j) b: the Neumann estimate of H⁻¹ b with Q HVPs.

    ``hvp(v, noise)`` is one (stochastic) Hessian-vector product; ``noises`` has one draw per
    term on axis 0 (``None``: exact HVPs). Term q is the product of the first q factors applied
    to b (StocBiO, Ji, Yang & Liang 2021; the digest's z^Q with Q + 1 terms).
    """
    a = alpha.astype(b.dtype)
    xs = noises if noises is not None else jnp.zeros((steps,), b.dtype)

    def body(carry, nz):
        term, z = carry
        term = term - a * hvp(term, None if noises is None else nz)
        return (term, z + a * term), None

    return jax.lax.scan(body, (b, a * b), xs, unroll=_unroll(steps))[0][1]

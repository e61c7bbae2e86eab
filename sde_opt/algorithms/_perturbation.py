r"""The perturbation of perturbed gradient methods, in one place (perturbed AID and perturbed GDmax).

Jin et al.'s perturbed gradient descent (ICML 2017; JACM 2021), as Huang, Chen, Ji, Ma & Lai
(JMLR 2025, papers.md §3.5 and §3.7) use it around an inexact gradient ĝ of Φ, with step β:

    if ‖ĝ(x_k)‖ ≤ g_thres and more than T gradient steps since the last kick:
        x̃ ← x_k,  x_k ← x̃ − β ξ_k,   ξ_k ~ Uniform(B(0, r)) ⊂ ℝ^{d_x}        (the kick)
    if exactly T gradient steps since the last kick and Φ̂(x_k) − Φ̂(x̃) > −F:
        return x̃                                                           (termination)
    x_{k+1} = x_k − β ĝ(x_k)                       (after a kick: ĝ at the *kicked* point)

``radius`` is the paper's r (units of a gradient: the kick moves x by at most βr). The step
after a kick uses the hypergradient at the kicked point, as in Jin et al.; here a kick is its own
iteration (x_{k+1} = x_k − βξ_k, no gradient step), so the next iteration's ĝ is evaluated at the
kicked point. The points visited are Jin et al.'s and so are the oracle calls (Jin et al. evaluate
the gradient twice in a kick iteration: at x̃ to test it and at the kicked point); the iteration
count is larger by one per kick. Termination compares the oracle's estimate Φ̂ of the objective
(perturbed AID: f(x, y_D); perturbed GDmax: f(x, y_N)) T gradient steps after a kick with its
value at x̃: a kick that buys less than F of decrease means x̃ was an approximate second-order
stationary point, which is returned and kept (the path is frozen: its state no longer changes and
no oracle call is counted). ``decrease=None`` runs without the termination rule (Jin et al.'s
variant with a fixed horizon).

The parameter template (Jin et al.'s, as the digest recalls it for both papers):
``perturbed_gd_template``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_integer, check_positive


class KickState(NamedTuple):
    """``since``: gradient steps since the last kick (starts at T + 1: a kick is allowed at once;
    saturates there); ``kicks``: kicks made; ``anchor``: x̃, the point of the last kick;
    ``anchor_value``: Φ̂(x̃); ``done``: the termination rule fired (the state is frozen)."""

    since: jnp.ndarray
    kicks: jnp.ndarray
    anchor: jnp.ndarray
    anchor_value: jnp.ndarray
    done: jnp.ndarray


def uniform_ball(normals, radius):
    """A point uniform in the ball B(0, radius) ⊂ ℝᵐ from m + 1 standard normals: direction
    normals[:m]/‖normals[:m]‖, norm radius·Φ(normals[m])^{1/m} (Φ the normal CDF)."""
    m = normals.shape[0] - 1
    g = normals[:m]
    u = jax.scipy.special.ndtr(normals[m])
    return jnp.asarray(radius, normals.dtype) * u ** (1.0 / m) * g / jnp.sqrt(jnp.sum(g * g))


def check_kick(owner: str, radius, threshold, interval, decrease) -> int:
    """Checks of the kick's parameters; returns T as a Python int."""
    check_positive(owner, "radius", radius, scalar=True)
    check_positive(owner, "threshold", threshold, scalar=True)
    if decrease is not None:
        check_positive(owner, "decrease", decrease, scalar=True)
    if isinstance(interval, jax.core.Tracer):
        return interval
    if isinstance(interval, (float, np.floating)) or (
            hasattr(interval, "dtype") and np.issubdtype(np.asarray(interval).dtype, np.floating)):
        raise TypeError(f"{owner}: interval (T, gradient steps between kicks) must be an integer; "
                        f"got {interval!r} ({type(interval).__name__})")
    return check_integer(owner, "interval", interval, low=1, high=2**30)


def kick_init(x, interval) -> KickState:
    i = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
    # the anchor's value is read only T steps after a kick, which sets it: 0 until then (a finite
    # state: the engine flags non-finite states as diverged)
    return KickState(i(interval) + 1, i(0), x, jnp.zeros((), x.dtype), jnp.asarray(False))


def kick_step(ks: KickState, x, g, value, normals, *, step, radius, threshold, interval,
              decrease=None):
    """One iteration of the rule in the module docstring, given ĝ and Φ̂ at x.

    Returns (x_{k+1}, the new ``KickState``). ``normals``: d_x + 1 standard normals for the
    kick. The caller freezes its state once ``done`` was already set (``freeze``).
    """
    dtype = x.dtype
    t = jnp.asarray(interval, jnp.int32)
    if decrease is None:
        stop = jnp.asarray(False)
    else:
        stop = (ks.since == t) & (value - ks.anchor_value > -jnp.asarray(decrease, dtype))
    small = jnp.sqrt(jnp.sum(g * g)) <= jnp.asarray(threshold, dtype)
    kick = ~stop & small & (ks.since > t)
    xi = uniform_ball(normals.astype(dtype), radius)
    b = jnp.asarray(step, dtype)
    x_next = jnp.where(stop, ks.anchor, jnp.where(kick, x - b * xi, x - b * g))
    since = jnp.where(kick, 0, jnp.minimum(ks.since + 1, t + 1)).astype(jnp.int32)
    return x_next, KickState(since, ks.kicks + kick.astype(jnp.int32),
                             jnp.where(kick, x, ks.anchor),
                             jnp.where(kick, value.astype(dtype), ks.anchor_value),
                             ks.done | stop)


def freeze(done, old, new):
    """``old`` where ``done`` (a terminated path keeps its state), else ``new``."""
    return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), old, new)


def perturbed_gd_template(owner: str, *, eps, L, rho, delta_phi, dim, delta=0.1, c=1.0) -> dict:
    r"""Jin et al.'s parameters (JACM 2021, as papers.md §3.5 recalls them; [recalled, unverified]):

        β = 1/L,  ι = c·ln(d L Δ_Φ/(ρ ε δ)) (at least 1),  r = ε/(400 ι³)  (the kick is −βξ,
        ξ ∈ B(0, r): it moves x by at most ε/(400 ι³ L)),  T = ⌈(L/√(ρε))·ι⌉,
        F = √(ε³/ρ)/(50 ι³)  (the termination's decrease).

    Returns ``{"step", "radius", "interval", "decrease", "iota"}``.
    """
    for name, v in (("eps", eps), ("L", L), ("rho", rho), ("delta_phi", delta_phi),
                    ("delta", delta), ("c", c)):
        check_positive(owner, name, v, scalar=True)
    dim = check_integer(owner, "dim", dim, low=1)
    if delta >= 1:
        raise ValueError(f"{owner}: delta (the failure probability) must lie in (0, 1); got {delta!r}")
    iota = max(1.0, c * math.log(dim * L * delta_phi / (rho * eps * delta)))
    return {"step": 1.0 / L, "radius": eps / (400.0 * iota**3),
            "interval": int(math.ceil(L / math.sqrt(rho * eps) * iota)),
            "decrease": math.sqrt(eps**3 / rho) / (50.0 * iota**3), "iota": iota}

r"""Perturbed AID with warm start (Huang, Chen, Ji, Ma & Lai, JMLR 2025; digest §3.5)."""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp

from .._checks import check_positive
from ..noise import StandardNormal
from ..problems.bilevel import AbstractBilevel
from ..sde.field import FieldSDE
from ._base import AbstractAlgorithm
from ._bilevel import add_counts, check_bilevel, check_count, check_lower_curvature, uniform_ball, zero_counts
from .aid import aid_hypergradient


class PerturbedAIDState(NamedTuple):
    """AID's state plus ``since`` (iterations since the last kick) and ``kicks`` (their number)."""

    x: jnp.ndarray
    y: jnp.ndarray
    v: jnp.ndarray
    g: jnp.ndarray
    since: jnp.ndarray
    kicks: jnp.ndarray
    counts: jnp.ndarray


def perturbed_aid_template(*, eps, L, rho, delta_phi, dim, delta=0.1, c=1.0, kappa=1.0):
    r"""The parameter template of perturbed GD (Jin et al., JACM 2021) as the digest states it for
    perturbed AID (§3.5, [recalled, unverified]):

        β = 1/L_Φ,   ι = c·log(d L_Φ Δ_Φ/(ρ_Φ ε δ)) (at least 1),   r = ε/(400 ι³),
        T = ⌈(L_Φ/√(ρ_Φ ε))·ι⌉,   threshold ‖ĝ‖ ≤ ε/2 (c·ε with c = ½),
        D = ⌈κ·ι⌉, N = ⌈√κ·ι⌉ (inner loops Θ(κ log) and Θ(√κ log)).

    Returns a dict of PerturbedAID keyword arguments (without α).
    """
    iota = max(1.0, c * math.log(dim * L * delta_phi / (rho * eps * delta)))
    return dict(beta=1.0 / L, radius=eps / (400.0 * iota**3),
                interval=int(math.ceil(L / math.sqrt(rho * eps) * iota)),
                threshold=eps / 2.0, D=int(math.ceil(kappa * iota)),
                N=int(math.ceil(math.sqrt(kappa) * iota)))


class PerturbedAID(AbstractAlgorithm):
    r"""Perturbed AID:  a kick when the hypergradient is small, then AID steps.

    Per outer step k (digest §3.5): (y_k, v_k, ĝ_k) ← AID with warm start ([`AID`][sde_opt.AID]); if
    ‖ĝ_k‖ ≤ ``threshold`` and no kick happened in the last ``interval`` iterations,
    x_k ← x_k + ξ_k with ξ_k uniform in the ball B(0, r) ⊂ ℝ^{d_x}; then x_{k+1} = x_k − β ĝ_k
    (ĝ_k computed before the kick, as in the digest's pseudo-code). The digest writes the kick as
    x_k − βξ_k with ξ_k ∈ B(0, r'): that is this kick with r = βr'. Use
    [`perturbed_aid_template`][sde_opt.algorithms.perturbed_aid_template] for the paper's parameter template.

    Near a strict saddle with λ_min(∇²Φ) = −λ, the unstable component after the kick grows by
    1 + βλ per step: the escape-iteration law is
    ``sde_opt.theory.kicked_escape.kicked_escape_cdf`` (one kick, linearized dynamics).

    Noise: d_x + 1 standard normals per step (the kick's direction and radius). Limit (β → 0):
    the gradient flow dX = −∇Φ dt between kicks (kicks are isolated events, not part of a
    diffusion limit).

    Args:
        problem: a bilevel problem. alpha: inner step (< 2/ℓ). beta: outer step > 0.
        radius: kick radius r > 0. threshold: kick when ‖ĝ‖ ≤ threshold (> 0).
        interval: minimum number of iterations between kicks T (≥ 0).
        D, N: inner GD and CG steps (≥ 1).
    """

    problem: AbstractBilevel
    alpha: jnp.ndarray
    beta: jnp.ndarray
    radius: jnp.ndarray
    threshold: jnp.ndarray
    interval: jnp.ndarray
    D: int = eqx.field(static=True)
    N: int = eqx.field(static=True)

    def __init__(self, problem, alpha, beta, radius, threshold, interval=10, D=10, N=5):
        owner = "PerturbedAID"
        check_bilevel(owner, problem)
        problem.check_lower_step(owner, alpha)
        check_positive(owner, "beta", beta)
        check_positive(owner, "radius", radius)
        check_positive(owner, "threshold", threshold)
        if not float(interval) >= 0:
            raise ValueError(f"{owner}: interval (iterations between kicks) must be >= 0; got "
                             f"{interval!r}")
        self.problem = problem
        self.alpha = jnp.asarray(alpha)
        self.beta = jnp.asarray(beta)
        self.radius = jnp.asarray(radius)
        self.threshold = jnp.asarray(threshold)
        self.interval = jnp.asarray(interval)
        self.D = check_count(owner, "D", D)
        self.N = check_count(owner, "N", N)

    @property
    def dt(self):
        return self.beta

    @property
    def noise(self):
        return StandardNormal((self.problem.shape[0] + 1,))

    def init(self, x0, y0=None):
        y0 = jnp.zeros(self.problem.y_shape, x0.dtype) if y0 is None else y0
        y0 = check_lower_curvature("PerturbedAID", self.problem, x0, y0)
        big = jnp.asarray(jnp.iinfo(jnp.int32).max // 2, jnp.int32)
        return PerturbedAIDState(x0, y0, jnp.zeros_like(y0), jnp.zeros_like(x0), big,
                                 jnp.asarray(0, jnp.int32), zero_counts())

    def step(self, state, noise):
        x, y, v, _, since, kicks, counts = state
        g, y, v, c = aid_hypergradient(self.problem, x, y, v, self.alpha, self.D, self.N)
        kick = (jnp.linalg.norm(g) <= self.threshold.astype(g.dtype)) & (since >= self.interval)
        xi = uniform_ball(noise.astype(x.dtype), self.radius)
        x = jnp.where(kick, x + xi, x) - self.beta.astype(x.dtype) * g
        since = jnp.where(kick, 0, since + (since < jnp.iinfo(jnp.int32).max // 2))  # saturates
        return PerturbedAIDState(x, y, v, g, since.astype(jnp.int32),
                                 kicks + kick.astype(jnp.int32), add_counts(counts, **c))

    def position(self, state):
        return state.x

    def limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

    def ode_limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

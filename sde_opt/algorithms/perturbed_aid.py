r"""Perturbed AID with warm start (Huang, Chen, Ji, Ma & Lai, JMLR 2025; digest §3.5)."""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp

from .._checks import check_range
from ..noise import StandardNormal
from ..problems.bilevel import AbstractBilevel
from ..sde.field import FieldSDE
from ._base import AbstractAlgorithm
from ._bilevel import (
    add_counts,
    check_bilevel,
    check_count,
    check_scalar_step,
    start_y,
    zero_counts,
)
from ._perturbation import KickState, check_kick, freeze, kick_init, kick_step, perturbed_gd_template
from .aid import aid_hypergradient


class PerturbedAIDState(NamedTuple):
    """AID's state (``x``, ``y``, ``v``, ``g``, ``counts``) and the kick's bookkeeping ``kick``
    (``KickState``: steps since the last kick, kicks made,
    the anchor x̃ and Φ̂(x̃), and whether the termination rule fired)."""

    x: jnp.ndarray
    y: jnp.ndarray
    v: jnp.ndarray
    g: jnp.ndarray
    kick: KickState
    counts: jnp.ndarray


def perturbed_aid_template(*, eps, L, rho, delta_phi, dim, delta=0.1, c=1.0, kappa=1.0):
    r"""The parameter template of perturbed GD (Jin et al., JACM 2021) as the digest states it for
    perturbed AID (§3.5, [recalled, unverified]):

        β = 1/L_Φ,   ι = c·log(d L_Φ Δ_Φ/(ρ_Φ ε δ)) (at least 1),   r = ε/(400 ι³)  (the kick is
        x − βξ with ξ uniform in B(0, r), as in the paper),   T = ⌈(L_Φ/√(ρ_Φ ε))·ι⌉,
        threshold ‖ĝ‖ ≤ ε/2,   F = √(ε³/ρ_Φ)/(50 ι³) (termination),
        D = ⌈κ·ι⌉, N = ⌈√κ·ι⌉ (inner loops Θ(κ log) and Θ(√κ log)).

    Returns a dict of PerturbedAID keyword arguments (without α).
    """
    owner = "perturbed_aid_template"
    t = perturbed_gd_template(owner, eps=eps, L=L, rho=rho, delta_phi=delta_phi, dim=dim,
                              delta=delta, c=c)
    check_range(owner, "kappa", kappa, 1.0, float("inf"), high_closed=False, scalar=True)
    iota = t["iota"]
    return dict(beta=t["step"], radius=t["radius"], interval=t["interval"], threshold=eps / 2.0,
                decrease=t["decrease"], D=int(math.ceil(kappa * iota)),
                N=int(math.ceil(math.sqrt(kappa) * iota)))


class PerturbedAID(AbstractAlgorithm):
    r"""Perturbed AID:  a kick when the hypergradient is small, then AID steps.

    Per outer step k (digest §3.5): (y_k, v_k, ĝ_k) ← AID with warm start ([`AID`][sde_opt.AID]), then
    the perturbation rule of Jin et al. shared with perturbed GDmax
    (``sde_opt.algorithms._perturbation``): if ‖ĝ_k‖ ≤ ``threshold`` and more than
    ``interval`` = T gradient steps passed since the last kick, the iteration is the kick
    x_{k+1} = x_k − β ξ_k with ξ_k uniform in B(0, r) ⊂ ℝ^{d_x} (the paper's kick; r =
    ``radius``); otherwise x_{k+1} = x_k − β ĝ_k, so the step after a kick uses the hypergradient
    at the kicked point. With ``decrease`` = F, T gradient steps after a kick the estimate
    Φ̂ = f(x, y_D) is compared with its value at the kick's anchor x̃: a decrease smaller than F
    returns x̃ (the state is frozen there; ``state.kick.done``). Use
    [`perturbed_aid_template`][sde_opt.algorithms.perturbed_aid_template] for the paper's parameter template.

    Near a strict saddle with λ_min(∇²Φ) = −λ, the unstable component after the kick grows by
    1 + βλ per step: the escape-iteration law is
    ``sde_opt.theory.kicked_escape.kicked_escape_cdf`` with kick radius βr (one kick,
    linearized dynamics).

    Noise: d_x + 1 standard normals per step (the kick's direction and radius). Limit (β → 0):
    the gradient flow dX = −∇Φ dt between kicks (kicks are isolated events, not part of a
    diffusion limit).

    Args:
        problem: a bilevel problem. alpha: inner step (< 2/ℓ). beta: outer step > 0.
        radius: r > 0, the radius of ξ (the kick moves x by at most βr).
        threshold: kick when ‖ĝ‖ ≤ threshold (> 0).
        interval: T, an integer ≥ 1: gradient steps after a kick before the next may happen.
        D, N: inner GD and CG steps (≥ 1).
        decrease: F > 0 for the termination rule, or ``None`` (no termination).
    """

    problem: AbstractBilevel
    alpha: jnp.ndarray
    beta: jnp.ndarray
    radius: jnp.ndarray
    threshold: jnp.ndarray
    interval: jnp.ndarray
    decrease: jnp.ndarray | None
    D: int = eqx.field(static=True)
    N: int = eqx.field(static=True)

    def __init__(self, problem, alpha, beta, radius, threshold, interval=10, D=10, N=5,
                 decrease=None):
        owner = "PerturbedAID"
        check_bilevel(owner, problem)
        check_scalar_step(owner, "alpha", alpha)
        problem.check_lower_step(owner, alpha)
        check_scalar_step(owner, "beta", beta)
        interval = check_kick(owner, radius, threshold, interval, decrease)
        self.problem = problem
        self.alpha = jnp.asarray(alpha)
        self.beta = jnp.asarray(beta)
        self.radius = jnp.asarray(radius)
        self.threshold = jnp.asarray(threshold)
        self.interval = jnp.asarray(interval, jnp.int32)
        self.decrease = None if decrease is None else jnp.asarray(decrease)
        self.D = check_count(owner, "D", D)
        self.N = check_count(owner, "N", N)

    @property
    def dt(self):
        return self.beta

    @property
    def noise(self):
        return StandardNormal((self.problem.shape[0] + 1,))

    def init(self, x0, y0=None):
        y0 = start_y("PerturbedAID", self.problem, x0, y0)
        return PerturbedAIDState(x0, y0, jnp.zeros_like(y0), jnp.zeros_like(x0),
                                 kick_init(x0, self.interval), zero_counts())

    def step(self, state, noise):
        x, y, v, _, ks, counts = state
        g, y, v, c = aid_hypergradient(self.problem, x, y, v, self.alpha, self.D, self.N)
        value = self.problem.upper(x, y) if self.decrease is not None else jnp.zeros((), x.dtype)
        x_next, ks_next = kick_step(ks, x, g, value, noise, step=self.beta, radius=self.radius,
                                    threshold=self.threshold, interval=self.interval,
                                    decrease=self.decrease)
        new = PerturbedAIDState(x_next, y, v, g, ks_next, add_counts(counts, **c))
        return freeze(ks.done, state, new)

    def position(self, state):
        return state.x

    def limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

    def ode_limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

r"""Perturbed GDmax (Huang, Chen, Ji, Ma & Lai 2025): GDmax plus a uniform-ball kick at small gradients."""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from .._checks import check_positive
from ..noise import StandardNormal, joint, unjoin
from ..problems._base import AbstractGame
from ..sde.two_timescale import GDmaxSDE, ReducedSDE
from ._game import GameAlgorithm, add_calls, check_game, check_int, check_start, draw, repeat_noise
from .gdmax import inner_ascent


class PerturbedState(NamedTuple):
    """``z`` = (x, y_N); ``calls``: oracle calls; ``since_kick``: iterations since the last kick
    (starts at T, so a kick is allowed at once); ``kicks``: kicks made; ``first_kick``: the
    iteration of the first kick (−1 before it)."""

    z: tuple
    calls: jnp.ndarray
    since_kick: jnp.ndarray
    kicks: jnp.ndarray
    first_kick: jnp.ndarray
    k: jnp.ndarray


def _check_interval(owner, interval):
    if isinstance(interval, jax.core.Tracer):
        return
    v = np.asarray(interval)
    if v.shape != () or isinstance(interval, bool) or not np.isfinite(v) or v != np.round(v) \
            or v < 1:
        raise ValueError(f"{owner}: interval T must be an integer >= 1; got {interval!r}")


def uniform_ball(normals, r):
    """A point uniform in the ball B(0, r) ⊂ ℝᵐ from m + 1 standard normals (direction from the
    first m, radius r·U^{1/m} with U = Φ(last))."""
    m = normals.shape[0] - 1
    g = normals[:m]
    u = ndtr(normals[m])
    return r * u ** (1.0 / m) * g / jnp.sqrt(jnp.sum(g * g))


class PerturbedGDmax(GameAlgorithm):
    r"""Perturbed GDmax (papers.md §3.7), N + 1 oracle calls per step:

        y_k^N ← N warm-started ascent steps at x_k (as [`GDmax`][sde_opt.GDmax]),   g_k = ĝₓ(x_k, y_k^N),
        if ‖g_k‖ ≤ c·ε and no kick in the last T iterations:  x_k ← x_k + ξ_k,  ξ_k ~ U(B(0, r)),
        x_{k+1} = x_k − η_x g_k.

    The kick is drawn uniformly in the d_x-ball of radius r (the digest writes x_k − η ξ_k with
    ξ ∈ B(0, r), i.e. our r = η·r_digest); as in the digest's pseudo-code the step after a kick uses
    g_k from before it. From a strict saddle of Φ the kicked iterate escapes along the unstable
    direction: for the linearized (x, y) iteration with growth factor ρ and left eigenvector w the
    escape iteration has the exact law ``sde_opt.theory.kicked_escape_cdf`` (the kick's
    projection ⟨w_x, ξ⟩, then deterministic growth ρᵏ). Limit between kicks: that of
    [`GDmax`][sde_opt.GDmax], with its inner loop's noise ([`GDmaxSDE`][sde_opt.GDmaxSDE];
    the kick is a jump, not part of the diffusion). The papers' parameter template
    (η_x = 1/L_Φ, η_y = 1/ℓ, r = ε/(400ι³), T, N): ``from_template``.

    Args:
        problem: a game.
        eta_x, eta_y: outer and inner steps > 0.
        n_inner: N ≥ 1.
        radius: kick radius r > 0.
        eps: target accuracy ε > 0.
        threshold: c > 0 (kick when ‖g‖ ≤ c·ε).
        interval: T ≥ 1 iterations between kicks.
    """

    problem: AbstractGame
    eta_x: jnp.ndarray
    eta_y: jnp.ndarray
    radius: jnp.ndarray
    eps: jnp.ndarray
    threshold: jnp.ndarray
    interval: jnp.ndarray
    n_inner: int = eqx.field(static=True)

    def __init__(self, problem, eta_x, eta_y, n_inner=10, *, radius, eps, threshold=0.5,
                 interval=100):
        owner = "PerturbedGDmax"
        check_game(owner, problem, eta_x, eta_y)
        self.n_inner = check_int(owner, "n_inner", n_inner, 1)
        check_positive(owner, "radius", radius)
        check_positive(owner, "eps", eps)
        check_positive(owner, "threshold", threshold)
        _check_interval(owner, interval)
        self.problem = problem
        self.eta_x, self.eta_y = jnp.asarray(eta_x), jnp.asarray(eta_y)
        self.radius, self.eps = jnp.asarray(radius), jnp.asarray(eps)
        self.threshold = jnp.asarray(threshold)
        self.interval = jnp.asarray(interval, jnp.int32)

    @classmethod
    def from_template(cls, problem, *, ell, mu, eps, rho_phi, delta_phi, delta=0.1, chi=1.0,
                      threshold=0.5):
        """Perturbed GDmax with the papers' parameter template
        ([`perturbed_gdmax_template`][sde_opt.algorithms.perturbed_gdmax_template])."""
        d = problem.shape[0][0]
        return cls(problem, **perturbed_gdmax_template(
            ell=ell, mu=mu, eps=eps, rho_phi=rho_phi, delta_phi=delta_phi, d=d, delta=delta,
            chi=chi, threshold=threshold))

    @property
    def dt(self):
        return self.eta_x

    @property
    def calls_per_step(self) -> int:
        return self.n_inner + 1

    @property
    def _parts(self):
        return (repeat_noise(self.problem.noise, self.n_inner + 1),
                StandardNormal((self.problem.shape[0][0] + 1,)))

    @property
    def noise(self):
        return joint(*self._parts)

    def init(self, z0):
        check_start(self.problem, z0, "PerturbedGDmax")
        i = lambda v: jnp.asarray(v, jnp.int32)
        return PerturbedState(tuple(z0), i(0), self.interval.astype(jnp.int32), i(0), i(-1), i(0))

    def step(self, state, noise):
        oracle, kick_normals = unjoin(self._parts, noise)
        (x, y), calls, since, kicks, first, k = state
        y = inner_ascent(self.problem, x, y, oracle, self.eta_y, self.n_inner)
        g = self.problem.stochastic_field((x, y), draw(oracle, self.n_inner))[0]
        small = jnp.sqrt(jnp.sum(g * g)) <= (self.threshold * self.eps).astype(g.dtype)
        kick = small & (since >= self.interval)
        xi = uniform_ball(kick_normals.astype(x.dtype), self.radius.astype(x.dtype))
        x = x + jnp.where(kick, xi, jnp.zeros_like(xi)) - self.eta_x.astype(g.dtype) * g
        return PerturbedState((x, y), add_calls(calls, self.n_inner + 1),
                              jnp.where(kick, 0, since + 1).astype(jnp.int32),
                              kicks + kick.astype(jnp.int32),
                              jnp.where(kick & (first < 0), k, first).astype(jnp.int32), k + 1)

    def position(self, state):
        return state.z

    def limit(self):
        return GDmaxSDE(self.problem, self.eta_x, self.eta_y, self.n_inner)

    def ode_limit(self):
        return ReducedSDE(self.problem, self.eta_x, noise=None)


def perturbed_gdmax_template(*, ell, mu, eps, rho_phi, delta_phi, d, delta=0.1, chi=1.0,
                             threshold=0.5) -> dict:
    r"""The parameter template of papers.md §3.5/§3.7 (Jin et al.'s perturbed GD; [recalled,
    unverified]), as keyword arguments of [`PerturbedGDmax`][sde_opt.PerturbedGDmax]:

        L_Φ = (1 + κ)ℓ,  η_x = 1/L_Φ,  η_y = 1/ℓ,  ι = χ·ln(d L_Φ Δ_Φ/(ρ_Φ ε δ)) (≥ 1),
        r = ε/(400 ι³),  T = ⌈(L_Φ/√(ρ_Φ ε))·ι⌉,  N = ⌈κ ι⌉  (N = Θ(κ log(·))).
    """
    for name, v in (("ell", ell), ("mu", mu), ("eps", eps), ("rho_phi", rho_phi),
                    ("delta_phi", delta_phi), ("delta", delta), ("chi", chi)):
        check_positive("perturbed_gdmax_template", name, v)
    kappa = ell / mu
    l_phi = (1.0 + kappa) * ell
    iota = max(1.0, chi * math.log(d * l_phi * delta_phi / (rho_phi * eps * delta)))
    return {"eta_x": 1.0 / l_phi, "eta_y": 1.0 / ell, "n_inner": int(math.ceil(kappa * iota)),
            "radius": eps / (400.0 * iota**3), "eps": eps, "threshold": threshold,
            "interval": int(math.ceil(l_phi / math.sqrt(rho_phi * eps) * iota))}

r"""Perturbed GDmax (Huang, Chen, Ji, Ma & Lai 2025): GDmax plus a uniform-ball kick at small gradients."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_integer, check_positive, check_range
from ..noise import StandardNormal, joint, unjoin
from ._game import add_calls, check_start, draw, repeat_noise
from ._perturbation import KickState, check_kick, freeze, kick_init, kick_step, perturbed_gd_template
from .gdmax import GDmax, inner_ascent


def x_size(problem) -> int:
    """d_x, the number of entries of the game's x (an array or a pytree of arrays: the kick is
    drawn in the flattened x, in ``ravel_pytree`` order)."""
    shapes = jax.tree_util.tree_leaves(problem.shape[0],
                                       is_leaf=lambda s: isinstance(s, tuple) and all(
                                           isinstance(n, (int, np.integer)) for n in s))
    return int(sum(int(np.prod(s)) for s in shapes))


class PerturbedState(NamedTuple):
    """``z`` = (x, y_N); ``calls``: oracle calls; ``kick``: the perturbation's bookkeeping
    (``KickState``: gradient steps since the last kick,
    kicks made, the anchor x̃ and Φ̂(x̃), whether the termination rule fired); ``first_kick``: the
    iteration of the first kick (−1 before it); ``k``: the iteration."""

    z: tuple
    calls: jnp.ndarray
    kick: KickState
    first_kick: jnp.ndarray
    k: jnp.ndarray


class PerturbedGDmax(GDmax):
    r"""Perturbed GDmax (papers.md §3.7), N + 1 oracle calls per step:

        y_k^N ← N warm-started ascent steps at x_k (as [`GDmax`][sde_opt.GDmax]),   g_k = ĝₓ(x_k, y_k^N),
        if ‖g_k‖ ≤ c·ε and more than T gradient steps since the last kick:
            x_{k+1} = x_k − η_x ξ_k,  ξ_k ~ U(B(0, r))      (the paper's kick; its own iteration)
        else  x_{k+1} = x_k − η_x g_k.

    The perturbation is the rule of Jin et al. shared with perturbed AID
    (``sde_opt.algorithms._perturbation``): the kick moves x by at most η_x·r, the step after
    it uses the gradient at the kicked point, and with ``decrease`` = F the path stops at the
    kick's anchor x̃ when T gradient steps after the kick f(x, y_N) has not fallen by F below its
    value at x̃ (``state.kick.done``; the state is frozen). From a strict saddle of Φ the kicked
    iterate escapes along the unstable direction: for the linearized (x, y) iteration with growth
    factor ρ and left eigenvector w the escape iteration has the exact law
    ``sde_opt.theory.kicked_escape_cdf`` with kick radius η_x·r (the kick's projection
    ⟨w_x, ξ⟩, then deterministic growth ρᵏ). Limit between kicks: that of [`GDmax`][sde_opt.GDmax], with its
    inner loop's noise ([`GDmaxSDE`][sde_opt.GDmaxSDE]; the kick is a jump, not part of the
    diffusion). The papers' parameter template (η_x = 1/L_Φ,
    η_y = 1/ℓ, r = ε/(400ι³), T, N, F): ``from_template``.

    Args:
        problem: a game.
        eta_x, eta_y: outer and inner steps > 0.
        n_inner: N ≥ 1.
        radius: r > 0, the radius of ξ (the kick moves x by at most η_x·r).
        eps: target accuracy ε > 0.
        threshold: c > 0 (kick when ‖g‖ ≤ c·ε).
        interval: T, an integer ≥ 1: gradient steps after a kick before the next may happen.
        decrease: F > 0 for the termination rule, or ``None`` (no termination).
    """

    radius: jnp.ndarray
    eps: jnp.ndarray
    threshold: jnp.ndarray
    interval: jnp.ndarray
    decrease: jnp.ndarray | None

    def __init__(self, problem, eta_x, eta_y, n_inner=10, *, radius, eps, threshold=0.5,
                 interval=100, decrease=None):
        owner = "PerturbedGDmax"
        super().__init__(problem, eta_x, eta_y, n_inner)
        check_positive(owner, "eps", eps, scalar=True)
        interval = check_kick(owner, radius, threshold, interval, decrease)
        self.radius, self.eps = jnp.asarray(radius), jnp.asarray(eps)
        self.threshold = jnp.asarray(threshold)
        self.interval = jnp.asarray(interval, jnp.int32)
        self.decrease = None if decrease is None else jnp.asarray(decrease)

    @classmethod
    def from_template(cls, problem, *, ell, mu, eps, rho_phi, delta_phi, delta=0.1, chi=1.0,
                      threshold=0.5):
        """Perturbed GDmax with the papers' parameter template
        ([`perturbed_gdmax_template`][sde_opt.algorithms.perturbed_gdmax_template]), the termination
        rule included."""
        d = x_size(problem)
        return cls(problem, **perturbed_gdmax_template(
            ell=ell, mu=mu, eps=eps, rho_phi=rho_phi, delta_phi=delta_phi, d=d, delta=delta,
            chi=chi, threshold=threshold))

    @property
    def _parts(self):
        return (repeat_noise(self.problem.noise, self.n_inner + 1),
                StandardNormal((x_size(self.problem) + 1,)))

    @property
    def noise(self):
        return joint(*self._parts)

    def init(self, z0):
        check_start(self.problem, z0, "PerturbedGDmax")
        i = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
        return PerturbedState(tuple(z0), i(0), kick_init(ravel_pytree(z0[0])[0], self.interval),
                              i(-1), i(0))

    def step(self, state, noise):
        oracle, kick_normals = unjoin(self._parts, noise)
        (x, y), calls, ks, first, k = state
        y = inner_ascent(self.problem, x, y, oracle, self.eta_y, self.n_inner)
        g = self.problem.stochastic_field((x, y), draw(oracle, self.n_inner))[0]
        # the kick acts on the flattened x (a pytree x, such as a dict of generator weights, is
        # raveled and the result unraveled: the ball is the Euclidean ball of all of x's entries)
        flat_x, unravel = ravel_pytree(x)
        value = (self.problem.objective((x, y)) if self.decrease is not None
                 else jnp.zeros((), flat_x.dtype))
        flat_next, ks_next = kick_step(ks, flat_x, ravel_pytree(g)[0], value, kick_normals,
                                       step=self.eta_x, radius=self.radius,
                                       threshold=self.threshold * self.eps,
                                       interval=self.interval, decrease=self.decrease)
        x_next = unravel(flat_next)
        kicked = ks_next.kicks > ks.kicks
        new = PerturbedState((x_next, y), add_calls(calls, self.n_inner + 1), ks_next,
                             jnp.where(kicked & (first < 0), k, first).astype(jnp.int32), k + 1)
        return freeze(ks.done, state, new)


def perturbed_gdmax_template(*, ell, mu, eps, rho_phi, delta_phi, d, delta=0.1, chi=1.0,
                             threshold=0.5) -> dict:
    r"""The parameter template of papers.md §3.5/§3.7 (Jin et al.'s perturbed GD; [recalled,
    unverified]), as keyword arguments of [`PerturbedGDmax`][sde_opt.PerturbedGDmax]:

        κ = ℓ/μ ≥ 1,  L_Φ = (1 + κ)ℓ,  η_x = 1/L_Φ,  η_y = 1/ℓ,  ι = χ·ln(d L_Φ Δ_Φ/(ρ_Φ ε δ)) (≥ 1),
        r = ε/(400 ι³)  (the kick is −η_x ξ, ξ ∈ B(0, r)),  T = ⌈(L_Φ/√(ρ_Φ ε))·ι⌉,
        F = √(ε³/ρ_Φ)/(50 ι³),  N = ⌈κ ι⌉  (N = Θ(κ log(·))).
    """
    owner = "perturbed_gdmax_template"
    for name, v in (("ell", ell), ("mu", mu), ("eps", eps), ("rho_phi", rho_phi),
                    ("delta_phi", delta_phi), ("chi", chi)):
        check_positive(owner, name, v, scalar=True)
    check_range(owner, "delta", delta, 0.0, 1.0, low_closed=False, high_closed=False, scalar=True)
    kappa = ell / mu
    check_range(owner, "kappa (= ell/mu)", kappa, 1.0, float("inf"), high_closed=False)
    check_positive(owner, "threshold", threshold, scalar=True)
    d = check_integer(owner, "d", d, low=1)
    l_phi = (1.0 + kappa) * ell
    t = perturbed_gd_template(owner, eps=eps, L=l_phi, rho=rho_phi, delta_phi=delta_phi, dim=d,
                              delta=delta, c=chi)
    return {"eta_x": t["step"], "eta_y": 1.0 / ell, "n_inner": int(math.ceil(kappa * t["iota"])),
            "radius": t["radius"], "eps": eps, "threshold": threshold,
            "interval": t["interval"], "decrease": t["decrease"]}

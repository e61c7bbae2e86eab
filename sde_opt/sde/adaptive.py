r"""The SDEs of RMSprop and Adam (Malladi, Lyu, Panigrahi & Arora, NeurIPS 2022, arXiv 2205.10287).

The paper models the oracle as a *noisy gradient oracle with scale parameter* σ (NGOS):
g(θ) = ∇f(θ) + σ z with E z = 0, Cov z = Σ(θ). A problem of this package returns
g = ∇f + ζ with Cov ζ = Σ_prob(θ) ([`grad_noise_cov`][sde_opt.AbstractProblem.grad_noise_cov]), so

    Σ(θ) = Σ_prob(θ) / σ²,

with σ a unit the user chooses (a minibatch of b examples drawn with replacement has σ = 1/√b and
Σ = the per-example gradient covariance: the batch size changes σ and nothing else, which is what
the square-root scaling rule acts on).

**The paper's regime.** η → 0 with

    σ₀ = σ η,   ε₀ = ε η,   c₁ = (1 − β₁)/η²,   c₂ = (1 − β₂)/η²   held fixed,

in continuous time t = k η² (k iterations). The second-moment estimate is carried in the units of
Σ: u = v/σ² (v the optimizer's running average of g²).

**RMSprop SDE** (state (θ, u), the paper's RMSprop SDE):

    dθ = −P⁻¹ ( ∇f(θ) dt + σ₀ Σ(θ)^{1/2} dW ),      du = c₂ ( diag Σ(θ) − u ) dt,
    P = σ₀ diag(u)^{1/2} + ε₀ I.

**Adam SDE** (state (θ, m, u), the paper's Adam SDE, with bias correction):

    dθ = −(√γ₂(t)/γ₁(t)) P⁻¹ m dt,
    dm = c₁ ( ∇f(θ) − m ) dt + σ₀ c₁ Σ(θ)^{1/2} dW,
    du = c₂ ( diag Σ(θ) − u ) dt,
    P = σ₀ diag(u)^{1/2} + ε₀ √γ₂(t) I,     γᵢ(t) = 1 − exp(−cᵢ t);

without bias correction γ₁ = γ₂ = 1 and the SDE is time-homogeneous. At t = 0 (γ₁ = 0, m = 0)
the θ drift is 0/0 and is set to 0 (Euler–Maruyama evaluates it there at its first step only).

Callisti, Romito & Triggiano (arXiv 2509.21614) characterize every non-trivial scaling of η, β and σ
(and find the sampling noise driving u as well in some of them); only Malladi et al.'s regime above
is implemented here.

Written back in the optimizer's units (v = σ² u, Σ_prob = σ² Σ) the SDE no longer depends on the
choice of σ: σ₀ Σ^{1/2} = η Σ_prob^{1/2} and P = η (√v + ε). Diffusions carry the sign that couples
them pathwise with the discrete chains driven by the same normals (θ moves by −η g/(…), m by
+(1 − β₁) g).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.tree_util import tree_map

from .._checks import check_bool, check_positive, check_range
from ..problems._base import AbstractProblem, check_problem, zeros_like_shape
from ._base import ProblemSDE


class RMSpropSDEState(NamedTuple):
    """``theta``: the parameters θ; ``u``: the second-moment average in the units of Σ (v/σ²)."""

    theta: object
    u: object


class AdamSDEState(NamedTuple):
    """``theta``: θ; ``m``: the first-moment (momentum) average; ``u``: v/σ²."""

    theta: object
    m: object
    u: object


def _dtype(x):
    return jax.tree_util.tree_leaves(x)[0].dtype


def noise_diagonal(problem, theta, sigma):
    """diag Σ(θ) = diag Σ_prob(θ)/σ², as a pytree like θ (from the problem's ``noise_cov``)."""
    flat, unravel = ravel_pytree(theta)
    c = problem.noise_cov(theta)
    s2 = jnp.asarray(sigma, flat.dtype) ** 2
    return unravel(jnp.diagonal(c).astype(flat.dtype) / s2)


def require_noise_cov(owner: str, problem) -> None:
    """Raise a clear ``ValueError`` when the problem has no ``noise_cov`` (Σ is what the limit's
    second-moment equation and its diffusion need)."""
    point = zeros_like_shape(problem.shape)
    try:
        jax.eval_shape(problem.noise_cov, point)
    except NotImplementedError:
        raise ValueError(
            f"{owner}: the problem {type(problem).__name__} has no noise covariance (noise_cov); "
            "the SDE of an adaptive method needs diag Σ(θ) for its second-moment equation and "
            "Σ(θ)^{1/2} for its diffusion — define noise_cov on the problem (FiniteSum and the "
            "quadratics have it)") from None


def _check_sde(owner: str, problem, sigma, sigma0, eps0, rates: dict, noisy, u0) -> None:
    """Construction-time checks shared by the two SDEs: a minimization problem, σ, σ₀ and the
    rates cᵢ > 0, ε₀ ≥ 0, u₀ ≥ 0 (real scalars), ``noisy`` a flag."""
    check_problem(owner, problem, game=False)
    for name, value in (("sigma", sigma), ("sigma0", sigma0), *rates.items()):
        check_positive(owner, name, value, scalar=True)
    check_range(owner, "eps0", eps0, 0.0, float("inf"), high_closed=False, scalar=True)
    check_range(owner, "u0", u0, 0.0, float("inf"), high_closed=False, scalar=True)
    check_bool(owner, "noisy", noisy)


def _sqrt_pos(u):
    return jnp.sqrt(jnp.maximum(u, 0))


class RMSpropSDE(ProblemSDE):
    r"""dθ = −P⁻¹(∇f dt + σ₀ Σ^{1/2} dW), du = c₂(diag Σ − u) dt, P = σ₀√u + ε₀ (module docstring).

    Args:
        problem: the minimization problem (needs ``noise_cov``).
        sigma: the oracle's noise scale σ (Σ = Σ_prob/σ²).
        sigma0, eps0, c2: σ₀ = ση, ε₀ = εη, c₂ = (1 − β)/η².
        noisy: ``False`` drops the diffusion (the deterministic limit, ``ode_limit``).
        u0: the initial u of ``init`` (default 0, the optimizers' start).
    """

    problem: AbstractProblem
    sigma: jnp.ndarray
    sigma0: jnp.ndarray
    eps0: jnp.ndarray
    c2: jnp.ndarray
    u0: jnp.ndarray
    noisy: bool = eqx.field(static=True, default=True)

    def __init__(self, problem, sigma, sigma0, eps0, c2, noisy: bool = True, u0=0.0):
        _check_sde("RMSpropSDE", problem, sigma, sigma0, eps0, {"c2": c2}, noisy, u0)
        self.problem = problem
        self.sigma, self.sigma0 = jnp.asarray(sigma), jnp.asarray(sigma0)
        self.eps0, self.c2, self.u0 = jnp.asarray(eps0), jnp.asarray(c2), jnp.asarray(u0)
        self.noisy = bool(noisy)

    def init(self, x0):
        return RMSpropSDEState(x0, tree_map(lambda a: jnp.full_like(a, self.u0), x0))

    def position(self, state):
        return state.theta

    def preconditioner(self, state):
        """P = σ₀ √u + ε₀ (a pytree like θ: P is diagonal)."""
        dt = _dtype(state.theta)
        return tree_map(lambda u: self.sigma0.astype(dt) * _sqrt_pos(u) + self.eps0.astype(dt),
                        state.u)

    def drift(self, state):
        theta, u = state
        dt = _dtype(theta)
        p = self.preconditioner(state)
        g = self.problem.grad(theta)
        diag = noise_diagonal(self.problem, theta, self.sigma)
        c2 = self.c2.astype(dt)
        return RMSpropSDEState(tree_map(lambda gi, pi: -gi / pi, g, p),
                               tree_map(lambda si, ui: c2 * (si - ui), diag, u))

    def diffusion(self, state, z):
        theta, u = state
        dt = _dtype(theta)
        if not self.noisy:
            return RMSpropSDEState(tree_map(jnp.zeros_like, theta), tree_map(jnp.zeros_like, u))
        p = self.preconditioner(state)
        scale = (self.sigma0 / self.sigma).astype(dt)      # σ₀ Σ^{1/2} z = (σ₀/σ) B_prob z
        bz = self.problem.noise_factor(theta, z)
        return RMSpropSDEState(tree_map(lambda b, pi: -scale * b / pi, bz, p),
                               tree_map(jnp.zeros_like, u))


class AdamSDE(ProblemSDE):
    r"""The Adam SDE on (θ, m, u) (module docstring); time-dependent with bias correction.

    Args:
        problem: the minimization problem (needs ``noise_cov``).
        sigma: the oracle's noise scale σ (Σ = Σ_prob/σ²).
        sigma0, eps0, c1, c2: σ₀ = ση, ε₀ = εη, c₁ = (1 − β₁)/η², c₂ = (1 − β₂)/η².
        bias_correction: include γ₁(t), γ₂(t) (Adam's bias correction in continuous time).
        noisy: ``False`` drops the diffusion (the deterministic limit).
        u0: the initial u of ``init`` (default 0).
    """

    problem: AbstractProblem
    sigma: jnp.ndarray
    sigma0: jnp.ndarray
    eps0: jnp.ndarray
    c1: jnp.ndarray
    c2: jnp.ndarray
    u0: jnp.ndarray
    bias_correction: bool = eqx.field(static=True, default=True)
    noisy: bool = eqx.field(static=True, default=True)

    def __init__(self, problem, sigma, sigma0, eps0, c1, c2, bias_correction: bool = True,
                 noisy: bool = True, u0=0.0):
        _check_sde("AdamSDE", problem, sigma, sigma0, eps0, {"c1": c1, "c2": c2}, noisy, u0)
        check_bool("AdamSDE", "bias_correction", bias_correction)
        self.problem = problem
        self.sigma, self.sigma0 = jnp.asarray(sigma), jnp.asarray(sigma0)
        self.eps0, self.c1, self.c2 = jnp.asarray(eps0), jnp.asarray(c1), jnp.asarray(c2)
        self.u0 = jnp.asarray(u0)
        self.bias_correction = bool(bias_correction)
        self.noisy = bool(noisy)

    @property
    def time_dependent(self) -> bool:
        return self.bias_correction

    def init(self, x0):
        zeros = tree_map(jnp.zeros_like, x0)
        return AdamSDEState(x0, zeros, tree_map(lambda a: jnp.full_like(a, self.u0), x0))

    def position(self, state):
        return state.theta

    def _gammas(self, t, dt):
        if not self.bias_correction:
            one = jnp.ones((), dt)
            return one, one
        t = jnp.asarray(t, dt)
        return -jnp.expm1(-self.c1.astype(dt) * t), -jnp.expm1(-self.c2.astype(dt) * t)

    def drift(self, state, t=0.0):
        theta, m, u = state
        dt = _dtype(theta)
        g1, g2 = self._gammas(t, dt)
        s0, e0 = self.sigma0.astype(dt), self.eps0.astype(dt)
        p = tree_map(lambda ui: s0 * _sqrt_pos(ui) + e0 * jnp.sqrt(g2), u)
        # √γ₂/γ₁ · m/P, set to 0 at t = 0 where γ₁ = 0 and m = 0 (module docstring)
        ratio = jnp.where(g1 > 0, jnp.sqrt(g2) / jnp.where(g1 > 0, g1, 1), 0)
        dtheta = tree_map(lambda mi, pi: -ratio * mi / jnp.where(pi > 0, pi, 1), m, p)
        c1, c2 = self.c1.astype(dt), self.c2.astype(dt)
        g = self.problem.grad(theta)
        diag = noise_diagonal(self.problem, theta, self.sigma)
        return AdamSDEState(dtheta, tree_map(lambda gi, mi: c1 * (gi - mi), g, m),
                            tree_map(lambda si, ui: c2 * (si - ui), diag, u))

    def diffusion(self, state, z, t=0.0):
        theta, m, u = state
        dt = _dtype(theta)
        zeros = tree_map(jnp.zeros_like, theta)
        if not self.noisy:
            return AdamSDEState(zeros, zeros, tree_map(jnp.zeros_like, u))
        scale = (self.c1 * self.sigma0 / self.sigma).astype(dt)   # σ₀ c₁ Σ^{1/2} z
        bz = self.problem.noise_factor(theta, z)
        return AdamSDEState(zeros, tree_map(lambda b: scale * b, bz), tree_map(jnp.zeros_like, u))


__all__ = ["RMSpropSDE", "AdamSDE", "RMSpropSDEState", "AdamSDEState", "noise_diagonal",
           "require_noise_cov"]

r"""SVAG — Stochastic Variance Amplified Gradient (Li, Malladi & Arora, NeurIPS 2021) — and its
adaptive analogue (Malladi, Lyu, Panigrahi & Arora, NeurIPS 2022).

SVAG turns one optimizer run into a family indexed by ℓ ≥ 1 whose members all have the *same*
SDE limit and approach it as ℓ grows, with weak error O(1/ℓ), without simulating any Gaussian
noise: every step draws two independent oracle calls and combines them,

    g_ℓ = r₁ g⁽¹⁾ + r₂ g⁽²⁾,     r₁,₂ = (1 ± √(2L − 1))/2,

so that E g_ℓ = ∇f and Cov g_ℓ = (r₁² + r₂²) Σ_prob = L Σ_prob (r₁ + r₂ = 1, r₁² + r₂² = L):
the oracle's mean is kept and its noise amplified by √L ([`SVAGOracle`][sde_opt.algorithms.SVAGOracle]).

* **SGD** (Li, Malladi & Arora 2021): L = ℓ and step η/ℓ, ℓ times as many steps
  ([`svag_sgd`][sde_opt.svag_sgd]); the limit is SGD's SME at η, dX = −∇f dt + √η Σ_prob^{1/2} dW, t = k η/ℓ.
* **RMSprop / Adam** (Malladi et al. 2022, and the SVAG runs of their code): L = ℓ² and
  η → η/ℓ, 1 − βᵢ → (1 − βᵢ)/ℓ², ε → εℓ, σ → σℓ, ℓ² as many steps ([`svag_rmsprop`][sde_opt.svag_rmsprop],
  [`svag_adam`][sde_opt.svag_adam]): σ₀ = ση, ε₀ = εη, cᵢ = (1 − βᵢ)/η² and Σ are unchanged, so the chain's
  limit is the same RMSprop/Adam SDE for every ℓ, in time t = k (η/ℓ)².
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import tree_map

from .._checks import check_bool, check_positive, check_range
from ..noise import joint, unjoin
from ..problems._base import AbstractProblem, check_problem
from ._adaptive import check_adaptive, default_sigma
from .adam import Adam
from .momentum_sgd import MomentumSGD
from .rmsprop import RMSprop


class SVAGOracle(AbstractProblem):
    r"""A problem whose oracle is SVAG's amplified one: g = r₁g⁽¹⁾ + r₂g⁽²⁾ from two independent
    calls of ``problem``'s oracle, r₁,₂ = (1 ± √(2L − 1))/2, so Cov g = L Σ_prob (module docstring).

    The landscape (objective, gradient, Hessian, geometry) is the wrapped problem's; the noise
    covariance is L Σ_prob(x) with the factor √L B(x).

    Args:
        problem: the problem whose oracle is amplified.
        amplification: L ≥ 1 (ℓ for SGD, ℓ² for the adaptive methods).
    """

    problem: AbstractProblem
    amplification: jnp.ndarray

    def __init__(self, problem: AbstractProblem, amplification):
        check_problem("SVAGOracle", problem, game=False)
        check_range("SVAGOracle", "amplification", amplification, 1.0, np.inf, high_closed=False,
                    scalar=True)
        self.problem = problem
        self.amplification = jnp.asarray(amplification)

    # -- the landscape is the wrapped problem's
    @property
    def geometry(self):
        return self.problem.geometry

    @property
    def shape(self):
        return self.problem.shape

    @property
    def additive_noise(self) -> bool:
        """As the wrapped problem's."""
        return self.problem.additive_noise

    def objective(self, x):
        return self.problem.objective(x)

    def grad(self, x):
        return self.problem.grad(x)

    def hessian(self, x):
        return self.problem.hessian(x)

    def critical_points(self):
        return self.problem.critical_points()

    # -- the amplified oracle
    @property
    def noise(self):
        return joint(self.problem.noise, self.problem.noise)

    def weights(self, dtype=jnp.float32):
        """(r₁, r₂) = ((1 + √(2L − 1))/2, (1 − √(2L − 1))/2)."""
        root = jnp.sqrt(2 * self.amplification.astype(dtype) - 1)
        return (1 + root) / 2, (1 - root) / 2

    def stochastic_grad(self, x, noise):
        first, second = unjoin((self.problem.noise, self.problem.noise), noise)
        g1 = self.problem.stochastic_grad(x, first)
        g2 = self.problem.stochastic_grad(x, second)
        r1, r2 = self.weights(jax.tree_util.tree_leaves(g1)[0].dtype)
        return tree_map(lambda a, b: r1 * a + r2 * b, g1, g2)

    def grad_noise_cov(self, x):
        c = self.problem.grad_noise_cov(x)
        return self.amplification.astype(c.dtype) * c

    @property
    def factor_shape(self):
        return self.problem.factor_shape

    def grad_noise_factor(self, x, w):
        b = self.problem.grad_noise_factor(x, w)
        return tree_map(lambda a: jnp.sqrt(self.amplification.astype(a.dtype)) * a, b)


def _ell(owner, ell):
    check_range(owner, "ell", ell, 1.0, np.inf, high_closed=False, scalar=True)
    return jnp.asarray(ell)


def svag_sgd(problem: AbstractProblem, eta, ell) -> MomentumSGD:
    r"""SGD with SVAG (Li, Malladi & Arora 2021): θ⁺ = θ − (η/ℓ)(r₁g⁽¹⁾ + r₂g⁽²⁾), L = ℓ.

    A [`MomentumSGD`][sde_opt.MomentumSGD] (μ = 0) on [`SVAGOracle`][sde_opt.algorithms.SVAGOracle] (problem,
    ℓ) with step η/ℓ: time per step η/ℓ, and its limit — ``GradientSDE`` with noise scale √(η/ℓ) on the
    oracle's covariance ℓΣ — is SGD's SME at η, dX = −∇f dt + √η Σ^{1/2} dW, for every ℓ (weak error O(1/ℓ),
    the paper's theorem).
    """
    check_problem("svag_sgd", problem, game=False)
    check_positive("svag_sgd", "eta", eta, scalar=True)
    ell = _ell("svag_sgd", ell)
    return MomentumSGD(SVAGOracle(problem, ell), eta / ell, 0.0)


def svag_hyperparameters(eta, betas: dict, eps, sigma, ell) -> dict:
    """The adaptive SVAG map: η/ℓ, 1 − (1 − β)/ℓ² for each β, εℓ, σℓ (module docstring)."""
    out = {"eta": eta / ell, "eps": eps * ell, "sigma": sigma * ell}
    for name, beta in betas.items():
        out[name] = 1 - (1 - beta) / ell**2
    return out


def svag_rmsprop(problem: AbstractProblem, eta, beta, eps, ell, sigma=None, u0=0.0) -> RMSprop:
    r"""RMSprop with SVAG (Malladi et al. 2022): [`RMSprop`][sde_opt.RMSprop] on
    [`SVAGOracle`][sde_opt.algorithms.SVAGOracle] (problem, ℓ²) with η/ℓ, 1 − (1 − β)/ℓ², εℓ, σℓ; its limit is
    the RMSprop SDE
    of (η, β, ε, σ) for every ℓ, in time t = k(η/ℓ)²."""
    check_problem("svag_rmsprop", problem, game=False)
    sigma = default_sigma(problem) if sigma is None else sigma
    check_adaptive("svag_rmsprop", problem, eta, eps, sigma, {"beta": beta}, u0)
    ell = _ell("svag_rmsprop", ell)
    h = svag_hyperparameters(eta, {"beta": beta}, eps, sigma, ell)
    return RMSprop(SVAGOracle(problem, ell**2), h["eta"], h["beta"], h["eps"], h["sigma"], u0=u0)


def svag_adam(problem: AbstractProblem, eta, beta1, beta2, eps, ell, sigma=None,
              bias_correction: bool = True, u0=0.0) -> Adam:
    r"""Adam with SVAG (Malladi et al. 2022): [`Adam`][sde_opt.Adam] on
    [`SVAGOracle`][sde_opt.algorithms.SVAGOracle] (problem, ℓ²) with η/ℓ, 1 − (1 − βᵢ)/ℓ², εℓ, σℓ; its limit
    is the Adam SDE
    of (η, β₁, β₂, ε, σ) for every ℓ, in time t = k(η/ℓ)²."""
    check_problem("svag_adam", problem, game=False)
    sigma = default_sigma(problem) if sigma is None else sigma
    check_adaptive("svag_adam", problem, eta, eps, sigma, {"beta1": beta1, "beta2": beta2}, u0)
    check_bool("svag_adam", "bias_correction", bias_correction)
    ell = _ell("svag_adam", ell)
    h = svag_hyperparameters(eta, {"beta1": beta1, "beta2": beta2}, eps, sigma, ell)
    return Adam(SVAGOracle(problem, ell**2), h["eta"], h["beta1"], h["beta2"], h["eps"],
                h["sigma"], bias_correction=bias_correction, u0=u0)


__all__ = ["SVAGOracle", "svag_sgd", "svag_rmsprop", "svag_adam", "svag_hyperparameters"]

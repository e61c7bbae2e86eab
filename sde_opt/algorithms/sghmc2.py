"""SGHMC2: SGHMC with the linear part integrated exactly (Cheng et al.; Gao et al.)."""

from __future__ import annotations

import jax.numpy as jnp

from ..noise import unjoin
from ..problems._base import AbstractProblem
from ..sde.exact_ou import exact_ou_coefficients, exact_ou_update
from ._kinetic import KineticLangevinAlgorithm


class SGHMC2(KineticLangevinAlgorithm):
    r"""Exact integration of dX = V dt, dV = −γV dt − g dt + √(2γ/β) dW over one step, with the
    stochastic gradient g = g(X_k) frozen (papers.md §2.3):

        V_{k+1} = ψ₀(η) V_k − ψ₁(η) g + √(2γ/β) ξ_k,
        X_{k+1} = X_k + ψ₁(η) V_k − ψ₂(η) g + √(2γ/β) ξ'_k,

    ψ₀ = e^{−γη}, ψ₁ = (1 − e^{−γη})/γ, ψ₂ = (γη + e^{−γη} − 1)/γ², and (ξ, ξ') centred
    Gaussian with per-coordinate covariance C(η) (``sde_opt.sde.exact_ou.exact_ou_covariance``,
    stable for small γη), sampled as chol(C(η))·(Z₁, Z₂).

    State ``(2, *shape)`` = (X, V), V₀ = 0; time per step t = kη. With exact gradients this is
    the [`ExactOU`][sde_opt.ExactOU] scheme (strong order 1, weak order 1).

    Noise: ``joint(problem.noise, N(0, I_{(2, *shape)}))`` — oracle first, then (Z₁, Z₂).

    Limit: the same underdamped Langevin SDE as SGHMC1 (the oracle noise enters V as −ψ₁ξ ≈ −ηξ):
    dV = −(γV + ∇F) dt + √(2γ/β) dW + √η Σ^{1/2} dW'.

    Args:
        problem: the objective F and its stochastic-gradient oracle (Euclidean).
        eta: step size η > 0.
        gamma: friction γ > 0.
        beta: inverse temperature β ∈ (0, ∞].
    """

    def __init__(self, problem: AbstractProblem, eta, gamma, beta):
        self._set_parameters(problem, eta, gamma, beta)

    @property
    def _injected_shape(self):
        return (2, *self.problem.shape)  # the velocity and position parts of the exact OU noise

    def step(self, state, noise):
        x, v = state[0], state[1]
        z_oracle, z = unjoin(self._parts, noise)
        gamma = self.gamma.astype(x.dtype)
        c = exact_ou_coefficients(gamma, self.eta.astype(x.dtype))
        amp = jnp.sqrt(2 * gamma / self.beta.astype(x.dtype))
        g = self.problem.stochastic_grad(x, z_oracle)
        x, v = exact_ou_update(x, v, -g, amp * z[0], amp * z[1], c)
        return jnp.stack([x, v])

"""SGHMC1: stochastic gradient Hamiltonian Monte Carlo, explicit Euler (Gao et al.)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..noise import unjoin
from ..problems._base import AbstractProblem
from ._kinetic import KineticLangevinAlgorithm


class SGHMC1(KineticLangevinAlgorithm):
    r"""Explicit Euler for underdamped Langevin with a stochastic gradient (papers.md §2.3):

        V_{k+1} = V_k − η [γ V_k + g(X_k)] + √(2γη/β) ξ_k,
        X_{k+1} = X_k + η V_k                    (``semi_implicit=False``, Gao et al.'s SGHMC1)
        X_{k+1} = X_k + η V_{k+1}                (``semi_implicit=True``: symplectic Euler, the
                                                  update of Chen, Fox & Guestrin's SGHMC code)

    State: ``(2, *shape)`` = (X, V), started at V₀ = 0; ``position`` is X. Time per step
    t = kη. With exact gradients the explicit form is exactly ``EulerMaruyama`` of
    [`UnderdampedLangevin`][sde_opt.UnderdampedLangevin] (strong order 1, weak order 1).

    The semi-implicit form with β = ∞ *is* heavy-ball momentum SGD: with m_k = η V_k,
    η_M = η² and μ = 1 − γη it reads m_{k+1} = μ m_k − η_M g(X_k), X_{k+1} = X_k + m_{k+1}
    (papers.md §1.8; [`sde_opt.algorithms.msgd_as_sghmc`][sde_opt.msgd_as_sghmc]).

    Noise: ``joint(problem.noise, N(0, I_shape))`` (oracle first, injected second).

    Limit: dX = V dt, dV = −(γV + ∇F) dt + √(2γ/β) dW + √η Σ(X)^{1/2} dW' (the oracle noise adds
    ηΣ to the velocity diffusion matrix, i.e. ηΣ/(2γ) to the temperature).

    Args:
        problem: the objective F and its stochastic-gradient oracle (Euclidean).
        eta: step size η > 0.
        gamma: friction γ > 0.
        beta: inverse temperature β ∈ (0, ∞].
        semi_implicit: update X with the new velocity (default False: the paper's SGHMC1).
    """

    semi_implicit: bool = eqx.field(static=True, default=False)

    def __init__(self, problem: AbstractProblem, eta, gamma, beta, semi_implicit: bool = False):
        self._set_parameters(problem, eta, gamma, beta)
        if not isinstance(semi_implicit, (bool, np.bool_)):
            raise TypeError(f"SGHMC1: semi_implicit must be True or False; got {semi_implicit!r}")
        self.semi_implicit = bool(semi_implicit)

    def step(self, state, noise):
        x, v = state[0], state[1]
        z_oracle, z = unjoin(self._parts, noise)
        eta, gamma = self.eta.astype(x.dtype), self.gamma.astype(x.dtype)
        g = self.problem.stochastic_grad(x, z_oracle)
        amp = jnp.sqrt(2 * gamma * eta / self.beta.astype(x.dtype))
        v_new = v - eta * (gamma * v + g) + amp * z
        x_new = x + eta * (v_new if self.semi_implicit else v)
        return jnp.stack([x_new, v_new])

"""What SGHMC1 and SGHMC2 share: parameters (η, γ, β), the (x, v) state, noise layout and limits."""

from __future__ import annotations

import jax.numpy as jnp

from .._checks import check_positive
from ..noise import StandardNormal, joint
from ..problems._base import AbstractProblem
from ..sde.langevin import UnderdampedLangevin, _check_euclidean, check_beta
from ._base import AbstractAlgorithm


class KineticLangevinAlgorithm(AbstractAlgorithm):
    """A discretization of underdamped Langevin with a stochastic gradient.

    State ``(2, *shape)`` = (X, V), started at V₀ = 0; ``position`` is X; t = kη. Noise:
    ``joint(problem.noise, N(0, I_{injected_shape}))``. Limit: dX = V dt,
    dV = −(γV + ∇F) dt + √(2γ/β) dW + √η Σ(X)^{1/2} dW'.
    Subclasses give ``step`` and the shape of the injected normal draw (``_injected_shape``).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    gamma: jnp.ndarray
    beta: jnp.ndarray

    def _set_parameters(self, problem, eta, gamma, beta) -> None:
        name = type(self).__name__
        _check_euclidean(name, problem)
        check_positive(name, "eta", eta, scalar=True)
        check_positive(name, "gamma", gamma, scalar=True)
        check_beta(name, beta)
        self.problem = problem
        self.eta = jnp.asarray(eta)
        self.gamma = jnp.asarray(gamma)
        self.beta = jnp.asarray(beta)

    @property
    def _injected_shape(self) -> tuple[int, ...]:
        return tuple(self.problem.shape)

    @property
    def dt(self):
        return self.eta

    @property
    def _parts(self):
        return (self.problem.noise, StandardNormal(self._injected_shape))

    @property
    def noise(self):
        return joint(*self._parts)

    def init(self, x0):
        return jnp.stack([x0, jnp.zeros_like(x0)])

    def position(self, state):
        return state[0]

    def limit(self):
        return UnderdampedLangevin(self.problem, self.gamma, self.beta, jnp.sqrt(self.eta))

    def ode_limit(self):
        return UnderdampedLangevin(self.problem, self.gamma, jnp.inf)

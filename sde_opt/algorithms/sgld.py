"""Stochastic gradient Langevin dynamics (Welling & Teh 2011; the baseline of Gao et al.)."""

from __future__ import annotations

import jax.numpy as jnp

from .._checks import check_positive
from ..noise import StandardNormal, joint, unjoin
from ..problems._base import AbstractProblem
from ..sde.gradient import GradientSDE
from ..sde.langevin import OverdampedLangevin, _check_euclidean, check_beta
from ._base import AbstractAlgorithm


class SGLD(AbstractAlgorithm):
    r"""X_{k+1} = X_k − η g(X_k) + √(2η/β) ξ_k,  ξ_k ~ N(0, I),  g a stochastic gradient.

    Time per step: t = kη. With exact gradients this is Euler–Maruyama (weak order 1) of the
    overdamped Langevin diffusion dX = −∇F dt + √(2/β) dW, whose invariant law is ∝ e^{−βF}
    (Raginsky, Rakhlin & Telgarsky 2017; papers.md §2.3).

    Noise: ``joint(problem.noise, N(0, I_shape))`` — the oracle's randomness, then the injected
    normal; for a Gaussian oracle both are standard normals, fused into one flat draw.

    Limit (``limit``): dX = −∇F dt + √(2/β) dW + √η Σ(X)^{1/2} dW' — the oracle's gradient
    noise is kept (it adds η Σ/2 to the temperature); for an exact oracle (Σ = 0) it is the plain
    overdamped Langevin SDE. With a Gaussian additive oracle, ``EulerMaruyama(sgld.limit(), η)``
    driven by the same draws reproduces the iterates exactly.

    Args:
        problem: the objective F and its stochastic-gradient oracle (Euclidean).
        eta: step size η > 0.
        beta: inverse temperature β ∈ (0, ∞] (β = ∞: SGD).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    beta: jnp.ndarray

    def __init__(self, problem: AbstractProblem, eta, beta):
        _check_euclidean("SGLD", problem)
        check_positive("SGLD", "eta", eta, scalar=True)
        check_beta("SGLD", beta)
        self.problem = problem
        self.eta = jnp.asarray(eta)
        self.beta = jnp.asarray(beta)

    @property
    def dt(self):
        return self.eta

    @property
    def _parts(self):
        return (self.problem.noise, StandardNormal(tuple(self.problem.shape)))

    @property
    def noise(self):
        return joint(*self._parts)

    def init(self, x0):
        return x0

    def step(self, state, noise):
        x = state
        z_oracle, z = unjoin(self._parts, noise)
        eta = self.eta.astype(x.dtype)
        g = self.problem.stochastic_grad(x, z_oracle)
        return x - eta * g + jnp.sqrt(2 * eta / self.beta.astype(x.dtype)) * z

    def limit(self):
        return OverdampedLangevin(self.problem, self.beta, jnp.sqrt(self.eta))

    def ode_limit(self):
        return GradientSDE(self.problem, 1.0, 0.0)

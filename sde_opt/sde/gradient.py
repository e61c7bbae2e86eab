"""The diffusion limit shared by the SGD family: scaled gradient flow plus gradient noise."""

from __future__ import annotations

import jax.numpy as jnp

from ..problems._base import AbstractProblem
from ..problems.geometry import Euclidean
from ._base import AbstractSDE


class GradientSDE(AbstractSDE):
    r"""dX = −c P_X ∇f(X) dt − s P_X Σ(X)^{1/2} dW, with P_X the tangent projection.

    This is the diffusion limit of heavy-ball momentum SGD (step η, momentum μ) in time t = kη:

        c = 1/(1 − μ),   s = √η/(1 − μ)      (μ = 0: SGD's stochastic modified equation),

    and with ``noise_scale = 0`` its deterministic (ODE) limit. Σ(X) is the problem's
    gradient-noise covariance; its square root is applied through
    :meth:`~sde_opt.problems.AbstractProblem.grad_noise_factor`, so dW has the problem's
    ``factor_shape``.

    Args:
        problem: the landscape.
        drift_scale: c.
        noise_scale: s.
    """

    problem: AbstractProblem
    drift_scale: jnp.ndarray
    noise_scale: jnp.ndarray

    def __init__(self, problem, drift_scale=1.0, noise_scale=0.0):
        self.problem = problem
        self.drift_scale = jnp.asarray(drift_scale)
        self.noise_scale = jnp.asarray(noise_scale)

    @property
    def geometry(self):
        return self.problem.geometry

    @property
    def noise_shape(self):
        return self.problem.factor_shape

    @property
    def additive(self) -> bool:
        return self.problem.additive_noise and isinstance(self.problem.geometry, Euclidean)

    def drift(self, x):
        g = self.problem.grad(x)
        return -self.drift_scale.astype(x.dtype) * self.problem.geometry.project(x, g)

    def diffusion(self, x, z):
        # −s P B z: the sign matches the algorithms' −η·(gradient noise), so that a chain of this
        # SDE and the algorithm driven by the same z are coupled pathwise (the law is unchanged).
        bz = self.problem.grad_noise_factor(x, z)
        return -self.noise_scale.astype(x.dtype) * self.problem.geometry.project(x, bz)

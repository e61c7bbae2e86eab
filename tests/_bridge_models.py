"""SDEs shared by the bridge tests: additive, state-dependent general and diagonal noise on ℝᵈ."""

import equinox as eqx
import numpy as np

from sde_opt import GradientSDE, LinearSDE, StreamingPCA
from sde_opt.problems import Euclidean
from sde_opt.sde import AbstractSDE


class EuclideanOja(StreamingPCA):
    """Oja's stochastic gradient in ℝᵈ (no sphere): state-dependent, non-diagonal gradient noise."""

    geometry: Euclidean = eqx.field(static=True, default=Euclidean())


class DiagonalGBM(AbstractSDE):
    """dXᵢ = −Xᵢ dt + s Xᵢ dWᵢ: state-dependent diagonal noise."""

    s: float = 0.4
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    @property
    def noise_shape(self):
        return (3,)

    def drift(self, x):
        return -x

    def diffusion(self, x, z):
        return self.s * x * z


def linear_sde():
    """A non-normal 4-d linear SDE with 2-d additive noise and a constant drift."""
    a = np.diag([1.0, -1.0, -1.0, -2.0])
    a[0, 1] = 0.3
    b = 0.2 * np.arange(1, 9, dtype=float).reshape(4, 2) / 8
    return LinearSDE(a, b, b=[0.1, 0.0, -0.1, 0.0])


def oja_sde():
    return GradientSDE(EuclideanOja([1.0, 0.6, 0.3, 0.1]), 1.5, 0.3)


def state_dim(sde) -> int:
    return 3 if isinstance(sde, DiagonalGBM) else 4

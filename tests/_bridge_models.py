"""SDEs shared by the bridge tests: additive, state-dependent general and diagonal noise on ℝᵈ."""

import equinox as eqx
import numpy as np

from sde_opt import GradientSDE, LinearSDE, StreamingPCA
from sde_opt.problems import DoubleWell2D, Euclidean
from sde_opt.sde import AbstractSDE, UnderdampedLangevin


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


def underdamped_sde():
    """Underdamped Langevin with SGHMC gradient noise: state (x, v) of shape (2, 2), noise (4,)."""
    return UnderdampedLangevin(DoubleWell2D(a=1.0, noise_std=0.5), gamma=1.5, beta=2.0,
                               grad_noise_scale=0.3)


def point_shape(sde) -> tuple:
    """Shape of a parameter point (what ``sde.init`` takes)."""
    if isinstance(sde, DiagonalGBM):
        return (3,)
    if isinstance(sde, UnderdampedLangevin):
        return (2,)
    return (4,)

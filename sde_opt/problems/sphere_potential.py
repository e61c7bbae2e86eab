r"""A linear potential on the unit sphere: Brownian motion (a = 0) and the von Mises–Fisher law.

f(x) = −⟨a, x⟩ on S^{d−1}, with an exact oracle plus isotropic ambient noise ξ ~ N(0, I_d)
(Σ = I, B = I). Its field SDE with drift scale 1 and noise scale s,

    dX = P_X a dt − s P_X dW   (+ Itô correction −½ s² (d − 1) X),

is Brownian motion with generator (s²/2)Δ when a = 0, so that E⟨X_t, x₀⟩ = e^{−s²(d−1)t/2}
[derived: ⟨X, x₀⟩ is an eigenfunction of Δ with eigenvalue −(d−1)], and for a ≠ 0 its stationary law
is the Gibbs density ∝ exp(2⟨a, x⟩/s²): von Mises–Fisher with mean direction a/‖a‖ and
concentration κ = 2‖a‖/s², for which E⟨X, a/‖a‖⟩ = I_{d/2}(κ)/I_{d/2−1}(κ) (Mardia & Jupp 2000).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from scipy import special

from .._checks import check_array
from ..geometry import Sphere
from ..noise import StandardNormal
from ._base import AbstractProblem


class SphereLinearPotential(AbstractProblem):
    """f(x) = −⟨a, x⟩ on the unit sphere S^{d−1} with additive N(0, I) gradient noise.

    Args:
        a: the vector a, shape (d,), d ≥ 2 (zeros: pure Brownian motion on the sphere).
    """

    a: jnp.ndarray
    geometry: Sphere = eqx.field(static=True, default=Sphere())
    additive_noise = True

    def __init__(self, a):
        a = check_array("SphereLinearPotential", "a", a).astype(np.float64)
        if a.ndim != 1 or a.size < 2:
            raise ValueError(f"SphereLinearPotential: a must be a vector of length d >= 2; got "
                             f"shape {a.shape}")
        self.a = jnp.asarray(a, jnp.float32)
        self.geometry = Sphere()

    @property
    def shape(self):
        return (int(self.a.shape[0]),)

    def objective(self, x):
        return -jnp.dot(self.a.astype(x.dtype), x)

    def grad(self, x):
        return -jnp.broadcast_to(self.a.astype(x.dtype), x.shape)

    @property
    def noise(self):
        return StandardNormal(self.shape)

    def stochastic_grad(self, x, noise):
        return self.grad(x) + noise

    def grad_noise_cov(self, x):
        return jnp.eye(self.shape[0], dtype=x.dtype)

    def grad_noise_factor(self, x, w):
        return w.reshape(x.shape)


def vmf_mean_cosine(d: int, kappa: float) -> float:
    """E⟨X, μ⟩ = I_{d/2}(κ)/I_{d/2−1}(κ) under von Mises–Fisher(μ, κ) on S^{d−1}."""
    return float(special.ive(d / 2.0, kappa) / special.ive(d / 2.0 - 1.0, kappa))


__all__ = ["SphereLinearPotential", "vmf_mean_cosine"]

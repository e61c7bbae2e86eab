"""Double wells: the metastable landscapes of Eyring–Kramers theory, in one and two dimensions."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_range
from ._base import AbstractProblem
from .geometry import Euclidean


class DoubleWell(AbstractProblem):
    r"""V(x) = x⁴/4 − x²/2 + c·x on ℝ (shape ``(1,)``), with g(x) = V'(x) + σ z, z ~ N(0, 1).

    Untilted (c = 0): minima ±1 with V'' = 2, a saddle (local maximum) at 0 with V'' = −1,
    barrier ΔV = 1/4. A tilt 0 < |c| < 2/(3√3) keeps two minima at different heights; the global
    one is at the sign opposite to c. Critical points solve x³ − x + c = 0.

    Args:
        tilt: c.
        noise_std: σ ≥ 0 of the additive gradient noise (default 0: exact gradients).
    """

    tilt: jnp.ndarray
    noise_std: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())
    additive_noise: ClassVar[bool] = True

    def __init__(self, tilt=0.0, noise_std=0.0):
        check_range("DoubleWell", "tilt", tilt, -2 / (3 * np.sqrt(3)), 2 / (3 * np.sqrt(3)),
                    low_closed=False, high_closed=False, scalar=True)
        check_range("DoubleWell", "noise_std", noise_std, 0.0, np.inf, high_closed=False, scalar=True)
        self.tilt = jnp.asarray(tilt)
        self.noise_std = jnp.asarray(noise_std)

    @property
    def shape(self):
        return (1,)

    def potential(self, x):
        """V at an array of scalar positions (vectorized; for quadrature and plots)."""
        c = float(self.tilt)
        return x**4 / 4 - x**2 / 2 + c * x

    def objective(self, x):
        y = x[0]
        return y**4 / 4 - y**2 / 2 + self.tilt.astype(x.dtype) * y

    def grad(self, x):
        return x**3 - x + self.tilt.astype(x.dtype)

    def hessian(self, x):
        return (3 * x**2 - 1).reshape(1, 1)

    def stochastic_grad(self, x, noise):
        return self.grad(x) + self.noise_std.astype(x.dtype) * noise

    def grad_noise_cov(self, x):
        return (self.noise_std**2).astype(x.dtype).reshape(1, 1)

    def grad_noise_factor(self, x, z):
        return self.noise_std.astype(x.dtype) * z

    def critical_points(self):
        """``minimum``: the two minima, global first; ``saddle``: the barrier top."""
        roots = np.sort(np.roots([1.0, 0.0, -1.0, float(self.tilt)]).real)
        minima = sorted([roots[0], roots[2]], key=lambda r: float(self.potential(r)))
        return {"minimum": jnp.asarray(minima).reshape(2, 1),
                "saddle": jnp.asarray(roots[1:2]).reshape(1, 1)}


class DoubleWell2D(AbstractProblem):
    r"""V(x, y) = (x² − 1)²/4 + (1 + a x²) y²/2, with g = ∇V + σ z, z ~ N(0, I₂).

    Minima (±1, 0) with Hessian diag(2, 1 + a); saddle (0, 0) with Hessian diag(−1, 1); barrier
    ΔV = 1/4. For a > 0 the minima and the saddle have different Hessian determinants
    (2(1 + a) against −1), so the Eyring–Kramers prefactor differs from the 1-D one: the mean
    transition time of dX = −∇V dt + √(2ε) dW is
    E τ ≈ 2π √(|det ∇²V(z)| / det ∇²V(x)) / |λ₁(z)| · e^{ΔV/ε} = 2π e^{1/(4ε)} / √(2(1 + a))
    (validation-theory §4.1). a = 0 separates into the 1-D double well and an OU in y.

    Args:
        a: coupling a ≥ 0.
        noise_std: σ ≥ 0 of the additive gradient noise.
    """

    a: jnp.ndarray
    noise_std: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())
    additive_noise: ClassVar[bool] = True

    def __init__(self, a=1.0, noise_std=0.0):
        check_range("DoubleWell2D", "a", a, 0.0, np.inf, high_closed=False, scalar=True)
        check_range("DoubleWell2D", "noise_std", noise_std, 0.0, np.inf, high_closed=False,
                    scalar=True)
        self.a = jnp.asarray(a)
        self.noise_std = jnp.asarray(noise_std)

    @property
    def shape(self):
        return (2,)

    def objective(self, x):
        a = self.a.astype(x.dtype)
        return (x[0] ** 2 - 1) ** 2 / 4 + (1 + a * x[0] ** 2) * x[1] ** 2 / 2

    def grad(self, x):
        a = self.a.astype(x.dtype)
        gx = x[0] * (x[0] ** 2 - 1) + a * x[0] * x[1] ** 2
        gy = (1 + a * x[0] ** 2) * x[1]
        return jnp.stack([gx, gy])

    def stochastic_grad(self, x, noise):
        return self.grad(x) + self.noise_std.astype(x.dtype) * noise

    def grad_noise_cov(self, x):
        return (self.noise_std**2).astype(x.dtype) * jnp.eye(2, dtype=x.dtype)

    def grad_noise_factor(self, x, z):
        return self.noise_std.astype(x.dtype) * z

    def critical_points(self):
        return {"minimum": jnp.asarray([[-1.0, 0.0], [1.0, 0.0]]),
                "saddle": jnp.asarray([[0.0, 0.0]])}

"""A quadratic strict saddle with additive Gaussian gradient noise."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_psd, check_shape
from ._base import AbstractProblem
from .geometry import Euclidean


class QuadraticSaddle(AbstractProblem):
    r"""f(x) = ½ Σᵢ λᵢ xᵢ², with at least one λᵢ < 0, and g(x) = ∇f(x) + C^{1/2} z, z ~ N(0, I).

    The Hessian is ``diag(eigenvalues)`` in the standard basis; the origin is the only critical
    point (a strict saddle when some λᵢ > 0, a maximum otherwise). The gradient noise is additive:
    Σ(x) = C for every x. Near the saddle, SGD's diffusion limit is the linear SDE
    dX = −H X dt + √η C^{1/2} dW, whose exit time is given in closed form by
    :func:`sde_opt.theory.saddle_exit_mean`.

    Args:
        eigenvalues: Hessian eigenvalues λ, shape ``(d,)``, at least one negative.
        noise_cov: gradient-noise covariance C, ``(d, d)`` PSD, or a scalar σ² (C = σ² I).
    """

    eigenvalues: jnp.ndarray
    noise_cov: jnp.ndarray
    noise_root: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())
    additive_noise: ClassVar[bool] = True

    def __init__(self, eigenvalues, noise_cov=1.0):
        lam = np.asarray(eigenvalues, dtype=np.float64)
        if lam.ndim != 1 or lam.size == 0:
            raise ValueError(f"QuadraticSaddle: eigenvalues must be a 1-D array; got shape {lam.shape}")
        if not np.all(np.isfinite(lam)):
            raise ValueError("QuadraticSaddle: eigenvalues must be finite")
        if not np.any(lam < 0):
            raise ValueError(
                "QuadraticSaddle: at least one Hessian eigenvalue must be negative "
                f"(a strict saddle); got {lam.tolist()}"
            )
        d = lam.size
        c = np.asarray(noise_cov, dtype=np.float64)
        if c.ndim == 0:
            if c < 0:
                raise ValueError(f"QuadraticSaddle: noise_cov must be >= 0; got {float(c)}")
            c = float(c) * np.eye(d)
        check_shape("QuadraticSaddle", "noise_cov", c, (d, d))
        check_psd("QuadraticSaddle", "noise_cov", c)
        w, v = np.linalg.eigh(c)
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        self.eigenvalues = jnp.asarray(lam)
        self.noise_cov = jnp.asarray(c)
        self.noise_root = jnp.asarray(root)

    @property
    def shape(self):
        return (self.eigenvalues.shape[0],)

    def objective(self, x):
        return 0.5 * jnp.sum(self.eigenvalues * x * x)

    def grad(self, x):
        return self.eigenvalues * x

    def hessian(self, x):
        return jnp.diag(self.eigenvalues).astype(x.dtype)

    def stochastic_grad(self, x, noise):
        return self.eigenvalues * x + self.noise_root.astype(x.dtype) @ noise

    def grad_noise_cov(self, x):
        return self.noise_cov.astype(x.dtype)

    def grad_noise_factor(self, x, z):
        return self.noise_root.astype(x.dtype) @ z

    def critical_points(self):
        kind = "saddle" if bool(jnp.any(self.eigenvalues > 0)) else "maximum"
        return {kind: jnp.zeros((1, *self.shape), self.eigenvalues.dtype)}

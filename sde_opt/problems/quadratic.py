"""A quadratic f(x) = ½ xᵀ H x with additive Gaussian gradient noise: the harmonic potential."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_psd, check_shape
from ._base import AbstractProblem
from .geometry import Euclidean


class Quadratic(AbstractProblem):
    r"""f(x) = ½ Σᵢ λᵢ xᵢ² (H = diag λ, any signs) with g(x) = H x + C^{1/2} z, z ~ N(0, I).

    With every λᵢ > 0 this is the harmonic potential on which linear schemes have exactly
    computable stationary laws (:func:`sde_opt.theory.langevin.chain_stationary_covariance`):
    overdamped Langevin at inverse temperature β has Var xᵢ = 1/(β λᵢ), underdamped Langevin in
    addition Var vᵢ = 1/β. The gradient noise is additive, Σ(x) = C.

    Args:
        eigenvalues: λ, shape ``(d,)``.
        noise_cov: C, ``(d, d)`` PSD, or a scalar σ² (C = σ² I); default 0 (exact gradients).
    """

    eigenvalues: jnp.ndarray
    noise_cov: jnp.ndarray
    noise_root: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())
    additive_noise: ClassVar[bool] = True

    def __init__(self, eigenvalues, noise_cov=0.0):
        lam = np.atleast_1d(np.asarray(eigenvalues, dtype=np.float64))
        if lam.ndim != 1 or lam.size == 0:
            raise ValueError(f"Quadratic: eigenvalues must be a 1-D array; got shape {lam.shape}")
        if not np.all(np.isfinite(lam)):
            raise ValueError(f"Quadratic: eigenvalues must be finite; got {lam.tolist()}")
        d = lam.size
        c = np.asarray(noise_cov, dtype=np.float64)
        if c.ndim == 0:
            if not c >= 0:
                raise ValueError(f"Quadratic: noise_cov must be >= 0; got {float(c)}")
            c = float(c) * np.eye(d)
        check_shape("Quadratic", "noise_cov", c, (d, d))
        check_psd("Quadratic", "noise_cov", c)
        w, v = np.linalg.eigh(c)
        self.eigenvalues = jnp.asarray(lam)
        self.noise_cov = jnp.asarray(c)
        self.noise_root = jnp.asarray((v * np.sqrt(np.clip(w, 0.0, None))) @ v.T)

    @property
    def shape(self):
        return (self.eigenvalues.shape[0],)

    def objective(self, x):
        return 0.5 * jnp.sum(self.eigenvalues.astype(x.dtype) * x * x)

    def grad(self, x):
        return self.eigenvalues.astype(x.dtype) * x

    def hessian(self, x):
        return jnp.diag(self.eigenvalues).astype(x.dtype)

    def stochastic_grad(self, x, noise):
        return self.grad(x) + self.noise_root.astype(x.dtype) @ noise

    def grad_noise_cov(self, x):
        return self.noise_cov.astype(x.dtype)

    def grad_noise_factor(self, x, z):
        return self.noise_root.astype(x.dtype) @ z

    def critical_points(self):
        lam = np.asarray(self.eigenvalues)
        kind = "minimum" if np.all(lam > 0) else "maximum" if np.all(lam < 0) else "saddle"
        return {kind: jnp.zeros((1, *self.shape), self.eigenvalues.dtype)}

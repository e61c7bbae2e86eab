"""Diagonal quadratics with additive Gaussian gradient noise: the local model at a critical point.

[`Quadratic`][sde_opt.Quadratic] (all Hessian eigenvalues positive: a strongly convex bowl, where SGD and
heavy-ball momentum have exact stationary laws, ``sde_opt.theory.heavy_ball``) and
[`QuadraticSaddle`][sde_opt.QuadraticSaddle] (at least one negative eigenvalue) share one
implementation, ``DiagonalQuadratic``; they differ only in which spectra they accept.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._checks import check_psd, check_real, check_shape
from ._base import AbstractProblem
from .geometry import Euclidean


class DiagonalQuadratic(AbstractProblem):
    r"""f(x) = ½ Σᵢ λᵢ xᵢ² and g(x) = ∇f(x) + C^{1/2} z, z ~ N(0, I): Σ(x) = C for every x.

    The Hessian is ``diag(eigenvalues)`` in the standard basis and the origin is the only critical
    point. Subclasses restrict the spectrum through ``_check_eigenvalues``.

    Args:
        eigenvalues: Hessian eigenvalues λ, shape ``(d,)``.
        noise_cov: gradient-noise covariance C, ``(d, d)`` PSD, or a scalar σ² (C = σ² I).
    """

    eigenvalues: jnp.ndarray
    oracle_cov: jnp.ndarray
    noise_root: jnp.ndarray
    noise_root_diagonal: jnp.ndarray | None  # diag(C^{1/2}) when C is diagonal: C^{1/2} z = d ⊙ z
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())
    additive_noise: ClassVar[bool] = True

    def __init__(self, eigenvalues, noise_cov=0.0):
        name = type(self).__name__
        lam = check_real(name, "eigenvalues", eigenvalues).astype(np.float64)
        if lam.ndim != 1 or lam.size == 0:
            raise ValueError(f"{name}: eigenvalues must be a 1-D array; got shape {lam.shape}")
        if not np.all(np.isfinite(lam)):
            raise ValueError(f"{name}: eigenvalues must be finite; got {lam.tolist()}")
        self._check_eigenvalues(lam)
        d = lam.size
        c = check_real(name, "noise_cov", noise_cov).astype(np.float64)
        if c.ndim == 0:
            if not np.isfinite(c):
                raise ValueError(f"{name}: noise_cov must be finite; got {float(c)!r}")
            if c < 0:
                raise ValueError(f"{name}: noise_cov must be >= 0; got {float(c)}")
            c = float(c) * np.eye(d)
        check_shape(name, "noise_cov", c, (d, d))
        check_psd(name, "noise_cov", c)
        w, v = np.linalg.eigh(c)
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        self.eigenvalues = jnp.asarray(lam)
        self.oracle_cov = jnp.asarray(c)
        self.noise_root = jnp.asarray(root)
        # a diagonal C (the scalar σ² among them) gives C^{1/2} z as an elementwise product, which
        # is the matrix product's value exactly (the off-diagonal terms are zeros) at a fraction
        # of its cost in the engine's inner loop
        diagonal = not np.any(root - np.diag(np.diag(root)))
        self.noise_root_diagonal = jnp.asarray(np.diag(root)) if diagonal else None

    @classmethod
    def _check_eigenvalues(cls, lam: np.ndarray) -> None:
        """Raise ``ValueError`` if this class does not accept the spectrum ``lam``."""

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
        return self.eigenvalues.astype(x.dtype) * x + self.noise_root.astype(x.dtype) @ noise

    def grad_noise_cov(self, x):
        return self.oracle_cov.astype(x.dtype)

    def grad_noise_factor(self, x, z):
        """C^{1/2} z: a product with the diagonal when C is diagonal, else the matrix product.

        The barrier keeps ``z`` the array the engine drew: without it XLA folds the product into
        the generator's last multiplications and rounds differently from the matrix product.
        (The minibatch gradient keeps the matrix product: its sum with ∇f rounds differently.)
        """
        if self.noise_root_diagonal is not None:
            return self.noise_root_diagonal.astype(x.dtype) * lax.optimization_barrier(z)
        return self.noise_root.astype(x.dtype) @ z

    def critical_points(self):
        lam = self.eigenvalues
        if bool(jnp.all(lam > 0)):
            kind = "minimum"
        else:
            kind = "saddle" if bool(jnp.any(lam > 0)) else "maximum"
        return {kind: jnp.zeros((1, *self.shape), lam.dtype)}


class Quadratic(DiagonalQuadratic):
    r"""A strongly convex quadratic f(x) = ½ Σᵢ λᵢ xᵢ² (all λᵢ > 0) with additive gradient noise.

    g(x) = ∇f(x) + C^{1/2} z, z ~ N(0, I). The origin is the minimum. Constant-step SGD and
    heavy-ball momentum are stationary linear chains here, with exact stationary covariances
    ([`sde_opt.theory.heavy_ball_stationary_covariance`][sde_opt.theory.heavy_ball_stationary_covariance]);
    their diffusion limit is the OU process dX = −H X/(1−μ) dt + (√η/(1−μ)) C^{1/2} dW, whose stationary
    covariance solves H Σ + Σ H = η C/(1−μ) (validation-theory.md §2).

    Args:
        eigenvalues: Hessian eigenvalues λ > 0, shape ``(d,)``.
        noise_cov: gradient-noise covariance C, ``(d, d)`` PSD, or a scalar σ² (C = σ² I).
    """

    @classmethod
    def _check_eigenvalues(cls, lam):
        if not np.all(lam > 0):
            raise ValueError(
                "Quadratic: every Hessian eigenvalue must be > 0 (strongly convex); "
                f"got eigenvalues {lam.tolist()}"
            )

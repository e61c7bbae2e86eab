"""Linear (Ornstein–Uhlenbeck type) SDEs: the local model at every critical point."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_shape
from ..problems.geometry import Euclidean
from ._base import AbstractSDE


class LinearSDE(AbstractSDE):
    r"""dX = (A X + b) dt + B dW with constant A ``(d, d)``, B ``(d, m)`` and b ``(d,)``.

    A stable A (Re spec A < 0) gives an OU process with stationary covariance S solving
    A S + S Aᵀ + B Bᵀ = 0 (:func:`sde_opt.theory.lyapunov_covariance`); A = diag(λ, −κ…) with
    λ > 0 is the linearization at a strict saddle (:func:`sde_opt.theory.saddle_exit_mean`).

    Args:
        A: drift matrix, ``(d, d)``.
        B: diffusion, ``(d, m)``; a scalar σ means σ I.
        b: constant drift, ``(d,)`` (default 0).
    """

    A: jnp.ndarray
    B: jnp.ndarray
    b: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, A, B, b=None):
        A = np.asarray(A, dtype=np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"LinearSDE: A must be a square matrix; got shape {A.shape}")
        d = A.shape[0]
        B = np.asarray(B, dtype=np.float64)
        if B.ndim == 0:
            B = float(B) * np.eye(d)
        if B.ndim != 2 or B.shape[0] != d:
            raise ValueError(f"LinearSDE: B must have shape ({d}, m); got {B.shape}")
        b = np.zeros(d) if b is None else np.asarray(b, dtype=np.float64)
        check_shape("LinearSDE", "b", b, (d,))
        self.A, self.B, self.b = jnp.asarray(A), jnp.asarray(B), jnp.asarray(b)

    @property
    def noise_shape(self):
        return (self.B.shape[1],)

    @property
    def additive(self) -> bool:
        return True

    def drift(self, x):
        return self.A.astype(x.dtype) @ x + self.b.astype(x.dtype)

    def diffusion(self, x, z):
        return self.B.astype(x.dtype) @ z

    def diffusion_matrix(self, x):
        return self.B.astype(x.dtype)

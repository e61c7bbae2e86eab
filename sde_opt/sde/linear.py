"""Linear (Ornstein–Uhlenbeck type) SDEs: the local model at every critical point."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_array, check_shape
from ..problems.geometry import Euclidean
from ._base import AbstractSDE


class LinearSDE(AbstractSDE):
    r"""dX = (A X + b) dt + B dW with constant A, B and b.

    A stable A (Re spec A < 0) gives an OU process with stationary covariance S solving
    A S + S Aᵀ + B Bᵀ = 0; A = diag(λ, −κ…) with λ > 0 is the linearization at a strict saddle.

    Args:
        A: drift matrix ``(d, d)``, or its diagonal ``(d,)``.
        B: diffusion: a scalar σ (σ I), a diagonal ``(d,)``, or a matrix ``(d, m)``.
        b: constant drift ``(d,)`` (default 0).

    Diagonal and scalar forms are applied elementwise (no matrix products), which is what makes
    large batches of a diagonal saddle cheap.
    """

    A: jnp.ndarray
    B: jnp.ndarray
    b: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, A, B, b=None):
        A = check_array("LinearSDE", "A", A, ndim=(1, 2)).astype(np.float64)
        if A.ndim not in (1, 2) or (A.ndim == 2 and A.shape[0] != A.shape[1]):
            raise ValueError(f"LinearSDE: A must be (d, d) or a diagonal (d,); got shape {A.shape}")
        d = A.shape[0]
        B = check_array("LinearSDE", "B", B, ndim=(0, 1, 2)).astype(np.float64)
        if B.ndim > 2 or (B.ndim >= 1 and B.shape[0] != d):
            raise ValueError(f"LinearSDE: B must be a scalar, ({d},) or ({d}, m); got {B.shape}")
        b = np.zeros(d) if b is None else check_array("LinearSDE", "b", b).astype(np.float64)
        check_shape("LinearSDE", "b", b, (d,))
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B)) and np.all(np.isfinite(b))):
            bad = [n for n, m in (("A", A), ("B", B), ("b", b)) if not np.all(np.isfinite(m))]
            raise ValueError(f"LinearSDE: A, B and b must be finite; got NaN/inf entries in "
                             f"{', '.join(bad)}")
        self.A, self.B, self.b = jnp.asarray(A), jnp.asarray(B), jnp.asarray(b)

    @property
    def dim(self) -> int:
        return self.A.shape[0]

    @property
    def point_shape(self):
        return (self.dim,)

    @property
    def noise_shape(self):
        return (self.B.shape[1],) if self.B.ndim == 2 else (self.dim,)

    @property
    def additive(self) -> bool:
        return True

    def drift_matrix(self):
        """A as a ``(d, d)`` matrix."""
        return jnp.diag(self.A) if self.A.ndim == 1 else self.A

    def drift(self, x):
        A = self.A.astype(x.dtype)
        ax = A * x if A.ndim == 1 else A @ x
        return ax + self.b.astype(x.dtype)

    def diffusion(self, x, z):
        B = self.B.astype(x.dtype)
        return B @ z if B.ndim == 2 else B * z

    def diffusion_matrix(self, x):
        B = self.B.astype(x.dtype)
        if B.ndim == 2:
            return B
        return jnp.diag(jnp.broadcast_to(B, (self.dim,)))

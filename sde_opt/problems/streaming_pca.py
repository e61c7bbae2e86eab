"""Streaming PCA (Oja's rule) on the unit sphere — the worked example of the momentum-SGD paper."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._checks import check_range, check_real
from ..noise import StandardNormal
from ._base import AbstractProblem
from .geometry import Sphere


class ScaledNormal(eqx.Module):
    """s z with z ~ N(0, I) and s² = (ν − 2)/χ²_ν: a multivariate Student-t with unit covariance."""

    shape: tuple[int, ...] = eqx.field(static=True)
    dof: float = eqx.field(static=True)

    def sample(self, key, dtype=jnp.float32):
        kz, ks = jr.split(key)
        s = jnp.sqrt((self.dof - 2.0) / jr.chisquare(ks, self.dof, (), dtype))
        return s * jr.normal(kz, self.shape, dtype)


class StreamingPCA(AbstractProblem):
    r"""Find the top eigenvector of Σ = E[X Xᵀ] from a stream of samples X.

    Written as a minimization on the unit sphere: f(w) = −½ wᵀ Σ w, ‖w‖ = 1, with
    Σ = diag(λ₁ > λ₂ ≥ … ≥ λ_d > 0). Oja's stochastic gradient is g(w) = −X Xᵀ w, so
    E g = ∇f = −Σ w. Critical points on the sphere: ±e₁ minima (the answer), ±e₂ … ±e_{d−1} strict
    saddles, ±e_d maxima.

    Samples: X = s Σ^{1/2} z with z ~ N(0, I_d). ``dof=None`` gives Gaussian X (s = 1); a finite
    ``dof = ν > 4`` gives a multivariate Student-t (s² = (ν−2)/χ²_ν, E s² = 1), with kurtosis
    factor κ = E s⁴ = (ν−2)/(ν−4). For an integer ν the χ²_ν is the sum of ν more squared
    standard normals, so one step consumes d + ν standard normals (the engine's fast generator);
    a non-integer ν draws χ²_ν with ``jax.random.chisquare``. The gradient-noise covariance is then

        Σ_g(w) = κ (wᵀΣw) Σ + (2κ − 1) Σ w wᵀ Σ,

    and its tangent part at a critical point e_j, along e_i, is α_ij² = κ λ_i λ_j
    (Liu, Chen, Zhou & Zhao, §1.4 of ``reference/papers.md``).

    Args:
        spectrum: eigenvalues λ of Σ, shape ``(d,)``, positive and strictly decreasing.
        dof: ``None`` for Gaussian samples, or the Student-t degrees of freedom ν > 4.
    """

    spectrum: jnp.ndarray
    dof: float | None = eqx.field(static=True, default=None)
    geometry: Sphere = eqx.field(static=True, default=Sphere())

    def __init__(self, spectrum, dof: float | None = None):
        lam = check_real("StreamingPCA", "spectrum", spectrum).astype(np.float64)
        if lam.ndim != 1 or lam.size < 2:
            raise ValueError(f"StreamingPCA: spectrum must be 1-D with d >= 2; got shape {lam.shape}")
        check_range("StreamingPCA", "spectrum", lam, 0.0, np.inf, low_closed=False, high_closed=False)
        if not np.all(np.diff(lam) < 0):
            raise ValueError(
                f"StreamingPCA: spectrum must be strictly decreasing (λ₁ > λ₂ > …); got {lam.tolist()}"
            )
        if dof is not None:
            check_range("StreamingPCA", "dof", dof, 4.0, np.inf, low_closed=False,
                        high_closed=False, scalar=True)
        self.spectrum = jnp.asarray(lam)
        self.dof = None if dof is None else float(dof)

    @property
    def shape(self):
        return (self.spectrum.shape[0],)

    @property
    def kurtosis(self) -> float:
        """κ = E s⁴ of the sample scale (1 for Gaussian samples)."""
        return 1.0 if self.dof is None else (self.dof - 2.0) / (self.dof - 4.0)

    def objective(self, x):
        return -0.5 * jnp.sum(self.spectrum * x * x)

    def grad(self, x):
        return -self.spectrum.astype(x.dtype) * x

    def hessian(self, x):
        return -jnp.diag(self.spectrum).astype(x.dtype)

    @property
    def noise(self):
        if self.dof is None:
            return StandardNormal(self.shape)
        if float(self.dof).is_integer():
            return StandardNormal((self.shape[0] + int(self.dof),))
        return ScaledNormal(self.shape, self.dof)

    def sample(self, noise):
        """The data sample X = s Σ^{1/2} z behind one stochastic gradient.

        ``noise`` is z (Gaussian), s z (``ScaledNormal``), or, for an integer ν, the d + ν
        normals (z, y) with s² = (ν − 2)/Σ y².
        """
        d = self.shape[0]
        if noise.shape[-1] > d:
            z, y = noise[..., :d], noise[..., d:]
            noise = z * jnp.sqrt((self.dof - 2.0) / jnp.sum(y * y, axis=-1, keepdims=True))
        return jnp.sqrt(self.spectrum).astype(noise.dtype) * noise

    def stochastic_grad(self, x, noise):
        sample = self.sample(noise)
        return -sample * jnp.dot(sample, x)

    def grad_noise_cov(self, x):
        lam = self.spectrum.astype(x.dtype)
        k = self.kurtosis
        sw = lam * x
        return k * jnp.dot(x, sw) * jnp.diag(lam) + (2 * k - 1) * jnp.outer(sw, sw)

    @property
    def factor_shape(self):
        return (self.shape[0] + 1,)

    def grad_noise_factor(self, x, z):
        lam = self.spectrum.astype(x.dtype)
        k = self.kurtosis
        sw = lam * x
        return jnp.sqrt(k * jnp.dot(x, sw)) * jnp.sqrt(lam) * z[:-1] + jnp.sqrt(2 * k - 1) * sw * z[-1]

    def error(self, x):
        """1 − cos²(x, e₁): the squared sine of the angle to the top eigenvector."""
        return 1.0 - x[..., 0] ** 2 / jnp.sum(x * x, axis=-1)

    def critical_points(self):
        eye = jnp.eye(self.shape[0], dtype=self.spectrum.dtype)
        both = lambda rows: jnp.concatenate([rows, -rows])
        return {"minimum": both(eye[:1]), "saddle": both(eye[1:-1]), "maximum": both(eye[-1:])}

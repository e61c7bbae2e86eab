"""Symmetric rank-one matrix factorization from noisy observations: strict saddles, isolated minima."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_array, check_range, check_shape
from ..noise import StandardNormal
from ._base import AbstractProblem
from .geometry import Euclidean


class MatrixFactorization(AbstractProblem):
    r"""f(x) = ¼ ‖x xᵀ − M‖²_F over x ∈ ℝⁿ, learned from noisy observations of M.

    M is symmetric with eigenvalues σ₁ > σ₂ > … > σ_n > 0 and eigenvectors u_i. Each stochastic
    gradient sees one observation M̂ = M + N with symmetric Gaussian (GOE) noise
    N = s (G + Gᵀ)/√2, G_ij i.i.d. N(0, 1) (off-diagonal variance s², diagonal 2s²), so

        g(x) = (x xᵀ − M̂) x = ∇f(x) − N x,      ∇f(x) = (x xᵀ − M) x = ‖x‖² x − M x,
        Σ(x) = Cov(N x) = s² (‖x‖² I + x xᵀ).

    N x is Gaussian with exactly this covariance, so one gradient is drawn as
    ∇f(x) − s(‖x‖ z + x z'), z ~ N(0, I_n), z' ~ N(0, 1): n + 1 standard normals per step instead
    of n² (the same law for the chain). Hessian: ∇²f(x) = ‖x‖² I + 2 x xᵀ − M.

    Critical points (all isolated; the rank-one case is used because for rank r ≥ 2 they come in
    O(r) orbits): ±√σ₁ u₁ minima (Hessian eigenvalues σ₁ − σ_j, j ≥ 2, and 2σ₁); ±√σ_i u_i,
    i ≥ 2, strict saddles (eigenvalue σ_i − σ_j < 0 along u_j for every j < i); 0 a local maximum
    (Hessian −M). In the ratio a_i/a_j of eigen-coordinates a = Uᵀx the gradient flow is exactly
    linear, d ln(a_i/a_j)/dt = σ_i − σ_j — as for streaming PCA — so escaping the saddle √σ₂u₂
    (|a₁| ≥ |a₂|) is the saddle-exit problem of the local SDE (``sde_opt.theory.local_sde``)
    with radius √σ₂.

    Args:
        M: the target: its eigenvalues ``(n,)`` (then M = diag(σ), u_i = e_i), or a symmetric
            ``(n, n)`` matrix with distinct positive eigenvalues.
        noise_std: s ≥ 0, the standard deviation of the off-diagonal observation noise.
    """

    target: jnp.ndarray
    eigenvalues: jnp.ndarray
    eigenvectors: jnp.ndarray
    noise_std: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, M, noise_std=1.0):
        name = "MatrixFactorization"
        m = check_array(name, "M", M, ndim=(1, 2)).astype(np.float64)
        if m.ndim == 1:
            m = np.diag(m)
        if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
            raise ValueError(f"{name}: M must be eigenvalues (n,) or a square (n, n) matrix with "
                             f"n >= 2; got shape {np.shape(M)}")
        check_shape(name, "M", m, (m.shape[0], m.shape[0]))
        if not np.allclose(m, m.T, atol=1e-12 * max(1.0, np.abs(m).max())):
            raise ValueError(f"{name}: M must be symmetric; got M[i, j] != M[j, i] (largest "
                             f"difference {np.abs(m - m.T).max():.3g})")
        w, v = np.linalg.eigh(0.5 * (m + m.T))
        w, v = w[::-1], v[:, ::-1]
        if not w[-1] > 0:
            raise ValueError(f"{name}: M must be positive definite; got a smallest eigenvalue of "
                             f"{w[-1]:.4g}")
        if not np.all(np.diff(w) < -1e-12 * w[0]):
            raise ValueError(f"{name}: M must have distinct eigenvalues (isolated critical "
                             f"points); got {w.tolist()}")
        check_range(name, "noise_std", noise_std, 0.0, np.inf, high_closed=False, scalar=True)
        # fix the sign of each eigenvector: largest entry positive (so u_i = e_i for diagonal M)
        v = v * np.sign(v[np.argmax(np.abs(v), axis=0), np.arange(v.shape[1])])
        self.target = jnp.asarray(m)
        self.eigenvalues = jnp.asarray(w)
        self.eigenvectors = jnp.asarray(v)
        self.noise_std = jnp.asarray(float(noise_std))

    @property
    def shape(self):
        return (self.target.shape[0],)

    def objective(self, x):
        r = jnp.outer(x, x) - self.target.astype(x.dtype)
        return 0.25 * jnp.sum(r * r)

    def grad(self, x):
        return jnp.dot(x, x) * x - self.target.astype(x.dtype) @ x

    def hessian(self, x):
        n = x.shape[0]
        return (jnp.dot(x, x) * jnp.eye(n, dtype=x.dtype) + 2.0 * jnp.outer(x, x)
                - self.target.astype(x.dtype))

    @property
    def noise(self):
        return StandardNormal((self.shape[0] + 1,))

    def stochastic_grad(self, x, noise):
        return self.grad(x) + self.grad_noise_factor(x, noise)

    def grad_noise_cov(self, x):
        s2 = self.noise_std.astype(x.dtype) ** 2
        return s2 * (jnp.dot(x, x) * jnp.eye(x.shape[0], dtype=x.dtype) + jnp.outer(x, x))

    @property
    def factor_shape(self):
        return (self.shape[0] + 1,)

    def grad_noise_factor(self, x, z):
        """B(x) z = −s(‖x‖ z_{1:n} + x z_{n+1}), B Bᵀ = Σ(x) (the sign matches g = ∇f − N x)."""
        s = self.noise_std.astype(x.dtype)
        return -s * (jnp.sqrt(jnp.dot(x, x)) * z[:-1] + x * z[-1])

    def observation_noise_gradient(self, x, G):
        """−N x for the GOE matrix N = s(G + Gᵀ)/√2 built from ``G`` ``(n, n)`` (the model itself)."""
        n_mat = self.noise_std.astype(x.dtype) * (G + G.T) / jnp.sqrt(2.0)
        return -n_mat @ x

    def distance_to_minimum(self, x):
        """‖x − x*‖² to the nearer of the two minimizers ±√σ₁ u₁."""
        u = self.eigenvectors[:, 0].astype(x.dtype)
        s1 = self.eigenvalues[0].astype(x.dtype)
        return jnp.dot(x, x) + s1 - 2.0 * jnp.sqrt(s1) * jnp.abs(jnp.dot(u, x))

    def critical_points(self):
        roots = (self.eigenvectors * jnp.sqrt(self.eigenvalues)).T  # row i = √σ_i u_i
        both = lambda rows: jnp.concatenate([rows, -rows])
        return {"minimum": both(roots[:1]), "saddle": both(roots[1:]),
                "maximum": jnp.zeros((1, self.shape[0]), roots.dtype)}

"""A nonconvex finite sum: Cauchy-loss linear regression on data with a planted outlier model."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_array, check_integer, check_positive, check_range
from ..noise import MinibatchIndices
from ._base import AbstractProblem
from .geometry import Euclidean


class RobustRegression(AbstractProblem):
    r"""Empirical risk F(w) = (1/n) Σᵢ fᵢ(w) with fᵢ(w) = ρ(yᵢ − aᵢᵀw) + (λ/2)‖w‖² and the
    Cauchy loss ρ(r) = (c²/2) log(1 + r²/c²).

    ρ is nonconvex (ρ'' < 0 for |r| > c), so when a fraction of the data follows a second linear
    model the risk has a local minimum near each model: the global one near the majority's
    coefficients and a spurious one near the outliers'. The ridge term makes F dissipative
    (⟨w, ∇F(w)⟩ ≥ λ‖w‖² − b), as the SGHMC/SGLD analyses assume.

    Oracle: a minibatch of B indices drawn uniformly with replacement,
    g(w) = (1/B) Σ_{i ∈ batch} ∇fᵢ(w), so that
    Σ(w) = (1/B) [ (1/n) Σᵢ ∇fᵢ ∇fᵢᵀ − ∇F ∇Fᵀ ] exactly, and B(w) z = (nB)^{-1/2} Gcᵀ z with
    Gc the centred per-example gradients (``factor_shape = (n,)``).

    Args:
        features: A, ``(n, d)``.
        targets: y, ``(n,)``.
        scale: c > 0 of the Cauchy loss.
        ridge: λ ≥ 0.
        batch_size: B ≥ 1.
    """

    features: jnp.ndarray
    targets: jnp.ndarray
    scale: jnp.ndarray
    ridge: jnp.ndarray
    batch_size: int = eqx.field(static=True)
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, features, targets, scale=0.5, ridge=0.01, batch_size=16):
        a = check_array("RobustRegression", "features", features).astype(np.float64)
        y = check_array("RobustRegression", "targets", targets).astype(np.float64)
        if a.ndim != 2 or a.shape[0] < 1:
            raise ValueError(f"RobustRegression: features must have shape (n, d); got {a.shape}")
        if y.shape != (a.shape[0],):
            raise ValueError(
                f"RobustRegression: targets must have shape ({a.shape[0]},) (one per row of "
                f"features); got {y.shape}")
        check_positive("RobustRegression", "scale", scale, scalar=True)
        check_range("RobustRegression", "ridge", ridge, 0.0, np.inf, high_closed=False, scalar=True)
        check_integer("RobustRegression", "batch_size", batch_size, low=1)
        self.features = jnp.asarray(a)
        self.targets = jnp.asarray(y)
        self.scale = jnp.asarray(scale)
        self.ridge = jnp.asarray(ridge)
        self.batch_size = int(batch_size)

    @classmethod
    def generate(cls, n=256, inlier_coef=(2.0, 0.0), outlier_coef=(-2.0, 0.0),
                 outlier_fraction=0.45, residual_std=0.1, seed=0, **kwargs):
        """Data from two linear models: aᵢ ~ N(0, I); a fraction ``outlier_fraction`` of the
        targets follows ``outlier_coef``, the rest ``inlier_coef``, each plus N(0, residual_std²).

        With the defaults (and c = 0.5, λ = 0.01, seed 0) F has its global minimum F* ≈ 0.195 near
        the inliers' coefficients, a spurious minimum F ≈ 0.252 near the outliers', and a saddle
        between them at F ≈ 0.270 (barriers ≈ 0.017 out of the spurious basin, ≈ 0.074 out of
        the global one)."""
        check_range("RobustRegression.generate", "outlier_fraction", outlier_fraction, 0.0, 0.5,
                    high_closed=False)
        rng = np.random.default_rng(seed)
        w_in, w_out = np.asarray(inlier_coef, float), np.asarray(outlier_coef, float)
        a = rng.standard_normal((int(n), w_in.size))
        n_out = int(round(outlier_fraction * n))
        coef = np.where((np.arange(n) < n_out)[:, None], w_out, w_in)
        y = np.sum(a * coef, axis=1) + residual_std * rng.standard_normal(n)
        return cls(a, y, **kwargs)

    @property
    def n(self) -> int:
        return int(self.targets.shape[0])

    @property
    def shape(self):
        return (int(self.features.shape[1]),)

    def _residuals(self, w):
        return self.targets.astype(w.dtype) - self.features.astype(w.dtype) @ w

    def objective(self, w):
        c = self.scale.astype(w.dtype)
        r = self._residuals(w)
        loss = 0.5 * c**2 * jnp.mean(jnp.log1p((r / c) ** 2))
        return loss + 0.5 * self.ridge.astype(w.dtype) * jnp.sum(w * w)

    def example_grads(self, w, idx=None):
        """∇fᵢ(w) for the examples ``idx`` (all by default), shape ``(len(idx), d)``."""
        a = self.features.astype(w.dtype)
        y = self.targets.astype(w.dtype)
        if idx is not None:
            a, y = a[idx], y[idx]
        c = self.scale.astype(w.dtype)
        r = y - a @ w
        dr = r / (1 + (r / c) ** 2)
        return -dr[:, None] * a + self.ridge.astype(w.dtype) * w

    def grad(self, w):
        return jnp.mean(self.example_grads(w), axis=0)

    @property
    def noise(self):
        return MinibatchIndices(self.n, self.batch_size)

    def stochastic_grad(self, w, noise):
        return jnp.mean(self.example_grads(w, noise), axis=0)

    def grad_noise_cov(self, w):
        g = self.example_grads(w)
        gc = g - jnp.mean(g, axis=0)
        return gc.T @ gc / (self.n * self.batch_size)

    @property
    def factor_shape(self):
        return (self.n,)

    def grad_noise_factor(self, w, z):
        g = self.example_grads(w)
        gc = g - jnp.mean(g, axis=0)
        return gc.T @ z / jnp.sqrt(jnp.asarray(self.n * self.batch_size, w.dtype))

    def critical_points(self, n_starts: int = 32, seed: int = 0):
        """Critical points, found numerically in float64 (the data make them problem-specific).

        Minima: BFGS from ``n_starts`` random starts. Saddles: Newton root-finding of ∇F = 0 from
        points on the segments between pairs of minima. Each point is classified by its Hessian;
        ``minimum`` is sorted by F, global first.
        """
        with jax.enable_x64(True):
            fj = jax.jit(lambda w: self.objective(w))
            gj = jax.jit(lambda w: self.grad(w))
            hj = jax.jit(lambda w: self.hessian(w))
            return self._critical_points(
                lambda w: float(fj(jnp.asarray(w, jnp.float64))),
                lambda w: np.asarray(gj(jnp.asarray(w, jnp.float64)), float),
                lambda w: np.asarray(hj(jnp.asarray(w, jnp.float64)), float), n_starts, seed)

    def _critical_points(self, f, grad, hess, n_starts, seed):
        from scipy.optimize import minimize, root

        rng = np.random.default_rng(seed)
        d = self.shape[0]
        coef = np.linalg.lstsq(np.asarray(self.features), np.asarray(self.targets), rcond=None)[0]
        spread = 3.0 * max(1.0, float(np.abs(coef).max()))
        candidates = []
        for w0 in rng.uniform(-spread, spread, (n_starts, d)):
            sol = minimize(f, w0, jac=grad, method="BFGS", options={"gtol": 1e-12})
            candidates.append(root(grad, sol.x, jac=hess, method="hybr").x)
        minima = _distinct([w for w in candidates if np.linalg.eigvalsh(hess(w)).min() > 0
                            and np.linalg.norm(grad(w)) < 1e-9])
        for i, p in enumerate(minima):
            for q in minima[i + 1:]:
                for t in np.linspace(0.1, 0.9, 9):
                    candidates.append(root(grad, (1 - t) * p + t * q, jac=hess, method="hybr").x)
        points = _distinct([w for w in candidates if np.linalg.norm(grad(w)) < 1e-9])
        out: dict = {}
        for w in points:
            ev = np.linalg.eigvalsh(hess(w))
            kind = "minimum" if ev.min() > 0 else "maximum" if ev.max() < 0 else "saddle"
            out.setdefault(kind, []).append(w)
        return {kind: jnp.asarray(np.stack(sorted(pts, key=f))) for kind, pts in out.items()}


def _distinct(points, tol=1e-6):
    out = []
    for p in points:
        if all(np.linalg.norm(p - q) > tol for q in out):
            out.append(p)
    return out

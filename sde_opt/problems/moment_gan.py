r"""A GAN-like NC-SC game on generated data: a Gaussian generator against a quadratic discriminator.

Real data: n samples uᵢ ~ N(m₀, s₀²) drawn once (numpy, a fixed seed), with empirical moments
m̂₁ = mean uᵢ, m̂₂ = mean uᵢ². Generator x = (σ_g, m_g): fake samples m_g + σ_g ζ, ζ ~ N(0, 1).
Discriminator D_y(u) = y₁u + y₂u², penalized by (μ/2)‖y‖² (μ > 0: strongly concave in y).

    f(x, y) = mean_i D_y(uᵢ) − E_ζ D_y(m_g + σ_gζ) − (μ/2)‖y‖²
            = y₁(m̂₁ − m_g) + y₂(m̂₂ − m_g² − σ_g²) − (μ/2)‖y‖²

(the expectation over ζ in closed form), so

    y*(x) = g(x)/μ,  g = (m̂₁ − m_g, m̂₂ − m_g² − σ_g²),   Φ(x) = ‖g(x)‖²/(2μ):

the squared moment mismatch, nonconvex in x. Its minima σ_g = ±ŝ, m_g = m̂₁ (ŝ² = m̂₂ − m̂₁²) are
the two signs of the same generator; on the line σ_g = 0 (a collapsed generator) Φ has strict
saddles, where ∂²Φ/∂σ_g² = −2(m̂₂ − m_g²)/μ < 0. f(·, y) is not convex (∂²f/∂σ_g² = −2y₂).
The study ``minimax-rates`` runs GDA, OGDA and EG on it with the papers' step ratio and larger ones.

Oracle: the additive Gaussian oracle of ``GaussianGame`` (σ = 0 by
default: the deterministic game).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._checks import check_integer, check_positive, check_range
from .games import GaussianGame


class MomentGAN(GaussianGame):
    """The moment-matching GAN game (module docstring). x = (σ_g, m_g), y = (y₁, y₂).

    Args:
        mu: μ > 0, the discriminator's penalty (strong concavity in y).
        mean, std: m₀, s₀ > 0 of the real data.
        n: number of real samples (≥ 2).
        seed: seed of the real samples.
        sigma_x, sigma_y, batch_size: the oracle.
    """

    mu: jnp.ndarray
    moments: jnp.ndarray

    def __init__(self, mu=1.0, *, mean=0.5, std=0.5, n=2000, seed=0, sigma_x=0.0, sigma_y=0.0,
                 batch_size=1):
        owner = "MomentGAN"
        check_positive(owner, "mu", mu, scalar=True)
        check_positive(owner, "std", std, scalar=True)
        check_range(owner, "mean", mean, low_closed=False, high_closed=False, scalar=True)
        n = check_integer(owner, "n", n, low=2)
        seed = check_integer(owner, "seed", seed, low=0)
        u = np.random.default_rng(seed).normal(float(mean), float(std), n)
        self.moments = jnp.asarray([u.mean(), np.mean(u * u)])
        self.mu = jnp.asarray(float(mu))
        self._init_oracle(owner, 2, 2, sigma_x, sigma_y, batch_size, None)

    @property
    def data_std(self) -> float:
        """ŝ = √(m̂₂ − m̂₁²)."""
        m1, m2 = (float(v) for v in np.asarray(self.moments, np.float64))
        return float(np.sqrt(m2 - m1 * m1))

    def mismatch(self, x):
        """g(x) = (m̂₁ − m_g, m̂₂ − m_g² − σ_g²)."""
        m = jnp.asarray(self.moments, x.dtype)
        return jnp.stack([m[0] - x[1], m[1] - x[1] ** 2 - x[0] ** 2])

    def objective(self, z):
        x, y = z
        return y @ self.mismatch(x) - 0.5 * jnp.asarray(self.mu, x.dtype) * y @ y

    def y_star(self, x):
        return self.mismatch(x) / jnp.asarray(self.mu, x.dtype)

    def phi(self, x):
        g = self.mismatch(x)
        return 0.5 * g @ g / jnp.asarray(self.mu, x.dtype)

    def phi_critical_points(self):
        m1 = float(np.asarray(self.moments, np.float64)[0])
        s = self.data_std
        return {"minimum": np.array([[s, m1], [-s, m1]])}

    def smoothness(self, x_box: float, y_box: float) -> float:
        """A Lipschitz constant ℓ of ∇f on {‖x‖_∞ ≤ x_box, ‖y‖_∞ ≤ y_box}: the largest spectral
        norm of ∇²f = [[−2y₂I, −K(x)ᵀ], [−K(x), −μI]], K = [[0, 1], [2σ_g, 2m_g]], over the
        box's corners (∇²f is affine in (x, y) entrywise, and its norm is convex in them)."""
        best = 0.0
        mu = float(self.mu)
        for s in (-x_box, x_box):
            for m in (-x_box, x_box):
                for y2 in (-y_box, y_box):
                    k = np.array([[0.0, 1.0], [2 * s, 2 * m]])
                    h = np.block([[-2 * y2 * np.eye(2), -k.T], [-k, -mu * np.eye(2)]])
                    best = max(best, float(np.linalg.norm(h, 2)))
        return best


__all__ = ["MomentGAN"]

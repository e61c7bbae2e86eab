r"""A nonconvex–concave (NC-C) game: f concave — here linear — in y on a bounded Y, Φ nonsmooth.

    f(x, y) = φ(x) + b yᵀx,   Y = {‖y‖ ≤ R},   φ(x) = ℓ[−x₁²/2 + x₁⁴/4 + Σ_{i≥2} xᵢ²/2],

so y*(x) = R x/‖x‖ (x ≠ 0; all of Y at x = 0) and Φ(x) = max_Y f = φ(x) + bR‖x‖: ℓ-weakly convex
(φ'' ≥ −ℓ) with a kink at 0. With β = bR < 2ℓ/(3√3) the critical points of Φ are the kink 0 (a
local minimum: 0 ∈ ∂Φ(0) = ∇φ(0) + β·B), the local maxima ±a₋e₁ and the minima ±a₊e₁ along e₁,
a₋ < a₊ the positive roots of a³ − a + β/ℓ = 0. Near the kink ‖∇Φ‖ stays ≈ β while x → 0:
stationarity is measured by the Moreau envelope's gradient ‖∇Φ_λ(x)‖, λ = 1/(2ℓ_f) with ℓ_f the
smoothness of f on the region (``sde_opt.theory.moreau``; Lin, Jin & Jordan 2020, Mahdavinia
et al. 2022, papers.md §4.4).

Oracle: the additive Gaussian oracle of ``GaussianGame``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._checks import check_integer, check_positive, check_real
from .games import GaussianGame


class ConcaveWellGame(GaussianGame):
    """f(x, y) = φ(x) + b yᵀx on Y = {‖y‖ ≤ R} (module docstring).

    Args:
        d: dimension of x and y (≥ 1).
        ell: ℓ > 0, the curvature scale of φ.
        b: coupling b > 0.
        y_radius: R > 0.
        sigma_x, sigma_y, batch_size: the oracle.
    """

    ell: jnp.ndarray
    b: jnp.ndarray

    def __init__(self, d=2, ell=1.0, b=1.0, y_radius=0.2, *, sigma_x=0.0, sigma_y=0.0,
                 batch_size=1):
        owner = "ConcaveWellGame"
        d = check_integer(owner, "d", d, low=1)
        for name, v in (("ell", ell), ("b", b), ("y_radius", y_radius)):
            check_positive(owner, name, v, scalar=True)
        self.ell, self.b = jnp.asarray(float(ell)), jnp.asarray(float(b))
        self._init_oracle(owner, d, d, sigma_x, sigma_y, batch_size, float(y_radius))

    @property
    def beta(self) -> float:
        """β = bR: the size of the kink of Φ = φ + β‖x‖."""
        return float(self.b) * float(self.y_radius)

    def phi0(self, x):
        ell = jnp.asarray(self.ell, x.dtype)
        return ell * (-0.5 * x[0] ** 2 + 0.25 * x[0] ** 4 + 0.5 * jnp.sum(x[1:] ** 2))

    def objective(self, z):
        x, y = z
        return self.phi0(x) + jnp.asarray(self.b, x.dtype) * y @ x

    def field(self, z):
        x, y = z
        ell, b = jnp.asarray(self.ell, x.dtype), jnp.asarray(self.b, x.dtype)
        dphi = ell * jnp.concatenate([(-x[0] + x[0] ** 3)[None], x[1:]])
        return (dphi + b * y, -b * x)

    def y_star(self, x):
        nrm = jnp.sqrt(jnp.sum(x * x))
        r = jnp.asarray(self.y_radius, x.dtype)
        return r * x / jnp.maximum(nrm, jnp.finfo(x.dtype).tiny)

    def phi(self, x):
        return self.phi0(x) + jnp.asarray(self.beta, x.dtype) * jnp.sqrt(jnp.sum(x * x))

    def phi_critical_points(self):
        d, beta, ell = self.dims[0], self.beta, float(self.ell)
        roots = np.roots([1.0, 0.0, -1.0, beta / ell])
        pos = np.sort([r.real for r in roots if abs(r.imag) < 1e-12 and r.real > 0])
        out = {"minimum": np.zeros((1, d))}
        if len(pos) == 2:
            lo, hi = pos
            mins, maxs = np.zeros((3, d)), np.zeros((2, d))
            mins[1, 0], mins[2, 0] = hi, -hi
            maxs[0, 0], maxs[1, 0] = lo, -lo
            out = {"minimum": mins, "maximum_along_e1": maxs}
        return out

    # ----- the Moreau envelope (numpy, float64) -----
    def smoothness(self, radius: float) -> float:
        """ℓ_f: a Lipschitz constant of ∇f on {‖x‖_∞ ≤ radius} × Y (max of φ'' and the coupling)."""
        ell, b = float(self.ell), float(self.b)
        return max(ell * max(3.0 * radius**2 - 1.0, 1.0), b)

    def _smooth_grad(self, u):
        ell = float(self.ell)
        g = ell * u.copy()
        g[:, 0] = ell * (-u[:, 0] + u[:, 0] ** 3)
        return g

    def moreau_gradient_norm(self, x, lam: float, *, radius: float) -> np.ndarray:
        """‖∇Φ_λ(x)‖ per row of x (numpy float64, proximal gradient to 1e-12; ``radius`` bounds
        ‖·‖_∞ of the points and of their prox, for the Lipschitz constant of ∇φ). A row with a
        NaN (a diverged path) gives NaN."""
        from ..theory.moreau import moreau_gradient_norm  # theory sits above problems

        owner = "ConcaveWellGame.moreau_gradient_norm"
        x = check_real(owner, "x", x).astype(np.float64)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dims[0]:
            raise ValueError(f"{owner}: x must have shape ({self.dims[0]},) or (n, "
                             f"{self.dims[0]}); got shape {x.shape}")
        check_positive(owner, "lam", lam, scalar=True)
        check_positive(owner, "radius", radius, scalar=True)
        ell = float(self.ell)
        return moreau_gradient_norm(x, lam, self._smooth_grad,
                                    ell * max(3.0 * radius**2 - 1.0, 1.0), self.beta,
                                    weak_convexity=ell)

    def moreau_lambda(self, radius: float) -> float:
        """λ = 1/(2ℓ_f) (papers.md §4.4)."""
        return 1.0 / (2.0 * self.smoothness(radius))

    @staticmethod
    def kink_radius(eps: float, lam: float) -> float:
        """Near the kink, prox(x) = 0 and ‖∇Φ_λ(x)‖ = ‖x‖/λ: ≤ ε within ‖x‖ ≤ λε."""
        return lam * eps


__all__ = ["ConcaveWellGame"]

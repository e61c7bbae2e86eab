"""A quadratic strict saddle with additive Gaussian gradient noise."""

from __future__ import annotations

import numpy as np

from .quadratic import DiagonalQuadratic


class QuadraticSaddle(DiagonalQuadratic):
    r"""f(x) = ½ Σᵢ λᵢ xᵢ², with at least one λᵢ < 0, and g(x) = ∇f(x) + C^{1/2} z, z ~ N(0, I).

    The Hessian is ``diag(eigenvalues)`` in the standard basis; the origin is the only critical
    point (a strict saddle when some λᵢ > 0, a maximum otherwise). The gradient noise is additive:
    Σ(x) = C for every x. Near the saddle, SGD's diffusion limit is the linear SDE
    dX = −H X dt + √η C^{1/2} dW, whose exit time is given in closed form by
    [`sde_opt.theory.saddle_exit_mean`][sde_opt.theory.saddle_exit_mean].

    Args:
        eigenvalues: Hessian eigenvalues λ, shape ``(d,)``, at least one negative.
        noise_cov: gradient-noise covariance C, ``(d, d)`` PSD, or a scalar σ² (C = σ² I).
    """

    @classmethod
    def _check_eigenvalues(cls, lam):
        if not np.any(lam < 0):
            raise ValueError(
                "QuadraticSaddle: at least one Hessian eigenvalue must be negative "
                f"(a strict saddle); got eigenvalues {lam.tolist()}"
            )

"""The diffusion limit of the SGD family on a minimization problem: a [`FieldSDE`][sde_opt.FieldSDE] with V =
∇f.

``GradientSDE(problem, c, s)`` is dX = −c P ∇f(X) dt − s P Σ(X)^{1/2} dW (plus the geometry's Itô
correction in the ambient drift); see ``sde_opt.sde.field``.
"""

from .field import FieldSDE

GradientSDE = FieldSDE

__all__ = ["GradientSDE"]

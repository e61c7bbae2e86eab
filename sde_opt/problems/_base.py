"""The problem contract: what is optimized, and how its stochastic gradients are noisy."""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from ..noise import StandardNormal
from .geometry import Euclidean


class AbstractProblem(eqx.Module):
    """An objective ``f`` to *minimize*, with an unbiased stochastic-gradient oracle.

    Contract (``x`` has shape ``shape``):

    * ``objective(x)``, ``grad(x)`` (Euclidean gradient), ``hessian(x)``;
    * ``noise`` samples the randomness of one oracle call and ``stochastic_grad(x, noise)`` returns
      ``∇f(x) + ξ`` with ``E ξ = 0`` for it;
    * ``grad_noise_cov(x)`` is Σ(x) = Cov(ξ) as a ``(D, D)`` matrix (D = prod(shape)), and
      ``grad_noise_factor(x, z)`` returns B(x) z with B Bᵀ = Σ(x) for ``z ~ N(0, I)`` of shape
      ``factor_shape`` — the diffusion of every SGD-type limit is built from it;
    * ``critical_points()`` maps a kind (``"minimum"``, ``"saddle"``, ``"maximum"``) to an array
      of points ``(k, *shape)``;
    * ``geometry`` is :class:`~sde_opt.problems.Euclidean` or :class:`~sde_opt.problems.Sphere`.
    """

    geometry: eqx.AbstractVar[Euclidean]
    additive_noise: ClassVar[bool] = False  # True when Σ(x) does not depend on x

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, ...]:
        """Shape of a parameter point."""

    @abc.abstractmethod
    def objective(self, x):
        """f(x), a scalar."""

    def grad(self, x):
        """∇f(x), the Euclidean gradient."""
        return jax.grad(self.objective)(x)

    def hessian(self, x):
        """∇²f(x) as a ``(D, D)`` matrix."""
        d = x.size
        return jax.hessian(lambda y: self.objective(y.reshape(x.shape)))(x.reshape(d))

    @property
    def noise(self):
        """Sampler of the randomness behind one stochastic gradient (default: N(0, I) of ``shape``)."""
        return StandardNormal(self.shape)

    @abc.abstractmethod
    def stochastic_grad(self, x, noise):
        """One unbiased stochastic gradient ∇f(x) + ξ."""

    @abc.abstractmethod
    def grad_noise_cov(self, x):
        """Σ(x), the covariance of one stochastic gradient, ``(D, D)``."""

    @property
    def factor_shape(self) -> tuple[int, ...]:
        """Shape of the standard normal ``z`` consumed by :meth:`grad_noise_factor`."""
        return (math.prod(self.shape),)

    def grad_noise_factor(self, x, z):
        """B(x) z with B(x) B(x)ᵀ = Σ(x) (symmetric square root by default; override if cheaper)."""
        w, v = jnp.linalg.eigh(self.grad_noise_cov(x))
        root = (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T
        return (root @ z.reshape(-1)).reshape(self.shape)

    @abc.abstractmethod
    def critical_points(self) -> dict:
        """``{"minimum": (k, *shape), "saddle": …, "maximum": …}``; absent kinds are omitted."""

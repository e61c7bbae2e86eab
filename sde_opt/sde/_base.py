"""Continuous models: an Itô SDE dX = a(X) dt + B(X) dW, possibly on a manifold."""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp

from ..problems.geometry import Euclidean


class AbstractSDE(eqx.Module):
    r"""An autonomous Itô SDE dX = a(X) dt + B(X) dW on ℝᵈ or on a sphere.

    * ``drift(x)`` = a(x), same shape as ``x``;
    * ``diffusion(x, z)`` = B(x) z for ``z`` of shape ``noise_shape`` — a product, so that diagonal,
      low-rank and state-dependent diffusions cost what they should;
    * ``diffusion_matrix(x)`` = B(x) as an array of shape ``(*x.shape, *noise_shape)``;
    * ``geometry``: on a sphere, a(x) and B(x) are tangent and schemes retract after each step;
    * ``init(x0)`` / ``position(state)``: the SDE's state built from a parameter point, and the
      point read back (identity by default; the underdamped Langevin state is (x, v)).
    """

    geometry: eqx.AbstractVar[Euclidean]

    @property
    @abc.abstractmethod
    def noise_shape(self) -> tuple[int, ...]:
        """Shape of dW."""

    @abc.abstractmethod
    def drift(self, x):
        """a(x)."""

    @abc.abstractmethod
    def diffusion(self, x, z):
        """B(x) z."""

    def init(self, x0):
        """The state that starts at parameter point ``x0``."""
        return x0

    def position(self, state):
        """The parameter point of a state (what events and observables see)."""
        return state

    @property
    def additive(self) -> bool:
        """True when B does not depend on x (EM then has strong order 1)."""
        return False

    def diffusion_matrix(self, x):
        """B(x), shape ``(*x.shape, *noise_shape)`` (the Jacobian of the linear map z ↦ B(x) z)."""
        z = jnp.zeros(self.noise_shape, x.dtype)
        return jax.jacfwd(lambda zz: self.diffusion(x, zz))(z)

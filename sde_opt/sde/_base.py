"""Continuous models: an Itô SDE dX = a(X, t) dt + B(X, t) dW on a geometry."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .._chain import AbstractChain
from ..geometry import AbstractGeometry

if TYPE_CHECKING:
    from ..problems._base import AbstractField


class AbstractSDE(eqx.Module):
    r"""An Itô SDE dX = a(X) dt + B(X) dW (``time_dependent``: a(X, t), B(X, t)) on a geometry.

    * ``drift(x)`` = a(x), the *ambient* Itô drift — on a manifold it includes the geometry's Itô
      correction ([`ito_correction`][sde_opt.AbstractGeometry.ito_correction]), so that a solver
      that does not retract (diffrax, torchsde) solves the equation that stays on the manifold;
    * ``tangent_drift(x)`` = the drift without that correction (= ``drift`` on a flat geometry):
      what a retraction-based scheme steps with, since the retraction adds the correction itself;
    * ``diffusion(x, z)`` = B(x) z for ``z`` of shape ``noise_shape`` — a product, so that
      diagonal, low-rank and state-dependent diffusions cost what they should;
    * ``diffusion_matrix(x)`` = B(x) as an array of shape ``(*x.shape, *noise_shape)``;
    * ``init(x0)`` / ``position(state)``: the SDE's state built from a parameter point, and the
      point read back (identity by default; the underdamped Langevin state is (x, v)).

    A time-dependent SDE (``time_dependent = True``) takes the time as a keyword,
    ``drift(x, t=t)``, ``diffusion(x, z, t=t)``; schemes then carry the step count in their state.
    """

    geometry: eqx.AbstractVar[AbstractGeometry]
    time_dependent: ClassVar[bool] = False

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

    def tangent_drift(self, x, **t):
        """The drift a retraction-based scheme steps with (``drift`` on a flat geometry)."""
        return self.drift(x, **t)

    def init(self, x0):
        """The state that starts at parameter point ``x0``."""
        return x0

    def position(self, state):
        """The parameter point of a state (what events and observables see)."""
        return state

    @property
    def point_shape(self):
        """The shape of a parameter point when known (checked by the engine), else ``None``."""
        return None

    @property
    def additive(self) -> bool:
        """True when B does not depend on x (EM then has strong order 1)."""
        return False

    def diffusion_matrix(self, x, **t):
        """B(x), shape ``(*x.shape, *noise_shape)`` (the Jacobian of the linear map z ↦ B(x) z)."""
        dtype = jax.tree_util.tree_leaves(x)[0].dtype
        z = jnp.zeros(self.noise_shape, dtype)
        return jax.jacfwd(lambda zz: self.diffusion(x, zz, **t))(z)


class ProblemSDE(AbstractSDE):
    """An SDE built on a problem (a field and its oracle noise): its geometry and point shape are
    the problem's, and dW has the shape of the problem's noise factor (``factor_shape``)."""

    problem: eqx.AbstractVar[AbstractField]

    @property
    def geometry(self):
        return self.problem.geometry

    @property
    def noise_shape(self):
        return self.problem.factor_shape

    @property
    def point_shape(self):
        return self.problem.shape


class AbstractScheme(AbstractChain):
    """A discretization of an SDE as a chain with step ``dt``: its positions have the SDE's
    shape and geometry."""

    sde: eqx.AbstractVar[AbstractSDE]

    @property
    def point_shape(self):
        return self.sde.point_shape

    @property
    def geometry(self):
        return self.sde.geometry


def ambient_drift(sde: AbstractSDE, x, tangent, **t):
    """The ambient Itô drift of ``sde`` at ``x`` from its tangent drift: ``tangent`` plus the
    geometry's Itô correction for the diffusion B(x) (nothing to add on a flat geometry)."""
    geom = sde.geometry
    if geom.is_flat:
        return tangent
    jac = sde.diffusion_matrix(x, **t)
    flat = jax.tree_util.tree_map(lambda j, xi: j.reshape(*xi.shape, -1), jac, x)
    return jax.tree_util.tree_map(jnp.add, tangent, geom.ito_correction(x, flat))

"""Euler–Maruyama: the scheme that turns an SDE into a chain (projected onto a sphere if needed)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from .._checks import check_instance, check_positive, check_scalar
from ..noise import StandardNormal
from ._base import AbstractScheme, AbstractSDE


class TimedState(NamedTuple):
    """The state of a scheme for a time-dependent SDE: the point and the step count k
    (t = t0 + k h)."""

    x: object
    k: jnp.ndarray


class EulerMaruyama(AbstractScheme):
    r"""X_{k+1} = R( X_k + a(X_k, t_k) h + B(X_k, t_k) √h Z_k ),  Z_k ~ N(0, I), t_k = t0 + k h.

    R is the geometry's retraction (the identity in ℝᵈ) and a the SDE's *tangent* drift: on a
    manifold the retraction's second-order term adds the Itô correction by itself, so this
    projected scheme is consistent with the ambient SDE ([`AbstractSDE.drift`][sde_opt.AbstractSDE.drift])
    that diffrax and torchsde solve. Strong order ½ (1 for additive noise), weak order 1, on ℝᵈ and on spheres
    alike. Its stationary law on a linear SDE is known exactly: A S_h + S_h Aᵀ + h A S_h Aᵀ + B Bᵀ = 0
    ([`sde_opt.theory.em_stationary_covariance`][sde_opt.theory.em_stationary_covariance]). Points may be
    pytrees; for a time-dependent SDE the state is [`TimedState`][sde_opt.sde.TimedState].

    Args:
        sde: the SDE.
        dt: step size h > 0 (continuous time per step).
        t0: the time of the first step (only a time-dependent SDE reads it; default 0).
    """

    sde: AbstractSDE
    dt: jnp.ndarray
    t0: jnp.ndarray

    strong_order = 0.5
    weak_order = 1.0

    def __init__(self, sde: AbstractSDE, dt, t0=0.0):
        owner = type(self).__name__
        check_instance(owner, "sde", sde, AbstractSDE, "an AbstractSDE (e.g. alg.limit())")
        check_positive(owner, "dt", dt, scalar=True)
        check_scalar(owner, "t0", t0, low_closed=False, high_closed=False)
        self.sde = sde
        self.dt = jnp.asarray(dt)
        self.t0 = jnp.asarray(t0)

    @property
    def noise(self):
        return StandardNormal(self.sde.noise_shape)

    def init(self, x0):
        x = self.sde.geometry.retract(self.sde.init(x0))
        if self.sde.time_dependent:
            return TimedState(x, jnp.zeros((), jnp.int32))
        return x

    def position(self, state):
        if self.sde.time_dependent:
            state = state.x
        return self.sde.position(state)

    def _unpack(self, state):
        """(point, step count or ``None``, h, the time keyword of a time-dependent SDE)."""
        if self.sde.time_dependent:
            x, k = state
            h = self.dt.astype(_dtype(x))
            return x, k, h, {"t": self.t0.astype(h.dtype) + k.astype(h.dtype) * h}
        return state, None, self.dt.astype(_dtype(state)), {}

    @staticmethod
    def _pack(x, k):
        return x if k is None else TimedState(x, k + 1)

    def step(self, state, noise):
        x, k, h, t = self._unpack(state)
        a = self.sde.tangent_drift(x, **t)
        b = self.sde.diffusion(x, noise, **t)
        x = jax.tree_util.tree_map(lambda xi, ai, bi: xi + ai * h + bi * jnp.sqrt(h), x, a, b)
        return self._pack(self.sde.geometry.retract(x), k)


def _dtype(x):
    return jax.tree_util.tree_leaves(x)[0].dtype

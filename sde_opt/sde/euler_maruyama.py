"""Euler–Maruyama: the scheme that turns an SDE into a chain (projected onto a sphere if needed)."""

from __future__ import annotations

import jax.numpy as jnp

from .._chain import AbstractChain
from .._checks import check_positive
from ..noise import StandardNormal
from ._base import AbstractSDE


class EulerMaruyama(AbstractChain):
    r"""X_{k+1} = R( X_k + a(X_k) h + B(X_k) √h Z_k ),  Z_k ~ N(0, I), R the geometry's retraction.

    Strong order ½ (1 for additive noise), weak order 1. On a sphere the retraction
    R(x) = x/‖x‖ projects back after each step (projected EM; same orders). Its stationary law on
    a linear SDE is known exactly: A S_h + S_h Aᵀ + h A S_h Aᵀ + B Bᵀ = 0
    (:func:`sde_opt.theory.em_stationary_covariance`).

    Args:
        sde: the SDE.
        dt: step size h > 0 (continuous time per step).
    """

    sde: AbstractSDE
    dt: jnp.ndarray

    strong_order = 0.5
    weak_order = 1.0

    def __init__(self, sde: AbstractSDE, dt):
        check_positive("EulerMaruyama", "dt", dt)
        self.sde = sde
        self.dt = jnp.asarray(dt)

    @property
    def noise(self):
        return StandardNormal(self.sde.noise_shape)

    def init(self, x0):
        return self.sde.geometry.retract(self.sde.init(x0))

    def position(self, state):
        return self.sde.position(state)

    def step(self, state, noise):
        x = state
        h = self.dt.astype(x.dtype)
        x = x + self.sde.drift(x) * h + self.sde.diffusion(x, noise) * jnp.sqrt(h)
        return self.sde.geometry.retract(x)

"""Per-path stopping events: each is a pure function position -> bool (True = stop here)."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp


class LeaveBall(eqx.Module):
    """Fires when ‖x − center‖ ≥ radius (exit from a neighbourhood of a saddle)."""

    center: jnp.ndarray
    radius: jnp.ndarray

    def __init__(self, center, radius):
        if not float(radius) > 0:
            raise ValueError(f"LeaveBall: radius must be > 0; got {radius!r}")
        self.center = jnp.asarray(center)
        self.radius = jnp.asarray(radius)

    def __call__(self, x):
        c = self.center.astype(x.dtype)
        return jnp.sum((x - c) ** 2) >= self.radius.astype(x.dtype) ** 2


class EnterBall(eqx.Module):
    """Fires when ‖x − center‖ ≤ radius (arrival near a target such as a minimum)."""

    center: jnp.ndarray
    radius: jnp.ndarray

    def __init__(self, center, radius):
        if not float(radius) > 0:
            raise ValueError(f"EnterBall: radius must be > 0; got {radius!r}")
        self.center = jnp.asarray(center)
        self.radius = jnp.asarray(radius)

    def __call__(self, x):
        c = self.center.astype(x.dtype)
        return jnp.sum((x - c) ** 2) <= self.radius.astype(x.dtype) ** 2


class Threshold(eqx.Module):
    """Fires when ``fn(x) >= level`` (``above=True``) or ``fn(x) <= level`` (``above=False``).

    Example: streaming-PCA escape from the saddle e₂ is ``Threshold(lambda w: w[0]**2 / (w @ w),
    0.5)``, i.e. cos²(w, e₁) ≥ ½. Pass a module-level function (not a fresh lambda per call) so that
    compiled code is reused.
    """

    fn: Callable
    level: jnp.ndarray
    above: bool = eqx.field(static=True, default=True)

    def __init__(self, fn, level, above: bool = True):
        self.fn = fn
        self.level = jnp.asarray(level)
        self.above = above

    def __call__(self, x):
        v = self.fn(x)
        lv = self.level.astype(v.dtype)
        return v >= lv if self.above else v <= lv

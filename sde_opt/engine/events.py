"""Per-path stopping events: each is a pure function position -> bool (True = stop here).

Events and observables see the chain's *position* (``chain.position(state)``: the iterate x of
momentum SGD, the point of an SDE scheme). One that needs more — the momentum of heavy ball, the
velocity of underdamped Langevin, OGDA's remembered field — is wrapped in [`OnState`][sde_opt.OnState]
and receives the chain's full state instead.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_array, check_bool, check_callable, check_range, check_real, is_concrete


def _check_center(owner, center):
    if not is_concrete(center):
        return center
    check_array(owner, "center", center)
    return center


def _check_radius(owner, radius):
    check_range(owner, "radius", radius, 0.0, np.inf, low_closed=False, high_closed=False,
                scalar=True)


def _match(owner, center, x):
    """The center as an array of the position's shape: a scalar center means that value in every
    coordinate; any other shape must equal the position's (no silent broadcasting)."""
    if not hasattr(x, "shape"):
        raise TypeError(f"{owner}: the position must be one array (a ball lives in ℝᵈ); got "
                        f"{type(x).__name__} — use Threshold on a function of the pytree instead")
    if center.ndim and center.shape != x.shape:
        raise ValueError(f"{owner}: center must have the position's shape {tuple(x.shape)} (or be a "
                         f"scalar); got shape {tuple(center.shape)}")
    return center.astype(x.dtype)


class LeaveBall(eqx.Module):
    """Fires when ‖x − center‖ ≥ radius (exit from a neighbourhood of a saddle).

    Args:
        center: a point of the position's shape (or a scalar: that value in every coordinate).
        radius: a real number > 0.
    """

    center: jnp.ndarray
    radius: jnp.ndarray

    def __init__(self, center, radius):
        _check_radius("LeaveBall", radius)
        self.center = jnp.asarray(_check_center("LeaveBall", center))
        self.radius = jnp.asarray(radius)

    def __call__(self, x):
        c = _match("LeaveBall", self.center, x)
        return jnp.sum((x - c) ** 2) >= self.radius.astype(x.dtype) ** 2


class EnterBall(eqx.Module):
    """Fires when ‖x − center‖ ≤ radius (arrival near a target such as a minimum).

    Args:
        center: a point of the position's shape (or a scalar: that value in every coordinate).
        radius: a real number > 0.
    """

    center: jnp.ndarray
    radius: jnp.ndarray

    def __init__(self, center, radius):
        _check_radius("EnterBall", radius)
        self.center = jnp.asarray(_check_center("EnterBall", center))
        self.radius = jnp.asarray(radius)

    def __call__(self, x):
        c = _match("EnterBall", self.center, x)
        return jnp.sum((x - c) ** 2) <= self.radius.astype(x.dtype) ** 2


class Threshold(eqx.Module):
    """Fires when ``fn(x) >= level`` (``above=True``) or ``fn(x) <= level`` (``above=False``).

    Example: streaming-PCA escape from the saddle e₂ is ``Threshold(lambda w: w[0]**2 / (w @ w),
    0.5)``, i.e. cos²(w, e₁) ≥ ½. Pass a module-level function (not a fresh lambda per call) so that
    compiled code is reused.

    Args:
        fn: a function position -> real scalar.
        level: a finite real number (a NaN or infinite level would never fire).
        above: ``True`` to fire at ``fn(x) >= level``, ``False`` at ``fn(x) <= level``.
    """

    fn: Callable
    level: jnp.ndarray
    above: bool = eqx.field(static=True, default=True)

    def __init__(self, fn, level, above: bool = True):
        check_callable("Threshold", "fn", fn, "a function position -> scalar")
        lv = check_real("Threshold", "level", level, scalar=True)
        if is_concrete(level) and not np.isfinite(lv):
            raise ValueError(f"Threshold: level must be a finite real number (a NaN or infinite "
                             f"level never fires); got {float(lv)!r}")
        self.fn = fn
        self.level = jnp.asarray(level)
        self.above = check_bool("Threshold", "above", above)

    def __call__(self, x):
        v = self.fn(x)
        lv = self.level.astype(v.dtype)
        return v >= lv if self.above else v <= lv


class OnState(eqx.Module):
    """An event or observable that reads the chain's full *state*, not only its position.

    ``simulate`` calls ``fn(state)`` (one path's state: a ``MomentumState(x, m)`` for
    [`MomentumSGD`][sde_opt.MomentumSGD], ``(x, v)`` for an underdamped Langevin scheme, a
    ``TimedState(x, k)`` for a scheme of a time-dependent SDE …) where it would call ``fn(x)``:

        speed = so.OnState(lambda s: jnp.linalg.norm(s.m) / eta)     # |x_k − x_{k−1}|/η
        so.simulate(so.MomentumSGD(problem, eta, 0.9), x0, key=0, n_paths=100, n_steps=1_000,
                    observables={"speed": speed}, events=[so.OnState(lambda s: s.m @ s.m > 1.0)])

    The state's structure is the chain's own (see its ``init``); ``simulate(final_state=True)``
    returns the final states too. [`PhaseSpace`][sde_opt.PhaseSpace] is the other way round: a
    chain whose position *is* its state (and whose start is a full state).

    Args:
        fn: a function state -> bool scalar (an event) or state -> array (an observable).
    """

    fn: Callable

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"OnState: fn must be a function of the chain's state; got {fn!r}")
        self.fn = fn

    def __call__(self, state):
        return self.fn(state)

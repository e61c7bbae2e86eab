r"""Splitting schemes for underdamped Langevin dynamics: BAOAB and OBABO.

The generator is split into three exactly solvable pieces (Leimkuhler & Matthews 2013):

* **A** (drift of x):    x ← x + τ v;
* **B** (force kick):    v ← v + τ f(x),  f = −∇F;
* **O** (friction + noise, exact OU):  v ← e^{−γτ} v + √((1 − e^{−2γτ})/(2γ)) B_v(x) z,
  with B_v the velocity diffusion per unit time (√(2γ/β) I, plus the gradient noise if any).

A scheme is a palindrome of sub-steps whose durations add up to h. Both have strong order 1
(noise on v only, depending on x only) and weak order 2. On a harmonic potential
(validation-theory §5): BAOAB samples the exact position marginal for every stable h (its ⟨v²⟩
is too small by O(h²)); OBABO samples the exact velocity marginal (its ⟨x²⟩ too large by O(h²)).
"""

from __future__ import annotations

import jax.numpy as jnp

from .._checks import check_positive
from ..noise import StandardNormal
from ._base import AbstractScheme
from .langevin import UnderdampedLangevin


def _o_coefficients(gamma, tau):
    """(e^{−γτ}, √((1 − e^{−2γτ})/(2γ))) — the OU step of duration τ (expm1: no cancellation)."""
    return jnp.exp(-gamma * tau), jnp.sqrt(-jnp.expm1(-2 * gamma * tau) / (2 * gamma))


class LangevinScheme(AbstractScheme):
    """A scheme for underdamped Langevin (BAOAB, OBABO, ExactOU): its SDE, the step h > 0, the
    state (X, V) of ``sde.init`` and the position X. Strong order 1, weak order 2 unless a
    subclass says otherwise."""

    sde: UnderdampedLangevin
    dt: jnp.ndarray

    strong_order = 1.0
    weak_order = 2.0

    def __init__(self, sde, dt):
        name = type(self).__name__
        if not isinstance(sde, UnderdampedLangevin):
            raise TypeError(f"{name}: sde must be an UnderdampedLangevin; got {type(sde).__name__}")
        check_positive(name, "dt", dt, scalar=True)
        self.sde = sde
        self.dt = jnp.asarray(dt)

    def init(self, x0):
        return self.sde.init(x0)

    def position(self, state):
        return state[0]


class BAOAB(LangevinScheme):
    r"""B(h/2) A(h/2) O(h) A(h/2) B(h/2).

    Noise per step: ``sde.noise_shape`` (one normal, ≈ ΔW/√h). Strong order 1, weak order 2;
    exact position marginal on a harmonic potential; configurational error O(h²) in general.

    Args:
        sde: an [`UnderdampedLangevin`][sde_opt.UnderdampedLangevin].
        dt: step h > 0.
    """

    @property
    def noise(self):
        return StandardNormal(tuple(self.sde.noise_shape))

    def step(self, state, noise):
        x, v = state[0], state[1]
        h = self.dt.astype(x.dtype)
        c, s = _o_coefficients(self.sde.gamma.astype(x.dtype), h)
        v = v + 0.5 * h * self.sde.force(x)
        x = x + 0.5 * h * v
        v = c * v + s * self.sde.velocity_diffusion(x, noise)
        x = x + 0.5 * h * v
        v = v + 0.5 * h * self.sde.force(x)
        return jnp.stack([x, v])


class OBABO(LangevinScheme):
    r"""O(h/2) B(h/2) A(h) B(h/2) O(h/2).

    Noise per step: ``(2, *sde.noise_shape)`` = (a, b) with a ≈ ΔW/√h the Brownian increment of
    the step and b an independent normal; the two half-step O's use z₁ = (a + b)/√2 and
    z₂ = (a − b)/√2 (independent standard normals). Strong order 1, weak order 2; exact velocity
    marginal on a harmonic potential.

    Args:
        sde: an [`UnderdampedLangevin`][sde_opt.UnderdampedLangevin].
        dt: step h > 0.
    """

    @property
    def noise(self):
        return StandardNormal((2, *self.sde.noise_shape))

    def step(self, state, noise):
        x, v = state[0], state[1]
        h = self.dt.astype(x.dtype)
        c, s = _o_coefficients(self.sde.gamma.astype(x.dtype), 0.5 * h)
        r = jnp.sqrt(jnp.asarray(0.5, x.dtype))
        z1, z2 = r * (noise[0] + noise[1]), r * (noise[0] - noise[1])
        v = c * v + s * self.sde.velocity_diffusion(x, z1)
        v = v + 0.5 * h * self.sde.force(x)
        x = x + h * v
        v = v + 0.5 * h * self.sde.force(x)
        v = c * v + s * self.sde.velocity_diffusion(x, z2)
        return jnp.stack([x, v])

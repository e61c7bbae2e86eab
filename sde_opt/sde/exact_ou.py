r"""Exact integration of the linear (Ornstein–Uhlenbeck) part of underdamped Langevin dynamics.

With the force frozen at the start of a step, dX = V dt, dV = (f − γV) dt + B dW is linear with
constant coefficients and integrates exactly over a step h (Cheng, Chatterji, Bartlett & Jordan
2018; SGHMC2 of Gao, Gürbüzbalaban & Zhu; papers.md §2.3):

    V' = ψ₀(h) V + ψ₁(h) f + ξ,            ψ₀(t) = e^{−γt},   ψ₁(t) = (1 − e^{−γt})/γ,
    X' = X + ψ₁(h) V + ψ₂(h) f + ξ',        ψ₂(t) = (γt + e^{−γt} − 1)/γ²,

with (ξ, ξ') Gaussian of covariance C(h) ⊗ BBᵀ, C(h) = ∫₀ʰ [ψ₀, ψ₁]ᵀ[ψ₀, ψ₁](t) dt:

    C₀₀ = (1 − e^{−2γh})/(2γ),  C₀₁ = (1 − e^{−γh})²/(2γ²),
    C₁₁ = [h − 2(1 − e^{−γh})/γ + (1 − e^{−2γh})/(2γ)]/γ².

Numerics: with u = γh every entry is hᵖ·φ(u) for an entire function φ; for u < 0.5 the φ are
evaluated by their Taylor series (C₁₁'s closed form cancels three orders, C₁₁ ≈ h³/3 − γh⁴/4), above
it by ``expm1`` forms. The noise is sampled as L·(Z₁, Z₂) per coordinate with L = chol C(h), so
Z₁ is the normalized Brownian increment ΔW/√h to leading order and Z₂ an independent normal.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from ..noise import StandardNormal
from .splitting import LangevinScheme

_SERIES_BELOW = 0.5
_N_TERMS = 24


def _series(coefficients, u):
    out = jnp.zeros_like(u)
    for c in coefficients[::-1]:
        out = out * u + c
    return out


# Taylor coefficients in u of the φ functions below (alternating signs included).
_PHI1 = [(-1) ** j / math.factorial(j + 1) for j in range(_N_TERMS)]
_PHI2 = [(-1) ** j / math.factorial(j + 2) for j in range(_N_TERMS)]
_PHI3 = [(-1) ** j * (2 ** (j + 2) - 2) / math.factorial(j + 3) for j in range(_N_TERMS)]


def _phi(u, closed, coefficients):
    small = u < _SERIES_BELOW
    safe = jnp.where(small, 1.0, u)
    return jnp.where(small, _series(coefficients, u), closed(safe))


def phi1(u):
    """(1 − e^{−u})/u."""
    return _phi(u, lambda w: -jnp.expm1(-w) / w, _PHI1)


def phi2(u):
    """(u − 1 + e^{−u})/u²."""
    return _phi(u, lambda w: (w + jnp.expm1(-w)) / w**2, _PHI2)


def phi3(u):
    """[u − 2(1 − e^{−u}) + (1 − e^{−2u})/2]/u³  (= 1/3 − u/4 + 7u²/60 − …)."""
    return _phi(u, lambda w: (w + 2 * jnp.expm1(-w) - 0.5 * jnp.expm1(-2 * w)) / w**3, _PHI3)


class ExactOUCoefficients(NamedTuple):
    """ψ₀, ψ₁, ψ₂ of one step and the Cholesky factor [[l00, 0], [l10, l11]] of C(h)."""

    psi0: jnp.ndarray
    psi1: jnp.ndarray
    psi2: jnp.ndarray
    l00: jnp.ndarray
    l10: jnp.ndarray
    l11: jnp.ndarray


def exact_ou_covariance(gamma, h):
    """(C₀₀, C₀₁, C₁₁) of C(h) (papers.md §2.3), stable for small γh."""
    gamma, h = jnp.asarray(gamma), jnp.asarray(h)
    u = gamma * h
    return h * phi1(2 * u), h**2 * phi1(u) ** 2 / 2, h**3 * phi3(u)


def exact_ou_coefficients(gamma, h) -> ExactOUCoefficients:
    """Everything one exact-OU step needs, for friction γ > 0 and step h > 0."""
    gamma, h = jnp.asarray(gamma), jnp.asarray(h)
    u = gamma * h
    p1, p1_2u, p3 = phi1(u), phi1(2 * u), phi3(u)
    l00 = jnp.sqrt(h * p1_2u)
    l10 = h**1.5 * p1**2 / (2 * jnp.sqrt(p1_2u))
    l11 = h**1.5 * jnp.sqrt(jnp.clip(p3 - p1**4 / (4 * p1_2u), 0.0))
    return ExactOUCoefficients(jnp.exp(-u), h * p1, h**2 * phi2(u), l00, l10, l11)


def exact_ou_update(x, v, force, w1, w2, c: ExactOUCoefficients):
    """One exact-OU step with frozen ``force`` f; ``w1``, ``w2`` are B·Z₁, B·Z₂ (B the velocity
    diffusion per unit time). Returns (x', v')."""
    dt = x.dtype
    v_new = c.psi0.astype(dt) * v + c.psi1.astype(dt) * force + c.l00.astype(dt) * w1
    x_new = (x + c.psi1.astype(dt) * v + c.psi2.astype(dt) * force
             + c.l10.astype(dt) * w1 + c.l11.astype(dt) * w2)
    return x_new, v_new


class ExactOU(LangevinScheme):
    r"""The exact-OU scheme for underdamped Langevin: SGHMC2's integrator with the exact force.

    One step of size h integrates the dynamics exactly with ∇F frozen at X_k (module docstring).
    Noise per step: shape ``(2, *sde.noise_shape)``; ``[0]`` ≈ ΔW/√h (the Brownian increment),
    ``[1]`` an independent normal carrying the within-step structure of ∫ψ₁ dW.

    Orders: strong 1, weak 1 (the frozen force leaves an O(h²) local drift error in V). On a
    harmonic potential it is a linear scheme whose stationary law is computable exactly
    (``sde_opt.theory.langevin.chain_stationary_covariance``); unlike BAOAB it is not exact
    in either marginal.

    Args:
        sde: an [`UnderdampedLangevin`][sde_opt.UnderdampedLangevin].
        dt: step h > 0.
    """

    weak_order = 1.0

    @property
    def noise(self):
        return StandardNormal((2, *self.sde.noise_shape))

    def step(self, state, noise):
        x, v = state[0], state[1]
        c = exact_ou_coefficients(self.sde.gamma.astype(x.dtype), self.dt.astype(x.dtype))
        w1 = self.sde.velocity_diffusion(x, noise[0])
        w2 = self.sde.velocity_diffusion(x, noise[1])
        x, v = exact_ou_update(x, v, self.sde.force(x), w1, w2, c)
        return jnp.stack([x, v])


def exact_ou_covariance_quadrature(gamma: float, h: float, n: int = 20001) -> np.ndarray:
    """C(h) by Simpson quadrature of ∫₀ʰ [ψ₀, ψ₁]ᵀ[ψ₀, ψ₁] dt in float64 (a reference for tests)."""
    from scipy.integrate import simpson

    t = np.linspace(0.0, h, n)
    p0 = np.exp(-gamma * t)
    p1 = -np.expm1(-gamma * t) / gamma
    return np.array([[simpson(p0 * p0, x=t), simpson(p0 * p1, x=t)],
                     [simpson(p0 * p1, x=t), simpson(p1 * p1, x=t)]])

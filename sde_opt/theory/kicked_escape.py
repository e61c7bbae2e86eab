r"""Escape from a strict saddle after one uniform-ball kick: the exact law for linear dynamics.

Perturbed gradient methods (perturbed GD, perturbed GDmax, perturbed AID; Jin et al. 2017,
Huang et al. 2022) add, when the gradient is small, one perturbation ξ drawn uniformly from the
ball B(0, r) ⊂ ℝⁿ, then run deterministically. Near a strict saddle the iteration is linear; its
component u along the most unstable direction v grows by a factor ρ > 1 per iteration (GD with
step η on curvature −λ: ρ = 1 + ηλ; in continuous time, e^{λt}), while the stable components
shrink. The escape — |u_k| ≥ R — therefore happens at

    K = ⌈ log(R/|u₀|) / log ρ ⌉,      u₀ = ⟨ξ, v⟩  (+ the start's own offset, if any).

For ξ uniform in the n-ball, (u₀/r)² ~ Beta(½, (n+1)/2) (the squared first coordinate of a uniform
point of the unit n-ball), so the law of K is exact:

    P(K ≤ k) = P(|u₀| ≥ R ρ^{−k}) = 1 − I_{(R ρ^{−k}/r)²}(½, (n+1)/2),

with I the regularized incomplete beta function (P = 1 once R ρ^{−k} ≤ r·0, i.e. never for
finite k unless the start offset already exceeds R). The continuous-time analogue is
T = log(R/|u₀|)/λ with P(T ≤ t) = 1 − I_{(R e^{−λt}/r)²}(½, (n+1)/2).

This is the law of the *linearized* dynamics: it is exact for a quadratic saddle and accurate
while the path stays where the linearization holds (R small against the scale of the cubic
terms).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._checks import check_array, check_instance, check_integer, check_scalar

_SKIP = object()


def _check(owner, r, radius, dim, growth=_SKIP):
    """The kick radius r > 0, the escape radius R > 0, the ball's dimension (an integer >= 1) and
    the growth factor ρ > 1 (skipped when ``None``); returned as (float, float, int, float)."""
    r = check_scalar(owner, "r", r, 0.0, math.inf, low_closed=False, high_closed=False)
    radius = None if radius is _SKIP else check_scalar(
        owner, "radius", radius, 0.0, math.inf, low_closed=False, high_closed=False)
    dim = check_integer(owner, "dim", dim, low=1)
    if growth is not _SKIP:
        growth = check_scalar(owner, "growth", growth, 1.0, math.inf, low_closed=False,
                              high_closed=False)
    return r, radius, dim, growth


def kick_projection_cdf(a, r: float, dim: int):
    """P(|⟨ξ, v⟩| ≤ a) for ξ uniform in the ball of radius ``r`` in ℝ^dim and a unit v."""
    r, _, dim, _ = _check("kick_projection_cdf", r, _SKIP, dim)
    a = check_array("kick_projection_cdf", "a", a, nonempty=False, low=0.0)
    return _projection_cdf(a, r, dim)


def _projection_cdf(a, r, dim):
    s = np.clip(np.asarray(a, dtype=np.float64) / r, 0.0, 1.0) ** 2
    return special.betainc(0.5, (dim + 1) / 2.0, s)


def kicked_escape_cdf(k, *, r: float, radius: float, dim: int, growth: float):
    r"""P(K ≤ k): the escape-iteration law after one uniform kick (module docstring).

    Args:
        k: iteration counts after the kick (array-like, ≥ 0).
        r: kick radius.
        radius: escape radius R along the unstable direction (|u_k| ≥ R).
        dim: dimension n of the ball the kick is drawn from.
        growth: ρ > 1, the per-iteration growth factor of the unstable component.
    """
    r, radius, dim, growth = _check("kicked_escape_cdf", r, radius, dim, growth)
    k = check_array("kicked_escape_cdf", "k", k, nonempty=False, low=0.0).astype(np.float64)
    return _cdf(k, r, radius, dim, growth)


def _cdf(k, r, radius, dim, growth):
    threshold = radius * growth ** (-np.floor(k))
    return 1.0 - _projection_cdf(threshold, r, dim)


def kicked_escape_pmf(k, *, r: float, radius: float, dim: int, growth: float):
    """P(K = k) for integer k ≥ 0."""
    r, radius, dim, growth = _check("kicked_escape_pmf", r, radius, dim, growth)
    k = check_array("kicked_escape_pmf", "k", k, nonempty=False, low=0.0)
    if not np.all(k == np.floor(k)):
        raise ValueError(f"kicked_escape_pmf: k must hold integers (iteration counts); got "
                         f"{k[k != np.floor(k)].ravel()[0]!r}")
    hi = _cdf(k, r, radius, dim, growth)
    lo = np.where(k >= 1, _cdf(np.maximum(k - 1, 0), r, radius, dim, growth), 0.0)
    return hi - lo


def kicked_escape_mean(*, r: float, radius: float, dim: int, growth: float, tol: float = 1e-14) -> float:
    """E K = Σ_{k ≥ 0} P(K > k) (summed until the tail is below ``tol``)."""
    r, radius, dim, growth = _check("kicked_escape_mean", r, radius, dim, growth)
    tol = check_scalar("kicked_escape_mean", "tol", tol, 0.0, math.inf, low_closed=False,
                       high_closed=False)
    total, k = 0.0, 0
    # P(K > k) ≈ c ρ^{−k} for large k: the sum converges geometrically
    k_max = int(math.ceil(math.log(max(radius / r, 1.0) * 1e16) / math.log(growth))) + 10
    while k <= k_max:
        tail = 1.0 - float(_cdf(np.float64(k), r, radius, dim, growth))
        total += tail
        if tail < tol and radius * growth ** (-k) <= r:
            break
        k += 1
    return total


def kicked_escape_quantile(p, *, r: float, radius: float, dim: int, growth: float):
    """The smallest integer k with P(K ≤ k) ≥ p (p in (0, 1))."""
    r, radius, dim, growth = _check("kicked_escape_quantile", r, radius, dim, growth)
    p = check_array("kicked_escape_quantile", "p", p, nonempty=False, low=0.0, high=1.0,
                    low_closed=False, high_closed=False).astype(np.float64)
    # |u₀| at quantile: P(|u₀| ≥ a) = p  ⇔  a = r·sqrt(I⁻¹(1 − p))
    a = r * np.sqrt(special.betaincinv(0.5, (dim + 1) / 2.0, 1.0 - p))
    k = np.ceil(np.log(radius / a) / math.log(growth))
    return np.maximum(k, 0.0)


def kicked_escape_time_cdf(t, *, r: float, radius: float, dim: int, rate: float):
    """Continuous time: P(T ≤ t) with growth e^{λt} (``rate`` = λ > 0)."""
    r, radius, dim, _ = _check("kicked_escape_time_cdf", r, radius, dim)
    rate = check_scalar("kicked_escape_time_cdf", "rate", rate, 0.0, math.inf, low_closed=False,
                        high_closed=False)
    t = check_array("kicked_escape_time_cdf", "t", t, nonempty=False, low=0.0).astype(np.float64)
    return 1.0 - _projection_cdf(radius * np.exp(-rate * t), r, dim)


def sample_uniform_ball(rng: np.random.Generator, n_samples: int, dim: int, r: float) -> np.ndarray:
    """Independent points uniform in the ball of radius ``r`` in ℝ^dim (for tests, numpy)."""
    check_instance("sample_uniform_ball", "rng", rng, np.random.Generator,
                   "a numpy.random.Generator (np.random.default_rng(seed))")
    n_samples = check_integer("sample_uniform_ball", "n_samples", n_samples, low=0)
    r, _, dim, _ = _check("sample_uniform_ball", r, _SKIP, dim)
    g = rng.standard_normal((n_samples, dim))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return r * g * rng.uniform(size=(n_samples, 1)) ** (1.0 / dim)

"""Slopes and rates with path-bootstrap intervals: strong-order slopes (log-log, optionally with a
pre-asymptotic term) and exponential relaxation rates (single, or the difference of two starts).

Means, exit-time summaries and weighted least-squares slopes live in ``sde_opt.stats``
(``iid_mean``, ``exit_time_summary``, ``slope_fit``)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._checks import check_array, check_bool, check_choice, check_integer, check_scalar, check_seed
from ._estimate import Estimate


class BootstrapSlope(NamedTuple):
    """Least-squares slope of log y on log x with a path-bootstrap standard error."""

    slope: float
    se: float
    intercept: float
    values: np.ndarray  # the fitted y per level
    local_slopes: np.ndarray  # slopes between consecutive levels

    def estimate(self, level: float = 0.95) -> Estimate:
        """The slope ± z(level)·se as an [`Estimate`][sde_opt.stats.Estimate]."""
        return Estimate.normal("slope", self.slope, self.se, level, "path bootstrap")


def loglog_slope(x, per_path, *, reduce="rms", correction: bool = False, n_boot: int = 400,
                 seed: int = 0) -> BootstrapSlope:
    """Fit y(x) ∝ x^p where y at level i is a reduction over paths of ``per_path[i]``.

    ``per_path`` has shape ``(levels, n_paths)``: e.g. |X_T^h − X_T^ref| per path, the same paths
    at every level (a shared Brownian path), so paths are resampled *jointly* across levels in
    the bootstrap. ``reduce``: ``"rms"`` (strong L² error) or ``"mean"``.

    ``correction=True`` fits log y = c + p log x + d·x instead of a straight line: the leading
    pre-asymptotic correction of an error expansion y = C xᵖ (1 + D x + …), so that p is the
    asymptotic order rather than the average slope over the levels (needs ≥ 4 levels).
    """
    owner = "loglog_slope"
    x = check_array(owner, "x", x, ndim=1, low=0.0, low_closed=False).astype(float)
    e = check_array(owner, "per_path", per_path, ndim=2, finite=False).astype(float)
    if e.shape[0] != x.size or e.shape[1] < 2:
        raise ValueError(f"{owner}: per_path must have shape ({x.size}, n_paths) with n_paths >= 2 "
                         f"(one row per level of x); got {e.shape}")
    check_choice(owner, "reduce", reduce, ("rms", "mean"))
    correction = check_bool(owner, "correction", correction)
    if x.size < (4 if correction else 2):
        raise ValueError(f"{owner}: x must have at least {4 if correction else 2} levels"
                         f"{' with correction=True' if correction else ''}; got {x.size}")
    n_boot = check_integer(owner, "n_boot", n_boot, low=2)
    seed = check_seed(owner, "seed", seed)

    def red(a):
        return np.sqrt(np.mean(a**2, axis=-1)) if reduce == "rms" else np.mean(a, axis=-1)

    cols = [np.ones_like(x), np.log(x)] + ([x] if correction else [])
    design = np.stack(cols, axis=1)

    def fit(y):
        coef = np.linalg.lstsq(design, np.log(y), rcond=None)[0]
        return coef[1], coef[0]

    y = red(e)
    slope, icpt = fit(y)
    rng = np.random.default_rng(seed)
    n = e.shape[1]
    boots = np.array([fit(red(e[:, rng.integers(0, n, n)]))[0] for _ in range(n_boot)])
    local = np.diff(np.log(y)) / np.diff(np.log(x))
    return BootstrapSlope(float(slope), float(np.std(boots, ddof=1)), float(icpt), y, local)


class RateFit(NamedTuple):
    """m(t) − m∞ ≈ A e^{−λ t} fitted on a window; ``se`` from a path bootstrap."""

    rate: float
    se: float
    t_window: tuple
    n_points: int

    def estimate(self, level: float = 0.95) -> Estimate:
        """λ ± z(level)·se as an [`Estimate`][sde_opt.stats.Estimate] (n = points in the window)."""
        return Estimate.normal("rate", self.rate, self.se, level, "path bootstrap",
                               n=self.n_points)


def exponential_rate(t, per_path, stationary: float, *, min_signal: float = 6.0,
                     t_min: float = 0.0, n_boot: int = 300, seed: int = 0) -> RateFit:
    """The exponential rate at which E f(X_t) approaches its stationary value.

    ``per_path``: ``(n_paths, n_times)`` values f(X_t) of independent paths. The fit is an
    ordinary least-squares line through log |mean(t) − stationary| over the times t ≥ ``t_min``
    before the signal first drops below ``min_signal`` standard errors (where the curve is still
    resolved), with the paths resampled for the standard error.
    """
    owner = "exponential_rate"
    t, (a,) = _check_curves(owner, t, per_path=per_path)
    stationary = check_scalar(owner, "stationary", stationary, low_closed=False,
                              high_closed=False)
    min_signal, t_min, n_boot, seed = _check_fit(owner, min_signal, t_min, n_boot, seed)
    n = a.shape[0]

    def window(m, se):
        gap = np.abs(m - stationary)
        ok = (gap > min_signal * se) & (t >= t_min)
        start = int(np.argmax(t >= t_min))
        stop = start
        while stop < t.size and ok[stop]:
            stop += 1
        return start, stop

    m = np.nanmean(a, axis=0)
    se = np.nanstd(a, axis=0, ddof=1) / np.sqrt(n)
    start, stop = window(m, se)
    if stop - start < 3:
        raise ValueError("exponential_rate: fewer than 3 resolved points after t_min; run more "
                         "paths or lower min_signal")
    sl = slice(start, stop)
    tw = t[sl]

    def fit(mm):
        g = np.abs(mm[sl] - stationary)
        return -np.polyfit(tw, np.log(np.maximum(g, 1e-300)), 1)[0]

    rate = fit(m)
    rng = np.random.default_rng(seed)
    cols, sl = _window_columns(a, sl)
    boots = np.array([fit(np.nanmean(cols[rng.integers(0, n, n)], axis=0))
                      for _ in range(n_boot)])
    return RateFit(float(rate), float(np.std(boots, ddof=1)), (float(t[start]), float(t[stop - 1])),
                   stop - start)


def _window_columns(a, sl):
    """``(a[:, sl] as a contiguous copy, sl shifted onto it)``: the bootstrap resamples only the
    fitted window's columns (the fit reads no other), which is most of its cost saved on long
    curves. NumPy sums a C-ordered ``(paths, times)`` array over paths row by row in each column
    whatever the number of columns, so the window's means are bit for bit those of the whole
    curve; with one column it sums pairwise instead, so a window narrower than two columns keeps
    the whole array (``tests/test_rates_window.py`` compares both with the whole-curve bootstrap)."""
    if sl.stop - sl.start < 2:
        return a, sl
    return np.ascontiguousarray(a[:, sl]), slice(0, sl.stop - sl.start)


def _check_curves(owner, t, **paths):
    """Times ``(n_times,)`` (finite, increasing) and for each set of paths an
    ``(n_paths >= 2, n_times)`` array (NaN allowed: a stopped path)."""
    t = check_array(owner, "t", t, ndim=1).astype(float)
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise ValueError(f"{owner}: t must be strictly increasing; got {t[:6].tolist()}...")
    out = []
    for name, p in paths.items():
        a = check_array(owner, name, p, ndim=2, finite=False).astype(float)
        if np.any(np.isinf(a)):
            raise ValueError(f"{owner}: {name} must not contain inf (NaN marks a stopped path); "
                             f"got {int(np.sum(np.isinf(a)))} infinite entries")
        if a.shape[1] != t.size or a.shape[0] < 2:
            raise ValueError(f"{owner}: {name} must have shape (n_paths >= 2, {t.size}) (one "
                             f"column per time); got {a.shape}")
        out.append(a)
    return t, out


def _check_fit(owner, min_signal, t_min, n_boot, seed):
    return (check_scalar(owner, "min_signal", min_signal, 0.0, math.inf, low_closed=False,
                         high_closed=False),
            check_scalar(owner, "t_min", t_min, low_closed=False, high_closed=False),
            check_integer(owner, "n_boot", n_boot, low=2),
            check_seed(owner, "seed", seed))


def _peaks(t, g):
    """Times and values of the local maxima of |g| (an oscillating decay's envelope)."""
    a = np.abs(g)
    inner = (a[1:-1] >= a[:-2]) & (a[1:-1] > a[2:])
    keep = np.concatenate([[a[0] > a[1]], inner, [False]])
    return t[keep], a[keep]


def exponential_rate_difference(t, paths_a, paths_b, *, min_signal: float = 6.0,
                                t_min: float = 0.0, envelope: bool = False,
                                secular: bool = False, n_boot: int = 300,
                                seed: int = 0) -> RateFit:
    """Rate λ of D(t) = E_a f(X_t) − E_b f(X_t) ≈ A e^{−λt} for two sets of independent paths
    started differently (e.g. in the two wells): the stationary value cancels, so it need not be
    known. Window: t ≥ ``t_min`` while |D| > ``min_signal`` SE. ``envelope=True`` fits the local
    maxima of |D| instead (for oscillating, underdamped decays; needs ≥ 3 resolved peaks).
    ``secular=True`` fits |D| = A (1 + b t) e^{−λt}, b ≥ 0: the form at a degenerate (critically
    damped) eigenvalue, where a straight line in log |D| would under-estimate λ by ≈ 1/t.
    Each set is resampled independently for the standard error."""
    owner = "exponential_rate_difference"
    t, (a, b) = _check_curves(owner, t, paths_a=paths_a, paths_b=paths_b)
    min_signal, t_min, n_boot, seed = _check_fit(owner, min_signal, t_min, n_boot, seed)
    envelope = check_bool(owner, "envelope", envelope)
    secular = check_bool(owner, "secular", secular)

    def curve(aa, bb):
        return np.nanmean(aa, axis=0) - np.nanmean(bb, axis=0)

    d = curve(a, b)
    se = np.sqrt(np.nanvar(a, axis=0, ddof=1) / a.shape[0] + np.nanvar(b, axis=0, ddof=1)
                 / b.shape[0])
    ok = (np.abs(d) > min_signal * se) & (t >= t_min)
    start = int(np.argmax(t >= t_min))
    stop = start
    if envelope:
        last = np.flatnonzero(ok)
        stop = int(last[-1]) + 1 if last.size else start
    else:
        while stop < t.size and ok[stop]:
            stop += 1
    sl = slice(start, stop)
    tw = t[sl]

    def fit(dd):
        tt, gg = (_peaks(tw, dd[sl]) if envelope else (tw, np.abs(dd[sl])))
        if tt.size < 3:
            return np.nan
        y = np.log(np.maximum(gg, 1e-300))
        lam = -np.polyfit(tt, y, 1)[0]
        if not secular:
            return lam
        from scipy.optimize import curve_fit

        def model(tt_, c, b, lam_):
            return c + np.log1p(b * tt_) - lam_ * tt_

        try:
            popt, _ = curve_fit(model, tt, y, p0=(y[0], 0.1 * max(lam, 1e-6), max(lam, 1e-6)),
                                bounds=([-np.inf, 0.0, 0.0], [np.inf, np.inf, np.inf]))
        except RuntimeError:
            return np.nan
        return popt[2]

    rate = fit(d)
    if not np.isfinite(rate):
        raise ValueError("exponential_rate_difference: fewer than 3 resolved points/peaks")
    rng = np.random.default_rng(seed)
    a, _ = _window_columns(a, sl)
    b, sl = _window_columns(b, sl)
    boots = np.array([fit(curve(a[rng.integers(0, a.shape[0], a.shape[0])],
                                b[rng.integers(0, b.shape[0], b.shape[0])]))
                      for _ in range(n_boot)])
    boots = boots[np.isfinite(boots)]
    return RateFit(float(rate), float(np.std(boots, ddof=1)), (float(t[start]),
                   float(t[max(stop - 1, start)])), stop - start)

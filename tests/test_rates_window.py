"""The rate fits' bootstrap resamples only the fitted window's columns: the standard errors must be
bit for bit those of resampling whole curves (the reference below, written out as it was)."""

import numpy as np
import pytest

from sde_opt.stats.rates import _window_columns, exponential_rate, exponential_rate_difference


def _whole_curve_se(t, a, b, fit_window, n_boot, seed):
    """The bootstrap over whole curves: every column's mean, then the fit on the window."""
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        ma = np.nanmean(a[rng.integers(0, a.shape[0], a.shape[0])], axis=0)
        if b is None:
            boots.append(fit_window(ma))
        else:
            mb = np.nanmean(b[rng.integers(0, b.shape[0], b.shape[0])], axis=0)
            boots.append(fit_window(ma - mb))
    boots = np.array(boots)
    return float(np.std(boots[np.isfinite(boots)], ddof=1))


def _decays(rng, n, t, lam, start, nan_fraction):
    x = start * np.exp(-lam * t)[None, :] + 0.05 * rng.standard_normal((n, t.size))
    x[rng.random(x.shape) < nan_fraction] = np.nan
    return x


@pytest.mark.parametrize("seed", range(6))
def test_exponential_rate_se_equals_the_whole_curve_bootstrap(seed):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 8, int(rng.integers(50, 400)))
    a = _decays(rng, int(rng.integers(20, 300)), t, 0.7, 1.0, 0.02 * (seed % 2))
    r = exponential_rate(t, a, 0.0, n_boot=60, seed=seed)
    lo = int(np.searchsorted(t, r.t_window[0]))
    sl = slice(lo, lo + r.n_points)
    fit = lambda m: -np.polyfit(t[sl], np.log(np.maximum(np.abs(m[sl]), 1e-300)), 1)[0]
    assert r.se == _whole_curve_se(t, a, None, fit, 60, seed)


@pytest.mark.parametrize("seed", range(6))
def test_exponential_rate_difference_se_equals_the_whole_curve_bootstrap(seed):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 6, int(rng.integers(50, 300)))
    a = _decays(rng, int(rng.integers(20, 200)), t, 0.9, 1.0, 0.02 * (seed % 2))
    b = _decays(rng, int(rng.integers(20, 200)), t, 0.9, -1.0, 0.0)
    r = exponential_rate_difference(t, a, b, n_boot=60, seed=seed)
    lo = int(np.searchsorted(t, r.t_window[0]))
    sl = slice(lo, lo + r.n_points)
    fit = lambda d: (-np.polyfit(t[sl], np.log(np.maximum(np.abs(d[sl]), 1e-300)), 1)[0]
                     if r.n_points >= 3 else np.nan)
    assert r.se == _whole_curve_se(t, a, b, fit, 60, seed)


def test_a_window_of_one_column_keeps_the_whole_array():
    """NumPy sums one column pairwise but several row by row: a one-column window is not cut."""
    a = np.arange(12.0).reshape(4, 3)
    cols, sl = _window_columns(a, slice(1, 2))
    assert cols is a and sl == slice(1, 2)
    cols, sl = _window_columns(a, slice(1, 3))
    assert cols.flags.c_contiguous and sl == slice(0, 2)
    np.testing.assert_array_equal(cols, a[:, 1:3])

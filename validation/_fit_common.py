"""Shared by the ``fit-*`` checks: simulate replicated traces with the engine, count coverage."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

import sde_opt
from sde_opt.fit._stats import single_threaded_blas

from ._framework import compare

LEVEL = 0.95


def traces(chain, x0, seed: int, n_paths: int, n_samples: int, stride: int) -> np.ndarray:
    """``(n_paths, n_samples + 1, d)`` float64 positions saved every ``stride`` steps.

    ``x0`` is one start or ``(n_paths, d)`` starts (e.g. draws from the stationary law, so that
    no burn-in is needed). Diverged paths would show up as NaN and make the fit raise.
    """
    res = sde_opt.simulate(chain, jnp.asarray(x0, jnp.float32), seed, n_paths=n_paths,
                           n_steps=n_samples * stride, observables={"x": lambda x: x},
                           stride=stride)
    c = res.counts()
    if c["diverged"]:
        raise RuntimeError(f"{c['diverged']} of {n_paths} paths diverged")
    return np.asarray(res.observables["x"], np.float64)


def fit_all(fit, x, *args, **kwargs) -> list:
    """``fit(x[i], *args, **kwargs)`` for every replicate (single-threaded BLAS: tiny matrices)."""
    with single_threaded_blas():
        return [fit(xi, *args, **kwargs) for xi in x]


def coverage(claim: str, hits, note: str = ""):
    """Verdict: the fraction of intervals that cover the truth vs the nominal 0.95.

    ``hits`` is ``(R, ...)``: one row per independent replicate (entries within a row may be
    correlated; NaN entries are padding and ignored). The band is 4·√(0.95·0.05/R) with R the
    number of replicates — conservative for the pooled fraction, whose variance is at most that
    of one entry's.
    """
    hits = np.asarray(hits, dtype=float).reshape(len(hits), -1)
    R = hits.shape[0]
    se = math.sqrt(LEVEL * (1 - LEVEL) / R)
    n = int(np.sum(np.isfinite(hits)))
    extra = f"{R} replicates, {n} intervals; band ±4·√(0.95·0.05/R)"
    return compare(claim, LEVEL, float(np.nanmean(hits)), se,
                   note=f"{note} ({extra})" if note else extra)


def pooled(values) -> tuple[float, float]:
    """Mean over replicates and its SE (sd/√R)."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def se_calibration(claim: str, values, ses, note: str = ""):
    """Verdict: sd of the estimates across replicates / mean reported SE = 1.

    The ratio's SE is ≈ 1/√(2(R − 1)) (sd of a sample sd of Gaussian values).
    """
    v = np.asarray(values, dtype=float)
    ratio = float(v.std(ddof=1) / np.mean(ses))
    return compare(claim, 1.0, ratio, 1.0 / math.sqrt(2 * (v.size - 1)), note=note)

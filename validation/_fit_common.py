"""Shared by the ``fit-*`` checks: simulate replicated traces with the engine, count coverage."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

import sde_opt
from sde_opt.fit._stats import single_threaded_blas

from ._framework import Z_DEFAULT, compare

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


def _p_under_small_se(level: float = LEVEL, factor: float = 0.8) -> float:
    """Coverage of a nominal ``level`` Gaussian interval whose SE is ``factor`` × the true one."""
    from scipy.stats import norm

    return float(2 * norm.cdf(factor * norm.ppf(0.5 + level / 2)) - 1)


def coverage_power(se0: float, se1: float, z: float = Z_DEFAULT, level: float = LEVEL) -> float:
    """P(fail) if every reported SE were 20 % too small: the coverage drops from ``level`` to
    p₁ = 2Φ(0.8·z_{0.975}) − 1 ≈ 0.883; the check fails when the measured fraction falls below
    level − z·se0; the fraction then has SE ``se1``."""
    from scipy.stats import norm

    gap = level - _p_under_small_se(level)
    return float(norm.cdf((gap - z * se0) / se1))


def coverage(claim: str, hits, note: str = ""):
    """Verdict: the fraction of intervals that cover the truth vs the nominal 0.95.

    ``hits`` is ``(R, ...)``: one row per independent replicate (entries within a row may be
    correlated; NaN entries are padding and ignored). The SE of the pooled fraction under the
    claim is the binomial √(0.95·0.05/n) of n intervals times the design effect of the
    within-row correlation (variance of the R independent row means over its binomial value at
    the measured fraction, floored at 1). The note states the power: the probability that the
    check fails if every reported SE were 20 % too small (coverage ≈ 0.883).
    """
    hits = np.asarray(hits, dtype=float).reshape(len(hits), -1)
    R = hits.shape[0]
    n = int(np.sum(np.isfinite(hits)))
    rows = np.nanmean(hits, axis=1)
    p_hat = float(np.nanmean(hits))
    # design effect of the within-row correlation, from the R independent row means (≥ 1)
    binom = p_hat * (1 - p_hat) / (n / R)
    deff = max(1.0, float(np.var(rows, ddof=1)) / binom) if binom > 0 else 1.0
    se = math.sqrt(deff * LEVEL * (1 - LEVEL) / n)          # SE of the fraction under the claim
    p1 = _p_under_small_se()
    se1 = math.sqrt(deff * p1 * (1 - p1) / n)                # … and if the SEs were 20 % small
    power = coverage_power(se, se1)
    extra = (f"{R} replicates, {n} intervals, design effect {deff:.2f}; power against SEs 20 % "
             f"too small (coverage {p1:.3f}): {power:.2f}")
    return compare(claim, LEVEL, float(np.nanmean(hits)), se,
                   reference="nominal level of the intervals (0.95)",
                   note=f"{note} ({extra})" if note else extra)


def pooled(values) -> tuple[float, float]:
    """Mean over replicates and its SE (sd/√R)."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def se_calibration(claim: str, values, ses, note: str = ""):
    """Verdict: sd of the estimates across replicates / mean reported SE = 1.

    The ratio's SE is ≈ 1/√(2(R − 1)) (sd of a sample sd of Gaussian values). Power against a
    reported SE 20 % too small (ratio 1.25) is stated in the note.
    """
    from scipy.stats import norm

    v = np.asarray(values, dtype=float)
    ratio = float(v.std(ddof=1) / np.mean(ses))
    se = 1.0 / math.sqrt(2 * (v.size - 1))
    power = float(norm.cdf((0.25 - Z_DEFAULT * se) / (1.25 * se)))
    extra = f"R = {v.size}; power against SEs 20 % too small (ratio 1.25): {power:.2f}"
    return compare(claim, 1.0, ratio, se, reference="calibrated SEs: ratio 1",
                   note=f"{note}; {extra}" if note else extra)

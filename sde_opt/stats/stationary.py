r"""Stationary moments from time averages along independent paths, with batch-means errors.

Input is what [`sde_opt.simulate`][sde_opt.simulate] streams: ``values`` of shape ``(n_paths, n_saves, …)``,
the observable at saves 0, 1, … (``stride`` steps apart). After discarding ``burn_in`` saves,
each path is cut into ``n_batches`` consecutive batches of equal length L and averaged within
each batch. Paths are independent and, after the burn-in, every batch mean has the same law, so
the P·B batch means are pooled:

    estimate = mean of all batch means,    SE = sd(batch means)/√(P·B).

This is valid when batches are much longer than the integrated autocorrelation time
([`integrated_autocorr_time`][sde_opt.stats.integrated_autocorr_time]; L ≳ 10 τ_int), so that batch means are
nearly uncorrelated. With one batch per path (B = 1) the batch means are the per-path time averages, which are
*exactly* independent: no assumption on L at all. The default therefore uses as few batches per
path as give ≥ 30 batches in total — one per path as soon as there are 30 paths.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_array, check_integer, check_level, check_scalar
from .moments import Estimate


def _check_values(name, values, burn_in, level=0.95, label="values"):
    check_level(name, level)
    v = check_array(name, label, values, finite=False).astype(np.float64)
    if v.ndim < 2:
        raise ValueError(f"{name}: {label} must have shape (n_paths, n_saves, ...); got {v.shape}")
    burn_in = check_integer(name, "burn_in", burn_in, low=0)
    if not 0 <= burn_in < v.shape[1]:
        raise ValueError(f"{name}: burn_in must lie in [0, {v.shape[1]}) saves; got {burn_in}")
    v = v[:, burn_in:]
    bad = ~np.all(np.isfinite(v.reshape(v.shape[0], -1)), axis=1)
    if bad.any():
        raise ValueError(f"{name}: {label} must hold finite values; got: {int(bad.sum())} of "
                         f"{v.shape[0]} paths contain non-finite values (stopped or diverged); they "
                         "are not dropped silently — pass only complete paths (e.g. "
                         "values[result.censored])")
    return v


def _batches(name, v, n_batches):
    """``v`` (P, m, …) cut into ``(P, B, L, …)`` batches, the remainder dropped from the start."""
    p, m = v.shape[:2]
    if n_batches is None:
        n_batches = max(1, math.ceil(30 / p))
    n_batches = check_integer(name, "n_batches", n_batches, low=1)
    if not 1 <= n_batches <= m:
        raise ValueError(f"{name}: n_batches must lie in [1, {m}]; got {n_batches}")
    if p * n_batches < 2:
        raise ValueError(f"{name}: n_batches must give at least 2 batches in total (use "
                         f"n_batches >= 2 with a single path); got n_batches={n_batches}")
    length = m // n_batches
    v = v[:, m - length * n_batches:]
    return v.reshape(p, n_batches, length, *v.shape[2:])


def _pooled(means, level) -> Estimate:
    """Pool batch means ``(P, B, …)``: grand mean and SE = sd/√(P·B)."""
    k = means.shape[0] * means.shape[1]
    means = means.reshape(k, *means.shape[2:])
    return Estimate.normal("time average", means.mean(axis=0), means.std(axis=0, ddof=1) / np.sqrt(k),
                           level, f"batch means ({k} batches)", n=k)


def batch_means(values, *, burn_in: int = 0, n_batches: int | None = None,
                level: float = 0.95) -> Estimate:
    """Stationary mean of an observable from time averages, with a batch-means standard error.

    Args:
        values: ``(n_paths, n_saves, …)`` observable values along each path.
        burn_in: number of leading saves to discard.
        n_batches: batches per path (default: the fewest giving ≥ 30 batches in all). A remainder
            of n_saves − burn_in not divisible by it is dropped from the start (extra burn-in).
        level: confidence level of the interval.

    Returns:
        An [`Estimate`][sde_opt.stats.Estimate] with the shape of one value.
    """
    v = _check_values("batch_means", values, burn_in, level)
    return _pooled(_batches("batch_means", v, n_batches).mean(axis=2), level)


def stationary_covariance(x, *, burn_in: int = 0, n_batches: int | None = None, mean=None,
                          level: float = 0.95) -> Estimate:
    r"""Stationary covariance E[(X − m)(X − m)ᵀ] from paths ``x``, shape ``(n_paths, n_saves, d)``.

    The products (x − m)(x − m)ᵀ are averaged as in [`batch_means`][sde_opt.stats.batch_means] (same batches,
    same pooling), which gives entrywise SEs; the d × d products are formed one batch at a time, never for
    every save. ``mean=None`` centres at the grand mean after the burn-in (its O(τ_int/(P·n)) bias is far
    below the SE); pass the known mean (e.g. ``0`` for an OU process centred at the origin) to estimate the
    second moment about it instead.
    """
    name = "stationary_covariance"
    check_array(name, "x", x, ndim=3, finite=False)
    v = _check_values(name, x, burn_in, level, "x")
    if v.ndim != 3:
        raise ValueError(f"{name}: x must have shape (n_paths, n_saves, d); got {np.shape(x)}")
    if mean is not None:
        mean = check_array(name, "mean", mean, ndim=(0, 1)).astype(float)
        if mean.ndim and mean.shape != v.shape[-1:]:
            raise ValueError(f"{name}: mean must be a scalar or have shape {v.shape[-1:]}; got "
                             f"{mean.shape}")
    m = v.mean(axis=(0, 1)) if mean is None else np.broadcast_to(mean, v.shape[-1:])
    c = _batches(name, v - m, n_batches)
    products = np.einsum("pbli,pblj->pbij", c, c, optimize=True) / c.shape[2]
    return _pooled(products, level)


def integrated_autocorr_time(values, *, burn_in: int = 0, window: float = 5.0):
    r"""Integrated autocorrelation time τ = 1 + 2 Σ_{k≥1} ρ_k, in saves, per component.

    With this convention a time average over n saves has variance ≈ Var(f)·τ/n (τ = 1 for
    independent saves; a continuous-time τ_c = ∫_0^∞ ρ(t) dt sampled every Δ gives τ ≈ 2τ_c/Δ).
    The autocorrelation is estimated by FFT from each path (centred at the grand mean) and
    averaged over paths; the sum is truncated at the smallest M with M ≥ ``window``·τ(M)
    (Sokal's automatic window).

    Args:
        values: ``(n_paths, n_saves, …)`` or ``(n_saves,)``.
        burn_in: leading saves to discard.
        window: Sokal's constant c (5 is customary).

    Returns:
        τ with the shape of one value (a float for scalar observables).
    """
    owner = "integrated_autocorr_time"
    window = check_scalar(owner, "window", window, 0.0, math.inf, low_closed=False,
                          high_closed=False)
    v = check_array(owner, "values", values, finite=False)
    if v.ndim == 1:
        v = v[None]
    v = _check_values(owner, v, burn_in)
    p, n = v.shape[:2]
    if n < 4:
        raise ValueError(f"integrated_autocorr_time: need at least 4 saves after burn-in; got {n}")
    flat = v.reshape(p, n, -1)
    c = flat - flat.mean(axis=(0, 1))
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(c, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n].mean(axis=0)
    acov /= n  # the biased (1/n) lag estimator: lower variance, standard for windowed sums
    rho = acov / acov[:1]
    taus = 1.0 + 2.0 * np.cumsum(rho[1:], axis=0)
    out = np.empty(flat.shape[-1])
    lags = np.arange(1, n)
    for j in range(flat.shape[-1]):
        ok = np.flatnonzero(lags >= window * taus[:, j])
        out[j] = taus[ok[0], j] if ok.size else taus[-1, j]
    out = out.reshape(v.shape[2:])
    return float(out) if out.ndim == 0 else out

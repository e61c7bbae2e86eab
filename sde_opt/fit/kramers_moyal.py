r"""Kramers–Moyal binned drift and diffusion, with the finite-interval correction (d ≤ 3).

Conditional moments of the increments in bins of the starting point (validation-theory §7.3):

    â(x_b) = E[ΔX | X ∈ b] / Δ,        D̂(x_b) = E[ΔX ΔXᵀ | X ∈ b] / Δ,

estimate the drift a and the diffusion matrix D = B Bᵀ of dX = a(X) dt + B(X) dW, both per unit
time (the package's convention). This is the raw estimator (``correction="none"``); the
``kramersmoyal`` package computes the same conditional moments with a kernel instead of bins, but
per sampling interval and divided by the factorial, not by Δ: its ``km(x, powers=…)`` returns
D⁽¹⁾(x) = E[ΔX | x] and D⁽²⁾(x) = E[ΔX² | x]/2 = D(x)·Δ/2 + O(Δ²). So

    a = D⁽¹⁾/Δ,        D = 2 D⁽²⁾/Δ        (the textbook Kramers–Moyal D⁽²⁾ per unit time is D/2).

**Finite-interval bias.** For an OU process dX = −θX dt + σ dW the raw estimators are exactly

    â(x) = −x (1 − e^{−θΔ})/Δ = −θx (1 − θΔ/2 + …),
    D̂(x) = [x²(1 − e^{−θΔ})² + σ²(1 − e^{−2θΔ})/(2θ)] / Δ = σ²(1 − θΔ + …) + θ²Δx² + …,

so a constant diffusion looks state-dependent (the θ²Δx² term) and both are shrunk by O(θΔ).

**Corrections** (``correction=``):

* ``"variance"`` — use the conditional covariance E[(ΔX − E[ΔX|x])(…)ᵀ | x] instead of the second
  moment. This removes the spurious a(x)a(x)ᵀΔ term for any drift; the O(Δ·a'(x)) shrinkage stays.
* ``"ou"`` (default) — the exact OU inversion with a drift matrix A (given as ``drift_matrix``, or
  fitted on the same trace by [`fit_ou`][sde_opt.fit.fit_ou]): with Φ = e^{AΔ}, an OU process has
  E[ΔX | x] = (Φ − I)(x − m) and Cov[ΔX | x] = Q(A, D) = ∫_0^Δ e^{Au} D e^{Aᵀu} du, so

      a(x) = A (Φ − I)⁻¹ E[ΔX | x],      D(x) = G(A)⁻¹ Cov[ΔX | x]

  (G the linear innovation map of ``sde_opt.fit._linear``). Exact, to all orders in Δ, for an
  OU process (traces near a minimum). For a nonlinear drift it uses the global linearization: the
  O(Δ) bias is removed where the local Jacobian ∇a(x) is close to A, and a residual
  O(Δ·|∇a(x) − A|) remains elsewhere (the all-orders expansion of Rydin Gorjão, Witthaut,
  Lehnertz & Lind, Entropy 23 (2021) 517, would need local derivatives and is not implemented).

**Intervals.** Per bin, the empirical (co)variance of the increments (for the drift) and of their
centred outer products (for the diffusion) over the n_b samples, divided by n_b and mapped through
the (linear) correction: SE = √diag(M Cov M ᵀ / n_b). This treats the samples in a bin as
independent — true to O(θΔ) for increments of a diffusion. The correction's own uncertainty (from
a fitted A) is not included. With a linear drift the bin's estimate targets a at the mean of the
samples in the bin (``extras["x_mean"]``), not at the bin centre; with curvature, a bin-width bias
O(width²·a'') remains.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_array, check_choice, check_integer, check_level
from ..stats import Estimate
from ._linear import innovation_operator, ou_transition
from ._result import FitResult
from ._stats import single_threaded_blas
from ._trace import as_trace, matrix_arg

CORRECTIONS = ("none", "variance", "ou")
MAX_DIM = 3


def _edges(start, bins, range_, owner):
    d = start.shape[1]
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, (bool, np.bool_)):
        bins = [int(bins)] * d
    if not isinstance(bins, (list, tuple, np.ndarray)):
        raise TypeError(f"{owner}: bins must be an int, one int per axis or bin edges per axis; "
                        f"got {bins!r:.60} ({type(bins).__name__})")
    bins = list(bins)
    if len(bins) != d:
        raise ValueError(f"{owner}: bins must give one entry per coordinate ({d}); got {len(bins)}")
    if range_ is not None:
        r = check_array(owner, "range", range_).astype(np.float64)
        if r.size != 2 * d or np.any(r.reshape(d, 2)[:, 1] <= r.reshape(d, 2)[:, 0]):
            raise ValueError(f"{owner}: range must be [(lo, hi)] per axis ({d} axes) with lo < hi; "
                             f"got {r.tolist()}")
        range_ = r.reshape(d, 2)
    out = []
    for i, b in enumerate(bins):
        if np.ndim(b) == 0:
            b = check_integer(owner, "bins", b, low=1)
            lo, hi = (start[:, i].min(), start[:, i].max()) if range_ is None else range_[i]
            if not hi > lo:
                lo, hi = lo - 0.5, hi + 0.5
            out.append(np.linspace(lo, hi, b + 1))
        else:
            e = check_array(owner, "bins", b).astype(np.float64)
            if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
                raise ValueError(f"{owner}: bins given as edges must be increasing, >= 2 of them; "
                                 f"got {e.tolist()}")
            out.append(e)
    return out


def bin_index(points, edges):
    """Flat bin index of each point (−1 outside), as ``numpy.histogramdd`` bins them."""
    n, d = points.shape
    shape = tuple(len(e) - 1 for e in edges)
    idx = np.zeros(n, dtype=np.int64)
    inside = np.ones(n, dtype=bool)
    for i, e in enumerate(edges):
        k = np.searchsorted(e, points[:, i], side="right") - 1
        k[points[:, i] == e[-1]] = len(e) - 2
        inside &= (k >= 0) & (k < len(e) - 1)
        idx = idx * shape[i] + np.clip(k, 0, len(e) - 2)
    return np.where(inside, idx, -1), shape


def _bin_means(values, idx, n_bins):
    """Per-bin mean of ``values`` ``(n, k)``; rows with idx < 0 are ignored."""
    keep = idx >= 0
    counts = np.bincount(idx[keep], minlength=n_bins).astype(np.float64)
    sums = np.stack([np.bincount(idx[keep], weights=v, minlength=n_bins)
                     for v in values[keep].T], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None], counts


def fit_kramers_moyal(x, dt=None, *, bins=30, range=None, correction: str = "ou",
                      drift_matrix=None, min_count: int = 10, level: float = 0.95,
                      t=None) -> FitResult:
    """Binned drift a(x) and diffusion matrix D(x) with per-bin confidence intervals.

    Both are per unit time: dX = a dt + B dW with D = B Bᵀ. From the ``kramersmoyal`` package's
    coefficients (per sampling interval Δ): a = D⁽¹⁾/Δ and D = 2 D⁽²⁾/Δ (its D⁽²⁾ = E[ΔX² | x]/2
    = D·Δ/2, not D/2).

    Args:
        x: trace, ``(n_steps,)``, ``(n_steps, d)``, ``(n_traces, n_steps, d)`` or a Trace; d ≤ 3
            (project higher-dimensional traces first).
        dt: sampling interval Δ (or give ``t``).
        bins: bins per axis (an int, one int per axis, or explicit edges per axis).
        range: ``[(lo, hi)]`` per axis (default: the range of the data).
        correction: ``"ou"`` (exact OU inversion), ``"variance"`` or ``"none"`` (module docstring).
        drift_matrix: A for ``correction="ou"`` (default: [`fit_ou`][sde_opt.fit.fit_ou] on the same trace).
        min_count: bins with fewer samples are reported as NaN.
        level: coverage of the intervals.
        t: sample times, instead of ``dt``.

    Returns:
        FitResult (model ``"km"``) with estimates ``drift`` ``(*n_bins, d)`` and ``diffusion``
        ``(*n_bins, d, d)``; extras ``edges``, ``centers`` (lists per axis), ``counts``
        ``(*n_bins)`` and ``x_mean`` ``(*n_bins, d)``.
    """
    owner = "fit_kramers_moyal"
    level = check_level(owner, level)
    check_choice(owner, "correction", correction, CORRECTIONS)
    min_count = check_integer(owner, "min_count", min_count, low=2)
    tr = as_trace(x, dt, t=t, min_steps=3, owner=owner, allow_constant=False)
    d, dt = tr.dim, tr.dt
    if d > MAX_DIM:
        raise ValueError(
            f"{owner}: binning works in dimension <= {MAX_DIM}; got d = {d} "
            "(project the trace on a few coordinates or eigendirections first)"
        )
    if drift_matrix is not None:
        drift_matrix = matrix_arg(owner, "drift_matrix", drift_matrix, d)
    with single_threaded_blas():
        return _fit_km(tr, bins, range, correction, drift_matrix, int(min_count), level, owner)


def _fit_km(tr, bins, range_, correction, drift_matrix, min_count, level, owner):
    d, dt = tr.dim, tr.dt
    start, dx = tr.increments()
    edges = _edges(start, bins, range_, owner)
    idx, shape = bin_index(start, edges)
    n_bins = int(np.prod(shape))
    mean_dx, counts = _bin_means(dx, idx, n_bins)
    x_mean, _ = _bin_means(start, idx, n_bins)
    keep = idx >= 0
    info = {"dt": dt, "n_traces": tr.n_traces, "n_steps": tr.n_steps, "dim": d,
            "n_increments": tr.n_increments, "correction": correction, "min_count": min_count,
            "n_outside": int((~keep).sum())}

    # Drift: M · E[ΔX | bin] with M = I/Δ, or A (Φ − I)⁻¹ for the OU correction.
    if correction == "ou":
        if drift_matrix is None:
            from .ou_mle import fit_ou

            drift_matrix = fit_ou(tr)["drift"].value
            info["drift_matrix_source"] = "fit_ou on the same trace"
        else:
            info["drift_matrix_source"] = "given"
        A = np.asarray(drift_matrix, dtype=np.float64)
        phi, _ = ou_transition(A, np.zeros((d, d)), dt)
        M = A @ np.linalg.inv(phi - np.eye(d))
        Ginv = np.linalg.inv(innovation_operator(A, dt))
        info["drift_matrix"] = A
    else:
        M = np.eye(d) / dt
        Ginv = np.eye(d * d) / dt

    centred = dx - np.where(keep[:, None], mean_dx[np.clip(idx, 0, None)], 0.0)
    cov_dx, _ = _bin_means((centred[:, :, None] * centred[:, None, :]).reshape(-1, d * d), idx,
                           n_bins)
    cov_dx = cov_dx.reshape(n_bins, d, d)
    drift = mean_dx @ M.T
    se_drift = np.sqrt(np.einsum("ij,bjk,ik->bi", M, cov_dx, M) / counts[:, None])

    if correction == "none":
        y = dx[:, :, None] * dx[:, None, :]
    else:
        y = centred[:, :, None] * centred[:, None, :]
    y = y.reshape(-1, d * d)
    mean_y, _ = _bin_means(y, idx, n_bins)
    yc = y - np.where(keep[:, None], mean_y[np.clip(idx, 0, None)], 0.0)
    cov_y, _ = _bin_means((yc[:, :, None] * yc[:, None, :]).reshape(-1, d ** 4), idx, n_bins)
    if correction != "none":  # unbiased conditional covariance: n/(n−1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_y = mean_y * (counts / (counts - 1))[:, None]
    diff = mean_y @ Ginv.T
    se_diff = np.sqrt(np.einsum("ij,bjk,ik->bi", Ginv, cov_y.reshape(n_bins, d * d, d * d), Ginv)
                      / counts[:, None])
    diff = diff.reshape(n_bins, d, d)
    diff = 0.5 * (diff + diff.transpose(0, 2, 1))
    se_diff = se_diff.reshape(n_bins, d, d)

    few = counts < min_count
    for a in (drift, se_drift, diff, se_diff, x_mean):
        a[few] = np.nan
    meth = {"none": "raw conditional moments", "variance": "conditional covariance",
            "ou": "exact OU inversion"}[correction] + "; per-bin i.i.d. SE"
    est = {
        "drift": Estimate.normal("drift", drift.reshape(*shape, d), se_drift.reshape(*shape, d),
                                 level, meth),
        "diffusion": Estimate.normal("diffusion", diff.reshape(*shape, d, d),
                                     se_diff.reshape(*shape, d, d), level, meth),
    }
    centers = [0.5 * (e[1:] + e[:-1]) for e in edges]
    extras = {"edges": edges, "centers": centers, "counts": counts.reshape(shape).astype(np.int64),
              "x_mean": x_mean.reshape(*shape, d)}
    return FitResult("km", est, info, extras)

"""Figures: a fitted drift and diffusion against the binned conditional moments of the data."""

from __future__ import annotations

import numpy as np

from ._linear import stationary_covariance
from ._result import FitResult
from ._trace import Trace
from .kramers_moyal import fit_kramers_moyal

MAX_PANELS = 4


def _marginal(trace: Trace, i: int, bins: int):
    """Raw conditional moments E[ΔX_i | x_i]/Δ and E[ΔX_i² | x_i]/Δ in bins of x_i."""
    km = fit_kramers_moyal(trace.x[..., i:i + 1], trace.dt, bins=bins, correction="none",
                           min_count=10)
    return (km.extras["x_mean"][:, 0], km["drift"].value[:, 0], km["drift"].se[:, 0],
            km["diffusion"].value[:, 0, 0], km["diffusion"].se[:, 0, 0])


def _ou_marginal_curves(res: FitResult, i: int, xs: np.ndarray, dt: float):
    """The fitted OU's exact E[ΔX_i | x_i]/Δ and E[ΔX_i² | x_i]/Δ (stationary, Gaussian)."""
    A, m, D = res["drift"].value, res["mean"].value, res["diffusion"].value
    phi, Q = res["transition"].value, res["innovation_cov"].value
    S = stationary_covariance(A, D)
    d = A.shape[0]
    P = phi - np.eye(d)
    gain = (P @ S[:, i])[i] / S[i, i]
    mean = gain * (xs - m[i])
    cond = S - np.outer(S[:, i], S[i, :]) / S[i, i]
    var = Q[i, i] + (P @ cond @ P.T)[i, i]
    return mean / dt, (var + mean**2) / dt


def plot_fit(result: FitResult, trace: Trace, *, bins: int = 30):
    """One row per coordinate (at most 4): drift and diffusion, fit against the binned data.

    Data points are the raw conditional moments of each coordinate's increments in bins of that
    coordinate (error bars: 95%). Curves: for an OU fit, the model's exact conditional moments at
    the sampling interval (so a good fit runs through the points) and the fitted diffusion D_ii;
    for a QV fit, the realized diffusion with its interval; for a Kramers–Moyal fit, its
    (corrected) per-bin estimates.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = trace.dim
    rows = min(d, MAX_PANELS)
    fig, axes = plt.subplots(rows, 2, figsize=(10, 3.2 * rows), squeeze=False)
    for i in range(rows):
        ax_a, ax_d = axes[i]
        xm, a, a_se, m2, m2_se = _marginal(trace, i, bins)
        ax_a.errorbar(xm, a, yerr=1.96 * a_se, fmt="o", ms=3, color="0.4", label="data (binned)")
        ax_d.errorbar(xm, m2, yerr=1.96 * m2_se, fmt="o", ms=3, color="0.4",
                      label=r"data: E[$\Delta X^2$|x]/$\Delta$")
        ok = np.isfinite(xm)
        xs = np.linspace(np.nanmin(xm[ok]), np.nanmax(xm[ok]), 200) if ok.any() else np.zeros(1)
        if result.model == "ou" and "stationary_covariance" in result:
            f_a, f_m2 = _ou_marginal_curves(result, i, xs, trace.dt)
            ax_a.plot(xs, f_a, "C0-", label="OU fit (exact at this Δ)")
            ax_d.plot(xs, np.broadcast_to(f_m2, xs.shape), "C0-", label="OU fit (exact at this Δ)")
        if result.model == "ou":
            _band(ax_d, xs, result["diffusion"], (i, i), "C1", r"fitted $D_{ii}$")
        elif result.model == "qv":
            _band(ax_d, xs, result["diffusion"], (i, i), "C1", r"realized $D_{ii}$")
        elif result.model == "km":
            _km_slice(ax_a, ax_d, result, i)
        ax_a.set_xlabel(f"$x_{i}$")
        ax_d.set_xlabel(f"$x_{i}$")
        ax_a.set_ylabel(f"drift of $x_{i}$")
        ax_d.set_ylabel(f"diffusion of $x_{i}$")
        ax_a.legend(fontsize=7)
        ax_d.legend(fontsize=7)
    if d > rows:
        fig.suptitle(f"first {rows} of {d} coordinates", fontsize=9)
    fig.tight_layout()
    return fig


def _band(ax, xs, est, idx, color, label):
    v, lo, hi = est.value[idx], est.ci_low[idx], est.ci_high[idx]
    ax.axhline(v, color=color, label=f"{label} = {v:.4g}")
    ax.fill_between(xs, lo, hi, color=color, alpha=0.25, label=f"{100 * est.level:g}% CI")


def _km_slice(ax_a, ax_d, res, i):
    """KM estimates along axis i, through the most populated bin of the other axes."""
    counts = res.extras["counts"]
    d = counts.ndim
    best = np.unravel_index(np.argmax(counts), counts.shape)
    sl = tuple(slice(None) if k == i else best[k] for k in range(d))
    centers = res.extras["x_mean"][sl][:, i]
    dr, di = res["drift"], res["diffusion"]
    lab = "KM estimate" + ("" if d == 1 else " (slice)")
    ax_a.errorbar(centers, dr.value[sl][:, i], yerr=[dr.value[sl][:, i] - dr.ci_low[sl][:, i],
                  dr.ci_high[sl][:, i] - dr.value[sl][:, i]], fmt="s", ms=3, color="C3",
                  label=lab + f", correction={res.info.get('correction')}")
    ax_d.errorbar(centers, di.value[sl][:, i, i],
                  yerr=[di.value[sl][:, i, i] - di.ci_low[sl][:, i, i],
                        di.ci_high[sl][:, i, i] - di.value[sl][:, i, i]],
                  fmt="s", ms=3, color="C3", label=lab)

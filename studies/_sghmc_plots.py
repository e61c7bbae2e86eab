"""Figures of the sghmc-vs-sgld study (matplotlib, Agg): one colour per algorithm family,
measured rates with 95% intervals, predictions as open markers or lines of the same colour."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sde_opt.stats import normal_quantile  # noqa: E402
from sde_opt.theory.langevin import underdamped_quadratic_rate  # noqa: E402

from . import _style  # noqa: E402,F401  (the shared figure style)

LEVEL = 0.95
Z = normal_quantile(LEVEL)
COLORS = {"SGLD": "C3", "SGHMC1": "C0", "SGHMC2": "C1"}
MARKERS = {"SGHMC1": "o", "SGHMC2": "s"}
JITTER = {"SGHMC1": 0.96, "SGHMC2": 1.04}  # side by side at the same γ


def _gamma_axis(ax, rows):
    """Log γ axis with a tick at every simulated friction (short ranges have no decade tick)."""
    ax.set_xscale("log")
    gammas = sorted({r["gamma"] for r in rows if r["gamma"] is not None})
    ax.set_xticks(gammas)
    ax.set_xlim(gammas[0] / 1.6, gammas[-1] * 1.6)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("friction γ")


def _family(rows, fam, *, measured=False):
    rr = [r for r in rows if r["family"] == fam]
    if measured:
        rr = [r for r in rr if r["measured_rate"]["value"]]
    return rr


def _measured(ax, rows, fam, key="measured_rate", label=None):
    """Measured values of one family with their 95% intervals (± z·SE)."""
    g = np.array([r["gamma"] for r in rows]) * JITTER[fam]
    v = [r[key]["value"] for r in rows]
    ax.errorbar(g, v, yerr=[Z * r[key]["se"] for r in rows], fmt=MARKERS[fam],
                color=COLORS[fam], ms=5, capsize=2,
                label=label or f"{fam} measured ({100 * LEVEL:g}% CI)")


def _rates(ax, rows, pred_key, pred_label, sgld_pred_label, title):
    sgld = next(r for r in rows if r["family"] == "SGLD")
    for fam in ("SGHMC1", "SGHMC2"):
        rr = _family(rows, fam, measured=True)
        _measured(ax, rr, fam)
        ax.plot(np.array([r["gamma"] for r in rr]) * JITTER[fam], [r[pred_key] for r in rr],
                MARKERS[fam], mfc="none", ms=10, color=COLORS[fam], label=f"{fam} {pred_label}")
    if sgld["measured_rate"]["value"]:
        m, se = sgld["measured_rate"]["value"], sgld["measured_rate"]["se"]
        ax.axhspan(m - Z * se, m + Z * se, color=COLORS["SGLD"], alpha=0.15, lw=0)
        ax.axhline(m, color=COLORS["SGLD"], label=f"SGLD measured (band: {100 * LEVEL:g}% CI)")
    ax.axhline(sgld[pred_key], color=COLORS["SGLD"], ls="--", label=f"SGLD {sgld_pred_label}")
    _gamma_axis(ax, rows)
    ax.set_yscale("log")
    ax.set_ylabel("relaxation rate λ (per unit time t = kη)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    return sgld


def quadratic(out, res):
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    rows = res["rows"]
    m = res["setting"]["m"]
    g_line = np.geomspace(0.02, 5, 300)
    ax.plot(g_line, underdamped_quadratic_rate(m, g_line), "k-", lw=1,
            label="underdamped limit (γ − √(γ² − 4m))/2")
    ax.axhline(m, color="gray", ls="--", lw=1, label="overdamped limit m (SGLD)")
    for fam in ("SGHMC1", "SGHMC2"):
        rr = _family(rows, fam)
        _measured(ax, rr, fam)
        ax.plot(np.array([r["gamma"] for r in rr]) * JITTER[fam],
                [r["exact_discrete_rate"] for r in rr], MARKERS[fam], mfc="none", ms=10,
                color=COLORS[fam], label=f"{fam} exact discrete rate")
    s = next(r for r in rows if r["family"] == "SGLD")
    ax.errorbar([g_line[-1]], [s["measured_rate"]["value"]], yerr=[Z * s["measured_rate"]["se"]],
                fmt="D", color=COLORS["SGLD"], capsize=2, label="SGLD measured (no γ; drawn at right)")
    ax.axvline(2 * math.sqrt(m), color="C2", ls=":", lw=1, label="critical friction γ = 2√m")
    _gamma_axis(ax, rows)
    ax.set_xlim(g_line[0], g_line[-1] * 1.3)
    ax.set(yscale="log", ylabel="relaxation rate of E x_t (per unit time t = kη)",
           title=f"Quadratic F = m x²/2, m = {m:g}: rate √m at critical friction")
    ax.legend(fontsize=7, loc="lower center")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, "quadratic_rates.png")


def double_well(out, res, name, title):
    for key, block in res["by_beta"].items():
        beta = key.split("=")[1]
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
        rows = block["rows"]
        sgld = _rates(axes[0], rows, "kramers_rate", "Kramers–Langer (open)", "Eyring–Kramers",
                      f"{title}, β = {beta}: relaxation rate")
        if sgld.get("exact_sde_rate"):
            axes[0].axhline(sgld["exact_sde_rate"], color=COLORS["SGLD"], ls=":",
                            label="SGLD limit: exact spectral gap")
        axes[0].legend(fontsize=7)
        for fam in ("SGHMC1", "SGHMC2"):
            rr = _family(rows, fam)
            g = np.array([r["gamma"] for r in rr]) * JITTER[fam]
            axes[1].errorbar(g, [r["hitting_iterations"]["mean_over_reached"] for r in rr],
                             yerr=[Z * (r["hitting_iterations"]["se"] or 0) for r in rr],
                             fmt=MARKERS[fam], color=COLORS[fam], capsize=2, label=fam)
        h = sgld["hitting_iterations"]
        axes[1].axhline(h["mean_over_reached"], color=COLORS["SGLD"], label="SGLD")
        if h["se"]:
            axes[1].axhspan(h["mean_over_reached"] - Z * h["se"],
                            h["mean_over_reached"] + Z * h["se"], color=COLORS["SGLD"],
                            alpha=0.15, lw=0)
        _gamma_axis(axes[1], rows)
        axes[1].set(yscale="log", ylabel="mean iterations to the global basin",
                    title=f"time to the global basin from the spurious one ({100 * LEVEL:g}% CI; "
                          "paths that reached it)")
        axes[1].title.set_fontsize(10)
        axes[1].legend(fontsize=7)
        axes[1].grid(alpha=0.3, which="both")
        fig.tight_layout()
        out.savefig(fig, f"{name}_{key.replace('=', '')}.png")


def suboptimality(out, name, curves, f_floor, title, floor_label="Gibbs E_π F − F* at β"):
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    for label, (k, m, se) in curves.items():
        fam = label.split("(")[0]
        ls = "-" if fam != "SGHMC2" else "--"
        line, = ax.plot(k, m, ls, label=label, lw=1)
        ax.fill_between(k, np.maximum(m - Z * se, 1e-12), m + Z * se, alpha=0.2,
                        color=line.get_color(), lw=0)
    if f_floor is not None:
        ax.axhline(f_floor, color="k", ls=":", lw=1, label=floor_label)
    ax.set(xscale="log", yscale="log", xlabel="iteration k",
           ylabel=f"E F(X_k) − F* ({100 * LEVEL:g}% band)", title=title)
    ax.title.set_fontsize(10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, f"{name}_suboptimality.png")


def double_well_2d(out, res):
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    _rates(ax, res["rows"], "kramers_rate", "Kramers–Langer 2k (open)", "Eyring–Kramers 2k",
           f"2-D double well (a = {res['setting']['a']:g}), β = {res['setting']['beta']:g}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.savefig(fig, "double_well_2d_rates.png")


def regression(out, res, curves):
    suboptimality(out, "regression", curves, res["setting"]["gibbs_floor_quadratic"],
                  "robust regression (start in the spurious basin)",
                  floor_label="d/(2β): harmonic Gibbs gap of the global basin")
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    lam1 = abs(res["setting"]["saddle_negative_eigenvalue"])
    _rates(ax, res["rows"], "kramers_rate", "Kramers–Langer (open)", "Eyring–Kramers",
           f"robust regression: flat saddle (|λ₁| ≈ {lam1:.2g}) ⇒ underdamped gain")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.savefig(fig, "regression_rates.png")

"""Figures of the minimax studies (minimax-rates, minimax-escape)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import _style  # noqa: E402,F401  (the shared figure style)

COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
MARK = {"GDA": "o", "OGDA": "s", "EG": "^"}


def _fmt_fit(fit, key):
    return (f"{fit[f'{key}_exponent']:.3f} [{fit[f'{key}_ci'][0]:.3f}, {fit[f'{key}_ci'][1]:.3f}]")


def rates(out, ramp, stoch, dw, summary):
    _lower_bound(out, ramp, summary["lower_bound_instance"])
    _kappa(out, ramp)
    _stochastic(out, stoch, summary["stochastic_minibatch"])
    _double_well(out, dw, summary["double_well"])


def _lower_bound(out, ramp, summ):
    fig, axes = plt.subplots(1, len(ramp), figsize=(5.0 * len(ramp), 4.2), sharey=True)
    for ax, (m, g) in zip(np.atleast_1d(axes), ramp.items()):
        inv = 1.0 / np.asarray(g["epsilons"])
        for i, k in enumerate(g["kappas"]):
            mean = g["steps"][i].mean(-1)
            lo, hi = mean - g["steps"][i].min(-1), g["steps"][i].max(-1) - mean
            ax.errorbar(inv, mean, yerr=[lo, hi], fmt=MARK[m], color=COLORS[i % 10], ms=5,
                        label=f"κ = {k:g}")
            ax.plot(inv, g["theory"][i].mean(-1), "-", color=COLORS[i % 10], lw=1)
            ax.plot(inv, g["asymptotic"][i].mean(-1), ":", color=COLORS[i % 10], lw=1)
        fit = summ[m]["exponents_iterations"]
        ax.set_title(f"{m}: K ∝ ε^{_fmt_fit(fit, 'eps')}\n· κ^{_fmt_fit(fit, 'kappa')}", fontsize=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("1/ε")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("iterations to ‖∇Φ(x)‖ ≤ ε")
    axes[0].plot([], [], "k-", lw=1, label="GD on Φ, step η_x(1+δ_κ) (theory)")
    axes[0].plot([], [], "k:", lw=1, label="κ²ℓΔ̄/(4ε²) (leading order)")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Lower-bound instance (RampGame), η_y = 1/ℓ, η_x = 1/(κ²ℓ); markers: mean over "
                 "starts, bars: min–max", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "rates_lower_bound.png")


def _kappa(out, ramp):
    any_g = next(iter(ramp.values()))
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    kap = np.asarray(any_g["kappas"])
    for j, e in enumerate(any_g["epsilons"]):
        for m, g in ramp.items():
            ax.plot(kap, g["steps"][:, j].mean(-1), MARK[m], color=COLORS[j % 10], ms=5,
                    mfc="none" if m != "GDA" else None, alpha=0.8)
        ax.plot([], [], "-", color=COLORS[j % 10], lw=4, label=f"ε = {e:g}")
        ref = any_g["theory"][:, j].mean(-1)
        ax.plot(kap, ref[-1] * (kap / kap[-1]) ** 2, "--", color=COLORS[j % 10], lw=1)
    ax.plot([], [], "k--", lw=1, label="∝ κ² (through the largest κ)")
    for m, mk in MARK.items():
        ax.plot([], [], mk, color="gray", mfc="none" if m != "GDA" else None, label=m)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("κ = ℓ/μ")
    ax.set_ylabel("iterations to ‖∇Φ‖ ≤ ε")
    ax.set_title("κ² growth on the lower-bound instance (all three methods)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out.savefig(fig, "rates_kappa.png")


def _stochastic(out, stoch, summ):
    fig, axes = plt.subplots(1, len(stoch), figsize=(5.0 * len(stoch), 4.2), sharey=True)
    for ax, (m, g) in zip(np.atleast_1d(axes), stoch.items()):
        inv = 1.0 / np.asarray(g["epsilons"])
        for i, k in enumerate(g["kappas"]):
            mean = g["calls"][i].mean(-1)
            ax.plot(inv, mean, MARK[m], color=COLORS[i % 10], ms=5, label=f"κ = {k:g}")
            th = g["theory"][i].mean(-1) * g["batch"][i] * (2 if m == "EG" else 1)
            ax.plot(inv, th, "-", color=COLORS[i % 10], lw=1)
            ax.plot(inv, th[-1] * (inv / inv[-1]) ** 4, ":", color=COLORS[i % 10], lw=1)
        fit = summ[m]["exponents_calls"]
        ax.set_title(f"{m}: calls ∝ ε^{_fmt_fit(fit, 'eps')}\n· κ^{_fmt_fit(fit, 'kappa')}",
                     fontsize=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("1/ε")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("oracle calls (iterations × M × calls/step)")
    axes[0].plot([], [], "k-", lw=1, label="theory count × M")
    axes[0].plot([], [], "k:", lw=1, label="∝ ε⁻⁴")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Stochastic: minibatch M = ⌈κσ²/ε²⌉, paper: O(κ³ε⁻⁴) calls", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "rates_stochastic.png")


def _double_well(out, dw, summ):
    any_g = next(iter(dw.values()))
    kap = np.asarray(any_g["kappas"])
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for j, e in enumerate(any_g["epsilons"]):
        for m, g in dw.items():
            ax.plot(kap, g["steps"][:, j].mean(-1), MARK[m], color=COLORS[j % 10], ms=5,
                    label=f"ε = {e:g}" if m == "GDA" else None)
        th = any_g["theory"][:, j].mean(-1)
        ax.plot(kap, th, "-", color=COLORS[j % 10], lw=1)
    ax.plot([], [], "k-", lw=1, label="GD on Φ, step η_x(1+δ_κ)")
    for m, mk in MARK.items():
        ax.plot([], [], mk, color="gray", label=m)
    fit = summ["GDA"]["exponents_iterations"]
    ax.set_title(f"Double-well NC-SC (Φ fixed): GDA K ∝ κ^{_fmt_fit(fit, 'kappa')}"
                 f"\n· ε^{_fmt_fit(fit, 'eps')} (log-like in ε: linear convergence)", fontsize=9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("κ = ℓ/μ")
    ax.set_ylabel("iterations to ‖∇Φ‖ ≤ ε (mean over starts)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out.savefig(fig, "rates_double_well.png")


# ---------------------------------------------------------------------------------------------
# minimax-escape
# ---------------------------------------------------------------------------------------------


def escape(out, kicked, gda, tracking):
    _kicked(out, kicked)
    _gda_ratio(out, gda)
    _tracking(out, tracking)


def _kicked(out, kicked):
    fig, axes = plt.subplots(1, len(kicked), figsize=(5.0 * len(kicked), 4.0))
    for ax, (name, d) in zip(np.atleast_1d(axes), kicked.items()):
        k = np.sort(d["escape_iterations"])
        ecdf = np.arange(1, k.size + 1) / k.size
        ax.step(k, ecdf, where="post", label=f"perturbed GDmax (n = {k.size})")
        grid = np.arange(0, int(k.max()) + 2)
        ax.step(grid, d["law_cdf"](grid), where="post", ls="--", color="k",
                label="exact kicked-linear law")
        ax.set_xlabel("iterations after the kick until |⟨w, z⟩| ≥ R")
        ax.set_ylabel("P(K ≤ k)")
        ax.set_title(f"{name}: KS D = {d['ks']:.3f} (crit {d['ks_crit']:.3f}); "
                     f"no-kick GDmax: {d['stayed']}/{d['n_stay']} stayed", fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    out.savefig(fig, "escape_kicked_ecdf.png")


def _gda_ratio(out, gda):
    r = np.asarray(gda["ratios"])
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    ax.errorbar(r, gda["mean_time"], yerr=4 * np.asarray(gda["mean_time_se"]), fmt="o",
                label="stochastic GDA, mean exit time (±4 SE)")
    ax.plot(r, gda["w_time"], "s", mfc="none", color="C1",
            label="GDA, exit of |⟨w, z⟩| ≥ R (w: left unstable eigvec)")
    ax.plot(r, gda["ar1_time"], "x", color="C3", label="its exact AR(1) prediction")
    ax.axhline(gda["dawson"], color="k", ls="--", label="reduced SDE: Dawson integral")
    ax.axhline(gda["dawson_em"], color="gray", ls=":", label="reduced SDE + EM step correction")
    ax.set_xscale("log")
    ax.set_xlabel("η_y/η_x")
    ax.set_ylabel("mean exit time of |⟨v, x⟩| ≥ R  (slow time t = kη_x)")
    ax.set_title("Escape of stochastic GDA from the saddle of Φ", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out.savefig(fig, "escape_gda_ratio.png")


def _tracking(out, tr):
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    for i, (n, d) in enumerate(tr.items()):
        ax.plot(d["iterations"], d["median"], color=COLORS[i % 10], label=f"N = {n}")
        ax.fill_between(d["iterations"], d["q10"], d["q90"], color=COLORS[i % 10], alpha=0.2)
        ax.plot(d["iterations"], d["bound"], color=COLORS[i % 10], ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("outer iteration k")
    ax.set_ylabel("‖y_k − y*(x_k)‖")
    ax.set_title("GDmax tracking of y*(x) from y₀ = 0 (median, 10–90% band); dotted: median of the\n"
                 "bound B_{k+1} = qB_k + (b/μ)‖Δx_k‖ + float32 floor, q = (1 − η_yμ)^N", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out.savefig(fig, "escape_tracking.png")

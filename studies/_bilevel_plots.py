"""Figures of the bilevel-escape study (one function per figure; the study passes arrays)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import _style  # noqa: E402,F401  (the shared figure style)


def contraction(out, curves, rounds):
    kappas = sorted({k for k, _, _ in curves})
    fig, axes = plt.subplots(1, len(kappas), figsize=(6.2 * len(kappas), 4.4), squeeze=False)
    k = np.arange(1, rounds + 1)
    for ax, kappa in zip(axes[0], kappas):
        items = [(D, N, v) for (kk, D, N), v in curves.items() if kk == kappa]
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(items)))
        for (D, N, (warm, cold, pred)), c in zip(items, colors):
            ax.semilogy(k, warm, color=c, lw=1.6, label=f"D={D}, N={N} (warm)")
            ax.semilogy(k, cold, color=c, lw=1.0, ls=":")
            # predicted slope, anchored at the first round
            ax.semilogy(k, warm[0] * pred["rate"] ** (k - 1), color=c, lw=0.8, ls="--")
        ax.set_ylim(1e-14, 2)
        ax.set_xlabel("outer round k (x fixed)")
        ax.set_ylabel(r"$\|\hat g_k - \nabla\Phi(x)\|$")
        ax.set_title(f"AID hypergradient error, κ = {kappa:g}\n"
                     "solid: warm start; dotted: cold start; dashed: predicted rate "
                     r"$\max\{(1-\alpha\mu)^D, c_N\}$", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, "contraction.png")


def kick_ecdf(out, grid, ecdf, cdf, band, law):
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    ax.step(grid, ecdf, where="post", color="C0", label="perturbed AID (measured ECDF)")
    ax.fill_between(grid, np.clip(ecdf - band, 0, 1), np.clip(ecdf + band, 0, 1), step="post",
                    color="C0", alpha=0.2, label="95% DKW band")
    ax.plot(grid, cdf, color="k", ls="--", label="kicked-linear law (exact, linearized)")
    ax.set_xlabel("iterations K after the kick until |x₁| ≥ R")
    ax.set_ylabel("P(K ≤ k)")
    ax.set_title(f"Perturbed AID leaves the strict saddle of Φ\n r = {law['r']:g}, R = "
                 f"{law['radius']:g}, growth 1 + β|λ| = {law['growth']:.3g}; unperturbed AID stays at 0",
                 fontsize=9)
    ax.set_xlim(grid[0], grid[np.searchsorted(cdf, 0.999)] + 5 if cdf[-1] > 0.999 else grid[-1])
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.savefig(fig, "kick_ecdf.png")


def sosp(out, cfg, by_eps, by_kappa, fits, theory, calls):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for ax, xs, pts, sweep, label in ((axes[0], cfg.sosp_eps, by_eps, "eps", "ε (κ = 10)"),
                                      (axes[1], cfg.sosp_kappas, by_kappa, "kappa", "κ (ε = 0.01)")):
        xs = np.asarray(xs)
        for name, c, marker, nice in (("iterations", "C0", "o", "outer iterations"),
                                      ("grad_g", "C1", "s", "∇ᵧg calls"), ("hvp", "C2", "^", "HVPs")):
            vals = [calls(a)[name][a["status"] == 1] for a in pts]
            mean = np.array([v.mean() if v.size else np.nan for v in vals])
            se = np.array([v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan for v in vals])
            f = fits[f"{name}_vs_{sweep}"]
            ax.errorbar(xs, mean, yerr=1.96 * se, color=c, marker=marker, ls="-", capsize=3,
                        label=f"{nice}: slope {f['slope']:.2f} [{f['ci_low']:.2f}, {f['ci_high']:.2f}]")
            ref = mean[0] * (xs / xs[0]) ** theory[f"{name}_vs_{sweep}"]
            ax.plot(xs, ref, color=c, ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("count until an ε-SOSP (mean ± 95% CI)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper left" if sweep == "kappa" else "upper right")
    axes[0].set_title("perturbed AID (paper's template) from the saddle\ndotted: the bound's "
                      "slope ε⁻²", fontsize=9)
    axes[1].set_title("dotted: the paper's κ-powers (κ³ iterations, κ⁴ grad g, κ^3.5 HVP)",
                      fontsize=9)
    fig.tight_layout()
    out.savefig(fig, "sosp_complexity.png")


def ineon_maps(out, maps, plain, cfg):
    if not maps:
        return
    fig, axes = plt.subplots(1, len(maps), figsize=(5.6 * len(maps), 4.4), squeeze=False)
    for ax, mp in zip(axes[0], maps.values()):
        p = np.array([[c["p_escape"] for c in row] for row in mp["cells"]])
        med = np.array([[c["median_steps"] for c in row] for row in mp["cells"]])
        im = ax.imshow(p, vmin=0, vmax=1, cmap="RdYlGn", origin="lower", aspect="auto")
        for i in range(p.shape[0]):
            for j in range(p.shape[1]):
                txt = f"{p[i, j]:.2f}\n{med[i, j]:.0f} it" if np.isfinite(med[i, j]) else f"{p[i, j]:.2f}"
                ax.text(j, i, txt, ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(mp["col_values"])), [f"{v:g}" for v in mp["col_values"]])
        ax.set_yticks(range(len(mp["row_values"])), [f"{v:g}" for v in mp["row_values"]])
        nice = {"threshold": "trigger threshold on ‖ĝ‖", "iterations": "iNEON iterations T′",
                "radius": "iNEON start radius r", "step": "iNEON step η"}
        ax.set_xlabel(nice.get(mp["cols"], mp["cols"]))
        ax.set_ylabel(nice.get(mp["rows"], mp["rows"]))
        med_plain = plain["median_steps"]
        escaped = med_plain is not None and np.isfinite(med_plain)
        med_txt = f"median {med_plain:.0f} it." if escaped else "none escaped"
        ax.set_title(f"StocBiO + iNEON from the saddle: P(|x₁| ≥ 0.5 within {cfg.ineon_budget} it.), "
                     f"median it.\nplain StocBiO: P = {plain['p_escape']:.2f} ({med_txt}); "
                     f"{plain['n']} paths per cell", fontsize=9)
        fig.colorbar(im, ax=ax, label="P(escape)")
    fig.tight_layout()
    out.savefig(fig, "ineon_sensitivity.png")


def sde(out, rows, stat):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax = axes[0]
    b = np.array([r["beta"] for r in rows])
    mean = np.array([r["mean_time"] for r in rows])
    lo = np.array([r["ci_low"] for r in rows])
    hi = np.array([r["ci_high"] for r in rows])
    pred = np.array([r["predicted_sde"] for r in rows])
    ax.errorbar(b, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, label="StocBiO (95% CI)")
    ax.plot(b, pred, "k--", marker="x", ms=8, label="reduced SDE (exact 1-D exit time)")
    ax.plot(b, [r["em_linear"] for r in rows], color="C3", ls=":", label="linear EM chain (O(β) scale)")
    ax.set_xscale("log")
    ax.set_xlabel("outer step β")
    ax.set_ylabel("mean escape time kβ to |x₁| ≥ 0.3")
    ax.set_title("StocBiO's escape from the saddle vs its reduced SDE", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1]
    if stat:
        bs = np.array([s["beta"] for s in stat])
        for i, c in ((0, "C0"), (1, "C1")):
            v = np.array([s["var_measured"][i] for s in stat])
            se = np.array([s["var_se"][i] for s in stat])
            ax.errorbar(bs, v, yerr=1.96 * se, color=c, marker="o", capsize=3, ls="none",
                        label=f"StocBiO Var x{i + 1} (95% CI)")
            ax.plot(bs, [s["var_pred"][i] for s in stat], color=c, ls="--", marker="x", ms=9,
                    label=f"Lyapunov, long-run Σ_Φ (x{i + 1})")
            ax.plot(bs, [s["var_pred_one_call"][i] for s in stat], color=c, ls=":", marker="+", ms=9,
                    label=f"Lyapunov, one-call Σ (x{i + 1})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("outer step β")
        ax.set_ylabel("stationary variance at the minimum")
        ax.set_title("the warm start correlates successive hypergradients:\nthe long-run covariance "
                     "is the diffusion's", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, "reduced_sde.png")

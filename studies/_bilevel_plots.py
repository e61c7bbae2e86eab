"""Figures of the bilevel-escape study (one function per figure; the study passes arrays)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ._style import grid_log_axis, loglog_panel  # noqa: E402  (the shared figure style)


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


def kappa_rate(out, table, measured, reference, l_slope, call_fits):
    kap = np.array([r["kappa"] for r in table])
    mean = np.array([r["mean_iterations"] for r in table])
    se = np.array([r["se"] for r in table])
    ref = np.array([r["reference_mean"] for r in table])
    L = np.array([r["L_phi"] for r in table])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax = axes[0]
    ax.errorbar(kap, mean, yerr=1.96 * se, marker="o", ls="none", capsize=3, color="C0",
                label=f"perturbed AID (mean ± 95% CI): slope {measured['slope']:.3f} "
                      f"[{measured['ci_low']:.3f}, {measured['ci_high']:.3f}]")
    ax.plot(kap, ref, "k--", marker="x", ms=8,
            label=f"perturbed GD, exact ∇Φ (reference): slope {reference['slope']:.3f}")
    ax.plot(kap, mean[0] * (kap / kap[0]) ** 3, color="C3", ls=":",
            label="κ³ from the first point (the paper's bound, L_Φ = O(κ³))")
    grid_log_axis(ax, kap)
    ax.set_yscale("log")
    ax.set_xlabel("condition number κ of the lower level")
    ax.set_ylabel("iterations to an ε-SOSP (ε = 0.01)")
    ax.set_title("perturbed AID with the paper's template, from the saddle\n"
                 f"instance with L_Φ = κ^(4/3) + 6.75 (log-log slope {l_slope:.2f} here; "
                 "β = 1/L_Φ)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    ax = axes[1]
    ax.plot(kap, mean / L, marker="o", color="C0", label="iterations × β = iterations / L_Φ")
    grid_log_axis(ax, kap)
    ax.set_xlabel("condition number κ")
    ax.set_ylabel("continuous time t = Kβ to an ε-SOSP")
    ax.set_title("κ enters only through β = 1/L_Φ: the time Kβ grows like log L_Φ\n"
                 f"(oracle calls: ∇ᵧg slope {call_fits['grad_g']['slope']:.2f}, HVP slope "
                 f"{call_fits['hvp']['slope']:.2f}; the paper's bounds κ⁴, κ^3.5)", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.savefig(fig, "kappa_rate.png")


def eps_rate(out, table, slope, se, predicted, expo, beta):
    eps = np.array([r["eps"] for r in table])
    mean = np.array([r["mean_iterations"] for r in table])
    ref = np.array([r["reference_mean"] for r in table])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax = axes[0]
    ax.plot(eps, mean, "o", color="C0", label=f"perturbed AID (mean): ε-exponent {expo['slope']:.3f} "
                                               f"[{expo['ci_low']:.3f}, {expo['ci_high']:.3f}]")
    ax.plot(eps, ref, "kx", ms=9, label="perturbed GD with the exact ∇Φ (NumPy)")
    ax.plot(eps, mean[0] * (eps / eps[0]) ** -2.0, color="C3", ls=":",
            label="ε⁻² from the first point (the paper's bound)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(mean.min() / 2, mean.max() * 30)
    ax.invert_xaxis()
    ax.set_xlabel("accuracy ε")
    ax.set_ylabel("iterations to an ε-SOSP (mean over generic starts)")
    ax.set_title("Φ = Σ(xᵢ⁴/4 − xᵢ²/2): four strict saddles, starts uniform in [−1.5, 1.5]²", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    ax = axes[1]
    z = np.log(1 / eps)
    ax.plot(z, mean, "o", color="C0", label=f"measured: slope {slope:.3f} ± {se:.3f}")
    ax.plot(z, mean[-1] + predicted * (z - z[-1]), "k--",
            label=f"1/|ln(1 − 2β)| = {predicted:.3f} (β = {beta:.3g}, ∇²Φ = 2I at the minima)")
    ax.set_xlabel("ln(1/ε)")
    ax.set_ylabel("iterations to an ε-SOSP (mean)")
    ax.set_title("the last phase is linear convergence: K = a + ln(1/ε)/|ln(1 − 2β)|\n"
                 "(slope fitted on ε ≤ 1e-3; larger ε are pre-asymptotic)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.savefig(fig, "eps_rate.png")


def ineon_survival(out, arms, budget, results):
    from sde_opt import stats

    fig, axes = plt.subplots(1, len(arms), figsize=(6.2 * len(arms), 4.4), squeeze=False)
    for ax, (sigma, by) in zip(axes[0], arms.items()):
        for name, color, label in (("stocbio", "C0", "StocBiO"), ("ineon", "C3", "StocBiO + iNEON")):
            cost, obs = by[name]
            km = stats.kaplan_meier(cost, obs)
            t = np.concatenate([[0.0], km.times, [budget]])
            s = np.concatenate([[1.0], km.survival, [km.survival[-1] if km.survival.size else 1.0]])
            lo = np.concatenate([[1.0], km.ci_low, [km.ci_low[-1] if km.ci_low.size else 1.0]])
            hi = np.concatenate([[1.0], km.ci_high, [km.ci_high[-1] if km.ci_high.size else 1.0]])
            ax.step(t, s, where="post", color=color, label=f"{label} ({int(obs.sum())}/{obs.size} "
                                                              "escaped)")
            ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.2)
        r = results[f"{sigma:g}"]
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.3f}"
        costs = np.concatenate([by[k][0][by[k][1]] for k in by])
        right = min(budget * 1.02, 1.15 * float(np.max(costs))) if costs.size else budget
        if right >= budget:
            ax.axvline(budget, color="0.4", ls=":", lw=1)
        ax.set_xlim(0, right)
        ax.set_xlabel("upper-level oracle calls (hypergradient estimates)")
        ax.set_ylabel("P(not yet escaped) (Kaplan–Meier, 95% band)")
        ax.set_title(f"escape from the strict saddle (|x₁| ≥ 0.5), σ = {sigma:g}\n"
                     f"mean-cost ratio iNEON/StocBiO = {ratio} (budget {budget} calls)", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out.savefig(fig, "ineon_vs_stocbio.png")


def complexity(out, table, fits, bounds):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for ax, axis, label in ((axes[0], "eps", "accuracy ε (κ = 10)"),
                            (axes[1], "kappa", "condition number κ (ε = 0.03)")):
        rows = [r for r in table if r["axis"] == axis]
        x = np.array([r["value"] for r in rows])
        for key, q, color, marker, nice in (("mean_iterations", "steps", "C0", "o", "iterations"),
                                            ("mean_upper_calls", "upper", "C1", "s",
                                             "upper-level oracle calls")):
            y = np.array([r[key] for r in rows])
            f = fits[f"{q}_vs_{axis}"]
            ax.plot(x, y, marker=marker, color=color, ls="-",
                    label=f"{nice} (mean): slope {f['slope']:.2f} [{f['ci_low']:.2f}, "
                          f"{f['ci_high']:.2f}]")
            b = bounds.get(f"{q}_vs_{axis}")
            if b is not None:
                ax.plot(x, y[0] * (x / x[0]) ** b, color=color, ls=":", lw=1,
                        label=f"the paper's bound's exponent {b:g} (from the first point)")
        grid_log_axis(ax, x)
        ax.set_yscale("log")
        if axis == "eps":
            ax.invert_xaxis()
        ax.set_xlabel(label)
        ax.set_ylabel("to an ε-local minimum, from the saddle")
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_title("StocBiO + iNEON, σ = 0.1, minibatches S = ⌈(4σ/ε)²⌉", fontsize=9)
    axes[1].set_title("on part C's instance (L_Φ = κ^(4/3) + 6.75 on the ball)", fontsize=9)
    fig.tight_layout()
    out.savefig(fig, "ineon_complexity.png")


def digits(out, tr, final, d):
    t = tr["times"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    for ax, obs, ylabel in ((axes[0], "phi", "validation loss Φ(x)"),
                            (axes[1], "accuracy", "test accuracy of y*(x)"),
                            (axes[2], "weight_corrupted", "mean weight σ(xᵢ)")):
        s = tr[f"stocbio/{obs}"]
        ax.fill_between(t, np.nanpercentile(s, 10, 0), np.nanpercentile(s, 90, 0), color="C1",
                        alpha=0.25, label="StocBiO, 10–90% of paths")
        ax.plot(t, np.nanmean(s, 0), color="C1", label="StocBiO, mean")
        ax.plot(t, tr[f"flow_q/{obs}"][0], color="C1", ls="--",
                label="flow of −(∇Φ_Q + s), the drift of StocBiO's limit (s: inner shift; not "
                      "the SDE's mean)")
        ax.plot(t, tr[f"aid/{obs}"][0], color="C0", label="AID (warm start)")
        ax.plot(t, tr[f"flow/{obs}"][0], color="k", ls=":", label="gradient flow of Φ (AID's limit)")
        if obs == "weight_corrupted":
            ax.plot(t, tr["aid/weight_clean"][0], color="C2", label="AID, clean examples")
            ax.plot(t, np.nanmean(tr["stocbio/weight_clean"], 0), color="C2", ls="-.",
                    label="StocBiO, clean examples (mean)")
            ylabel = "mean weight σ(xᵢ) of corrupted (and clean) examples"
        ax.set_xlabel("t = kβ")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    handles, labels = axes[2].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, -0.12))
    fig.suptitle(f"hyper-cleaning on scikit-learn's digits (d_x = 100 weights, 30% of the training "
                 f"labels flipped); β = {d['beta']:g}, D = {d['D']}, Q = {d['Q']}, batch 8",
                 fontsize=10, y=1.02)
    axes[1].set_title("the AID path follows its limit (the gradient flow of Φ);\nStocBiO's "
                      "spread: its diffusion is checked at x = 0 only (row H)", fontsize=9)
    axes[0].set_title("StocBiO's noise (batch 8) keeps its mean above the flows", fontsize=9)
    axes[2].set_title("corrupted examples lose weight, clean ones gain", fontsize=9)
    fig.tight_layout()
    out.savefig(fig, "digits.png")


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
    grid_log_axis(ax, sorted(b))
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
        loglog_panel(ax, "outer step β", "stationary variance at the minimum",
                     "the warm start correlates successive hypergradients:\nthe long-run covariance "
                     "is the diffusion's", title_size=9)
    fig.tight_layout()
    out.savefig(fig, "reduced_sde.png")

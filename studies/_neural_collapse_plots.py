"""Figures of the neural-collapse study (see studies/neural_collapse.py).

Iteration axes are ``symlog`` (linear below 1), so iteration 0 sits at 0, not at 1; values that
can be 0 or negative are never clipped silently: the float64 resolution of the loss gap is drawn
as a band; intervals of fractions and accuracies come from the summary (Clopper–Pearson, logit-t)
and lie in [0, 1].
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ._style import grid_log_axis  # noqa: E402  (the shared figure style)

LABELS = {"nc1": "NC1 = tr(Σ_W Σ_B†)/K", "nc2": "NC2 (classifier ETF distance)",
          "nc3": "NC3 (self-duality + ETF)", "gap": "f − f* (float64)",
          "rel_gap": "(f − f*)/(log K − f*)"}
EPS64 = float(np.finfo(np.float64).eps)
# resolution of the NC metrics in float64: NC1 is quadratic in the distance to collapse, NC2/NC3
# linear
NC_FLOOR = {"nc1": EPS64**2, "nc2": EPS64, "nc3": EPS64}


def _iteration_axis(ax, label="iteration"):
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"{label} (symlog: 0 at 0)")


def _band(ax, x, values, color, label, floor=None):
    """Median with an inter-quartile band over runs (rows), on a log axis; values below ``floor``
    (a resolution) are drawn at the floor, which the caller marks."""
    v = np.asarray(values, np.float64)
    if floor is not None:
        v = np.maximum(v, floor)
    med = np.nanmedian(v, axis=0)
    lo, hi = np.nanpercentile(v, 25, axis=0), np.nanpercentile(v, 75, axis=0)
    ax.plot(x, med, color=color, label=label, lw=1.6)
    ax.fill_between(x, lo, hi, color=color, alpha=0.25, lw=0)


def _regimes(cases) -> str:
    """The regimes of d against K that the cases cover, in words (only those run)."""
    names = []
    for k, d, *_ in cases:
        r = "d = K−1" if d == k - 1 else "d = K" if d == k else "d > K" if d > k else "d < K−1"
        if r not in names:
            names.append(r)
    return ", ".join(names)


def nc_curves(out, curves, cfg):
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.9))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(curves)))
    floor = None
    for (label, c), col in zip(curves.items(), colors, strict=True):
        x = np.asarray(c["steps"], np.float64)
        res = 8 * EPS64 * max(1.0, c["f_star"])
        floor = res if floor is None else max(floor, res)
        _band(axes[0], x, c["loss"] - c["f_star"], col, label.replace(",", ", "), floor=res)
        for ax, m in zip(axes[1:], ("nc1", "nc2", "nc3"), strict=True):
            _band(ax, x, c[m], col, label, floor=NC_FLOOR[m])
    axes[0].axhspan(1e-300, floor, color="gray", alpha=0.25, lw=0,
                    label=f"float64 resolution of f − f* (8·eps·f* ≤ {floor:.1e})")
    axes[0].set_ylim(bottom=floor / 10)
    for ax, m in zip(axes[1:], ("nc1", "nc2", "nc3"), strict=True):
        ax.axhspan(1e-300, NC_FLOOR[m], color="gray", alpha=0.25, lw=0)
        ax.set_ylim(bottom=NC_FLOOR[m] / 10)
    for ax, name in zip(axes, ("gap", "nc1", "nc2", "nc3"), strict=True):
        _iteration_axis(ax, f"Riemannian GD iteration, saved every {cfg['table_stride']}")
        ax.set_yscale("log")
        ax.set_title(LABELS[name], fontsize=10)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("median over random starts (band: quartiles)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="upper center", ncol=4,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(f"Spherical UFM, Riemannian GD (η = {cfg['table_eta']:g}, float64) from "
                 f"{cfg['table_runs']} uniform random starts per case: f → f* and NC1–NC3 → 0 "
                 f"for {_regimes(cfg['table'])} (grey: float64 resolution; smaller values, exact "
                 "zeros included, are drawn on its edge)", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "nc_vs_iterations.png")


def census(out, points, summary):
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    cases = list(points)
    colors = plt.cm.tab10(np.arange(len(cases)) % 10)
    markers = {"global minimizer": "o", "strict saddle": "x", "neither": "s",
               "not converged": "."}
    for label, col in zip(cases, colors, strict=True):
        p = points[label]
        kinds = np.asarray(p["kind"]).astype(str)
        gap = np.asarray(p["loss"]) - p["f_star"]
        lam = np.asarray(p["lambda_min"])
        for kind, mk in markers.items():
            sel = kinds == kind
            if sel.any():
                ax.scatter(gap[sel], lam[sel], s=22, color=col, marker=mk, alpha=0.75)
    ax.set_xscale("symlog", linthresh=1e-6)
    ax.set_yscale("symlog", linthresh=1e-6)
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel("f − f* at the point found (symlog, linear below 1e-6)")
    ax.set_ylabel("λ_min of the Riemannian Hessian (symlog)")
    ax.text(0.01, 0.02, "global minimizers sit at λ_min = 0: the rotations H, W → QH, QW are "
            "flat directions;\nclass: ‖grad f‖ ≤ 1e-9, then λ_min < −tol → strict saddle, else "
            "f = f* → global minimizer, else neither", transform=ax.transAxes, fontsize=7,
            va="bottom", color="0.3")
    t = summary["totals"]
    ax.set_title(f"Critical points found by Levenberg–Marquardt on grad f: {t['global minimizer']} "
                 f"global minimizers, {t['strict saddle']} strict saddles, {t['neither']} neither, "
                 f"{t['not converged']} not converged", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    case_handles = [Line2D([], [], color=c, marker="o", ls="", label=lab.replace(",", ", "))
                    for lab, c in zip(cases, colors, strict=True)]
    kind_handles = [Line2D([], [], color="k", marker=mk, ls="", label=kind)
                    for kind, mk in markers.items()]
    # both legends inside, in the empty band between f = f* and the saddles' values
    first = ax.legend(handles=case_handles, fontsize=7, title="case", title_fontsize=7,
                      loc="upper center", ncol=2, framealpha=0.9)
    ax.add_artist(first)
    ax.legend(handles=kind_handles, fontsize=7, title="class", title_fontsize=7,
              loc="center", framealpha=0.9)
    fig.tight_layout()
    out.savefig(fig, "critical_point_census.png")


def escape_ecdf(out, ecdfs, lin, e):
    radii = sorted({r for _, r in ecdfs})
    fig, axes = plt.subplots(1, len(radii), figsize=(5.2 * len(radii), 3.9), squeeze=False)
    for ax, radius in zip(axes[0], radii, strict=True):
        allk = np.concatenate([v for (a, r), v in ecdfs.items() if r == radius])
        grid = np.arange(max(0, allk.min() - 20), allk.max() + 20)
        ax.plot(grid, lin.kicked_escape_cdf(grid, e["eta"], e["kick"], radius), "k-", lw=2,
                label="theory: kicked law of the linearization")
        for (name, r), k in ecdfs.items():
            if r != radius:
                continue
            ks = np.sort(k)
            ax.step(ks, np.arange(1, ks.size + 1) / ks.size, where="post",
                    label=f"{name} ({ks.size} paths)", lw=1.2,
                    ls="--" if name == "RSGD" else "-")
        ax.set_xlabel("iterations after the kick until |P_U(x − x*)| ≥ R")
        ax.set_ylabel("P(escaped)")
        ax.set_title(f"R = {radius:g}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Escape from the fully collapsed saddle (K={e['k']}, d={e['d']}, n={e['n']}, "
                 f"τ={e['tau']:g}; λ = τ/(K√n) = {lin.lam:.3f},\nunstable multiplicity "
                 f"{lin.multiplicity} of {lin.tangent_dim}) after a uniform tangent kick of radius "
                 f"{e['kick']:g}, η = {e['eta']:g}", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "saddle_escape_ecdf.png")


def noise_escape(out, summary, ecdfs):
    etas = sorted(ecdfs)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.1))
    colors = plt.cm.plasma(np.linspace(0.1, 0.8, len(etas)))
    for eta, col in zip(etas, colors, strict=True):
        a, b = ecdfs[eta]
        for v, ls, who in ((a, "-", "RSGD"), (b, "--", "SDE")):
            s = np.sort(np.asarray(v, np.float64))
            axes[0].step(s, np.arange(1, s.size + 1) / s.size, where="post", color=col, ls=ls,
                         lw=1.3, label=f"{who}, η = {eta:g} ({s.size} paths)")
    axes[0].set_xlabel("escape time t = kη (continuous time; the SDE's noise is √η P Σ^½, one "
                       "SDE per η)")
    axes[0].set_ylabel("P(escaped by t)")
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    rows = summary["rows"]
    x = np.array([r["eta"] for r in rows])
    d = np.array([r["relative_difference"]["value"] for r in rows])
    se = np.array([r["relative_difference"]["se"] for r in rows])
    axes[1].errorbar(x, np.abs(d), yerr=4 * se, fmt="o", color="tab:blue", capsize=3,
                     label="|E N_RSGD / E N_SDE − 1| (±4 SE)")
    o = summary["order"]
    if o["slope"] is not None:
        c = np.exp(np.mean(np.log(np.abs(d)) - o["slope"] * np.log(x)))
        g = np.geomspace(x.min() / 1.3, x.max() * 1.3, 50)
        axes[1].plot(g, c * g ** o["slope"], "-", color="tab:blue", lw=1,
                     label=f"fit: slope {o['slope']:.2f}, ±4 SE [{o['ci_low']:.2f}, "
                           f"{o['ci_high']:.2f}]: "
                           + ("no verdict (0 inside too: underpowered)" if o["verdict"] == "-"
                              else o["verdict"]))
        axes[1].plot(g, c * g[-1] ** (o["slope"] - 1) * g, ":", color="k", lw=1,
                     label="slope 1 (weak order 1)")
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("step size η")
    axes[1].set_ylabel("relative difference of the mean escape time")
    axes[1].grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=8)
    s = summary["setting"]
    g0 = summary["rgd_from_exact_saddle"]
    fig.suptitle(f"Noise-driven escape from the exact collapsed saddle, UFM with feature shifts ±σe_j "
                 f"(K={s['k']}, d={s['d']}, n={s['n']}, τ={s['tau']:g}, σ={s['sigma']:g}, b="
                 f"{s['batch_size']}), until |P_U(x − x*)| ≥ {s['radius']:g}: RSGD vs its manifold "
                 f"SDE (EM, h = η/{s['substeps']}); RGD left on {g0['exited']}/{g0['paths']} paths",
                 fontsize=9)
    fig.tight_layout()
    out.savefig(fig, "noise_driven_escape.png")


def _race_curves(ax, curves):
    colors = ["tab:blue", "tab:red"]
    for (label, c), col in zip(curves.items(), colors, strict=False):
        x = np.asarray(c["save_steps"], np.float64)
        for m, ls in (("nc1", "-"), ("nc2", "--"), ("nc3", "-."), ("rel_gap", ":")):
            v = np.maximum(np.median(np.asarray(c[m], np.float64), axis=0), 1e-12)
            ax.plot(x, v, ls, color=col, lw=1.3,
                    label=f"{label} (η = {c['eta']:g}): {m}" if m == "nc1" else f"{m}")
    for thr in (1e-3, 1e-2):
        ax.axhline(thr, color="gray", lw=0.6, ls=":")
    _iteration_axis(ax)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1e-6)
    ax.set_ylabel("median over evaluation seeds")
    ax.set_title("the two tuned configurations (dotted grey: joint thresholds)", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6, ncol=2, loc="lower left")


def race(out, summary, curves):
    # the third panel (curves of the two tuned configurations) is drawn in full mode only
    fig, axes = plt.subplots(1, 3 if curves else 2, figsize=(17 if curves else 11.5, 5.2))
    arms = summary["arms"]
    etas = summary["grid"]["etas"]
    norm = [a for a in arms if a["kind"] == "normalized"]
    wd = [a for a in arms if a["kind"] == "weight-decayed"]
    n_arms = len(arms)
    i_arm = 0
    for group, cmap, mark in ((norm, plt.cm.Blues, "o-"), (wd, plt.cm.Reds, "s--")):
        cols = cmap(np.linspace(0.45, 0.95, len(group)))
        for a, col in zip(group, cols, strict=True):
            sc = np.array([t["score"] for t in a["tuning"]], np.float64)
            ok = np.isfinite(sc)
            axes[0].plot(np.asarray(etas)[ok], sc[ok], mark, color=col, ms=4, label=a["name"])
            if (~ok).any():
                # side by side (×2^±0.05 per arm), so that every arm's × is seen
                shift = 2.0 ** (0.1 * (i_arm - (n_arms - 1) / 2))
                axes[0].plot(np.asarray(etas)[~ok] * shift,
                             np.full((~ok).sum(), summary["grid"]["n_steps"]), "x", color=col, ms=6)
            i_arm += 1
    axes[0].axhline(summary["grid"]["n_steps"], color="gray", lw=0.8, ls=":",
                    label="budget (×: no joint collapse or a diverged run)")
    axes[0].set_xscale("log", base=2)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step size η (same grid for every arm)")
    axes[0].set_ylabel("median iterations to joint collapse (tuning seeds)")
    axes[0].set_title("tuning: every arm over the same η grid", fontsize=10)
    axes[0].grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                   framealpha=0.9)
    pairs = summary["pairs"]
    taus = sorted({p["tau"] for p in pairs})
    lams = sorted({p["lambda"] for p in pairs})
    for j, lam in enumerate(lams):
        sel = [p for p in pairs if p["lambda"] == lam]
        x = np.arange(len(taus)) + (j - (len(lams) - 1) / 2) * 0.15
        v = np.array([p["value"] for p in sel])
        lo = np.array([p["ci_low"] for p in sel])
        hi = np.array([p["ci_high"] for p in sel])
        fin = (v > 0) & np.isfinite(v) & (lo > 0) & np.isfinite(hi)
        axes[1].errorbar(x[fin], v[fin], yerr=[v[fin] - lo[fin], hi[fin] - v[fin]], fmt="o",
                         capsize=3, label=f"λ = {lam:g}")
    for i, tau in enumerate(taus):
        sel = [p for p in pairs if p["tau"] == tau]
        if all(not 0 < p["value"] < np.inf for p in sel):
            who = "normalized" if all(p["value"] == 0 for p in sel) else "an arm"
            axes[1].text(i, 1.0, f"{who}: no joint\ncollapse within\nthe budget", ha="center",
                         va="center", fontsize=7, color="0.3")
    axes[1].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[1].set_xticks(np.arange(len(taus)), [f"τ = {t:g}" for t in taus])
    axes[1].set_yscale("log")
    axes[1].set_ylabel("median iterations: weight-decayed / normalized")
    h = summary["best_of_grid"]
    axes[1].set_title(f"every (τ, λ) pair, each tuned (95% bootstrap CI); best of grids: "
                      f"{h['value']:.2f} [{h['ci_low']:.2f}, {h['ci_high']:.2f}]", fontsize=9)
    axes[1].grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=7)
    if curves:
        _race_curves(axes[2], curves)
    fig.suptitle("Normalized (RGD on spheres) vs weight-decayed (GD) UFM: iterations to joint "
                 "collapse NC1 < 1e-3, NC2 < 1e-2, NC3 < 1e-2, (f − f*)/(log K − f*) < 1e-3",
                 fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "normalized_vs_regularized.png")


def temperature(out, temps, t):
    rows = temps["rows"]
    taus = np.array([r["tau"] for r in rows])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    f = [r["fraction_collapsed"] for r in rows]
    v = np.array([x["value"] for x in f])
    lo = np.array([x["ci_low"] for x in f])
    hi = np.array([x["ci_high"] for x in f])
    axes[0].errorbar(taus, v, yerr=[v - lo, hi - v], fmt="o", capsize=3, color="tab:blue",
                     label="Clopper–Pearson 95%")
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].set_ylabel(f"fraction in joint collapse within {temps['budget']} iterations")
    axes[0].legend(fontsize=8)
    med = [r["median_iterations"] for r in rows]
    mv = np.array([m["value"] for m in med], np.float64)
    axes[1].plot(taus, np.where(np.isfinite(mv), mv, np.nan), "o-", color="tab:blue",
                 label="median iterations to joint collapse (tuned η)")
    nf = ~np.isfinite(mv)
    if nf.any():
        axes[1].plot(taus[nf], np.full(nf.sum(), temps["budget"]), "x", color="k", ms=8,
                     label="no joint collapse within the budget")
    axes[1].axhline(temps["budget"], color="gray", ls=":", lw=0.8)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("iterations")
    axes[1].legend(fontsize=8)
    for m, col in (("nc1", "tab:blue"), ("nc2", "tab:orange"), ("nc3", "tab:green"),
                   ("rel_gap", "tab:red")):
        vals = np.array([r["final_at_budget"][m]["median"] for r in rows])
        axes[2].plot(taus, np.maximum(vals, 1e-12), "o-", color=col, label=m)
    axes[2].axhspan(1e-13, 1e-12, color="gray", alpha=0.25, lw=0)
    axes[2].set_ylim(bottom=1e-13)
    axes[2].set_yscale("log")
    axes[2].set_ylabel(f"median after {temps['budget']} iterations (no stopping)")
    axes[2].set_title("float32, at the tuned η (the grid's middle where none collapses): values "
                      "below 1e-12 drawn at 1e-12 (grey)", fontsize=8)
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("τ (logit scale)")
        ax.grid(alpha=0.3, which="both")
    best = ", ".join(f"{r['tau']:g}: " + ("none collapses" if r["best_eta_tau"] is None
                                          else f"{r['best_eta_tau']:g}") for r in rows)
    fig.suptitle(f"Temperature sweep, K={t['case'][0]}, d={t['case'][1]}, n={t['case'][2]}: η "
                 f"tuned per τ over ητ ∈ {t['eta_tau']} (best ητ — {best})", fontsize=9)
    fig.tight_layout()
    out.savefig(fig, "temperature.png")


def _mlp_verdict_text(comp) -> str:
    if comp["verdict"] != "-":
        return comp["verdict"]
    if any(comp.get("diverged_seeds", {}).values()):
        return f"none (diverged seeds {comp['diverged_seeds']})"
    return "none (the losing arm's best at a grid edge)"


def mlp(out, curves, sweep, summary, m):
    names = ("nc1", "nc2", "nc3", "test_nc1", "train_acc", "test_acc")
    titles = {"nc1": "NC1 (train)", "nc2": "NC2", "nc3": "NC3 (train)", "test_nc1": "NC1 (test)",
              "train_acc": "training accuracy", "test_acc": "test accuracy"}
    fig, axes = plt.subplots(2, 4, figsize=(19, 7.2))
    flat = axes.ravel()
    colors = {"normalized": "tab:blue", "weight-decayed": "tab:red"}
    for label, c in curves.items():
        best = summary["arms"][label]["best"]
        text = ", ".join(f"{k}={v:g}" for k, v in best.items())
        for ax, name in zip(flat, names, strict=False):
            v = np.asarray(c[name], np.float64)
            x = np.arange(v.shape[1])
            if name.endswith("acc"):
                mean = v.mean(0)
                lo, hi = np.percentile(v, 0, axis=0), np.percentile(v, 100, axis=0)
            else:
                lv = np.log(np.maximum(v, 1e-300))
                mean = np.exp(lv.mean(0))
                lo, hi = np.exp(lv.min(0)), np.exp(lv.max(0))
            ax.plot(x, mean, color=colors[label], label=f"{label} ({text})")
            ax.fill_between(x, lo, hi, color=colors[label], alpha=0.2, lw=0)
    for ax, name in zip(flat, names, strict=False):
        ax.set_title(titles[name], fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
        if name.endswith("acc"):
            ax.set_ylim(max(0.0, ax.get_ylim()[0]), 1.0)
        else:
            ax.set_yscale("log")
    flat[0].legend(fontsize=7)
    flat[0].set_ylabel(f"mean over {m['seeds']} seeds (geometric for NC; band: min–max)")
    taus = np.array([s["tau"] for s in sweep])
    for key, col in (("test_nc1", "tab:blue"), ("test_nc2", "tab:orange"), ("test_nc3", "tab:green"),
                     ("nc1", "tab:purple")):
        v = np.array([s[key]["value"] for s in sweep])
        lo = np.array([s[key]["ci_low"] for s in sweep])
        hi = np.array([s[key]["ci_high"] for s in sweep])
        flat[6].errorbar(taus, v, yerr=[v - lo, hi - v], fmt="o-", color=col, capsize=3, ms=4,
                         label=key.replace("_", " "))
    grid_log_axis(flat[6], taus, base=2)
    flat[6].set_yscale("log")
    flat[6].set_title("normalized, lr tuned per τ by J: last-epoch NC (95% log-t CI)", fontsize=9)
    flat[6].grid(alpha=0.3, which="both")
    flat[6].legend(fontsize=7)
    v = np.array([s["test_acc"]["logit_mean"] for s in sweep])
    lo = np.array([s["test_acc"]["ci_low"] for s in sweep])
    hi = np.array([s["test_acc"]["ci_high"] for s in sweep])
    flat[7].errorbar(taus, v, yerr=[v - lo, hi - v], fmt="o-", color="k", capsize=3, ms=4)
    grid_log_axis(flat[7], taus, base=2)
    flat[7].set_ylim(max(0.0, lo.min() - 0.02), 1.0)
    flat[7].set_title("normalized, lr tuned per τ: test accuracy (95% logit-t CI)", fontsize=9)
    # each τ's tuned learning rate under its tick ("untuned": every lr diverged at that τ)
    ticks = [f"{t:g}\nlr {q['lr']:g}" + ("" if q["lr_tuned"] else "\n(untuned)")
             for t, q in zip(taus, sweep, strict=True)]
    for ax in (flat[6], flat[7]):
        ax.set_xticks(taus, ticks, fontsize=8)
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel(f"τ (and its lr, from {list(m['lrs'])})")
    flat[7].grid(alpha=0.3, which="both")
    comp = summary["comparison"]["log_score_difference"]
    ci = ("" if comp["ci_low"] is None
          else f" [{comp['ci_low']:.2f}, {comp['ci_high']:.2f}]")
    fig.suptitle(f"MLP with classifier bias on sklearn digits, {m['epochs']} epochs, SGD + momentum "
                 f"0.9: normalized (lr × τ grid) vs weight decay (lr × λ grid), equal tuning budgets "
                 f"by the joint score J;\nlog J (weight-decayed) − log J (normalized) = "
                 f"{comp['value']:.2f}{ci}; verdict: "
                 + _mlp_verdict_text(summary["comparison"]),
                 fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "mlp_digits.png")

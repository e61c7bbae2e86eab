"""Figures of the minimax studies (minimax-rates, minimax-escape)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ._style import columns  # noqa: E402  (the shared figure style)

COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
MARK = {"GDA": "o", "OGDA": "s", "EG": "^"}


def rates(out, ratio, ramp, batch, ncc, gan, summary, cfg, li=None):
    _step_ratio(out, ratio, li)
    _lower_bound(out, ramp, summary["lower_bound_instance"])
    _best_batch(out, batch)
    _ncc(out, ncc, summary["nonconvex_concave"])
    _gan(out, gan, cfg)


def _step_ratio(out, ratio, li=None):
    fig, ax = plt.subplots(figsize=(6.0, 4.3))
    kap = mk = np.asarray(ratio["kappas"], float)  # the matrix thresholds' κ; kap: every κ drawn
    if li is not None:
        lk = np.asarray(li["kappas"], float)
        lo, hi = np.asarray(li["brackets"], float).T
        mid = np.asarray(li["ratios"], float)
        ax.errorbar(lk, mid, yerr=[mid - lo, hi - mid], fmt="s", color="k", ms=4, capsize=3,
                    mfc="none", label=f"GDA from runs alone (bisection bracket): κ-exponent "
                                      f"{li['exponent']:.3f}")
        kap = np.union1d(kap, lk)
    for i, (m, d) in enumerate(ratio["methods"].items()):
        crit = np.array([r["critical_eta_x"] for r in d["rows"]])
        ok_lo = [r["contracted_below"] == r["n"] for r in d["rows"]]
        ok_hi = [r["grew_above"] == r["n"] for r in d["rows"]]
        ax.plot(mk, crit, "-", marker=MARK[m], color=COLORS[i], ms=5,
                label=f"{m}: exact threshold (κ-exponent {d['critical_exponent']:.2f})")
        lo, hi = 0.8 * crit, 1.25 * crit
        ax.plot(mk[ok_lo], lo[ok_lo], "v", color=COLORS[i], ms=4, mfc="none")
        ax.plot(mk[ok_hi], hi[ok_hi], "^", color=COLORS[i], ms=4, mfc="none")
    ax.plot(kap, 1.0 / kap**2, "k--", lw=1, label="the papers' regime η_x/η_y = 1/κ²")
    ax.plot(kap, 1.0 / kap, "k:", lw=1, label="η_x/η_y = 1/κ (Li et al.'s Θ(κ); part 2's regime)")
    ax.plot([], [], "v", color="gray", mfc="none", ms=4, label="0.8×: every run contracted")
    ax.plot([], [], "^", color="gray", mfc="none", ms=4, label="1.25×: every run grew")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _value_ticks(ax, kap)
    ax.set_xlabel("κ = ℓ/μ")
    ax.set_ylabel("largest stable step ratio η_x/η_y  (η_y = 1/ℓ)")
    ax.set_title("Stability threshold on the NC-SC quadratics Q_κ: it falls like 1/κ, not 1/κ²\n"
                 "(lines: exact thresholds of the iteration matrices; squares: found from runs)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    out.savefig(fig, "rates_step_ratio.png")


def _lower_bound(out, ramp, summ):
    regimes = list(dict.fromkeys(reg for _, reg in ramp))
    fig, axes = plt.subplots(1, len(regimes) + 1, figsize=(5.0 * (len(regimes) + 1), 4.4))
    for ax, reg in zip(axes, regimes):
        g = ramp[("GDA", reg)]
        inv = 1.0 / np.asarray(g["epsilons"])
        for i, k in enumerate(g["kappas"]):
            ok = g["status"][i] == 1
            mean = np.array([s[o].mean() if o.any() else np.nan
                             for s, o in zip(g["steps"][i], ok)])
            ax.plot(inv, mean, MARK["GDA"], color=COLORS[i % 10], ms=5, label=f"κ = {k:g}")
            for m in ("OGDA", "EG"):
                h = ramp[(m, reg)]
                okm = h["status"][i] == 1
                mm = np.array([s[o].mean() if o.any() else np.nan
                               for s, o in zip(h["steps"][i], okm)])
                ax.plot(inv, mm, MARK[m], color=COLORS[i % 10], ms=4, mfc="none")
            ax.plot(inv, g["lower"][i].mean(-1), "--", color=COLORS[i % 10], lw=1)
            ax.plot(inv, np.nanmean(g["theory"][i], -1), "-", color=COLORS[i % 10], lw=0.8)
        a = "κ²ℓ" if reg == "k^-2" else "κℓ"
        ax.set_title(f"ramp, η_x = 1/({a}), η_y = 1/ℓ", fontsize=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _eps_ticks(ax, g["epsilons"])
        ax.set_xlabel("1/ε")
        ax.set_ylabel("iterations to ‖∇Φ(x)‖ ≤ ε (mean over starts that reached it)")
    axes[0].plot([], [], "k-", lw=0.8, label="GD on Φ, tracking step (GDA's theory)")
    axes[0].plot([], [], "k--", lw=1, label="derived lower bound")
    axes[0].plot([], [], MARK["OGDA"], color="gray", mfc="none", label="OGDA")
    axes[0].plot([], [], MARK["EG"], color="gray", mfc="none", label="EG")
    axes[0].plot([], [], MARK["GDA"], color="gray", label="GDA")
    axes[0].legend(fontsize=7, loc="upper left", ncol=2)
    ax = axes[-1]
    for j, reg in enumerate(regimes):
        g = ramp[("GDA", reg)]
        kap = np.asarray(g["kappas"], float)
        ok = g["status"][:, -1] == 1
        mean = np.array([s[o].mean() if o.any() else np.nan for s, o in zip(g["steps"][:, -1], ok)])
        fit = summ[f"GDA {reg}"]["exponents"]
        lab = "κ²ℓ" if reg == "k^-2" else "κℓ"
        ax.plot(kap, mean, "o", color=COLORS[j], ms=5,
                label=f"GDA, η_x = 1/({lab}): κ-exponent {fit['kappa_exponent']:.2f}")
        ax.plot(kap, g["lower"][:, -1].mean(-1), "--", color=COLORS[j], lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _value_ticks(ax, ramp[("GDA", regimes[0])]["kappas"])
    ax.set_xlabel("κ = ℓ/μ")
    ax.set_ylabel(f"iterations to ‖∇Φ‖ ≤ ε = {ramp[('GDA', regimes[0])]['epsilons'][-1]:g}")
    ax.set_title("the κ-power is the step's: κ² at 1/(κ²ℓ), κ at 1/(κℓ)\n"
                 "(dashed: the derived lower bound)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out.savefig(fig, "rates_lower_bound.png")


def _best_batch(out, batch):
    rows = batch["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 5.2))
    ax = axes[0]
    for i, r in enumerate(rows):
        ms = np.array([int(m) for m in r["calls_by_batch"]])
        cs = np.array([np.nan if c is None else c for c in r["calls_by_batch"].values()])
        order = np.argsort(ms)
        ax.plot(ms[order], cs[order], "-o", color=COLORS[i % 10], ms=3,
                label=f"κ = {r['kappa']:g}, ε = {r['eps']:g}")
        ax.plot([r["best_batch"]], [r["best_calls"]], "*", color=COLORS[i % 10], ms=11, mec="k",
                mew=0.5)
        ax.axvline(r["theory_best_batch"], color=COLORS[i % 10], ls=":", lw=1)
    ax.plot([], [], "*", color="gray", ms=10, mec="k", mew=0.5, label="best batch M* (search)")
    ax.plot([], [], ":", color="gray", label="derived M* = F₁/(u*ε²)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size M")
    ax.set_ylabel("oracle calls M·K until mean_k ‖∇Φ(x_k)‖² ≤ ε²\n(missing: not reached by 12 K_a)")
    ax.set_title("minibatch GDA on the ramp (σ = 1, η_x = 1/(κ²ℓ), η_y = 1/ℓ)", fontsize=9)
    ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3)
    ax = axes[1]
    # a star keeps its (κ, ε) cell's colour from the left panel; the lines (one per ε) are gray
    # shades, so that no colour means a cell on the left and an ε on the right
    cell_color = {(r["kappa"], r["eps"]): COLORS[i % 10] for i, r in enumerate(rows)}
    eps_vals = sorted({r["eps"] for r in rows})
    shades = np.linspace(0.0, 0.6, len(eps_vals))
    for j, e in enumerate(eps_vals):
        sub = sorted((r for r in rows if r["eps"] == e), key=lambda r: r["kappa"])
        kap = np.array([r["kappa"] for r in sub])
        gray = str(shades[j])
        ax.plot(kap, [r["theory_best_batch"] for r in sub], "-", color=gray, lw=1,
                label=f"ε = {e:g}: derived M* (Lyapunov floor)")
        ax.plot(kap, [r["papers_batch"] for r in sub], "--", color=gray, lw=1,
                label=f"ε = {e:g}: papers' M = ⌈κσ²/ε²⌉")
        for r in sub:
            ax.plot([r["kappa"]], [r["best_batch"]], "*", color=cell_color[(r["kappa"], e)],
                    ms=10, mec="k", mew=0.5)
    ax.plot([], [], "*", color="gray", ms=10, mec="k", mew=0.5,
            label="M* (search), coloured by cell as on the left")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("κ")
    ax.set_ylabel("batch size")
    ax.set_title("on the ramp the best batch shrinks with κ;\nthe papers' M (a worst-case batch) "
                 "grows like κ", fontsize=9)
    ax.legend(fontsize=6.5, loc="best")
    fig.tight_layout()
    out.savefig(fig, "rates_best_batch.png")


def _ncc(out, ncc, summ):
    eps = np.asarray(ncc["epsilons"], float)
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    for i, (m, d) in enumerate(ncc["methods"].items()):
        ok = (d["status"] == 1).all(axis=0)
        if not ok.any():
            continue
        mean = d["steps"][:, ok].mean(1)
        lo, hi = d["steps"][:, ok].min(1), d["steps"][:, ok].max(1)
        s = summ["methods"][m].get("eps_exponent")
        ax.errorbar(1 / eps * (1 + 0.02 * (i - 1)), mean, yerr=[mean - lo, hi - mean],
                    fmt=MARK[m], color=COLORS[i], ms=5, capsize=2,
                    label=f"{m}: exponent {s:.2f}" if s is not None else m)
    gd = ncc["methods"]["GDA"].get("gd_on_phi")
    if gd is not None and np.all(np.isfinite(gd)):
        ax.plot(1 / eps, gd.mean(1), "-", color="gray", lw=1.5, zorder=0,
                label="GD on the closed-form Φ, same starts and η_x (the per-run reference)")
    ref = summ["methods"]["GDA"]["mean_iterations"][-1]
    if ref is not None:
        for p, ls, lab in ((6, "--", "∝ ε⁻⁶ (papers' bound)"), (4, ":", "∝ ε⁻⁴ (the step η_x ∝ ε⁴)")):
            ax.plot(1 / eps, ref * (eps / eps[-1]) ** -p, "k" + ls, lw=1, label=lab)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _eps_ticks(ax, eps)
    ax.set_xlabel("1/ε")
    ax.set_ylabel("iterations to ‖∇Φ_λ(x)‖ ≤ ε (mean; bars: min–max over runs)")
    ax.set_title("NC-C (f linear in y, Y a ball): η_y = 1/ℓ, η_x = ε⁴/(ℓD²)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out.savefig(fig, "rates_ncc.png")


def _hold_last(g):
    """Each row with its NaNs after the run stopped replaced by its last finite value."""
    g = g.copy()
    for row in g:
        bad = ~np.isfinite(row)
        if bad.any() and (~bad).any():
            idx = np.where(~bad, np.arange(row.size), 0)
            np.maximum.accumulate(idx, out=idx)
            row[:] = row[idx]
    return g


def _gan(out, gan, cfg):
    mus = list(cfg.gan_mus)
    ratios = ("k^-2", "k^-1", "1")
    names = {"k^-2": "κ⁻²", "k^-1": "κ⁻¹", "1": "1"}
    fig, axes = plt.subplots(len(mus), 3, figsize=(13.0, 3.8 * len(mus)), squeeze=False)
    for a, mu in enumerate(mus):
        for b, r in enumerate(ratios):
            ax = axes[a, b]
            for i, m in enumerate(("GDA", "OGDA", "EG")):
                p = gan[(m, mu, r)]
                g = np.asarray(p["g"], float)
                k = np.asarray(p["save_steps"])
                # a run stops at ‖∇Φ‖ ≤ ε: after its stop it keeps its last value
                stopped = k[None, :] > np.asarray(p["steps"])[:, None]
                g = _hold_last(np.where(stopped, np.nan, g))
                ax.plot(k, np.median(g, 0), color=COLORS[i], lw=1.2, ls=("-", "--", ":")[i],
                        label=m)
            ax.axhline(1e-2, color="gray", lw=0.8)
            ax.set_xlim(0, max(float(np.max(gan[(m, mu, r)]["steps"])) for m in MARK) * 1.05)
            ax.set_yscale("log")
            kap = float(gan[("GDA", mu, r)]["kappa"])
            ax.set_title(f"μ = {mu:g} (κ = {kap:.3g}), η_x/η_y = {names[r]}", fontsize=9)
            ax.set_xlabel("iteration")
            ax.set_ylabel("‖∇Φ(x_t)‖ (median over starts;\na stopped run keeps its last value)")
            ax.legend(fontsize=7)
    fig.suptitle("GAN-like moment game on generated data: gray line ε = 0.01 (runs stop there)",
                 fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "rates_gan.png")


# ---------------------------------------------------------------------------------------------
# minimax-escape
# ---------------------------------------------------------------------------------------------


def escape(out, kicked, sosp, gda, tracking):
    _kicked(out, kicked)
    _sosp(out, sosp)
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
                label="exact kicked-linear law" if "exact" in name else "linearized law")
        ax.set_xlabel("iterations after the kick until |⟨w, z⟩| ≥ R")
        ax.set_ylabel("P(K ≤ k)")
        ax.set_title(f"{name}: KS D = {d['ks_distance']:.3f} (4σ critical "
                     f"{d['ks_critical_4sigma']:.3f})", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out.savefig(fig, "escape_kicked_ecdf.png")


def _sosp(out, sosp):
    eps = np.asarray(sosp["epsilons"], float)
    fig, ax = plt.subplots(figsize=(6.0, 5.2))
    for i, fam in enumerate(sosp["rows"][0]["families"]):
        means = [r["families"][fam]["perturbed"]["mean_iterations"] for r in sosp["rows"]]
        reached = [r["families"][fam]["perturbed"]["exited"] for r in sosp["rows"]]
        runs = [sum(r["families"][fam]["perturbed"][c] for c in ("exited", "censored", "diverged"))
                for r in sosp["rows"]]
        ax.plot(1 / eps, [np.nan if m is None else m for m in means], "o-", color=COLORS[i],
                label=f"perturbed GDmax, starts: {fam} (reached: "
                      f"{', '.join(f'{a}/{b}' for a, b in zip(reached, runs))})")
        refm = [r["families"][fam].get("reference_mean_iterations") for r in sosp["rows"]]
        if all(m is not None for m in refm):
            ax.plot(1 / eps, refm, "x", color="k", ms=7,
                    label="the rule's NumPy recursion on Φ (same starts)" if i == 0 else None)
    st, steps = sosp["status"], sosp["steps"]
    ok = (st == 1).all(axis=0)
    if ok.any():
        lo, hi = steps[:, ok].min(1), steps[:, ok].max(1)
        ax.fill_between(1 / eps, lo, hi, color=COLORS[1], alpha=0.15,
                        label="manifold starts: min–max over runs")
    ref = sosp["rows"][-1]["families"]
    base = [v["perturbed"]["mean_iterations"] for v in ref.values()]
    if base[-1] is not None:
        ax.plot(1 / eps, base[-1] * (eps / eps[-1]) ** -2, "k--", lw=1, label="∝ ε⁻² (papers' Õ(ε⁻²))")
    gd = [r["families"]["manifold x₁ = 0"]["gdmax"]["exited"] for r in sosp["rows"]]
    ax.set_xscale("log")
    ax.set_yscale("log")
    _eps_ticks(ax, eps)
    ax.set_xlabel("1/ε")
    ax.set_ylabel("iterations to an ε-local minimax point (mean over runs)")
    ax.set_title("Double-well game, the papers' template; GDmax without kicks from the manifold "
                 f"reached it in {sum(gd)} runs", fontsize=8)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    fig.tight_layout()
    out.savefig(fig, "escape_local_minimax.png")


def _eps_ticks(ax, eps):
    """Ticks at the 1/ε of the grid only (log axes over less than a decade crowd otherwise)."""
    _value_ticks(ax, 1.0 / np.asarray(eps, float))


def _value_ticks(ax, values):
    """x ticks at the grid's values, labelled plainly (log axes crowd their minor labels)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    values = np.asarray(values, float)
    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:.3g}" for v in values])


def _gda_ratio(out, gda):
    rows = gda["rows"]
    r = np.asarray([x["ratio"] for x in rows])
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.3))
    ax = axes[0]
    m, ci = columns(rows, "mean_iter_w", "mean_iter_w_ci")
    ax.errorbar(r, m, yerr=[m - ci[:, 0], ci[:, 1] - m], fmt="o", capsize=3,
                label="stochastic GDA (95% CI)")
    ax.plot(r, [x["ar1_mean_iter_w"] for x in rows], "x", color="C3", ms=8,
            label="exact AR(1) law of ⟨w, z⟩")
    ax.set_xscale("log")
    ax.set_xlabel("η_y/η_x")
    ax.set_ylabel("mean exit iteration of |⟨w, z⟩| ≥ R  (iterations)")
    ax.set_title("the unstable coordinate w (left eigenvector on (x, y))", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[1]
    m, ci = columns(rows, "mean_time_v", "mean_time_v_ci")
    ax.errorbar(r, m, yerr=[m - ci[:, 0], ci[:, 1] - m], fmt="s", color="C1", capsize=3,
                label="stochastic GDA (95% CI)")
    ax.axhline(gda["dawson_mean_time"], color="k", ls="--", lw=1,
               label="reduced SDE (η_y/η_x → ∞): Dawson integral")
    ax.axhline(gda["dawson_plus_em_correction"], color="gray", ls=":", lw=1.2,
               label="… plus its Euler–Maruyama step correction")
    ax.set_xscale("log")
    ax.set_xlabel("η_y/η_x")
    ax.set_ylabel("mean exit time of |⟨v, x⟩| ≥ R  (slow time t = kη_x)")
    ax.set_title("the unstable eigenvector v of ∇²Φ (x only)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Stochastic GDA from the saddle of Φ (σ = 0.1, η_x = 0.01)", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "escape_gda_ratio.png")


def _tracking(out, tr):
    fig, axes = plt.subplots(1, len(tr), figsize=(4.2 * len(tr), 4.0), sharey=True)
    for i, (ax, (n, d)) in enumerate(zip(np.atleast_1d(axes), tr.items())):
        ax.plot(d["iterations"], d["median"], color=COLORS[i], label="error, median")
        ax.fill_between(d["iterations"], d["q10"], d["q90"], color=COLORS[i], alpha=0.2,
                        label="error, 10–90%")
        ax.plot(d["iterations"], d["bound_median"], color="k", ls="--", lw=1,
                label="bound B_k, median")
        ax.axhline(d["rounding_floor"], color="gray", ls=":", lw=1,
                   label="the check's float32 rounding allowance")
        ax.set_yscale("log")
        ax.set_ylim(bottom=d["rounding_floor"] / 30)
        ax.set_xlabel("outer iteration k")
        ax.set_title(f"N = {n} inner steps, q = {d['q']:.3g}: "
                     f"{d['paths_within_bound']}/{d['paths']} paths within the bound", fontsize=8)
        if i == 0:
            ax.set_ylabel("‖y_k − y*(x_k)‖")
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle("GDmax tracking of y*(x) from y₀ = 0; exact bound B(k+1) = q·B(k) + (b/μ)‖x(k+1) − "
                 "x(k)‖, q = (1 − η_yμ)^N (checked up to a float32 rounding allowance, dotted)", fontsize=9)
    fig.tight_layout()
    out.savefig(fig, "escape_tracking.png")

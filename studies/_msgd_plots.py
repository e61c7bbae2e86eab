"""Figures of the msgd-escape study (matplotlib, Agg): labelled axes, legends, CIs, log scales."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sde_opt import theory as th  # noqa: E402
from sde_opt.stats import normal_quantile  # noqa: E402
from sde_opt.theory import momentum_pca as mp  # noqa: E402

from ._style import columns, curve_span, loglog_panel, marker_legend  # noqa: E402

MU_COLORS = {0.0: "tab:blue", 0.5: "tab:green", 0.9: "tab:orange", 0.99: "tab:red"}
DIST_MARKERS = {"gaussian": "o", "student-t": "s", "matrix-factorization": "D"}
Z = normal_quantile(0.95)  # error bars and bands: 95% intervals, ± z·SE


def _logx(*axes):
    """Log x axis with labels on the decades only (minor labels overlap on short ranges)."""
    for ax in axes:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _color(mu):
    return MU_COLORS.get(float(mu), "tab:gray")


def _jitter(mu):
    """A multiplicative x offset per μ, so that points at one η/(1−μ) sit side by side."""
    return 1 + 0.06 * (list(MU_COLORS).index(mu) - 1.5) if mu in MU_COLORS else 1


def _yerr(val, lo, hi):
    return np.array([[max(val - lo, 0.0)], [max(hi - val, 0.0)]])


def _dist_kinds(by_dist):
    """Legend entries for the sample distributions present (filled: Gaussian; open otherwise)."""
    names = {"gaussian": "Gaussian samples", "student-t": "Student-t samples",
             "matrix-factorization": "matrix factorization"}
    return {names.get(d, d): dict(marker=DIST_MARKERS.get(d, "o"),
                                  mfc="k" if d == "gaussian" else "white")
            for d, rows in by_dist.items() if len(rows)}


def escape_distributions(out, rows, spectrum):
    rows = rows[:6]
    n = len(rows)
    cols = min(3, n)
    nr = int(np.ceil(n / cols))
    fig, axes = plt.subplots(nr, cols, figsize=(4.2 * cols, 3.3 * nr), squeeze=False)
    for ax, r in zip(axes.ravel(), rows):
        eta, mu = r.params["eta"], r.params["mu"]
        d = np.sort(r.point.discrete.steps[r.point.discrete.exited].astype(float))
        lim = r.point.limit
        lt = np.sort(lim.times[lim.exited] / r.point.discrete.dt)
        for x, lab, c in ((d, "MSGD", "tab:blue"), (lt, "SDE limit (EM)", "tab:orange")):
            ax.step(x, np.arange(1, x.size + 1) / r.discrete.n, where="post", label=lab, color=c)
        esc = mp.pca_escape(spectrum, eta, mu)
        k = np.linspace(0, max(d.max(), lt.max()), 400)
        ax.plot(k, th.saddle_exit_cdf(k * eta, esc.rate, esc.noise, esc.radius), "k--", lw=1,
                label="linearized SDE (limiting law)")
        ax.axvline(esc.mean, color="k", lw=0.8, ls=":", label="predicted mean")
        ax.set_title(f"η = {eta:g}, μ = {mu:g} (η/(1−μ) = {eta / (1 - mu):.3g})", fontsize=9)
        ax.set_xlabel("iterations to cos²(w, e₁) ≥ ½")
        ax.set_ylabel("P(N ≤ k)")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Phase I: escape-time law from the saddle e₂ (streaming PCA, Gaussian samples)")
    fig.tight_layout()
    out.savefig(fig, "escape_distribution.png")


def collapse(out, escape, spectrum, kurtosis):
    fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 4.8))
    mus = sorted({r.params["mu"] for rows in escape.values() for r in rows})
    for dist, rows in escape.items():
        for r in rows:
            eta, mu = r.params["eta"], r.params["mu"]
            eff = eta / (1 - mu)
            s = r.discrete
            fill = _color(mu) if dist == "gaussian" else "white"
            if dist == "gaussian":
                a.errorbar(eta, s.mean, yerr=_yerr(s.mean, s.mean_low, s.mean_high), fmt="o",
                           color=_color(mu), ms=5, capsize=2)
            b.errorbar(eff, eff * s.mean, yerr=eff * _yerr(s.mean, s.mean_low, s.mean_high),
                       fmt=DIST_MARKERS[dist], color=_color(mu), mfc=fill, ms=5, capsize=2)
            b.plot(eff, eff * r.limit.mean, "x", color=_color(mu), ms=5)
    g = escape.get("gaussian", [])
    for mu in mus:
        em = [r.params["eta"] for r in g if r.params["mu"] == mu]
        if not em:
            continue
        etas = np.logspace(np.log10(min(em)) - 0.3, np.log10(max(em)) + 0.3, 40)
        a.plot(etas, [mp.pca_escape(spectrum, e, mu).mean for e in etas], "--", color=_color(mu), lw=1)
        a.plot(etas, [mp.pca_escape(spectrum, e, mu).discrete for e in etas], ":", color=_color(mu),
               lw=1.2)
        a.plot([], [], "o", color=_color(mu), label=f"μ = {mu:g}")
    a.plot([], [], "k--", lw=1, label="linearized SDE (diffusion limit)")
    a.plot([], [], "k:", lw=1.2, label="heavy-ball AR(2) along e₁ (finite η)")
    effs = np.logspace(-3.2, -0.85, 60)
    for dist, k in kurtosis.items():
        b.plot(effs, [e * mp.pca_escape(spectrum, e, 0.0, kurtosis=k).mean for e in effs],
               "k-" if dist == "gaussian" else "k-.", lw=1.2,
               label=f"linearized SDE, {dist} (a function of η/(1−μ) only)")
    for mu in mus:
        if mu == 0.0:
            continue
        b.plot(effs, [e * mp.pca_escape(spectrum, e * (1 - mu), mu).discrete for e in effs], ":",
               color=_color(mu), lw=1.2, label=f"heavy-ball AR(2), μ = {mu:g}, Gaussian")
    loglog_panel(a, "step size η", "mean escape iterations E N (95% CI)",
                 "At fixed η, momentum shortens the escape (Gaussian samples)")
    b.set_xscale("log")
    b.set_xlabel("effective step η/(1 − μ)")
    b.set_ylabel("rescaled escape time (η/(1−μ))·E N")
    b.set_title("Collapse in η/(1−μ) — until η ≳ (1−μ)²/g", fontsize=10)
    marker_legend(b, _dist_kinds(escape) | {"SDE limit (EM)": dict(marker="x")}, fontsize=7)
    b.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, "collapse.png")


def phases(out, curves, eta, gap):
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for mu, c in curves.items():
        col = _color(mu)
        k = np.maximum(c["steps"], 1)
        lab = f"μ = {mu:g} (MSGD mean)"
        if eta * gap / (1 - mu) ** 2 > 1:
            lab += ": η ≫ (1−μ)²/g, outside the diffusion regime"
        ax.plot(k, c["mean"], color=col, label=lab)
        ax.fill_between(k, np.maximum(c["mean"] - Z * c["se"], 1e-5), c["mean"] + Z * c["se"],
                        color=col, alpha=0.25, lw=0)
        ax.plot(k, c["predicted"], "--", color=col, lw=1)
        ax.axhline(c["floor"], color=col, ls=":", lw=1)
        ax.axvline(c["escape_pred"], color=col, ls="-.", lw=0.7)
    ax.plot([], [], "k--", lw=1, label="predicted (linearized SDE + floor)")
    ax.plot([], [], "k:", lw=1, label="floor (η/(2(1−μ))) Σ α²/(λ₁−λᵢ)")
    ax.plot([], [], "k-.", lw=0.7, label="predicted mean Phase-I time")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(1e-4, 0.3 * min(c["floor"] for c in curves.values())))
    ax.set_xlabel("iteration k")
    ax.set_ylabel("mean error 1 − (e₁ᵀw)² (95% band)")
    ax.set_title(f"Three phases from the saddle e₂ at η = {eta:g}: momentum escapes sooner, "
                 "settles higher", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, "phases.png")


def floors(out, floor_rows, spectrum, kurtosis):
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.6))
    effs = curve_span([r.params["eta"] / (1 - r.params["mu"]) for rows in floor_rows.values()
                       for r in rows], 10 ** -2.7, 10 ** -0.9, 20)
    labelled = set()
    for dist, rows in floor_rows.items():
        for r in rows:
            mu = r.params["mu"]
            eff = r.params["eta"] / (1 - mu)
            f = r.theory["formula"]
            v, se = float(r.discrete.value), float(r.discrete.se)
            fill = _color(mu) if dist == "gaussian" else "white"
            lab = f"μ = {mu:g}" if mu not in labelled else None
            labelled.add(mu)
            a.errorbar(eff, v, yerr=Z * se, fmt=DIST_MARKERS[dist], color=_color(mu), mfc=fill,
                       ms=5, capsize=2, label=lab)
            jitter = _jitter(mu)
            b.errorbar(eff * jitter, v / f, yerr=Z * se / f, fmt=DIST_MARKERS[dist],
                       color=_color(mu), mfc=fill, ms=5, capsize=2)
            lv, lse = float(r.limit.value), float(r.limit.se)
            b.errorbar(eff * jitter * 1.02, lv / f, yerr=Z * lse / f, fmt="x", color=_color(mu),
                       ms=5, capsize=1, alpha=0.6)
        a.plot(effs, [mp.stationary_error(spectrum, e, 0.0, kurtosis=kurtosis[dist]) for e in effs],
               "k-" if dist == "gaussian" else "k-.", lw=1, label=f"formula, {dist}")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("effective step η/(1 − μ)")
    a.set_ylabel("stationary error E[1 − (e₁ᵀw)²] (95% CI)")
    a.set_title("Floor ∝ η/(1−μ)", fontsize=10)
    marker_legend(a, _dist_kinds(floor_rows), fontsize=8)
    a.grid(alpha=0.3, which="both")
    b.axhline(1.0, color="k", lw=1)
    _logx(b)
    b.set_xlim(a.get_xlim())
    b.set_xlabel("effective step η/(1 − μ)")
    b.set_ylabel("measured / predicted floor")
    b.set_title("Ratio to (η/(2(1−μ))) Σ α₁ᵢ²/(λ₁ − λᵢ)", fontsize=10)
    marker_legend(b, {"MSGD": dict(marker="o"), "SDE limit (EM)": dict(marker="x")}, fontsize=8)
    b.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, "floor.png")


def weak_error(out, weak):
    if not weak:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 4.6))
    for w in weak.values():
        mu = w["mu"]
        col = _color(mu)
        rows = w["escape_mean"]
        eta, d, se, pred = columns(rows, "eta", "mean_rel_diff", "se", "predicted_linear")
        fit = w["escape_order_fit"]
        lab = f"μ = {mu:g}"
        if fit.get("order") is not None:
            lab += f": fitted order {fit['order']:.2f} [{fit['ci'][0]:.2f}, {fit['ci'][1]:.2f}]"
        resolved = np.abs(d) > 2 * se
        lower = np.minimum(Z * se, 0.95 * np.abs(d))
        a.errorbar(eta, np.abs(d), yerr=[lower, Z * se], fmt="none", ecolor=col, capsize=2)
        a.plot(eta[resolved], np.abs(d[resolved]), "o", color=col, label=lab)
        a.plot(eta[~resolved], np.abs(d[~resolved]), "o", color=col, mfc="white")
        if np.any(pred > 0):
            a.plot(eta[pred > 0], pred[pred > 0], "--", color=col, lw=1)
        frows = w["floor"]
        if frows:
            fe, fd, fse, fp = columns(frows, "eta", "rel_diff", "se", "predicted_linear")
            ff = w["floor_order_fit"]
            flab = f"μ = {mu:g}"
            if ff.get("order") is not None:
                flab += f": fitted order {ff['order']:.2f} [{ff['ci'][0]:.2f}, {ff['ci'][1]:.2f}]"
            b.errorbar(fe, fd, yerr=Z * fse, fmt="o", color=col, capsize=2, label=flab)
            b.plot(fe, fp, "--", color=col, lw=1)
    a.plot([], [], "k--", lw=1, label="linear theory (heavy-ball AR(2) vs EM of the limit)")
    a.plot([], [], "o", color="k", mfc="white", label="not resolved (|d| < 2 SE)")
    loglog_panel(a, "step size η (μ fixed)", "|E N_MSGD / E N_limit − 1| (95% CI)",
                 "Discrete vs diffusion: mean escape iterations")
    b.axhline(0.0, color="k", lw=0.8)
    b.plot([], [], "k--", lw=1, label="linear theory (heavy-ball AR(2) vs EM of the limit)")
    b.set_xscale("log")
    b.set_xlabel("step size η (μ fixed)")
    b.set_ylabel("floor_MSGD / floor_limit − 1 (95% CI)")
    b.set_title("Discrete vs diffusion: stationary floor", fontsize=10)
    b.legend(fontsize=7)
    b.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, "weak_error.png")


def annealing(out, ann):
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.4, 1]})
    runs = ann["runs"]
    styles = {"step-size schedule": ("tab:red", "-"), "momentum schedule": ("tab:purple", "-."),
              "step-size schedule (long)": ("tab:brown", ":")}
    grays = iter(["0.0", "0.25", "0.45", "0.6", "0.75", "0.85", "0.9"])
    names = list(runs)
    for name in names:
        v = runs[name]
        col, ls = styles[name] if name in styles else (next(grays), "--")
        c = v["curve"]
        a.plot(np.maximum(c["steps"], 1), c["mean"], ls, color=col, lw=1.3, label=name)
    a.axhline(ann["target_error"], color="k", lw=0.8, ls=":", label=f"target ε = {ann['target_error']:g}")
    loglog_panel(a, "iteration k", "mean error 1 − (e₁ᵀw)²",
                 "Annealing keeps the fast escape and removes the floor\n(constants: μ = 0.9; the two "
                 "schedules share their η/(1−μ) trajectory)")
    finite = [n for n in names if np.isfinite(runs[n]["iterations_to_target"])]
    y = np.arange(len(finite))
    for i, n in enumerate(finite):
        v = runs[n]
        col = styles.get(n, ("0.4", ""))[0]
        b.errorbar(v["iterations_to_target"], i,
                   xerr=_yerr(v["iterations_to_target"], *v["iterations_to_target_ci"]), fmt="o",
                   color=col, capsize=3)
    b.set_yticks(y)
    b.set_yticklabels(finite, fontsize=8)
    b.set_xscale("log")
    b.set_xlabel(f"iterations until the mean error ≤ {ann['target_error']:g} (95% bootstrap CI)")
    never = [n for n in names if not np.isfinite(runs[n]["iterations_to_target"])]
    if never:
        b.set_title("never reached: " + ", ".join(never), fontsize=8)
    b.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.savefig(fig, "annealing.png")


def matrix_factorization(out, mf):
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(16, 4.6))
    problem, saddle, minimum, r_exit = mf["problem"], mf["saddle"], mf["minimum"], mf["exit_radius"]
    mus = sorted({r.params["mu"] for r in mf["escape_rows"]})
    for r in mf["escape_rows"]:
        eta, mu = r.params["eta"], r.params["mu"]
        eff = eta / (1 - mu)
        s = r.discrete
        a.errorbar(eff, eff * s.mean, yerr=eff * _yerr(s.mean, s.mean_low, s.mean_high), fmt="D",
                   color=_color(mu), ms=5, capsize=2)
        a.plot(eff * 1.03, eff * r.limit.mean, "x", color=_color(mu))
    effs = np.logspace(np.log10(min(r.params["eta"] / (1 - r.params["mu"]) for r in mf["escape_rows"]))
                       - 0.15, np.log10(max(r.params["eta"] / (1 - r.params["mu"])
                                            for r in mf["escape_rows"])) + 0.15, 30)
    a.plot(effs, [e * th.local_sde(problem, saddle, e, 0.0).exit_iterations_mean(r_exit) for e in effs],
           "k-", lw=1.2, label="local SDE (Hessian + Σ at the saddle)")
    for mu in mus:
        a.plot([], [], "D", color=_color(mu), label=f"μ = {mu:g}")
        if mu > 0:
            a.plot(effs, [e * th.local_sde(problem, saddle, e * (1 - mu), mu).exit_iterations_discrete(r_exit)
                          for e in effs], ":", color=_color(mu), lw=1.2)
    a.plot([], [], "k:", lw=1.2, label="heavy-ball AR(2) along u₁")
    a.plot([], [], "x", color="k", label="SDE limit (EM)")
    _logx(a)
    a.set_xlabel("effective step η/(1 − μ)")
    a.set_ylabel("(η/(1−μ))·E N, escape from √σ₂u₂")
    a.set_title("Escape collapses in η/(1−μ) (until η ≳ (1−μ)²/λ)", fontsize=10)
    a.legend(fontsize=7)
    a.grid(alpha=0.3, which="both")
    for r in mf["floor_rows"]:
        mu = r.params["mu"]
        eff = r.params["eta"] / (1 - mu)
        f = r.theory["formula"]
        v, se = float(r.discrete.value), float(r.discrete.se)
        jitter = _jitter(mu)  # the μ share their η/(1−μ): side by side
        b.errorbar(eff, v, yerr=Z * se, fmt="D", color=_color(mu), capsize=2)
        c.errorbar(eff * jitter, v / f, yerr=Z * se / f, fmt="D", color=_color(mu), capsize=2)
        c.errorbar(eff * jitter * 1.02, float(r.limit.value) / f,
                   yerr=Z * float(r.limit.se) / f, fmt="x", color=_color(mu), capsize=1, alpha=0.6)
    fe = np.logspace(-2.7, -1.3, 10)
    b.plot(fe, [th.local_sde(problem, minimum, e, 0.0).mean_squared_distance() for e in fe], "k-", lw=1,
           label="tr S, H S + S H = ηΣ/(1−μ)")
    for mu in mus:
        b.plot([], [], "D", color=_color(mu), label=f"μ = {mu:g}")
    _logx(b)
    b.set_yscale("log")
    b.set_xlabel("effective step η/(1 − μ)")
    b.set_ylabel("stationary E‖x − x*‖² (95% CI)")
    b.set_title("Floor ∝ η/(1−μ)", fontsize=10)
    b.legend(fontsize=7)
    b.grid(alpha=0.3, which="both")
    c.axhline(1.0, color="k", lw=1)
    _logx(c)
    c.set_xlim(b.get_xlim())
    c.set_xlabel("effective step η/(1 − μ)")
    c.set_ylabel("measured / local-SDE prediction")
    c.set_title("Floor ratio (D: MSGD, x: SDE limit; 95% CI; μ side by side)", fontsize=10)
    c.grid(alpha=0.3, which="both")
    fig.suptitle("Symmetric matrix factorization ¼‖xxᵀ − M‖² with noisy observations of M", fontsize=11)
    fig.tight_layout()
    out.savefig(fig, "matrix_factorization.png")

"""Figures of the adaptive-sde study: trajectories under the scaling rules (as in Malladi et al.
2022's figures: one curve per batch size, the rule's hyperparameters), weak errors against η and ℓ,
the stationary covariance and the exit-time distributions at a saddle."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sde_opt.stats import normal_quantile  # noqa: E402

from . import _style  # noqa: E402,F401  (the shared figure style)

Z95 = normal_quantile(0.95)


def scaling(out, model, res, base):
    """Training loss and test accuracy along training (epochs) for every κ, square-root rule (left)
    against the linear rule (right), mean over the runs with its 95% band."""
    curves = res["curves"]
    kappas = sorted({int(k.split("_")[1]) for k in curves})
    cmap = plt.get_cmap("viridis")
    color = {k: cmap(i / max(1, len(kappas) - 1)) for i, k in enumerate(kappas)}
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), sharex=True)
    for col, rule in enumerate(("sqrt", "linear")):
        for k in kappas:
            c = curves.get(f"{rule}_{k}") or (curves["sqrt_1"] if k == 1 else None)
            if c is None:
                continue
            e = np.asarray(c["epochs"])
            for row, (m, s) in enumerate((("loss_mean", "loss_se"), ("acc_mean", "acc_se"))):
                ax = axes[row, col]
                mean, se = np.asarray(c[m]), np.asarray(c[s])
                ax.plot(e, mean, "-o", ms=3, color=color[k], lw=1.4,
                        label=f"κ = {k} (batch {base['batch'] * k})")
                ax.fill_between(e, mean - Z95 * se, mean + Z95 * se, color=color[k], alpha=0.2,
                                lw=0)
        title = ("square-root rule: η√κ, 1−β → κ(1−β), ε/√κ" if rule == "sqrt"
                 else "linear rule: ηκ (β, ε as the square-root rule)")
        axes[0, col].set_title(title)
        axes[1, col].set_xlabel("epochs")
    axes[0, 0].set_ylabel("training loss (mean, 95% band)")
    axes[1, 0].set_ylabel("test accuracy (mean, 95% band)")
    # axes set by the square-root runs (the linear rule's runaway curves leave them)
    sq = [c for k, c in curves.items() if k.startswith("sqrt_")]
    lo = min(np.nanmin(np.asarray(c["loss_mean"])[1:]) for c in sq)
    hi = max(np.nanmax(np.asarray(c["loss_mean"])[1:]) for c in sq)
    alo = min(np.nanmin(np.asarray(c["acc_mean"])[1:]) for c in sq)
    for ax in axes[0]:
        ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.6 * (hi - lo))
    for ax in axes[1]:
        ax.set_ylim(max(alo - 0.6 * (1 - alo), 0.0), 1.0)
    for ax in axes.ravel():
        ax.set_xlim(0.4, max(np.max(c["epochs"]) for c in curves.values()) + 0.1)
    axes[0, 0].legend(loc="upper right", ncol=2)
    name = "logistic regression" if model == "logistic" else "MLP, 16 tanh units"
    fig.suptitle(f"Adam on digits ({name}, 30% label noise), batch κ·{base['batch']}; base η₀ = "
                 f"{base['eta']:g}, β₁ = {base['beta1']:g}, β₂ = {base['beta2']:g}\n"
                 "colours: κ as in the legend; epoch 0 and curves beyond the axes are cut",
                 fontsize=10)
    fig.tight_layout()
    out.savefig(fig, f"scaling_rule_{model}.png")


def weak_and_svag(out, weak, svag):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    marks = {"RMSprop": ("C0", "o"), "Adam": ("C1", "s")}
    for name, w in weak.items():
        eta, d, se = (np.asarray(w[k]) for k in ("eta", "diff", "se"))
        col, mk = marks.get(name, ("C3", "^"))
        label = f"{name}: slope {w['slope']:.2f} ± {w['slope_se']:.2f}"
        a1.errorbar(eta, np.abs(d), yerr=Z95 * se, fmt=mk + "-", color=col, ms=5, capsize=2,
                    label=label, mfc="none" if name not in marks else col)
    e = np.array(sorted(weak["RMSprop"]["eta"]))
    d0 = abs(weak["RMSprop"]["diff"][int(np.argmin(weak["RMSprop"]["eta"]))])
    a1.plot(e, d0 * (e / e.min()) ** 2, "k--", lw=1, label="slope 2 (symmetric noise)")
    a1.plot(e, d0 * (e / e.min()), "k:", lw=1, label="slope 1 (the paper's bound)")
    a1.set(xscale="log", yscale="log", xlabel="η (σ₀, ε₀, c₁, c₂ fixed; t = kη²)",
           ylabel="|E‖θ_T‖²(chain) − E‖θ_T‖²(SDE)| (95% CI)",
           title="weak error of RMSprop/Adam against their SDEs")
    a1.legend(loc="lower right")
    for name, s in svag.items():
        ell, err, se = (np.asarray(s[k]) for k in ("ell", "error", "se"))
        power = "noise ×" in name
        col = "C2" if name == "SGD" else ("C0" if name == "RMSprop" else "C3")
        a2.errorbar(ell, np.abs(err), yerr=Z95 * se, fmt=("^" if power else "o") + "-", color=col,
                    ms=5, capsize=2, mfc="none" if power else col,
                    label=f"{name}: slope {s['slope']:.2f} ± {s['slope_se']:.2f}")
    a2.set(xscale="log", yscale="log", xlabel="SVAG ℓ", ylabel="|weak error| at T (95% CI)",
           title="SVAG: weak error against ℓ")
    a2.set_xticks(sorted({x for s in svag.values() for x in s["ell"]}))
    a2.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    a2.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    a2.legend(loc="lower left")
    fig.tight_layout()
    out.savefig(fig, "weak_error.png")


def stationary_and_escape(out, stat, esc):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    labels = ["Var θ₁", "Cov θ₁θ₂", "Var θ₂"]
    idx = [(0, 0), (0, 1), (1, 1)]
    width = 0.25
    for k, (name, s) in enumerate(stat.items()):
        pred, meas, se = (np.asarray(s[key]) for key in ("predicted", "measured", "se"))
        x = np.arange(3) + (k - 1) * width
        power = s["noise_factor"] != 1.0
        a1.bar(x, [pred[i, j] for i, j in idx], width * 0.9, color="none",
               edgecolor="C3" if power else f"C{k}", hatch="//" if power else None,
               label=f"{name}: Lyapunov prediction")
        a1.errorbar(x, [meas[i, j] for i, j in idx], yerr=[Z95 * se[i, j] for i, j in idx],
                    fmt="o", color="k", ms=4, capsize=2)
    a1.errorbar([], [], fmt="o", color="k", ms=4, label="measured (95% CI)")
    a1.set_xticks(np.arange(3), labels)
    a1.set(ylabel="stationary covariance", title="quadratic, additive noise: chain vs SDE")
    a1.legend(loc="upper right")
    dt = esc["dt"]
    for name, steps in esc["steps"].items():
        t = np.sort(np.asarray(steps, float)) * dt
        surv = 1.0 - np.arange(1, t.size + 1) / t.size
        style = {"Adam": ("C1", "-"), "Adam SDE (EM)": ("k", "--")}.get(
            name, ("C3", ":") if "noise" in name else ("C2", "-"))
        a2.step(t, surv, where="post", color=style[0], ls=style[1], label=name)
    a2.set(xlabel="time t (Adam: kη²; SGD at η²/P*: the same time)", ylabel="P(τ > t)",
           title=f"leaving the saddle (|θ₁| ≥ {esc['setting']['r']:g})")
    a2.legend(loc="upper right")
    fig.tight_layout()
    out.savefig(fig, "stationary_and_escape.png")


__all__ = ["scaling", "weak_and_svag", "stationary_and_escape"]

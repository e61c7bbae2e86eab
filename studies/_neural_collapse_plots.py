"""Figures of the neural-collapse study (see studies/neural_collapse.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import t as student_t  # noqa: E402

from sde_opt.problems.normalized_ufm import optimal_value  # noqa: E402

from . import _style  # noqa: E402,F401  (the shared figure style)

LABELS = {"nc1": "NC1 = tr(Σ_W Σ_B†)/K", "nc2": "NC2 (classifier ETF distance)",
          "nc3": "NC3 (self-duality + ETF)", "gap": "f − f*"}


def _band(ax, x, values, color, label, floor=1e-16):
    """Median with an inter-quartile band over runs (rows), on a log axis."""
    v = np.maximum(np.asarray(values, np.float64), floor)
    med = np.nanmedian(v, axis=0)
    lo, hi = np.nanpercentile(v, 25, axis=0), np.nanpercentile(v, 75, axis=0)
    ax.plot(x, med, color=color, label=label, lw=1.6)
    ax.fill_between(x, lo, hi, color=color, alpha=0.25, lw=0)


def nc_curves(out, curves):
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.9))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(curves)))
    for (label, c), col in zip(curves.items(), colors, strict=True):
        x = np.maximum(c["steps"], 1)
        _band(axes[0], x, c["loss"] - c["f_star"], col, label.replace(",", ", "))
        for ax, m in zip(axes[1:], ("nc1", "nc2", "nc3"), strict=True):
            _band(ax, x, c[m], col, label)
    for ax, name in zip(axes, ("gap", "nc1", "nc2", "nc3"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Riemannian GD iteration")
        ax.set_title(LABELS[name], fontsize=10)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("median over random starts (band: quartiles)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Spherical UFM, Riemannian GD (η = 1, float32) from uniform random starts: "
                 "f → f* and NC1–NC3 → 0 for d = K−1, d = K, d > K "
                 "(the float32 floor is ≈1e-7)", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "nc_vs_iterations.png")


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
                 f"τ={e['tau']:g}; λ = τ/(K√n) = {lin.lam:.3f}, unstable multiplicity "
                 f"{lin.multiplicity} of {lin.tangent_dim}) after a uniform tangent kick of radius "
                 f"{e['kick']:g}, η = {e['eta']:g}", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "saddle_escape_ecdf.png")


def race(out, curves, r):
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4))
    colors = {"normalized (RGD)": "tab:blue", "regularized (GD)": "tab:red"}
    for label, c in curves.items():
        x = np.maximum(c["steps"], 1)
        _band(axes[0], x, c["nc1"], colors[label], f"{label}, η = {c['eta']:g}")
        _band(axes[1], x, c["loss"] - c["f_star"], colors[label], f"{label}, η = {c['eta']:g}")
    for t in r["targets"]:
        axes[0].axhline(t, color="gray", lw=0.8, ls=":")
    for ax, name in zip(axes, ("nc1", "gap"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_title(LABELS[name], fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"median over {r['runs']} seeds (band: quartiles)")
    fig.suptitle(f"Normalized (sphere, τ = {r['tau']:g}) vs weight-decayed (λ_W = λ_H = "
                 f"{r['lambda']:g}) UFM, K={r['k']}, d={r['d']}, n={r['n']}; each at its best η "
                 f"of {r['etas']}; dotted: NC1 targets", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "normalized_vs_regularized.png")


def temperature(out, rows, case):
    k = case[0]
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4))
    taus = np.array([r["tau"] for r in rows])
    grid = np.geomspace(taus.min() / 1.3, taus.max() * 1.3, 200)  # f* only over the measured τ
    axes[0].plot(grid, [optimal_value(k, t) for t in grid], "k-", label="f*(τ) closed form")
    axes[0].axhline(np.log(k), color="gray", ls=":", lw=0.8, label="log K (uniform softmax)")
    val = np.array([r["final_loss"]["value"] for r in rows])
    lo = np.array([r["final_loss"]["ci_low"] for r in rows])
    hi = np.array([r["final_loss"]["ci_high"] for r in rows])
    axes[0].errorbar(taus, val, yerr=[val - lo, hi - val], fmt="o", color="tab:blue", ms=5,
                     capsize=3, label="Riemannian GD, attained (95% CI over starts)")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    fstar = np.array([optimal_value(k, t) for t in taus])
    axes[0].set_ylim(0.3 * min(fstar.min(), lo[lo > 0].min() if np.any(lo > 0) else fstar.min()),
                     3 * np.log(k))
    axes[0].set_xlabel("τ (logit scale)")
    axes[0].set_ylabel("loss")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3, which="both")
    for m, col in (("nc1", "tab:blue"), ("nc2", "tab:orange"), ("nc3", "tab:green")):
        v = np.maximum([r[f"final_{m}"]["value"] for r in rows], 1e-16)
        axes[1].plot(taus, v, "o-", color=col, label=m.upper())
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("τ")
    axes[1].set_ylabel("mean over starts at the end of the budget")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3, which="both")
    fig.suptitle(f"Temperature sweep, K={case[0]}, d={case[1]}, n={case[2]}: attained loss vs "
                 "f*(τ) and NC metrics after a fixed RGD budget (η = 1)", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "temperature.png")


def mlp(out, curves, m):
    names = ("nc1", "nc2", "nc3", "loss", "test_acc")
    titles = {"nc1": "NC1 (train)", "nc2": "NC2", "nc3": "NC3", "loss": "training cross-entropy",
              "test_acc": "test accuracy"}
    fig, axes = plt.subplots(1, 5, figsize=(19, 3.8))
    colors = {"normalized": "tab:blue", "weight-decayed": "tab:red"}
    for label, c in curves.items():
        for ax, name in zip(axes, names, strict=True):
            v = np.asarray(c[name], np.float64)
            x = np.arange(v.shape[1])
            mean = v.mean(0)
            q = student_t.ppf(0.975, v.shape[0] - 1) if v.shape[0] > 1 else 0.0
            half = q * v.std(0, ddof=1) / np.sqrt(v.shape[0]) if v.shape[0] > 1 else 0 * mean
            ax.plot(x, mean, color=colors[label], label=label)
            ax.fill_between(x, mean - half, mean + half, color=colors[label], alpha=0.25, lw=0)
    fstar = optimal_value(10, m["tau"])
    axes[3].axhline(fstar, color="tab:blue", ls=":", lw=1,
                    label=f"normalized floor f*(τ={m['tau']:g}) = {fstar:.3f}")
    axes[3].legend(fontsize=7)
    for ax, name in zip(axes, names, strict=True):
        ax.set_title(titles[name], fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
        if name.startswith("nc"):
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    axes[0].set_ylabel(f"mean over {m['seeds']} seeds (band: 95% t-CI)")
    fig.suptitle(f"MLP on sklearn digits (optax SGD, lr 0.05, momentum 0.9, batch 128): "
                 f"normalized penultimate features (τ = {m['tau']:g}) vs weight decay "
                 f"λ = {m['lambda']:g}", fontsize=10)
    fig.tight_layout()
    out.savefig(fig, "mlp_digits.png")

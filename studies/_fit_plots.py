"""Figures of the fit-traces study (matplotlib, Agg): fitted/limit ratios with 95% intervals,
the Hessian spectrum, autocorrelations against the exact heavy-ball law, conditional moments."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sde_opt.fit import as_trace, fit_ou  # noqa: E402
from sde_opt.fit.plots import plot_fit  # noqa: E402

from . import _style  # noqa: E402,F401  (the shared figure style)


def figures(out, rows, runs, evals, traces, *, k_dirs, stride, eta_eff_lambda) -> None:
    # 1. fitted / limit ratios with 95% intervals, per run and quantity
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    titles = {"D (OU MLE)": "diffusion D", "A (OU MLE)": "drift matrix A",
              "S (OU MLE)": "stationary covariance S"}
    for ax, q in zip(axes, titles):
        sel = [r for r in rows if r["quantity"].startswith(q)]
        names = list(dict.fromkeys(r["run"] for r in sel))
        for j, name in enumerate(names):
            rs = [r for r in sel if r["run"] == name]
            xs = j + np.linspace(-0.2, 0.2, len(rs))
            ratio = np.array([r["ratio_fit_to_limit"] for r in rs])
            lo = ratio - np.array([r["ratio_ci"][0] for r in rs])
            hi = np.array([r["ratio_ci"][1] for r in rs]) - ratio
            ax.errorbar(xs, ratio, yerr=[lo, hi], fmt="o", color=f"C{j}", ms=4,
                        label="fitted (95% CI)" if j == 0 else None)
            ax.plot(xs, [r["exact_discrete"] / r["limit"] for r in rs], "k_", ms=12, mew=2,
                    label="exact discrete (noise at θ*)" if j == 0 else None)
            ax.plot(xs, [r["exact_discrete_trace_noise"] / r["limit"] for r in rs], "_",
                    color="C3", ms=12, mew=2,
                    label="exact discrete (noise along trace)" if j == 0 else None)
        ax.axhline(1.0, color="0.5", ls="--", lw=1, label="diffusion limit")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=20, fontsize=8)
        ax.set_ylabel("fitted / diffusion limit")
        ax.set_title(f"{titles[q]} (OU MLE): diagonal entries in the top-{k_dirs} Hessian "
                     "directions", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    out.savefig(fig, "ratios.png")

    # 2. Hessian spectrum
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.loglog(np.arange(1, evals.size + 1), evals, ".", ms=3, label="eigenvalues")
    ax.loglog(np.arange(1, k_dirs + 1), evals[:k_dirs], "o", color="C3",
              label=f"recorded directions (top {k_dirs})")
    ax.set_title(f"Hessian spectrum at θ* ({evals.size} parameters; floor = the L2 penalty)",
                 fontsize=9)
    ax.set_xlabel("index (descending)")
    ax.set_ylabel("Hessian eigenvalue at θ*")
    ax.legend()
    out.savefig(fig, "hessian_spectrum.png")

    # 3. autocorrelation of the top coordinate against lag in steps (all runs share η/(1 − μ))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    lags = np.arange(0, 16)
    steps = lags * stride
    for j, (name, u) in enumerate(traces.items()):
        r = runs[name]
        x = u[..., 0] - u[..., 0].mean()
        ac = np.array([np.mean(x[:, : x.shape[1] - k] * x[:, k:]) for k in lags]) / np.mean(x * x)
        ax.plot(steps, ac, "o", ms=4, color=f"C{j}", label=f"{name} (data)")
        ax.plot(steps, heavy_ball_autocorrelation(evals[0], r["eta"], r["mu"], steps), "-",
                color=f"C{j}", lw=1)
    ax.plot(steps, np.exp(-eta_eff_lambda * steps), "k--", lw=1, label="diffusion limit")
    ax.plot([], [], "-", color="0.4", lw=1, label="exact heavy ball (same colour)")
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.set_xlabel("lag (optimizer steps)")
    ax.set_ylabel("autocorrelation of u₁")
    ax.set_title("top Hessian direction; solid: exact heavy-ball (quadratic, i.i.d. noise)",
                 fontsize=9)
    ax.legend(fontsize=7)
    out.savefig(fig, "autocorrelation.png")


def heavy_ball_autocorrelation(h, eta, mu, lags):
    """Exact stationary autocorrelation of θ for heavy ball on f = hθ²/2 with i.i.d. noise."""
    from scipy import linalg

    from sde_opt.fit import heavy_ball_chain

    M, Nm, C, _ = heavy_ball_chain([[h]], [[1.0]], eta, mu)
    P = linalg.solve_discrete_lyapunov(M, Nm @ C @ Nm.T)
    return np.array([(np.linalg.matrix_power(M, int(k)) @ P)[0, 0] / P[0, 0] for k in lags])


def conditional_moments(out, u, dt) -> None:
    """Binned conditional drift and diffusion of one trace against its OU fit."""
    fig = plot_fit(fit_ou(u, dt), as_trace(u, dt), bins=25)
    for ax in fig.axes:   # the default ticks of the small position range overlap
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
    fig.suptitle("SGD, i.i.d. minibatches: conditional moments of the top-3 projections "
                 "against the OU fit", y=1.02)
    out.savefig(fig, "sgd_iid_conditional_moments.png")

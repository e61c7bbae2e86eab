"""Momentum SGD → its diffusion limit: the weak error of the escape time shrinks like η.

At fixed μ = 0.9, MSGD (heavy ball on streaming PCA, from the saddle e₂) and Euler–Maruyama of
its limit dX = −∇f/(1−μ) dt + (√η/(1−μ)) Σ^{1/2} dW (step η, t = kη) are run at
η ∈ {1e-3, 2e-3, 4e-3, 8e-3}; the distance is the relative difference of the mean escape
iterations, d(η) = E N_MSGD / E N_limit − 1. Linear theory along e₁ (the AR(2) growth rate of
heavy ball vs EM's 1 + η λ') gives d(η) ≈ μηg/(1−μ)² + O(η²): order 1. The checks: the fitted
log-log slope of d against η (weighted by the Monte-Carlo SEs, ±4 SE) contains the linear
theory's slope over the same η, and d at the smallest η matches the linear theory.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

import sde_opt as so
from sde_opt import stats
from sde_opt.sweep import compare_exit_times
from sde_opt.theory import momentum_pca as mp

from ._framework import check, compare, compare_interval

SPECTRUM = (1.0, 0.5, 0.4, 0.32, 0.25, 0.2, 0.15, 0.1, 0.07, 0.05)
MU = 0.9
ETAS = (1e-3, 2e-3, 4e-3, 8e-3)


def cos2_e1(w):
    return w[0] ** 2 / jnp.sum(w * w)


@check("msgd-weak-error-order")
def weak_order():
    problem = so.StreamingPCA(SPECTRUM)

    def horizon(p):
        e = mp.pca_escape(SPECTRUM, p["eta"], p["mu"])
        return int(1.5 * max(e.discrete, e.mean) + 20 * e.sd)

    rows = compare_exit_times(lambda eta, mu: so.MomentumSGD(problem, eta, mu),
                              [{"eta": e, "mu": MU} for e in ETAS], jnp.eye(len(SPECTRUM))[1], 202,
                              events=[so.Threshold(cos2_e1, 0.5)], n_paths=2048, n_steps=horizon,
                              theory=lambda p: mp.pca_escape(SPECTRUM, p["eta"], p["mu"]).as_dict())
    d, se, pred = [], [], []
    for r in rows:
        a, b = r.discrete, r.limit
        d.append(a.mean / b.mean - 1.0)
        se.append(a.mean / b.mean * math.hypot(a.mean_se / a.mean, b.mean_se / b.mean))
        pred.append(r.theory["discrete"] / r.theory["em"] - 1.0)
    d, se, pred = map(np.asarray, (d, se, pred))
    fit = stats.slope_fit(ETAS, np.abs(d), y_se=se)
    pred_slope = float(np.polyfit(np.log(ETAS), np.log(np.abs(pred)), 1)[0])
    lo, hi = fit.slope - 4 * fit.slope_se, fit.slope + 4 * fit.slope_se
    order = compare_interval(
        "weak error MSGD→limit (mean escape time) has the order of the linear theory (≈1) at μ=0.9",
        pred_slope, fit.slope, lo, hi,
        reference="log-log slope of the linear theory's relative gap (heavy ball's discrete "
                  "AR(2) prediction vs EM of the limit at step η, theory.momentum_pca)",
        note=f"relative differences {np.round(d, 4).tolist()} ± {np.round(se, 4).tolist()} at η={ETAS}; "
             f"linear theory {np.round(pred, 4).tolist()}; χ²={fit.chi2:.2f} on {fit.dof} dof")
    small = compare("relative escape-time difference MSGD − limit at η=1e-3, μ=0.9 = linear theory",
                    float(pred[0]), float(d[0]), float(se[0]),
                    reference="heavy ball's discrete AR(2) prediction / EM-of-the-limit prediction "
                              "− 1 (theory.saddle_exit; both hand-derived discrete formulas)")
    return [order, small]

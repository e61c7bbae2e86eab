"""Beyond PCA: the momentum-SGD claims on symmetric matrix factorization, f = ¼‖xxᵀ − M‖².

The predictions come from the generic local SDE (``sde_opt.theory.local_sde``): the Hessian
and the gradient-noise covariance at the strict saddle √σ₂u₂ (escape until |a₁| ≥ |a₂|, i.e. the
unstable coordinate reaches r = √σ₂ — the ratio a₁/a₂ grows exactly linearly under the gradient
flow) and at the minimum √σ₁u₁ (floor E‖x − x*‖² = tr S, H S + S H = ηΣ/(1 − μ)). M = diag(1, 0.5,
0.35, 0.25, 0.15, 0.1), GOE observation noise of standard deviation 1, 2048 paths (escape) and
512 paths (floor). The references are heavy ball's discrete (AR(2)) predictions on the local
linear model; the diffusion-limit statements are tested as written, without allowance.
"""

from __future__ import annotations

import functools
import math

import jax.numpy as jnp
import numpy as np

import sde_opt as so
from sde_opt import stats
from sde_opt import theory as th
from sde_opt.experiment.verdict import Deviation

from ._framework import check, compare

SIGMAS = (1.0, 0.5, 0.35, 0.25, 0.15, 0.1)


def ratio_event(x):
    return x[0] ** 2 - x[1] ** 2


def _problem():
    return so.MatrixFactorization(SIGMAS, 1.0)


@functools.cache
def _escape(eta: float, mu: float):
    p = _problem()
    saddle = np.asarray(p.critical_points()["saddle"][0])
    loc = th.local_sde(p, saddle, eta, mu)
    r = math.sqrt(SIGMAS[1])
    horizon = int(1.5 * max(loc.exit_iterations_mean(r), loc.exit_iterations_discrete(r))
                  + 20 * loc.exit_iterations_sd())
    res = so.simulate(so.MomentumSGD(p, eta, mu), jnp.asarray(saddle), 303, n_paths=2048,
                      n_steps=horizon, events=[so.Threshold(ratio_event, 0.0)])
    return stats.exit_time_summary(res, unit="steps"), loc, r


_LOCAL_REF = ("local SDE at the saddle √σ₂u₂ (Hessian and gradient-noise covariance of the problem, "
              "theory.local_sde): exact Dawson-integral mean of the unstable coordinate")
_DISC_REF = ("heavy ball's AR(2) chain along the unstable eigenvector of the local model "
             "(hand-derived growth ρ, Var W, O(σ²) and overshoot terms; "
             "LocalSDE.exit_iterations_discrete)")


@check("msgd-mf-escape")
def mf_escape():
    out = []
    for eta, mu in ((6e-3, 0.0), (6e-4, 0.9)):
        s, loc, r = _escape(eta, mu)
        pred, disc = loc.exit_iterations_mean(r), loc.exit_iterations_discrete(r)
        note = (f"local SDE at √σ₂u₂: rate {loc.escape_rate:.4g}, noise {loc.escape_noise:.4g}, "
                f"r = {r:.4g}")
        out.append(compare(f"matrix factorization: mean escape iterations = heavy-ball discrete "
                           f"(η={eta:g}, μ={mu:g})", disc, s.mean, s.mean_se, reference=_DISC_REF,
                           note=note))
        dev = None
        if mu > 0:
            dev = Deviation(
                reason="the diffusion limit's growth rate η_eff λ exceeds heavy ball's discrete "
                       "ln ρ by ≈ μη_eff λ/(1−μ)² (an O(η) effect, here "
                       f"{disc - pred:+.1f} iterations)",
                holds="the discrete heavy-ball prediction (previous claim)")
        out.append(compare(f"matrix factorization: mean escape iterations = local SDE, diffusion "
                           f"limit (η={eta:g}, μ={mu:g})", pred, s.mean, s.mean_se,
                           reference=_LOCAL_REF, deviation=dev,
                           note=f"no allowance; discrete prediction {disc:.1f}"))
    a, la, _ = _escape(6e-4, 0.9)
    b, lb, r = _escape(6e-3, 0.0)
    ratio = a.mean / b.mean
    se = ratio * math.hypot(a.mean_se / a.mean, b.mean_se / b.mean)
    disc = la.exit_iterations_discrete(r) / lb.exit_iterations_discrete(r)
    out.append(compare("matrix factorization: E N(6e-4, 0.9)/E N(6e-3, 0) = ratio of discrete "
                       "predictions", disc, ratio, se, reference=_DISC_REF + "; ratio of the two"))
    out.append(compare("matrix factorization: escape depends on η/(1−μ) only (paper): "
                       "E N(6e-4, 0.9)/E N(6e-3, 0) = 1", 1.0, ratio, se,
                       reference="diffusion limit: iterations depend on η_eff = η/(1 − μ) only",
                       note=f"no allowance; the discrete ratio {disc:.4f} is "
                            f"{abs(disc - 1) / se:.1f} SE from 1"))
    return out


@check("msgd-mf-floor")
def mf_floor():
    p = _problem()
    x_min = jnp.asarray(p.critical_points()["minimum"][0])
    eta_eff = 4e-3
    out = []
    for mu in (0.0, 0.9):
        eta = eta_eff * (1 - mu)
        res = so.simulate(so.MomentumSGD(p, eta, mu), x_min, 404, n_paths=512,
                          n_steps=int(25 / eta_eff), observables={"d2": p.distance_to_minimum},
                          stride=10)
        v = res.observables["d2"]
        est = stats.batch_means(v, burn_in=v.shape[1] // 5)
        loc = th.local_sde(p, np.asarray(x_min), eta, mu)
        pred, disc = loc.mean_squared_distance(), loc.mean_squared_distance(discrete=True)
        out.append(compare(f"matrix factorization: floor E‖x−x*‖² = tr of heavy ball's exact "
                           f"covariance of the local model (η={eta:g}, μ={mu:g})", disc,
                           float(est.value), float(est.se),
                           reference="heavy ball's exact stationary covariance (vector Stein "
                                     "equation, §2) at the local Hessian and noise covariance"))
        out.append(compare(f"matrix factorization: floor E‖x−x*‖² = tr S, H S + S H = ηΣ/(1−μ) "
                           f"(diffusion limit; η={eta:g}, μ={mu:g})", pred, float(est.value),
                           float(est.se), reference="continuous Lyapunov solve of the local SDE",
                           note=f"no allowance; AR(2) value {disc:.5g}"))
    return out

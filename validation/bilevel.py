"""Bilevel optimization (Huang, Chen, Ji, Ma & Lai, JMLR 2025; papers.md §3): AID, perturbed AID,
StocBiO and its reduced SDE on [`QuadraticBilevel`][sde_opt.QuadraticBilevel] (κ = 10, d_y = 20).

Claims and their independent references:

* AID's hypergradient equals the implicit-function closed form ∇Φ = ωx³ + γx (exact Φ);
* AID with warm start contracts its hypergradient error per outer step by (1 − αμ)^D when the
  inner loop limits it (the transient of the second mode, from the spectrum, is the bias), and by
  at most the Chebyshev factor c_N when CG limits it; without warm start it does not contract;
* perturbed AID: unperturbed AID at the saddle stays; after the kick the escape iteration follows
  the kicked-linear law (``sde_opt.theory.kicked_escape``; bias: the exact nonlinear 1-D map's
  shift of the mean, a formula);
* StocBiO's one-step moments from the exact inner solution (mean −∇Φ_Q, covariance from the
  oracle covariances through the implicit function theorem);
* StocBiO's escape time from the saddle → the reduced SDE's exit time (exact 1-D quadrature);
  bias: |EM − continuous| of the linear saddle (the O(β) discretization scale);
* StocBiO's stationary variance at the minimum → the Lyapunov covariance of the reduced SDE with
  the long-run Σ_Φ; bias: |EM − continuous| Lyapunov covariance;
* the Õ(ε⁻²) and κ-power bounds for iterations to an ε-SOSP (bound checks; documented deviation:
  on this landscape the growth is logarithmic in 1/ε and independent of κ).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

import sde_opt as so
from sde_opt import stats
from sde_opt.problems.bilevel import inner_error_covariances
from sde_opt.studies import _bilevel_measure as m
from sde_opt.theory import bilevel as tb
from sde_opt.theory import kicked_escape as ke

from ._framework import check, compare, compare_interval

Z = 4.0


@check("bilevel-aid-hypergradient")
def aid_hypergradient():
    out = []
    with jax.enable_x64(True):
        for kappa in (10.0, 100.0):
            p = m.quadratic(kappa)
            x = jnp.asarray(m.X_FIXED)
            alg = so.AID(p, 1.0 / p.lower_smoothness, 0.1, D=int(30 * kappa), N=40)
            s = jax.jit(lambda st, z: alg.step(st, z))(alg.init(x), jnp.zeros(1))
            exact = p.grad(x)
            rel = float(jnp.linalg.norm(s.g - exact) / jnp.linalg.norm(exact))
            out.append(compare(f"AID hypergradient = closed-form ∇Φ (relative error, κ={kappa:g}, "
                               f"D={30 * kappa:g}, N=40, float64)", 0.0, rel, 0.0, bias=1e-6,
                               note="tolerance 1e-6 relative",
        bias_source='requested accuracy of the D-step inner loop and N-step CG at this κ (1e-6 relative)'))
    return out


@check("bilevel-aid-warm-start-contraction")
def aid_contraction():
    out = []
    for kappa, D, N in ((10.0, 1, 40), (10.0, 3, 40), (100.0, 10, 40)):
        p = m.quadratic(kappa)
        a = 1.0 / p.lower_smoothness
        e = m.aid_error_curve(p, m.X_FIXED, a, D, N, 80)
        rate, k = m.tail_rate(e)
        pred = tb.aid_contraction(alpha=a, mu=p.lower_strong_convexity, ell=p.lower_smoothness,
                                  D=D, N=N)
        modes = m.two_mode_prediction(p, m.X_FIXED, a, D, 80)
        transient = abs(modes[k] / modes[k - 1] - pred["gd"])
        out.append(compare(f"warm-start AID error contraction per outer step = (1−αμ)^D "
                           f"(κ={kappa:g}, D={D}, N={N}, round {k})", pred["gd"], rate, 0.0,
                           bias=transient + rate * (1e-6 + 1e-14 / e[k]),
                           note="deterministic; bias = the second mode's transient at round k "
                                "(from the spectrum) + 1e-6 relative + float64 rounding 1e-14/e_k",
        bias_source=("the second spectral mode's transient at round k (from the lower level's "
                     'spectrum) + 1e-6 relative + float64 rounding')))
        cold = m.aid_error_curve(p, m.X_FIXED, a, D, N, 20, warm=False)
        out.append(compare(f"cold-start AID does not contract (κ={kappa:g}, D={D}): e_20/e_1 = 1",
                           1.0, float(cold[-1] / cold[0]), 0.0, bias=1e-9,
        bias_source='float64 rounding of the error ratio'))
    for N in (1, 2, 4):
        p = m.quadratic(10.0)
        a = 1.0 / p.lower_smoothness
        e = m.aid_error_curve(p, m.X_FIXED, a, 400, N, 60)
        rate, k = m.mean_rate(e)
        bound = tb.cg_contraction_bound(p.lower_smoothness / p.lower_strong_convexity, N)
        out.append(compare_interval(f"CG-limited warm-start AID contraction ≤ Chebyshev bound c_N "
                                    f"(κ=10, D=400, N={N}; geometric mean over rounds 1..{k})",
                                    bound, rate, rate, 1.0,
                                    note="passes when the measured rate ≤ c_N (an upper bound)"))
    return out


@check("bilevel-perturbed-aid-escape")
def perturbed_aid_escape():
    k = dict(kappa=10.0, beta=0.2, radius=1e-3, escape_radius=0.1, D=50, N=20)
    p = m.quadratic(k["kappa"])
    out = [compare("AID (no perturbation) started at the strict saddle stays: max ‖x_k‖ over 200 "
                   "steps", 0.0, m.unperturbed_stays(p, beta=k["beta"], D=k["D"], N=k["N"],
                                                       n_steps=200), 0.0, bias=0.0)]
    growth = tb.perturbed_aid_escape_growth(p, np.zeros(2), k["beta"])
    law = dict(r=k["radius"], radius=k["escape_radius"], dim=2, growth=growth)
    horizon = int(ke.kicked_escape_quantile(1 - 1e-6, **law)) + 40
    n = 2048
    res = m.perturbed_escape(p, beta=k["beta"], radius=k["radius"], escape_radius=k["escape_radius"],
                             D=k["D"], N=k["N"], n_paths=n, n_steps=horizon, seed=7)
    iters = res.steps[res.exited] - 1
    out.append(compare("perturbed AID escapes: fraction of paths with |x₁| ≥ R within the horizon",
                       1.0, float(res.exited.mean()), 0.0, bias=1e-6,
        bias_source='none: an exact fraction (1e-6 for the float comparison)'))
    thresholds = m.nonlinear_thresholds(p, k["beta"], k["escape_radius"], horizon)
    nonlin = m.nonlinear_kicked_mean(thresholds, k["radius"], 2)
    pred = ke.kicked_escape_mean(**law)
    est = stats.iid_mean(iters.astype(float))
    out.append(compare("perturbed AID mean escape iteration after the kick = kicked-linear law",
                       pred, float(est.value), float(est.se), bias=abs(nonlin - pred),
                       note="bias: the exact 1-D map's shift of the mean (cubic term of ∇Φ)",
        bias_source=("the exact 1-D map's shift of the mean escape iteration from the cubic term of ∇Φ "
                     '(nonlinear_kicked_mean)')))
    grid = np.arange(horizon)
    ecdf = np.searchsorted(np.sort(iters), grid, side="right") / iters.size
    gap = float(np.max(np.abs(ecdf - ke.kicked_escape_cdf(grid, **law))))
    band = math.sqrt(math.log(2 / 6e-5) / (2 * iters.size))
    out.append(compare_interval("perturbed AID escape-iteration ECDF within the DKW band of the "
                                "kicked-linear law (sup gap; level 6e-5)", 0.0, gap, gap - band,
                                gap + band))
    return out


@check("bilevel-stocbio-one-step")
def stocbio_one_step():
    with jax.enable_x64(True):
        p = m.quadratic(10.0, sigma_f=0.3, sigma_g=0.3, d_y=8)
        alpha, beta, D, Q = 0.1, 0.01, 4, 6
        alg = so.StocBiO(p, alpha=alpha, beta=beta, D=D, Q=Q)
        x = jnp.array([0.3, -0.5])
        s0 = alg.init(x, p.y_star(x))
        n = 40000
        keys = jax.random.split(jax.random.key(3), n)
        dx = jax.jit(jax.vmap(lambda kk: alg.step(s0, alg.noise.sample(kk, jnp.float64)).x - x))(keys)
        dx = np.asarray(dx) / beta
        red = alg.reduced_problem()
        mean = -np.asarray(red.grad(x))
        y, mq, gy = red._maps(x)
        _, w, _, _ = inner_error_covariances(p, x, alpha, D)
        cov = np.asarray(mq @ p.upper_grads_cov(x, y) @ mq.T + gy @ w @ gy.T)
    out = []
    for i in range(2):
        out.append(compare(f"StocBiO E[Δx_{i + 1}]/β = −∇Φ_Q (from y = y*)", mean[i],
                           float(dx[:, i].mean()), float(np.sqrt(cov[i, i] / n))))
        var = float(dx[:, i].var(ddof=1))
        out.append(compare(f"StocBiO Var[Δx_{i + 1}]/β² = (M_Q C_F M_Qᵀ + G_y W G_yᵀ)_{i + 1}{i + 1}",
                           cov[i, i], var, float(np.sqrt(2.0 / (n - 1)) * cov[i, i]),
                           note="Gaussian SE of a variance (the increment is Gaussian)"))
    return out


@functools.cache
def _escape(beta, n):
    return m.stocbio_saddle_escape(beta, radius=0.3, n_paths=n, seed=17)


@check("bilevel-stocbio-reduced-sde-escape")
def stocbio_reduced_sde_escape():
    out = []
    for beta, n in ((0.03, 2048), (0.01, 2048)):
        res, pr = _escape(beta, n)
        s = stats.exit_time_summary(res, unit="time")
        out.append(compare(f"StocBiO mean escape time from the saddle = reduced SDE (β={beta:g})",
                           pr["pred_time"], s.mean, s.mean_se,
                           bias=abs(pr["em_time"] - pr["linear_time"]),
                           note="reduced SDE: −∇Φ_Q drift (finite-Q bias) and long-run Σ_Φ; bias = "
                                "|EM − continuous| exit time of the linear saddle (O(β))",
        bias_source=('the O(β) Euler discretization of the linear saddle: |EM − continuous| exit time '
                     'from the Dawson formulas')))
    return out


@check("bilevel-stocbio-stationary-covariance")
def stocbio_stationary():
    out = []
    beta, n = 0.01, 2048
    res, pr = m.stocbio_stationary(beta, n_paths=n, seed=23)
    f = res.final[res.status != 2]
    for i in range(2):
        v = float(f[:, i].var(ddof=1))
        se = float(np.sqrt(2.0 / (f.shape[0] - 1)) * v)
        out.append(compare(f"StocBiO stationary Var x_{i + 1} at the minimum = Lyapunov covariance of "
                           f"the reduced SDE with the long-run Σ_Φ (β={beta:g})", pr["pred"][i, i], v,
                           se, bias=abs(pr["pred_em"][i, i] - pr["pred"][i, i]),
                           note=f"one-call Σ would predict {pr['pred_one_call'][i, i]:.3g}",
        bias_source=('the O(β) Euler discretization: |EM − continuous| Lyapunov variance of the '
                     'reduced linear SDE')))
    return out


@check("bilevel-sosp-complexity-bounds")
def sosp_bounds():
    eps_grid, kappas, n = (1e-1, 1e-2, 1e-3), (3.0, 30.0, 300.0), 32
    by_eps = [m.sosp_iterations(10.0, e, n_paths=n, seed=29)[0] for e in eps_grid]
    by_kappa = [m.sosp_iterations(k, 1e-2, n_paths=n, seed=29)[0] for k in kappas]
    out = []
    for label, xs, res, bound, paper in (
            ("ε", eps_grid, by_eps, -2.0, "Õ(ε⁻²) iterations"),
            ("κ", kappas, by_kappa, 3.0, "Õ(κ³) outer iterations (L_Φ = O(κ³))")):
        means = np.array([r.steps[r.exited].mean() for r in res])
        ses = np.array([r.steps[r.exited].std(ddof=1) / np.sqrt(r.exited.sum()) for r in res])
        fit = stats.slope_fit(np.asarray(xs), means, y_se=np.maximum(ses, 1e-9))
        lo, hi = fit.slope - Z * fit.slope_se, fit.slope + Z * fit.slope_se
        if label == "ε":
            v = compare_interval(f"iterations to an ε-SOSP grow no faster than {paper}: log-log slope "
                                 "vs ε ≥ −2", bound, fit.slope, -np.inf, hi,
                                 note=f"documented deviation: the bound is not attained here; measured "
                                      f"slope {fit.slope:.3f} [{lo:.3f}, {hi:.3f}] ≈ log(1/ε) growth "
                                      "(escape from a kick of radius ε/(400ι³) at a fixed rate)")
        else:
            v = compare_interval(f"iterations to an ε-SOSP grow no faster than {paper}: log-log slope "
                                 "vs κ ≤ 3", bound, fit.slope, lo, np.inf,
                                 note=f"documented deviation: Φ does not depend on κ here, measured "
                                      f"slope {fit.slope:.3f} [{lo:.3f}, {hi:.3f}]; κ enters only "
                                      "the inner loops (D ∝ κ, N ∝ √κ)")
        out.append(v)
    return out

"""Escaping saddles in bilevel optimization (Huang, Chen, Ji, Ma & Lai, JMLR 2025): AID's warm
start, perturbed AID, StocBiO + iNEON, StocBiO's reduced SDE, and a real-data problem.

Problems: [`QuadraticBilevel`][sde_opt.QuadraticBilevel] (g = ½yᵀQy − yᵀBx, κ adjustable; Φ a separable
quartic, so its critical points, curvatures and the exact gradient map are closed forms) and
[`digits`][sde_opt.HyperCleaning.digits] (scikit-learn's handwritten digits, a logistic lower level,
minibatch oracles). Parts:

A. **Warm-start contraction** — AID's hypergradient error at a fixed x against the outer round, for
   several (D, N), warm and cold, against ``aid_contraction``.
B. **Perturbed AID at the saddle** — the escape iteration after the paper's kick x − βξ against
   the kicked-linear law (``sde_opt.theory.kicked_escape``).
C. **κ** — iterations of perturbed AID (the paper's template: β = 1/L_Φ, D = ⌈κι⌉, N = ⌈√κι⌉)
   from the saddle to an ε-second-order stationary point on an instance where κ enters Φ's
   smoothness (L_Φ ∝ κ^{4/3}), against an exact-gradient perturbed GD; fitted κ-exponent.
D. **ε** — the same from generic starts on a landscape with four strict saddles: the fitted
   ε-exponent, and the slope in ln(1/ε) against the contraction at the minima.
E. **iNEON vs StocBiO** — escape-cost distributions (Kaplan–Meier, censored at a common budget of
   oracle calls), independent oracle draws in iNEON, its jump smaller than the escape radius, at
   a small and a large oracle noise.
F. **iNEON's complexity** — StocBiO + iNEON's iterations and oracle calls to an ε-local minimum
   against ε and κ with real oracle noise, beside the paper's bounds.
G. **StocBiO vs its reduced SDE** — escape time from the saddle against the reduced SDE's exact
   1-D exit time as β shrinks; stationary covariance against its Lyapunov covariance.
H. **Real data** — hyper-cleaning on digits: AID's warm-start rate against the lower level's
   spectrum at y*(x) (a logistic lower level), StocBiO's diffusion coefficient against the
   limit's Σ_Φ (minibatch Hessian- and Jacobian-vector products), its drift against the limit's
   ∇Φ_Q + s (s the inner shift, in ``summary["digits"]["drift"]``), and AID, StocBiO and their
   limits (the gradient flows of Φ and Φ_Q) from uniform weights.

``--quick`` runs every part on small grids.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from sde_opt import stats
from sde_opt.experiment.verdict import compare
from sde_opt.theory import bilevel as tb
from sde_opt.theory import kicked_escape as ke

from . import _bilevel_data as data
from . import _bilevel_measure as m
from . import _bilevel_plots as plots
from . import _bilevel_rates as rates

NAME = "bilevel-escape"
DESCRIPTION = ("Bilevel saddle escape: AID warm-start contraction, perturbed AID vs the kicked law, "
               "iterations to an ε-SOSP against κ and ε, StocBiO+iNEON vs StocBiO at equal oracle "
               "budgets, StocBiO vs its reduced SDE, hyper-cleaning on digits")
Z = 4.0


@dataclasses.dataclass(frozen=True)
class Config:
    mode: str
    contraction_kappas: tuple
    contraction_grid: tuple        # (D, N)
    contraction_rounds: int
    kick_paths: int
    kappa_grid: tuple
    kappa_paths: int
    eps_grid: tuple
    eps_paths: int
    ineon_sigmas: tuple
    ineon_paths: int
    complexity_eps: tuple
    complexity_kappas: tuple
    complexity_paths: int
    sde_betas: tuple
    sde_paths: int
    stationary_betas: tuple
    stationary_paths: int
    digits_paths: int
    digits_steps: int
    frozen_paths: int
    n_boot: int = 400

    def as_dict(self):
        return dataclasses.asdict(self)


FULL = Config(
    mode="full",
    contraction_kappas=(10.0, 100.0),
    contraction_grid=((1, 40), (3, 40), (10, 40), (30, 40), (400, 1), (400, 2), (400, 4), (400, 8)),
    contraction_rounds=120,
    kick_paths=2048,
    kappa_grid=(2.0, 4.0, 8.0, 16.0, 32.0, 64.0),
    kappa_paths=128,
    eps_grid=(1e-1, 1e-2, 1e-3, 1e-4, 1e-5),
    eps_paths=512,
    ineon_sigmas=(1e-3, 1e-1),
    ineon_paths=2048,
    complexity_eps=(0.1, 0.03, 0.01, 0.003),
    complexity_kappas=(2.0, 4.0, 8.0, 16.0),
    complexity_paths=128,
    sde_betas=(0.1, 0.03, 0.01, 0.003),
    sde_paths=2048,
    stationary_betas=(0.1, 0.03, 0.01),
    stationary_paths=2048,
    digits_paths=32,
    digits_steps=600,
    frozen_paths=1000,
)

QUICK = Config(
    mode="quick",
    contraction_kappas=(10.0,),
    contraction_grid=((1, 40), (3, 40), (400, 1), (400, 4)),
    contraction_rounds=60,
    kick_paths=256,
    kappa_grid=(2.0, 4.0, 16.0),
    kappa_paths=32,
    eps_grid=(1e-2, 1e-3, 1e-4),
    eps_paths=128,
    ineon_sigmas=(1e-3, 1e-1),
    ineon_paths=512,
    complexity_eps=(0.1, 0.01),
    complexity_kappas=(2.0, 8.0),
    complexity_paths=32,
    sde_betas=(0.1, 0.03),
    sde_paths=256,
    stationary_betas=(0.03,),
    stationary_paths=512,
    digits_paths=8,
    digits_steps=150,
    frozen_paths=200,
    n_boot=200,
)

KICK = dict(kappa=10.0, beta=0.2, radius=1e-3, escape_radius=0.1, D=50, N=20)
SADDLE_RADIUS = 0.3
KAPPA_EPS = 1e-2
ESCAPE = dict(radius=0.5, jump=0.2, beta=0.1, D=5, Q=10, ineon_radius=0.01, iterations=100,
              wait=10)
COMPLEXITY_SIGMA, COMPLEXITY_KAPPA_EPS = 0.1, 0.03
DIGITS = dict(beta=20.0, D=5, N=5, Q=10, alpha_scale=0.5, stride=25, frozen_steps=100, burn=40)


def _est(e) -> dict:
    return {"value": float(e.value), "se": float(e.se), "ci_low": float(e.ci_low),
            "ci_high": float(e.ci_high), "level": float(e.level), "n": int(e.n)}


# ---------------------------------------------------------------------------------------------
# A. contraction
# ---------------------------------------------------------------------------------------------


def part_contraction(out, cfg):
    def curves_of(p, alpha, D, N):
        return {"warm": m.aid_error_curve(p, m.X_FIXED, alpha, D, N, cfg.contraction_rounds, True),
                "cold": m.aid_error_curve(p, m.X_FIXED, alpha, D, N, cfg.contraction_rounds, False)}

    problems = {kappa: m.quadratic(kappa) for kappa in cfg.contraction_kappas}
    cells = [(kappa, D, N) for kappa in cfg.contraction_kappas for D, N in cfg.contraction_grid]
    arrays = dict(zip(cells, out.points([
        (f"contraction_kappa={kappa:g}_D={D}_N={N}",
         lambda p=problems[kappa], D=D, N=N: curves_of(p, 1.0 / p.lower_smoothness, D, N))
        for kappa, D, N in cells]), strict=True))
    rows, curves = [], {}
    for kappa in cfg.contraction_kappas:
        p = problems[kappa]
        alpha = 1.0 / p.lower_smoothness
        modes = {}
        for D, N in cfg.contraction_grid:
            arr = arrays[(kappa, D, N)]
            pred = tb.aid_contraction(alpha=alpha, mu=p.lower_strong_convexity,
                                      ell=p.lower_smoothness, D=D, N=N)
            gd = pred["limited_by"] == "gd"
            rate, k = m.tail_rate(arr["warm"]) if gd else m.mean_rate(arr["warm"])
            if gd and D not in modes:
                modes[D] = m.mode_prediction(p, m.X_FIXED, alpha, D, cfg.contraction_rounds)
            transient = (abs(modes[D][k] / modes[D][k - 1] - pred["gd"])
                         if gd and modes[D][k - 1] > 0 else None)
            cold_rate = float(arr["cold"][-1] / arr["cold"][0]) ** (1 / (cfg.contraction_rounds - 1))
            rows.append(dict(kappa=kappa, D=D, N=N, measured_rate=rate, at_round=k,
                             predicted_gd=pred["gd"], predicted_cg_bound=pred["cg"],
                             predicted_rate=pred["rate"], limited_by=pred["limited_by"],
                             gd_transient_bias=transient, cold_rate=cold_rate,
                             within=(abs(rate - pred["gd"]) <= (transient or 0)
                                     + rate * (1e-6 + 1e-14 / arr["warm"][k]))
                             if gd else rate <= pred["cg"] + 1e-12))
            curves[(kappa, D, N)] = (arr["warm"], arr["cold"], pred)
    plots.contraction(out, curves, cfg.contraction_rounds)
    return {"rows": rows,
            "note": "GD-limited: measured_rate = e_k/e_(k−1) at the last round k above 1e-8·e_1, "
                    "against the exact (1−αμ)^D with the faster modes' transient at round k (from "
                    "the spectrum) as the bias; CG-limited: the geometric mean (e_k/e_1)^(1/(k−1)) "
                    "against the Chebyshev bound c_N (an upper bound). float64, x = (0.5, 0.3). "
                    "Cold start: no contraction (cold_rate ≈ 1)."}


# ---------------------------------------------------------------------------------------------
# B. perturbed AID at the saddle
# ---------------------------------------------------------------------------------------------


def part_kick(out, cfg):
    k = KICK
    p = m.quadratic(k["kappa"])
    stay = m.unperturbed_stays(p, beta=k["beta"], D=k["D"], N=k["N"], n_steps=200)
    growth = tb.perturbed_aid_escape_growth(p, np.zeros(2), k["beta"])
    law = dict(r=k["radius"], radius=k["escape_radius"], dim=2, growth=growth)
    horizon = int(ke.kicked_escape_quantile(1 - 1e-6, **law)) + 40

    def run():
        res = m.perturbed_escape(p, beta=k["beta"], radius=k["radius"],
                                 escape_radius=k["escape_radius"], D=k["D"], N=k["N"],
                                 n_paths=cfg.kick_paths, n_steps=horizon, seed=11)
        return {"steps": res.steps, "status": res.status}

    arr = out.point("kick", run)
    exited = arr["status"] == 1
    iters = arr["steps"][exited] - 1  # the kick is iteration 1; K counts the growth steps
    pred_mean = ke.kicked_escape_mean(**law)
    thresholds = m.nonlinear_thresholds(p, k["beta"], k["escape_radius"], horizon)
    nonlin_mean = m.nonlinear_kicked_mean(thresholds, k["radius"], 2)
    est = stats.iid_mean(iters.astype(float))
    v = compare("perturbed AID mean escape iteration = kicked-linear law", pred_mean,
                float(est.value), float(est.se), bias=abs(nonlin_mean - pred_mean),
                bias_source="the exact 1-D map's shift of the mean (cubic term of ∇Φ)")
    grid = np.arange(0, horizon)
    ecdf = np.searchsorted(np.sort(iters), grid, side="right") / max(len(iters), 1)
    cdf = ke.kicked_escape_cdf(grid, **law)
    dkw = float(np.sqrt(np.log(2 / 0.05) / (2 * max(len(iters), 1))))
    plots.kick_ecdf(out, grid, ecdf, cdf, dkw, law)
    return {"unperturbed_max_norm": stay, "n_paths": int(len(arr["steps"])),
            "counts": {"exited": int(exited.sum()), "censored": int((arr["status"] == 3).sum()),
                       "diverged": int((arr["status"] == 2).sum())},
            "mean_escape_iterations": _est(est), "predicted_mean_linear": pred_mean,
            "predicted_mean_nonlinear_map": nonlin_mean, "acceptance": [v.ci_low, v.ci_high],
            "verdict": v.verdict, "max_ecdf_gap": float(np.max(np.abs(ecdf - cdf))),
            "dkw_band_95": dkw, "setup": {**k, "growth": growth,
                                          "algorithm_radius": k["radius"] / k["beta"]}}


# ---------------------------------------------------------------------------------------------
# C. κ: iterations to an ε-SOSP on an instance where κ enters L_Φ
# ---------------------------------------------------------------------------------------------


def _kappa_point(cfg, kappa):
    """The key and computation of the κ point (for ``ResultsDir.points``)."""
    def run():
        p = rates.kappa_instance(kappa)
        t, L, _ = rates.template(p, KAPPA_EPS)
        horizon = int(60 * L) + 500
        res, _ = rates.perturbed_aid_sosp(p, KAPPA_EPS, np.zeros(2), n_paths=cfg.kappa_paths,
                                          n_steps=horizon, seed=21)
        ref = rates.reference_perturbed_gd(p, KAPPA_EPS, np.zeros((4096, 2)), max_steps=horizon,
                                           seed=22)
        return {"steps": res.steps, "status": res.status, "reference": ref, "L": L,
                "D": t["D"], "N": t["N"]}

    return f"kappa={kappa:g}_eps={KAPPA_EPS:g}_n{cfg.kappa_paths}", run


def part_kappa(out, cfg):
    pts = out.points([_kappa_point(cfg, k) for k in cfg.kappa_grid])
    kap = np.asarray(cfg.kappa_grid)
    samples = [a["steps"][a["status"] == 1].astype(float) for a in pts]
    refs = [a["reference"][a["reference"] > 0].astype(float) for a in pts]
    measured = rates.boot_slope(kap, samples, cfg.n_boot, seed=1)
    reference = rates.boot_slope(kap, refs, cfg.n_boot, seed=2)
    L = np.array([float(a["L"]) for a in pts])
    l_slope = float(np.polyfit(np.log(kap), np.log(L), 1)[0])
    se = math.hypot(measured["se"], reference["se"])
    v = compare("κ-exponent of perturbed AID's iterations = the exact-gradient reference's",
                reference["slope"], measured["slope"], se)
    calls = {"grad_g": [s * float(a["D"]) for s, a in zip(samples, pts)],
             "hvp": [s * float(a["N"] + 1) for s, a in zip(samples, pts)]}
    call_fits = {k: rates.boot_slope(kap, v_, cfg.n_boot, seed=3) for k, v_ in calls.items()}
    table = [dict(kappa=float(k), L_phi=float(a["L"]), D=int(a["D"]), N=int(a["N"]),
                  reached=int((a["status"] == 1).sum()), n=int(a["status"].size),
                  mean_iterations=float(s.mean()) if s.size else None,
                  se=float(s.std(ddof=1) / math.sqrt(s.size)) if s.size > 1 else None,
                  reference_mean=float(r.mean()), reference_se=float(r.std(ddof=1) / math.sqrt(r.size)))
             for k, a, s, r in zip(cfg.kappa_grid, pts, samples, refs)]
    plots.kappa_rate(out, table, measured, reference, l_slope, call_fits)
    return {"table": table, "iterations_fit": measured, "reference_fit": reference,
            "L_phi_slope": l_slope, "call_fits": call_fits, "eps": KAPPA_EPS,
            "acceptance": [v.ci_low, v.ci_high], "verdict": v.verdict,
            "paper_bound_exponents": {"iterations": 3.0, "grad_g": 4.0, "hvp": 3.5},
            "note": "from the saddle (y = y*(0)), the paper's template with L_Φ, ρ_Φ on ‖x‖ ≤ 1.5; "
                    "the reference is Jin et al.'s perturbed GD with the exact ∇Φ (NumPy, "
                    "4096 kicks); the paper's exponents are worst-case bounds with L_Φ = O(κ³)."}


# ---------------------------------------------------------------------------------------------
# D. ε from generic starts on a landscape with four strict saddles
# ---------------------------------------------------------------------------------------------


def part_eps(out, cfg):
    p = rates.several_saddles()
    x0 = np.random.default_rng(5).uniform(-1.5, 1.5, (cfg.eps_paths, 2))
    def run(eps):
        res, _ = rates.perturbed_aid_sosp(p, eps, x0, n_paths=cfg.eps_paths, n_steps=4000, seed=31)
        ref = rates.reference_perturbed_gd(p, eps, x0, max_steps=4000, seed=32)
        return {"steps": res.steps, "status": res.status, "reference": ref}

    pts = out.points([(f"eps={eps:g}_n{cfg.eps_paths}", lambda eps=eps: run(eps))
                      for eps in cfg.eps_grid])
    t, L, _ = rates.template(p, cfg.eps_grid[0])
    beta = t["beta"]
    small = [i for i, e in enumerate(cfg.eps_grid) if e <= rates.EPS_LINEAR]
    eps_fit = [cfg.eps_grid[i] for i in small]
    predicted, bias = rates.log_slope_prediction(beta, max(eps_fit))   # ∇²Φ = 2I at every minimum
    all_ok = np.all([pts[i]["status"] == 1 for i in small], axis=0)
    k = np.array([pts[i]["steps"][all_ok] for i in small], float)
    slope, se = rates.log_slope(eps_fit, k)
    v = compare("iterations per e-fold of 1/ε = 1/|ln(1 − 2β)|", predicted, slope, se, bias=bias,
                bias_source="the cubic term of ∇Φ at the largest fitted ε (log_slope_prediction)")
    expo = rates.boot_slope(np.asarray(cfg.eps_grid), [a["steps"][a["status"] == 1].astype(float)
                                                       for a in pts], cfg.n_boot, seed=4)
    table = [dict(eps=e, reached=int((a["status"] == 1).sum()), n=int(a["status"].size),
                  mean_iterations=float(a["steps"][a["status"] == 1].mean()),
                  reference_mean=float(a["reference"][a["reference"] > 0].mean()),
                  agree=float(np.mean(a["steps"] == a["reference"])))
             for e, a in zip(cfg.eps_grid, pts)]
    plots.eps_rate(out, table, slope, se, predicted, expo, beta)
    return {"table": table, "log_slope": slope, "log_slope_se": se, "predicted_log_slope": predicted,
            "log_slope_bias": bias, "log_slope_eps": eps_fit,
            "acceptance": [v.ci_low, v.ci_high], "verdict": v.verdict, "exponent_fit": expo,
            "beta": beta, "L_phi": L, "n_all_reached": int(all_ok.sum()),
            "note": "starts uniform in [−1.5, 1.5]², the same at every ε; Φ = Σ(xᵢ⁴/4 − xᵢ²/2): four "
                    "strict saddles, four minima with ∇²Φ = 2I. Near a minimum ‖∇Φ‖ contracts by "
                    "1 − 2β per iteration, so K(ε) = a + ln(1/ε)/|ln(1 − 2β)|: the exponent tends to "
                    "0, the paper's Õ(ε⁻²) is a worst-case bound, not attained on this landscape."}


# ---------------------------------------------------------------------------------------------
# E. StocBiO + iNEON vs StocBiO at equal oracle budgets
# ---------------------------------------------------------------------------------------------


def _escape_setup(sigma):
    e = ESCAPE
    p = m.quadratic(10.0, sigma_f=sigma, sigma_g=sigma)
    alpha = 1.0 / p.lower_smoothness
    with jax.enable_x64(True):
        red = tb.ReducedHypergradient(p, alpha, e["D"], e["Q"])
        one = np.asarray(jax.jit(lambda z: red.one_call_cov(z))(jnp.zeros(2, jnp.float64)))
        lam, sig = tb.reduced_unstable_noise(red, jnp.zeros(2), e["beta"])
    noise = math.sqrt(float(np.trace(one)))
    predicted_steps = tb.saddle_exit_mean(lam, sig, e["radius"]) / e["beta"]
    return p, alpha, noise, predicted_steps


DEVIATION_SIGMA = 0.1   # declared before the run: at this noise iNEON is not expected to help


def _ineon_verdict(sigma, lo, hi):
    """The claim "iNEON's mean escape cost is below StocBiO's" judged on the ±4 SE interval of the
    ratio: pass below 1, fail above, '-' holding 1; at σ = DEVIATION_SIGMA the claim is a declared
    deviation (deviation above 1, fail below, '-' holding 1)."""
    if sigma == DEVIATION_SIGMA:
        verdict = "deviation" if lo > 1 else ("fail" if hi < 1 else "-")
        rule = ("documented deviation (declared): iNEON does not make the escape cheaper when the "
                "oracle noise alone escapes fast; deviation when the ±4 SE interval lies above 1, "
                "'-' when it holds 1")
    else:
        verdict = "pass" if hi < 1 else ("fail" if lo > 1 else "-")
        rule = ("claim: < 1 (iNEON cheaper); pass when the ±4 SE interval lies below 1, fail "
                "above, '-' when it holds 1")
    return {"verdict": verdict, "rule": rule}


def part_ineon(out, cfg):
    e = ESCAPE
    setups = {s: _escape_setup(s) for s in cfg.ineon_sigmas}
    # one budget for every arm and noise: 6× the slowest StocBiO escape the reduced SDE predicts
    budget = int(6 * max(s[3] for s in setups.values()))
    results, all_arms = {}, {}
    for sigma, (p, alpha, noise, pred) in setups.items():
        plain, ineon = rates.ineon_pair(p, alpha=alpha, beta=e["beta"], D=e["D"], Q=e["Q"],
                                        radius=e["ineon_radius"], step=e["beta"],
                                        iterations=e["iterations"], escape_step=e["jump"],
                                        threshold=3 * noise, wait=e["wait"])
        def run(alg, seed):
            c, o, _ = rates.escape_costs(alg, radius=e["radius"], budget=budget,
                                         n_paths=cfg.ineon_paths, seed=seed)
            return {"cost": c, "observed": o}

        both = (("stocbio", plain, 41), ("ineon", ineon, 42))
        arms = dict(zip([name for name, _, _ in both], out.points([
            (f"escape_{name}_sigma={sigma:g}_B{budget}_n{cfg.ineon_paths}",
             lambda alg=alg, seed=seed: run(alg, seed)) for name, alg, seed in both]), strict=True))
        all_arms[sigma] = {k: (v["cost"], v["observed"]) for k, v in arms.items()}
        a, b = arms["ineon"], arms["stocbio"]
        log_ratio, se, mean_a, mean_b = rates.mean_cost_ratio(a["cost"], a["observed"], b["cost"],
                                                               b["observed"], budget)
        km = {k: stats.kaplan_meier(v["cost"], v["observed"]) for k, v in arms.items()}
        results[f"{sigma:g}"] = {
            "sigma": sigma, "threshold": 3 * noise, "predicted_stocbio_steps": pred,
            "restricted_mean": {"ineon": list(mean_a), "stocbio": list(mean_b)},
            "median": {k: list(map(float, v.quantile(0.5))) for k, v in km.items()},
            "escaped": {k: int(v["observed"].sum()) for k, v in arms.items()},
            "n": int(a["observed"].size), "ratio": math.exp(log_ratio), "log_ratio_se": se,
            "interval_4se": [math.exp(log_ratio - Z * se), math.exp(log_ratio + Z * se)]}
        results[f"{sigma:g}"].update(_ineon_verdict(sigma, *results[f"{sigma:g}"]["interval_4se"]))
    plots.ineon_survival(out, all_arms, budget, results)
    return {"budget": budget, "by_sigma": results, "setup": {**ESCAPE, "kappa": 10.0},
            "note": "cost = upper-level oracle calls (hypergradient estimates: 1 per StocBiO step, "
                    "2 per iNEON iteration, each with D lower calls), censored at the common "
                    "budget (6× the slowest StocBiO escape the reduced SDE predicts); compared by "
                    "the Kaplan–Meier restricted mean cost up to the budget; iNEON's two "
                    "hypergradients use independent draws; its jump η_nc = 0.2 is below the "
                    "escape radius 0.5; threshold 3× the hypergradient's noise at the saddle."}


# ---------------------------------------------------------------------------------------------
# F. StocBiO + iNEON's complexity against ε and κ
# ---------------------------------------------------------------------------------------------


def part_complexity(out, cfg):
    sigma = COMPLEXITY_SIGMA

    def quad(sf, sg):
        return m.quadratic(10.0, sigma_f=sf, sigma_g=sg)

    def by(key, fn, eps):
        def run():
            steps, up, low, ok, t = rates.ineon_sosp(fn, eps, sigma, n_paths=cfg.complexity_paths,
                                                     n_steps=8000, seed=51)
            return {"steps": steps, "upper": up, "lower": low, "ok": ok, "batch": t["batch"]}

        return f"complexity_{key}_n{cfg.complexity_paths}", run

    def inst(k):
        return lambda sf, sg: rates.kappa_instance(k, sigma_f=sf, sigma_g=sg)

    pts = out.points([by(f"eps={e:g}", quad, e) for e in cfg.complexity_eps]
                     + [by(f"kappa={k:g}_eps={COMPLEXITY_KAPPA_EPS:g}", inst(k), COMPLEXITY_KAPPA_EPS)
                        for k in cfg.complexity_kappas])
    eps_pts, kap_pts = pts[:len(cfg.complexity_eps)], pts[len(cfg.complexity_eps):]
    fits = {}
    for axis, xs, pts in (("eps", cfg.complexity_eps, eps_pts), ("kappa", cfg.complexity_kappas,
                                                                  kap_pts)):
        for q in ("steps", "upper", "lower"):
            fits[f"{q}_vs_{axis}"] = rates.boot_slope(
                np.asarray(xs), [a[q][a["ok"]].astype(float) for a in pts], cfg.n_boot, seed=6)
    table = [dict(axis=axis, value=float(x), reached=int(a["ok"].sum()), n=int(a["ok"].size),
                  batch=int(a["batch"]), mean_iterations=float(np.mean(a["steps"][a["ok"]])),
                  mean_upper_calls=float(np.mean(a["upper"][a["ok"]])))
             for axis, xs, pts in (("eps", cfg.complexity_eps, eps_pts),
                                   ("kappa", cfg.complexity_kappas, kap_pts))
             for x, a in zip(xs, pts)]
    bounds = {"upper_vs_eps": -4.0, "lower_vs_eps": -4.0, "upper_vs_kappa": 5.0,
              "lower_vs_kappa": 10.0}
    plots.complexity(out, table, fits, bounds)
    return {"table": table, "fits": fits, "paper_bounds": bounds, "sigma": sigma,
            "kappa_eps": COMPLEXITY_KAPPA_EPS,
            "note": "from the saddle; ε-local minimum = ‖∇Φ‖ ≤ ε and λ_min(∇²Φ) ≥ −√(ρ_Φ ε) (exact "
                    "Φ); batches of S = ⌈(4σ/ε)²⌉ calls per oracle (σ = 0.1), so calls = iterations "
                    "× S × (1 upper, D lower); the paper's Gc(f) = Õ(κ⁵ε⁻⁴), Gc(g) = Õ(κ¹⁰ε⁻⁴) "
                    "are worst-case upper bounds."}


# ---------------------------------------------------------------------------------------------
# G. StocBiO vs the reduced SDE
# ---------------------------------------------------------------------------------------------


def part_sde(out, cfg):
    def run(beta):
        res, pr = m.stocbio_saddle_escape(beta, radius=SADDLE_RADIUS, n_paths=cfg.sde_paths, seed=41)
        return {"steps": res.steps, "status": res.status,
                **{k: np.asarray(v) for k, v in pr.items()}}

    def run_s(beta):
        res, pr = m.stocbio_stationary(beta, n_paths=cfg.stationary_paths, seed=51)
        return {"final": res.final, "status": res.status,
                **{k: np.asarray(v) for k, v in pr.items()}}

    escapes = out.points([(f"sde_escape_beta={beta:g}_n{cfg.sde_paths}",
                           lambda beta=beta: run(beta)) for beta in cfg.sde_betas])
    stationaries = out.points([(f"sde_stationary_beta={beta:g}_n{cfg.stationary_paths}",
                                lambda beta=beta: run_s(beta)) for beta in cfg.stationary_betas])
    rows = []
    for beta, a in zip(cfg.sde_betas, escapes, strict=True):
        ok = a["status"] == 1
        s = stats.exit_time_summary(a["steps"].astype(float) * beta, observed=ok)
        em_bias = abs(float(a["em_time"]) - float(a["linear_time"]))
        v = compare(f"StocBiO mean escape time = reduced SDE (β={beta:g})", float(a["pred_time"]),
                    s.mean, s.mean_se, bias=em_bias,
                    bias_source="|EM − continuous| exit time of the linear saddle (O(β))")
        rows.append(dict(beta=beta, mean_time=s.mean, se=s.mean_se, ci_low=s.mean_low,
                         ci_high=s.mean_high, kind=s.mean_kind, exited=int(ok.sum()), n=int(ok.size),
                         predicted_sde=float(a["pred_time"]), linear_sde=float(a["linear_time"]),
                         em_linear=float(a["em_time"]), em_bias=em_bias,
                         acceptance=[v.ci_low, v.ci_high], verdict=v.verdict))
    stat = []
    for beta, a in zip(cfg.stationary_betas, stationaries, strict=True):
        f = a["final"][a["status"] != 2]
        n = f.shape[0]
        var = f.var(axis=0, ddof=1)
        se = np.sqrt(2.0 / (n - 1)) * var
        stat.append(dict(beta=beta, var_measured=var, var_se=se, var_pred=np.diag(a["pred"]),
                         var_pred_em=np.diag(a["pred_em"]),
                         var_pred_one_call=np.diag(a["pred_one_call"]), x_min=a["x_min"], n=n))
    plots.sde(out, rows, stat)
    return {"escape": rows, "stationary": stat,
            "note": "prediction: exact 1-D exit time of the reduced SDE along x₁ (drift −∇Φ_Q incl. "
                    "the finite-Q bias, σ² = βΣ_Φ,11 with the long-run inner-error covariance); "
                    "bias: |EM − continuous| of the linear saddle, the O(β) discretization."}


# ---------------------------------------------------------------------------------------------
# H. Real data: hyper-cleaning on digits
# ---------------------------------------------------------------------------------------------


def part_digits(out, cfg):
    import sde_opt as so

    d = DIGITS
    p = data.digits_problem()
    x0 = np.zeros(p.shape)
    alpha = d["alpha_scale"] / p.lower_smoothness
    # H1: AID's warm-start rate on a logistic lower level (D = 3, CG exact: N = d_y)
    D1, rounds = 3, 150
    arr = out.point("digits_contraction", lambda: {
        "warm": m.aid_error_curve(p, x0, alpha, D1, p.y_shape[0], rounds, True)})
    rate, k = m.tail_rate(arr["warm"])
    modes = m.mode_prediction(p, x0, alpha, D1, rounds)
    with jax.enable_x64(True):
        h = np.asarray(jax.jit(lambda z: p.lower_hessian(z, p.y_star(z)))(jnp.asarray(x0)))
    lam = np.linalg.eigvalsh(h)
    predicted = float(np.max(np.abs(1 - alpha * lam)) ** D1)
    transient = abs(modes[k] / modes[k - 1] - predicted)
    v1 = compare("AID warm-start rate on digits = max|1 − αλᵢ(∇²ᵧg(x, y*))|^D", predicted, rate,
                 0.0, bias=transient + rate * (1e-6 + 1e-14 / arr["warm"][k]),
                 bias_source="the faster modes' transient at round k (linearized at y*) + float64 "
                             "rounding")
    # H2: StocBiO's diffusion coefficient (minibatch Hessian/Jacobian products) at x0
    alg = so.StocBiO(p, alpha, d["beta"], D=d["D"], Q=d["Q"])
    K = d["frozen_steps"]

    def frozen():
        return {"means": m.frozen_hypergradients(alg, x0, n_paths=cfg.frozen_paths, n_steps=K,
                                                 burn=d["burn"], seed=61)}

    est, se = m.long_run_trace(out.point(f"digits_frozen_n{cfg.frozen_paths}", frozen)["means"], K)
    red = alg.reduced_problem()
    pred, finite_k = m.long_run_prediction(red, x0, K)
    allowance = m.second_order_allowance(red, x0)

    class WithoutHessianNoise(type(p)):
        def hessian_samples(self, x, y):
            return None

    old = tb.ReducedHypergradient(WithoutHessianNoise(mu=p.mu, lam=p.lam, batch_size=p.batch_size,
                                                      data=(p.a, p.labels, p.a_val, p.labels_val,
                                                            p.corrupted)), alpha, d["D"], d["Q"])
    old_pred, _ = m.long_run_prediction(old, x0, K)
    v2 = compare("StocBiO's diffusion on digits: long-run tr Cov(ĝ) = tr Σ_Φ of its limit", pred,
                 est, se, bias=finite_k + allowance,
                 bias_source="the finite-K correction of the inner chain (exact) + the second-order "
                             "term of ĝ in the inner error (sigma points × long-run factor)")
    # H2': StocBiO's drift at x0 from the same frozen chain: along the inner shift s
    drift = _digits_drift(red, x0, out.point(f"digits_frozen_n{cfg.frozen_paths}", frozen)["means"])
    # H3: AID, StocBiO and their limits from uniform weights
    tr = out.point(f"digits_paths_n{cfg.digits_paths}_T{cfg.digits_steps}", lambda: _flat(
        data.trajectories(beta=d["beta"], D=d["D"], N=d["N"], Q=d["Q"], n_steps=cfg.digits_steps,
                          stride=d["stride"], n_paths=cfg.digits_paths, seed=62,
                          alpha_scale=d["alpha_scale"])))
    final = {name: {o: float(np.nanmean(tr[f"{name}/{o}"][:, -1]))
                    for o in ("phi", "accuracy", "weight_corrupted", "weight_clean")}
             for name in ("aid", "stocbio", "flow", "flow_q")}
    start = {o: float(tr[f"aid/{o}"][0, 0]) for o in ("phi", "accuracy")}
    plots.digits(out, tr, final, d)
    return {"contraction": dict(D=D1, N=int(p.y_shape[0]), measured_rate=rate, at_round=k,
                                predicted=predicted, transient=transient, lambda_min=float(lam[0]),
                                acceptance=[v1.ci_low, v1.ci_high], verdict=v1.verdict),
            "diffusion": dict(measured_trace=est, se=se, predicted_trace=pred, finite_k=finite_k,
                              second_order=allowance, without_hessian_noise=old_pred,
                              acceptance=[v2.ci_low, v2.ci_high], verdict=v2.verdict, K=K),
            "drift": drift,
            "paths": {"final": final, "start": start, "diverged": {
                k: int(tr[f"{k}/diverged"]) for k in ("aid", "stocbio")}},
            "setup": {**d, "alpha": alpha, **data.DIGITS, "d_x": p.shape[0], "d_y": p.y_shape[0]},
            "note": "x = 0 (every training weight ½); α = 0.5/ℓ; Σ_Φ includes the noise of the "
                    "sampled Hessian- and Jacobian-vector products (without it: "
                    "without_hessian_noise)."}


def _digits_drift(red, x0, means) -> dict:
    """StocBiO's mean ĝ at x0 (the frozen chain's per-path means) against the limit's drift
    ∇Φ_Q + s, read along u = s/‖s‖ (s: ``ReducedHypergradient.inner_shift``); ∇Φ_Q alone (the
    limit without the shift) predicts 0 there."""
    from sde_opt.problems.bilevel import biased_hypergradient

    with jax.enable_x64(True):
        xx = jnp.asarray(x0, jnp.float64)
        q = np.asarray(jax.jit(lambda z: biased_hypergradient(
            red.bilevel, z, red.bilevel.y_star(z), red.alpha, red.Q))(xx))
        shift = np.asarray(jax.jit(lambda z: red.inner_shift(z))(xx))
    size = float(np.linalg.norm(shift))
    measured, se = m.drift_along(means, q, shift / size)
    allowance = abs(float((m.sigma_point_shift(red, x0) - shift) @ (shift / size)))
    v = compare("StocBiO's drift on digits along the inner shift = ‖s‖", size, measured, se,
                bias=allowance, bias_source="the fourth-order terms: |⟨sigma-point shift − "
                                            "Taylor shift, u⟩| (sigma_point_shift)")
    return dict(measured_along_shift=measured, se=se, predicted=size, allowance=allowance,
                grad_q_norm=float(np.linalg.norm(q)), acceptance=[v.ci_low, v.ci_high],
                verdict=v.verdict, z_without_shift=measured / se,
                note="the mean of ĝ over the inner chain's stationary law exceeds ∇Φ_Q(y*) by the "
                     "inner shift s = G_y E[e] + ½∂²ḡ:S (part of the limit's drift); the limit "
                     "without it predicts 0 along s")


def _flat(tr):
    out = {"times": tr["times"]}
    for name, obs in tr.items():
        if name != "times":
            out.update({f"{name}/{k}": np.asarray(v) for k, v in obs.items()})
    return out


class _Points:
    """The results folder with grid-point keys prefixed by the mode (quick and full points differ
    in their path counts, so they must not resume each other), collecting every point's arrays."""

    def __init__(self, out, mode):
        self.out, self.mode, self.arrays = out, mode, {}

    def point(self, key, fn):
        return self.points([(key, fn)])[0]

    def points(self, items):
        items = list(items)
        arrays = self.out.points([(f"{self.mode}_{key}", fn) for key, fn in items])
        for (key, _), arr in zip(items, arrays, strict=True):
            for k, v in arr.items():
                self.arrays[f"{key}:{k}"] = v
        return arrays

    def savefig(self, fig, name):
        return self.out.savefig(fig, name)


def run(out, quick: bool = False, progress: bool = False) -> dict:
    cfg = QUICK if quick else FULL
    out.write_json("study_config.json", cfg.as_dict())
    pts = _Points(out, cfg.mode)
    summary = {"mode": cfg.mode, "config": cfg.as_dict()}
    for name, fn in (("contraction", part_contraction), ("kick", part_kick), ("kappa", part_kappa),
                     ("eps", part_eps), ("ineon", part_ineon), ("complexity", part_complexity),
                     ("sde", part_sde), ("digits", part_digits)):
        if progress:
            print(f"… {name}", file=sys.stderr, flush=True)
        t0 = time.process_time()
        summary[name] = fn(pts, cfg)
        summary.setdefault("cpu_seconds_this_run", {})[name] = time.process_time() - t0
    out.save_npz("arrays.npz", **{k.replace("/", "_"): np.asarray(v) for k, v in pts.arrays.items()})
    return summary


# ---------------------------------------------------------------------------------------------
# The table printed at the end (sde-opt study): read from the summary only
# ---------------------------------------------------------------------------------------------

RUN_TIMES = {"quick": "≈ 3 min wall (4 min CPU) on 2 cores", "full": "≈ 5.8 min wall on 2 idle cores"}


def _pick_contraction(rows):
    top = max(r["kappa"] for r in rows)
    gd = [r for r in rows if r["kappa"] == top and r["limited_by"] == "gd"]
    cg = [r for r in rows if r["kappa"] == top and r["limited_by"] == "cg"]
    failing = [r for r in rows if not r["within"]]
    return (failing + [max(gd, key=lambda r: r["D"]), min(cg, key=lambda r: r["N"])])[:2]


def headline_claims(summary: dict) -> list[dict]:
    """The rows of the closing table (12), each read from ``summary``; units on every row.

    A (2): AID's warm-start rate per outer round (the largest-D GD-limited and the smallest-N
    CG-limited case at the largest κ, or failing rows first); B: perturbed AID's mean escape
    iteration vs the kicked law; C: the κ-exponent of iterations vs the exact-gradient reference;
    D (2): the ε-exponent (no verdict: the paper's is a bound) and the slope in ln(1/ε) vs the
    contraction at the minima; E (2): iNEON/StocBiO median oracle calls at the two noise levels;
    F: StocBiO + iNEON's upper-level calls' ε-exponent (no verdict: bounds only); G: StocBiO's
    escape time at the smallest β vs the reduced SDE; H (2): digits — StocBiO's diffusion
    coefficient vs the limit's Σ_Φ and AID's warm-start rate vs the lower level's spectrum.
    """
    from sde_opt.experiment.table import claim

    rows = []
    for r in _pick_contraction(summary["contraction"]["rows"]):
        rule = (f"pass: within the faster modes' transient {r['gd_transient_bias']:.3g} of (1 − αμ)^D"
                if r["limited_by"] == "gd" else "pass: at most the Chebyshev bound c_N")
        rows.append(claim(f"A. AID warm-start error contraction per outer round, κ = {r['kappa']:g}, "
                          f"D = {r['D']}, N = {r['N']} ({r['limited_by'].upper()}-limited)",
                          r["measured_rate"], theory=r["predicted_rate"],
                          verdict="pass" if r["within"] else "fail", note=rule))
    k = summary["kick"]
    rows.append(claim("B. perturbed AID: mean escape iteration after the kick x − βξ (iterations)",
                      k["mean_escape_iterations"]["value"], ci=k["acceptance"],
                      theory=k["predicted_mean_linear"], verdict=k["verdict"],
                      note=f"±4 SE + the cubic term's shift of the mean "
                           f"({abs(k['predicted_mean_nonlinear_map'] - k['predicted_mean_linear']):.3g}); "
                           f"unperturbed AID stays (max ‖x‖ = {k['unperturbed_max_norm']:.3g})"))
    c = summary["kappa"]
    rows.append(claim("C. perturbed AID (paper's template): κ-exponent of iterations to an ε-SOSP "
                      f"(log-log slope, κ = {c['table'][0]['kappa']:g}…{c['table'][-1]['kappa']:g})",
                      c["iterations_fit"]["slope"], ci=c["acceptance"],
                      theory=c["reference_fit"]["slope"], verdict=c["verdict"],
                      note=f"±4 SE (path bootstrap, both); theory: perturbed GD with the exact ∇Φ; "
                           f"both ∝ L_Φ = 1/β (the template's step; L_Φ ∝ κ^{c['L_phi_slope']:.2f} "
                           "here), so the row tests AID's inner loops D = ⌈κι⌉, N = ⌈√κι⌉ (D = N = "
                           "1 is rejected); documented deviation: the paper's L_Φ = O(κ³) (hence "
                           "κ³ iterations) needs a non-quadratic lower level; with g quadratic "
                           "L_Φ = O(κ²) at most and here κ^(4/3) + 6.75 — what holds is iterations "
                           "∝ L_Φ up to the log factor ι (K·β grows like log L_Φ)"))
    e = summary["eps"]
    f = e["exponent_fit"]
    rows.append(claim("D. perturbed AID from generic starts (4 strict saddles): ε-exponent of "
                      "iterations to an ε-SOSP (log-log slope)", f["slope"],
                      ci=[f["ci_low"], f["ci_high"]],
                      note="95% bootstrap CI; no verdict: the paper's Õ(ε⁻²) is a worst-case bound, "
                           "not a prediction; the derived law is the next row"))
    rows.append(claim("D. perturbed AID: iterations per e-fold of 1/ε (slope of K in ln 1/ε)",
                      e["log_slope"], ci=e["acceptance"], theory=e["predicted_log_slope"],
                      verdict=e["verdict"],
                      note=f"±4 SE over paths + the cubic term's bias {e['log_slope_bias']:.2g} (fit "
                           f"on ε ≤ {max(e['log_slope_eps']):g}); theory: 1/|ln(1 − 2β)|, the "
                           "contraction at the minima (∇²Φ = 2I)" + (
                               "; every path equals the NumPy reference step for step (no kick "
                               "was drawn: AID's linear convergence, the saddles never approached)"
                               if e.get("table") and all(r.get("agree") == 1.0 for r in e["table"])
                               else "")))
    for key, r in summary["ineon"]["by_sigma"].items():
        med = r["median"]
        rows.append(claim(f"E. StocBiO+iNEON / StocBiO: mean oracle calls to escape, σ = {key} "
                          f"(ratio of KM restricted means, budget {summary['ineon']['budget']} "
                          "calls)", r["ratio"], ci=r["interval_4se"], verdict=r["verdict"],
                          note=f"{r['rule']} (±4 SE: a 99.99% CI); medians {med['ineon'][0]:g} / "
                               f"{med['stocbio'][0]:g} calls"))
    fits = summary["complexity"]["fits"]
    fe, fk = fits["upper_vs_eps"], fits["upper_vs_kappa"]
    rows.append(claim("F. StocBiO+iNEON: ε-exponent of upper-level oracle calls to an ε-local "
                      "minimum (log-log slope)", fe["slope"], ci=[fe["ci_low"], fe["ci_high"]],
                      note=f"95% bootstrap CI; κ-exponent {fk['slope']:.2f} [{fk['ci_low']:.2f}, "
                           f"{fk['ci_high']:.2f}]; no verdict: the paper's Õ(κ⁵ε⁻⁴) is an upper "
                           "bound and the batch rule S ∝ ε⁻² alone gives −2"))
    r = min(summary["sde"]["escape"], key=lambda r: r["beta"])
    rows.append(claim(f"G. StocBiO: mean escape time from the saddle at β = {r['beta']:g} (time "
                      "units t = kβ)", r["mean_time"], ci=r["acceptance"],
                      theory=r["predicted_sde"], verdict=r["verdict"],
                      note=f"±4 SE + the O(β) EM bias {r['em_bias']:.3g}; theory: the reduced SDE's "
                           "exact 1-D exit time"))
    h = summary["digits"]
    dd = h["diffusion"]
    rows.append(claim("H. digits hyper-cleaning: StocBiO's diffusion coefficient tr Σ_Φ "
                      "(long-run tr Cov ĝ at x = 0)", dd["measured_trace"], ci=dd["acceptance"],
                      theory=dd["predicted_trace"], verdict=dd["verdict"],
                      note=f"±4 SE + finite-K and second-order terms; without the minibatch "
                           f"Hessian/Jacobian noise the limit gives {dd['without_hessian_noise']:.4g}"))
    cc = h["contraction"]
    rows.append(claim(f"H. digits: AID warm-start error contraction per outer round (D = {cc['D']}, "
                      "logistic lower level)", cc["measured_rate"], ci=cc["acceptance"],
                      theory=cc["predicted"], verdict=cc["verdict"],
                      note="theory: max|1 − αλᵢ|^D from ∇²ᵧg at y*(x); bias: the faster modes' "
                           "transient"))
    return rows

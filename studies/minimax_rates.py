"""NC-SC minimax rates (Mahdavinia, Deng, Li & Mahdavi 2022; Lin, Jin & Jordan 2020): iterations
and gradient calls of GDA, OGDA and extragradient to ‖∇Φ(x)‖ ≤ ε with the papers' step sizes
η_y = 1/ℓ, η_x = 1/(κ²ℓ) (papers.md §4.4).

Parts:

1. **Lower-bound instance** ([`RampGame`][sde_opt.RampGame], its docstring derives Ω(κ²ℓΔε⁻²)): over
   an (ε, κ) grid from random starts (Φ(x₀) − min Φ ∈ [Δ, 1.5Δ], random directions), iterations
   and oracle calls; exponents in ε and κ fitted jointly (OLS of log mean K on log ε, log κ) with
   bootstrap CIs over starts, beside O(κ²ε⁻²) and beside the theory count: gradient descent on Φ
   with the effective step η_x(1 + δ_κ) (the quasi-steady tracking factor,
   [`tracking_factor`][sde_opt.RampGame.tracking_factor]), per start.
2. **Stochastic**: the same instance with a Gaussian oracle (σ = 1 per coordinate) averaged over
   minibatches of M = ⌈κσ²/ε²⌉ calls (the papers' Θ(max{1, κσ²ε⁻²})); oracle calls against
   O(κ³ε⁻⁴).
3. **Double-well NC-SC** ([`DoubleWellGame`][sde_opt.DoubleWellGame], Φ fixed while κ varies): the κ exponent
   (→ 2, the step size) and the ε dependence (logarithmic near a nondegenerate minimum: the
   ε⁻² of the upper bound is a worst case, attained by part 1's instance only).

``--quick`` runs small grids of parts 1–3.
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np

import sde_opt as so
from sde_opt.problems.games import PhiStationary

from . import _minimax_plots as plots

NAME = "minimax-rates"
DESCRIPTION = ("GDA / OGDA / extragradient on NC-SC games with the papers' step sizes: iterations "
               "and gradient calls to ‖∇Φ‖ ≤ ε over ε and κ, exponents with bootstrap CIs vs "
               "O(κ²ε⁻²) (deterministic, lower-bound instance) and O(κ³ε⁻⁴) (minibatches)")

ELL, COUPLING, DELTA, SIGMA = 1.0, 0.5, 1.0, 1.0
METHODS = {"GDA": so.GDA, "OGDA": so.OGDA, "EG": so.Extragradient}
CALLS = {"GDA": 1, "OGDA": 1, "EG": 2}


@dataclasses.dataclass(frozen=True)
class Config:
    mode: str
    kappas: tuple
    epsilons: tuple
    starts: int
    stoch_kappas: tuple
    stoch_epsilons: tuple
    stoch_starts: int
    dw_kappas: tuple
    dw_epsilons: tuple
    dw_starts: int
    n_boot: int = 400

    def as_dict(self):
        return dataclasses.asdict(self)


QUICK = Config("quick", (2.0, 4.0, 8.0), (0.2, 0.1, 0.05), 8, (2.0, 4.0), (0.2, 0.1), 8,
               (4.0, 8.0, 16.0), (0.1, 0.01), 8, 200)
FULL = Config("full", (2.0, 4.0, 8.0, 16.0, 32.0), (0.2, 0.1, 0.05, 0.025), 32,
              (2.0, 4.0, 8.0), (0.2, 0.1, 0.05), 32, (2.0, 4.0, 8.0, 16.0, 32.0),
              (0.1, 0.03, 0.01, 0.003), 32, 1000)


def steps_for(kappa):
    return 1.0 / (kappa**2 * ELL), 1.0 / ELL


# ---------------------------------------------------------------------------------------------
# Part 1 and 2: the lower-bound instance
# ---------------------------------------------------------------------------------------------


def ramp_starts(n, seed=0):
    """Unit directions in ℝ² and radius factors in [1, 1.5] (Φ(x₀) − min Φ ∈ [Δ, 1.5Δ])."""
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(ang), np.sin(ang)], 1), 1.0 + 0.5 * rng.uniform(size=n)


def ramp_point(method, kappa, eps, n_starts, *, stochastic=False, seed=0, progress=False):
    """Iterations to ‖∇Φ‖ ≤ ε for one method and instance, per start, with the theory count."""
    eta_x, eta_y = steps_for(kappa)
    game = so.RampGame(2, eps=eps, ell=ELL, mu=ELL / kappa, c=COUPLING)
    batch = 1
    if stochastic:
        batch = int(math.ceil(kappa * SIGMA**2 / eps**2))
        game = game.with_noise(SIGMA, SIGMA, batch)
    dirs, fac = ramp_starts(n_starts, seed)
    r0 = game.start_radius(DELTA) * fac
    x0 = (dirs * r0[:, None]).astype(np.float32)
    y0 = (float(game.b / game.mu) * x0).astype(np.float32)
    alg = METHODS[method](game, eta_x, eta_y)
    horizon = int(4 * game.predicted_iterations(1.5 * DELTA, eta_x)) + 2000
    res = so.simulate(alg, (jnp.asarray(x0), jnp.asarray(y0)), 7 + seed, n_paths=n_starts,
                      n_steps=horizon, events=[PhiStationary(game, eps)],
                      progress=f"{method} κ={kappa:g} ε={eps:g}" if progress else False)
    step_eff = eta_x * game.tracking_factor(eta_x, eta_y)
    theory = np.array([game.gd_iterations(r, step_eff) for r in r0])
    gd = np.array([game.gd_iterations(r, eta_x) for r in r0])
    return {"steps": res.steps, "status": res.status, "theory": theory, "gd_on_phi": gd,
            "batch": np.asarray(batch), "calls": res.steps * CALLS[method] * batch,
            "asymptotic": np.asarray(game.predicted_iterations(DELTA, eta_x)) * fac,
            "tracking": np.asarray(game.tracking_factor(eta_x, eta_y))}


def fit_exponents(epsilons, kappas, values, *, n_boot=400, seed=0, level=0.95):
    """OLS of log (mean over starts) on [1, log ε, log κ]; bootstrap over starts (resampled jointly
    across grid points). ``values``: (n_kappa, n_eps, n_starts)."""
    v = np.asarray(values, float)
    le, lk = np.meshgrid(np.log(epsilons), np.log(kappas))
    design = np.stack([np.ones(le.size), le.ravel(), lk.ravel()], 1)

    def fit(sample):
        y = np.log(np.mean(sample, axis=-1)).ravel()
        return np.linalg.lstsq(design, y, rcond=None)[0][1:]

    p = fit(v)
    rng = np.random.default_rng(seed)
    n = v.shape[-1]
    boots = np.array([fit(v[..., rng.integers(0, n, n)]) for _ in range(n_boot)])
    a = (1 - level) / 2
    lo, hi = np.quantile(boots, [a, 1 - a], axis=0)
    se = boots.std(axis=0, ddof=1)
    return {"eps_exponent": float(p[0]), "eps_se": float(se[0]), "eps_ci": [float(lo[0]), float(hi[0])],
            "kappa_exponent": float(p[1]), "kappa_se": float(se[1]),
            "kappa_ci": [float(lo[1]), float(hi[1])], "level": level, "n_boot": n_boot}


def ramp_grid(out, cfg, method, *, stochastic=False, progress=False):
    kappas = cfg.stoch_kappas if stochastic else cfg.kappas
    epsilons = cfg.stoch_epsilons if stochastic else cfg.epsilons
    n = cfg.stoch_starts if stochastic else cfg.starts
    cells = [(k, e) for k in kappas for e in epsilons]
    grid = dict(zip(cells, out.points([
        (f"{'stoch' if stochastic else 'ramp'}-{method}-k{k:g}-e{e:g}-n{n}",
         lambda k=k, e=e: ramp_point(method, k, e, n, stochastic=stochastic, progress=progress))
        for k, e in cells]), strict=True))
    stack = lambda key: np.array([[grid[(k, e)][key] for e in epsilons] for k in kappas])
    return {"kappas": kappas, "epsilons": epsilons, "steps": stack("steps"),
            "status": stack("status"), "theory": stack("theory"), "calls": stack("calls"),
            "gd_on_phi": stack("gd_on_phi"), "asymptotic": stack("asymptotic"),
            "batch": stack("batch"), "tracking": stack("tracking")}


def summarize_ramp(g, n_boot, method, stochastic=False):
    counts = {"exited": int(np.sum(g["status"] == 1)), "censored": int(np.sum(g["status"] == 3)),
              "diverged": int(np.sum(g["status"] == 2))}
    fit_iter = fit_exponents(g["epsilons"], g["kappas"], g["steps"], n_boot=n_boot)
    fit_calls = fit_exponents(g["epsilons"], g["kappas"], g["calls"], n_boot=n_boot)
    fit_theory = fit_exponents(g["epsilons"], g["kappas"], g["theory"] * (
        g["calls"] / np.maximum(g["steps"], 1) if stochastic else 1), n_boot=2)
    ratio = g["steps"] / g["theory"]
    rows = []
    for i, k in enumerate(g["kappas"]):
        for j, e in enumerate(g["epsilons"]):
            r = ratio[i, j]
            rows.append({"kappa": k, "eps": e, "iterations_mean": float(g["steps"][i, j].mean()),
                         "iterations_se": float(g["steps"][i, j].std(ddof=1) / math.sqrt(r.size)),
                         "theory_mean": float(g["theory"][i, j].mean()),
                         "calls_mean": float(g["calls"][i, j].mean()),
                         "batch": int(g["batch"][i, j]),
                         "ratio_to_theory_mean": float(r.mean()),
                         "ratio_to_theory_range": [float(r.min()), float(r.max())],
                         "ratio_to_asymptotic_mean": float(
                             (g["steps"][i, j] / g["asymptotic"][i, j]).mean())})
    theory_exp = ({"eps": -4.0, "kappa": 3.0, "what": "oracle calls O(κ³ε⁻⁴)"} if stochastic else
                  {"eps": -2.0, "kappa": 2.0, "what": "iterations and calls Θ(κ²ε⁻²)"})
    return {"method": method, "counts": counts, "exponents_iterations": fit_iter,
            "exponents_calls": fit_calls, "exponents_theory_count_on_grid": {
                "eps": fit_theory["eps_exponent"], "kappa": fit_theory["kappa_exponent"]},
            "paper_exponents": theory_exp, "grid": rows}


# ---------------------------------------------------------------------------------------------
# Part 3: double-well NC-SC
# ---------------------------------------------------------------------------------------------


def _dw_phi_grad(x, c):
    return np.stack([ELL * (-(1 - c * c) * x[:, 0] + x[:, 0] ** 3), ELL * (1 + c * c) * x[:, 1]], 1)


def dw_theory(x0, eps, step):
    """GD on Φ (closed-form gradient, numpy float64) until ‖∇Φ‖ ≤ ε, per start."""
    x = np.array(x0, np.float64)
    k = np.zeros(len(x), int)
    alive = np.ones(len(x), bool)
    for _ in range(10**7):
        g = _dw_phi_grad(x, COUPLING)
        alive &= np.sum(g * g, 1) > eps**2
        if not alive.any():
            break
        x[alive] -= step * g[alive]
        k += alive
    return k


def dw_starts(n, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, size=(n, 2))
    x[:, 0] = np.where(np.abs(x[:, 0]) < 0.2, np.sign(x[:, 0] + 1e-12) * 0.2, x[:, 0])
    return x


def dw_point(method, kappa, eps, n_starts, progress=False):
    eta_x, eta_y = steps_for(kappa)
    game = so.DoubleWellGame(2, ell=ELL, mu=ELL / kappa, c=COUPLING)
    x0 = dw_starts(n_starts).astype(np.float32)
    y0 = (float(game.b / game.mu) * x0).astype(np.float32)
    alg = METHODS[method](game, eta_x, eta_y)
    step_eff = eta_x * kappa / (kappa - COUPLING**2)
    theory = dw_theory(x0, eps, step_eff)
    res = so.simulate(alg, (jnp.asarray(x0), jnp.asarray(y0)), 11, n_paths=n_starts,
                      n_steps=int(3 * theory.max()) + 1000, events=[PhiStationary(game, eps)],
                      progress=f"{method} double well κ={kappa:g} ε={eps:g}" if progress else False)
    return {"steps": res.steps, "status": res.status, "theory": theory,
            "calls": res.steps * CALLS[method]}


def dw_grid(out, cfg, method, progress=False):
    cells = [(k, e) for k in cfg.dw_kappas for e in cfg.dw_epsilons]
    grid = dict(zip(cells, out.points([
        (f"dw-{method}-k{k:g}-e{e:g}-n{cfg.dw_starts}",
         lambda k=k, e=e: dw_point(method, k, e, cfg.dw_starts, progress)) for k, e in cells]),
        strict=True))
    stack = lambda key: np.array([[grid[(k, e)][key] for e in cfg.dw_epsilons] for k in cfg.dw_kappas])
    return {"kappas": cfg.dw_kappas, "epsilons": cfg.dw_epsilons, "steps": stack("steps"),
            "status": stack("status"), "theory": stack("theory"), "calls": stack("calls")}


def summarize_dw(g, n_boot, method):
    fit = fit_exponents(g["epsilons"], g["kappas"], g["steps"], n_boot=n_boot)
    fit_th = fit_exponents(g["epsilons"], g["kappas"], g["theory"], n_boot=2)
    ratio = g["steps"] / g["theory"]
    return {"method": method,
            "counts": {"exited": int(np.sum(g["status"] == 1)),
                       "censored": int(np.sum(g["status"] == 3)),
                       "diverged": int(np.sum(g["status"] == 2))},
            "exponents_iterations": fit,
            "exponents_theory_count_on_grid": {"eps": fit_th["eps_exponent"],
                                               "kappa": fit_th["kappa_exponent"]},
            "paper_upper_bound_exponents": {"eps": -2.0, "kappa": 2.0},
            "ratio_to_theory": {"mean": float(ratio.mean()), "min": float(ratio.min()),
                                "max": float(ratio.max())}}


# ---------------------------------------------------------------------------------------------
# The study
# ---------------------------------------------------------------------------------------------


def run(out, quick: bool = False, progress: bool = True) -> dict:
    cfg = QUICK if quick else FULL
    out.write_json("config.json", {**_prev_config(out), "parameters": {
        **cfg.as_dict(), "ell": ELL, "coupling_c": COUPLING, "delta": DELTA, "sigma": SIGMA,
        "step_sizes": "eta_y = 1/ell, eta_x = 1/(kappa^2 ell)",
        "batch": "M = ceil(kappa sigma^2 / eps^2) (stochastic part)"}})
    ramp = {m: ramp_grid(out, cfg, m, progress=progress) for m in METHODS}
    stoch = {m: ramp_grid(out, cfg, m, stochastic=True, progress=progress) for m in METHODS}
    dw = {m: dw_grid(out, cfg, m, progress) for m in METHODS}
    out.save_npz("arrays.npz", **{f"{part}:{m}:{k}": np.asarray(v) for part, d in
                                  (("ramp", ramp), ("stoch", stoch), ("dw", dw))
                                  for m, g in d.items() for k, v in g.items()})
    summary = {
        "setting": {"target": "||grad Phi(x)|| <= eps", "step_sizes": "eta_y = 1/ell, "
                    "eta_x = 1/(kappa^2 ell)", "ell": ELL, "c": COUPLING, "delta": DELTA},
        "lower_bound_instance": {m: summarize_ramp(g, cfg.n_boot, m) for m, g in ramp.items()},
        "stochastic_minibatch": {m: summarize_ramp(g, cfg.n_boot, m, True) for m, g in stoch.items()},
        "double_well": {m: summarize_dw(g, cfg.n_boot, m) for m, g in dw.items()},
    }
    plots.rates(out, ramp, stoch, dw, summary)
    summary["headline"] = {
        f"{part}:{m}": {k: s[k] for k in ("exponents_iterations",)} | (
            {"calls": {kk: s["exponents_calls"][kk] for kk in ("eps_exponent", "eps_ci",
                                                              "kappa_exponent", "kappa_ci")}}
            if "exponents_calls" in s else {})
        for part in ("lower_bound_instance", "stochastic_minibatch", "double_well")
        for m, s in summary[part].items()}
    return summary


def _prev_config(out):
    import json

    p = out.path / "config.json"
    return json.loads(p.read_text()) if p.exists() else {}


# ---------------------------------------------------------------------------------------------
# The table printed at the end (sde-opt study): read from the summary only
# ---------------------------------------------------------------------------------------------

RUN_TIMES = {"quick": "≈ 22 s on 2 idle cores", "full": "≈ 5 min CPU on 2 cores (README)"}

_PARTS = (("lower_bound_instance", "lower-bound instance", "exponents_iterations", "iterations",
           "paper_exponents"),
          ("stochastic_minibatch", "minibatch", "exponents_calls", "oracle calls",
           "paper_exponents"),
          ("double_well", "double well", "exponents_iterations", "iterations",
           "paper_upper_bound_exponents"))


def headline_claims(summary: dict) -> list[dict]:
    """The fitted exponents in ε and κ (95% bootstrap CIs over starts) of GDA and extragradient
    (OGDA is in ``summary.json``), read from ``summary``, for each part: iterations on the
    lower-bound instance, oracle calls with minibatches, iterations on the double-well game.
    Theory: the same fit applied to the theory count on the same grid (gradient descent on Φ
    with the tracking-corrected step, per start); the note gives the paper's exponent (an
    asymptotic bound). No verdicts: the summary has none.
    """
    from sde_opt.experiment.table import claim

    rows = []
    for key, part, fit_key, what, paper_key in _PARTS:
        for method in ("GDA", "EG"):
            s = summary.get(key, {}).get(method)
            if s is None:
                continue
            fit, th, paper = s[fit_key], s["exponents_theory_count_on_grid"], s[paper_key]
            bound = " (upper bound)" if "upper_bound" in paper_key else ""
            for var, sym in (("eps", "ε"), ("kappa", "κ")):
                rows.append(claim(f"{part}, {method}: exponent of {what} in {sym}",
                                  fit[f"{var}_exponent"], ci=fit[f"{var}_ci"], theory=th[var],
                                  note=f"{100 * fit['level']:g}% bootstrap CI; theory: the theory "
                                       f"count's fit on the grid; paper{bound} {paper[var]:g}"))
    return rows

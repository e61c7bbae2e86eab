"""Saddle escape in NC-SC minimax (Huang, Chen, Ji, Ma & Lai 2025, perturbed GDmax; papers.md §3.7).

Parts:

1. **Perturbed GDmax vs GDmax** at the strict saddle of Φ: GDmax started there stays (its gradient
   is exactly 0); perturbed GDmax kicks (uniform in the ball B(0, r)) and escapes. The escape
   iteration (|⟨w, z⟩| ≥ R, w the left unstable eigenvector of the linear (x, y) iteration) against
   the exact kicked-linear law (:func:`sde_opt.theory.gdmax_kicked_escape`, built on
   :mod:`sde_opt.theory.kicked_escape`): ECDF, KS distance, mean with CI — on a quadratic NC-SC
   game (exact) and on the double-well game with its linearization at the saddle (approximate).
2. **Stochastic GDA** from the saddle as η_y/η_x grows: mean exit time of |⟨v, x⟩| ≥ R (v the
   unstable eigenvector of ∇²Φ) against the reduced slow SDE's exact linear-saddle prediction
   (Dawson integral, :func:`sde_opt.theory.saddle_exit_mean`, with noise
   η_x vᵀ[I, −K]Σ[I, −K]ᵀv) and against the exact AR(1) law of the discrete unstable coordinate.
3. **GDmax tracking**: ‖y_k − y*(x_k)‖ along GDmax paths from cold starts (y₀ = 0) for several N,
   against the exact contraction bound B_{k+1} = qB_k + (b/μ)‖Δx_k‖, q = (1 − η_yμ)ᴺ (violations
   counted), and the time spent within a tolerance of y*.

``--quick`` runs all parts with fewer paths and ratios.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats as sps

import sde_opt as so
from sde_opt import stats
from sde_opt import theory as th
from sde_opt.theory import minimax_escape as mx

from . import _minimax_plots as plots

NAME = "minimax-escape"
DESCRIPTION = ("Perturbed GDmax escapes a strict saddle of Φ by the exact kicked-linear law, GDmax "
               "stays; stochastic GDA's escape vs its reduced SDE (Dawson) as η_y/η_x grows; "
               "GDmax's tracking of y*(x)")

LEVEL = 0.95
ALPHA = 2.0 * sps.norm.sf(4.0)


@dataclasses.dataclass(frozen=True)
class Config:
    mode: str
    kick_paths: int
    ratios: tuple
    gda_paths: int
    track_paths: int
    track_iters: int

    def as_dict(self):
        return dataclasses.asdict(self)


QUICK = Config("quick", 1000, (1.0, 64.0), 500, 32, 300)
FULL = Config("full", 20000, (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0), 10000, 512, 1000)


def quadratic_game(sigma=0.0):
    """Φ = ½xᵀ(A + BC⁻¹Bᵀ)x = ½xᵀdiag(−0.84, 0.66)x: a strict saddle at 0, μ = 1."""
    return so.QuadraticGame(np.diag([-1.0, 0.5]), 0.4 * np.eye(2), np.eye(2), sigma_x=sigma,
                            sigma_y=sigma)


def linearized(game):
    """The QuadraticGame with the Hessian blocks of a game's f at z = 0 (its local model)."""
    m, n = game.dims
    with jax.enable_x64(True):
        h = jax.hessian(lambda u: game.objective((u[:m], u[m:])))(jnp.zeros(m + n, jnp.float64))
    h = np.asarray(h)
    return so.QuadraticGame(h[:m, :m], h[:m, m:], -h[m:, m:])


KICK = {"eta_x": 0.2, "eta_y": 0.5, "n_inner": 3, "r": 1e-3, "R": 0.3}


def kicked_part(out, cfg, name, game, law_game, R, progress=False):
    p = KICK
    law = mx.gdmax_kicked_escape(law_game, p["eta_x"], p["eta_y"], p["n_inner"], r=p["r"],
                                 radius=R)
    w = jnp.asarray(law.w, jnp.float32)
    event = _Coordinate(w, R)
    m, n = game.dims
    start = (jnp.zeros(m), jnp.zeros(n))

    def compute():
        alg = so.PerturbedGDmax(game, p["eta_x"], p["eta_y"], n_inner=p["n_inner"],
                                radius=p["r"] / p["eta_x"],  # the kick −η_x ξ moves x by ≤ r
                                eps=0.1, interval=10**6)
        res = so.simulate(alg, start, 101, n_paths=cfg.kick_paths, n_steps=2000, events=[event],
                          progress=f"perturbed GDmax ({name})" if progress else False)
        stay = so.simulate(so.GDmax(game, p["eta_x"], p["eta_y"], n_inner=p["n_inner"]), start,
                           102, n_paths=64, n_steps=2000, events=[event])
        return {"steps": res.steps, "status": res.status, "stay_status": stay.status,
                "stay_final_x": stay.final[0]}

    a = out.point(f"kicked-{name}-n{cfg.kick_paths}", compute)
    k = a["steps"][a["status"] == 1] - 1
    rng = np.random.default_rng(0)
    pit = law.cdf(k - 1) + rng.uniform(size=k.size) * (law.cdf(k) - law.cdf(k - 1))
    ks = float(sps.kstest(pit, "uniform").statistic)
    crit = float(sps.kstwo.isf(ALPHA, max(k.size, 1)))
    mean = stats.iid_mean(k.astype(float), level=LEVEL) if k.size > 1 else None
    stayed = int(np.sum(a["stay_status"] == 3))
    return {
        "name": name, "counts": {"exited": int(np.sum(a["status"] == 1)),
                                 "censored": int(np.sum(a["status"] == 3)),
                                 "diverged": int(np.sum(a["status"] == 2))},
        "growth_rho": law.growth, "kick_scale": law.kick_scale, "r": p["r"], "R": R,
        "mean_escape": _est(mean), "mean_predicted": law.mean(),
        "ks_distance": ks, "ks_critical_4sigma": crit, "ks_pass": ks <= crit,
        "gdmax_no_kick_stayed": stayed, "gdmax_no_kick_paths": int(a["stay_status"].size),
        "gdmax_no_kick_max_abs_x": float(np.max(np.abs(a["stay_final_x"]))),
        "escape_iterations": k, "law_cdf": law.cdf,
        "ks": ks, "ks_crit": crit, "stayed": stayed, "n_stay": int(a["stay_status"].size),
    }


class _Coordinate:
    """|⟨w, z⟩| ≥ R on the flattened (x, y) (or on x alone when w has x's length)."""

    def __init__(self, w, radius):
        self.w, self.radius = w, radius

    def __call__(self, z):
        flat = jnp.concatenate(z) if self.w.shape[0] > z[0].shape[0] else z[0]
        return jnp.abs(flat @ self.w.astype(flat.dtype)) >= self.radius


GDA_ETA_X, GDA_SIGMA, GDA_R = 0.01, 0.1, 0.5


def gda_part(out, cfg, progress=False):
    game = quadratic_game(GDA_SIGMA)
    rows = []
    saddles, batch = [], []  # every ratio's point first: one batch, spread over processes
    for ratio in cfg.ratios:
        s = mx.gda_saddle(game, GDA_ETA_X, ratio * GDA_ETA_X)
        ev_v = _Coordinate(jnp.asarray(s.v_phi, jnp.float32), GDA_R)
        ev_w = _Coordinate(jnp.asarray(s.w, jnp.float32), GDA_R)
        horizon = int(20 * s.mean_time_reduced(GDA_R) / GDA_ETA_X)

        def compute(ratio=ratio, ev_v=ev_v, ev_w=ev_w, horizon=horizon):
            alg = so.GDA(game, GDA_ETA_X, ratio * GDA_ETA_X)
            z0 = (jnp.zeros(2), jnp.zeros(2))
            a = so.simulate(alg, z0, 201, n_paths=cfg.gda_paths, n_steps=horizon, events=[ev_v],
                            progress=f"GDA ratio {ratio:g}" if progress else False)
            b = so.simulate(alg, z0, 202, n_paths=cfg.gda_paths, n_steps=horizon, events=[ev_w])
            return {"v_steps": a.steps, "v_status": a.status, "w_steps": b.steps,
                    "w_status": b.status}

        saddles.append(s)
        batch.append((f"gda-ratio{ratio:g}-n{cfg.gda_paths}", compute))
    for ratio, s, arr in zip(cfg.ratios, saddles, out.points(batch), strict=True):
        sv = stats.exit_time_summary(arr["v_steps"] * GDA_ETA_X, arr["v_status"] == 1,
                                     diverged=arr["v_status"] == 2, level=LEVEL)
        sw = stats.exit_time_summary(arr["w_steps"].astype(float), arr["w_status"] == 1,
                                     diverged=arr["w_status"] == 2, level=LEVEL)
        rows.append({"ratio": ratio, "eta_y": ratio * GDA_ETA_X,
                     "lam_discrete": s.lam_discrete, "sigma_discrete": s.sigma_discrete,
                     "mean_time_v": sv.mean, "mean_time_v_se": sv.mean_se,
                     "mean_time_v_ci": [sv.mean_low, sv.mean_high],
                     "counts_v": {"exited": sv.exited, "censored": sv.censored,
                                  "diverged": sv.diverged},
                     "mean_iter_w": sw.mean, "mean_iter_w_se": sw.mean_se,
                     "ar1_mean_iter_w": s.mean_iterations_discrete(GDA_R)})
    s_inf = mx.gda_saddle(game, GDA_ETA_X, cfg.ratios[-1] * GDA_ETA_X)
    dawson = s_inf.mean_time_reduced(GDA_R)
    em = (th.saddle_exit_mean_em(s_inf.lam_phi, s_inf.sigma_reduced, GDA_R, GDA_ETA_X)
          - th.saddle_exit_mean_asymptotic(s_inf.lam_phi, s_inf.sigma_reduced, GDA_R))
    return {"eta_x": GDA_ETA_X, "sigma": GDA_SIGMA, "R": GDA_R, "lam_phi": s_inf.lam_phi,
            "sigma_reduced": s_inf.sigma_reduced, "dawson_mean_time": dawson,
            "dawson_plus_em_correction": dawson + em, "rows": rows,
            # for the figure
            "ratios": [r["ratio"] for r in rows], "mean_time": [r["mean_time_v"] for r in rows],
            "mean_time_se": [r["mean_time_v_se"] for r in rows],
            "ar1_time": [r["ar1_mean_iter_w"] * GDA_ETA_X for r in rows],
            "w_time": [r["mean_iter_w"] * GDA_ETA_X for r in rows],
            "dawson": dawson, "dawson_em": dawson + em}


TRACK = {"kappa": 10.0, "ell": 1.0, "c": 0.5, "inner": (1, 3, 10), "tol": 1e-3}


def tracking_part(out, cfg):
    p = TRACK
    game = so.DoubleWellGame(2, ell=p["ell"], mu=p["ell"] / p["kappa"], c=p["c"])
    eta_y = 1.0 / p["ell"]
    eta_x = 1.0 / ((1.0 + p["kappa"]) * p["ell"])
    rng = np.random.default_rng(5)
    x0 = rng.uniform(-1.2, 1.2, size=(cfg.track_paths, 2)).astype(np.float32)
    start = (jnp.asarray(x0), jnp.zeros((cfg.track_paths, 2), jnp.float32))
    out_d = {}
    for n_inner in p["inner"]:
        def compute(n_inner=n_inner):
            alg = so.GDmax(game, eta_x, eta_y, n_inner=n_inner)
            res = so.simulate(alg, start, 301, n_paths=cfg.track_paths, n_steps=cfg.track_iters,
                              observables={"err": _TrackErr(game), "x": lambda z: z[0]})
            return {"err": res.observables["err"], "x": res.observables["x"]}

        a = out.point(f"track-N{n_inner}-n{cfg.track_paths}-k{cfg.track_iters}", compute)
        err = a["err"]
        q = (1.0 - eta_y * float(game.mu)) ** n_inner
        # [derived here] with −∇²_yy f = μI the inner loop contracts the error exactly by q, and
        # e_{k+1} = q e_k − (b/μ)(x_{k+1} − x_k); hence ‖e_k‖ ≤ B_k, B_{k+1} = q B_k + (b/μ)‖Δx_k‖,
        # B_0 = ‖e_0‖ (evaluated on each path's own x-steps), up to float32 rounding of y*
        dx = np.linalg.norm(np.diff(a["x"], axis=1), axis=-1)
        bmu = float(game.b / game.mu)
        bnd = np.empty_like(err)
        bnd[:, 0] = err[:, 0]
        for k in range(dx.shape[1]):
            bnd[:, k + 1] = q * bnd[:, k] + bmu * dx[:, k]
        ystar = bmu * np.max(np.linalg.norm(a["x"], axis=-1))
        rounding = 8 * float(np.finfo(np.float32).eps) * max(ystar, 1.0)
        viol = int(np.sum(err > bnd + rounding))
        below = err <= p["tol"]
        first = np.where(below.any(1), below.argmax(1), err.shape[1])
        frac = below.mean(1)
        f_est = stats.iid_mean(frac, level=LEVEL)
        t_est = stats.iid_mean(first.astype(float), level=LEVEL)
        out_d[n_inner] = {
            "q": q, "bound_violations": viol, "checked_iterates": int(err.size),
            "rounding_floor": rounding,
            "fraction_of_time_within_tol": _est(f_est),
            "first_iteration_within_tol": _est(t_est), "tol": p["tol"],
            "iterations": np.arange(err.shape[1]), "median": np.median(err, 0),
            "q10": np.quantile(err, 0.1, 0), "q90": np.quantile(err, 0.9, 0),
            "bound": np.median(bnd, 0) + rounding}
    return out_d


class _TrackErr:
    def __init__(self, game):
        self.game = game

    def __call__(self, z):
        d = z[1] - self.game.y_star(z[0])
        return jnp.sqrt(jnp.sum(d * d))


def _est(e):
    if e is None:
        return None
    return {"estimate": float(e.value), "se": float(e.se), "ci": [float(e.ci_low), float(e.ci_high)]}


def run(out, quick: bool = False, progress: bool = True) -> dict:
    cfg = QUICK if quick else FULL
    out.write_json("config.json", {**_prev_config(out), "parameters": {
        **cfg.as_dict(), "kick": KICK, "gda": {"eta_x": GDA_ETA_X, "sigma": GDA_SIGMA, "R": GDA_R},
        "tracking": TRACK}})
    dw = so.DoubleWellGame(2, ell=1.0, mu=0.5, c=0.5)
    kicked = {"quadratic NC-SC (exact law)": kicked_part(out, cfg, "quadratic", quadratic_game(),
                                                         quadratic_game(), KICK["R"], progress),
              "double well (linearized law)": kicked_part(out, cfg, "double-well", dw, linearized(dw),
                                                          0.05, progress)}
    gda = gda_part(out, cfg, progress)
    track = tracking_part(out, cfg)
    plots.escape(out, kicked, gda, track)
    arrays = {f"kick:{k}:escape_iterations": v["escape_iterations"] for k, v in kicked.items()}
    arrays.update({f"track:N{n}:median": v["median"] for n, v in track.items()})
    out.save_npz("arrays.npz", **arrays)
    drop = ("escape_iterations", "law_cdf", "ks", "ks_crit", "stayed", "n_stay")
    summary = {
        "perturbed_gdmax": {k: {kk: vv for kk, vv in v.items() if kk not in drop}
                            for k, v in kicked.items()},
        "stochastic_gda": {k: v for k, v in gda.items()
                           if k not in ("ratios", "mean_time", "mean_time_se", "ar1_time", "w_time",
                                        "dawson", "dawson_em")},
        "gdmax_tracking": {f"N={n}": {k: v for k, v in d.items()
                                      if k not in ("iterations", "median", "q10", "q90", "bound")}
                           for n, d in track.items()},
    }
    summary["headline"] = {
        "kicked_escape": {k: {"mean": v["mean_escape"], "predicted": v["mean_predicted"],
                              "ks": v["ks_distance"], "ks_crit": v["ks_critical_4sigma"],
                              "gdmax_no_kick_stayed": f"{v['gdmax_no_kick_stayed']}/"
                                                      f"{v['gdmax_no_kick_paths']}"}
                          for k, v in summary["perturbed_gdmax"].items()},
        "gda_mean_exit_time_vs_ratio": [{"ratio": r["ratio"], "mean": r["mean_time_v"],
                                         "ci": r["mean_time_v_ci"]} for r in gda["rows"]],
        "reduced_sde_dawson": gda["dawson_mean_time"],
        "reduced_sde_dawson_plus_em": gda["dawson_plus_em_correction"],
    }
    return summary


def _prev_config(out):
    import json

    p = out.path / "config.json"
    return json.loads(p.read_text()) if p.exists() else {}


# ---------------------------------------------------------------------------------------------
# The table printed at the end (sde-opt study): read from the summary only
# ---------------------------------------------------------------------------------------------

RUN_TIMES = {"quick": "≈ 31 s on 2 idle cores", "full": "≈ 2 min CPU on 2 cores (README)"}


def headline_claims(summary: dict) -> list[dict]:
    """The rows of the closing table, each read from ``summary``:

    * perturbed GDmax, per game — the mean escape iteration (95% CI) against the kicked-linear
      law's mean (no verdict in the summary), and the KS distance of the escape iterations to
      that law with the study's verdict (``ks_pass``: at most the 4σ critical value); the note
      says how many unkicked GDmax paths stayed at the saddle;
    * stochastic GDA — the mean exit time along v at the largest η_y/η_x against the reduced
      SDE's Dawson mean (95% CI), and at the smallest and largest ratio the mean exit iteration
      of the unstable coordinate w against the exact AR(1) law (SE in the note);
    * GDmax tracking, per N — iterates above the exact contraction bound (the bound allows 0).
    """
    from sde_opt.experiment.table import claim

    rows = []
    for label, k in summary["perturbed_gdmax"].items():
        m = k["mean_escape"]
        if m is not None:
            rows.append(claim(f"perturbed GDmax, {label}: mean escape iteration",
                              m["estimate"], ci=m["ci"], theory=k["mean_predicted"],
                              note="95% CI; theory: the kicked-linear law's mean"))
        rows.append(claim(f"perturbed GDmax, {label}: KS distance to the law",
                          k["ks_distance"], verdict="pass" if k["ks_pass"] else "fail",
                          note=f"pass: ≤ {k['ks_critical_4sigma']:.4g} (4σ critical value); "
                               f"unkicked GDmax stayed at the saddle on "
                               f"{k['gdmax_no_kick_stayed']}/{k['gdmax_no_kick_paths']} paths"))
    gda = summary["stochastic_gda"]
    last = max(gda["rows"], key=lambda r: r["ratio"])
    rows.append(claim(f"stochastic GDA, η_y/η_x = {last['ratio']:g}: mean exit time along v",
                      last["mean_time_v"], ci=last["mean_time_v_ci"],
                      theory=gda["dawson_mean_time"],
                      note=f"95% CI; theory: the reduced SDE's Dawson mean (with the EM "
                           f"correction: {gda['dawson_plus_em_correction']:.4g})"))
    ends = sorted({min(r["ratio"] for r in gda["rows"]), last["ratio"]})
    for r in (r for r in gda["rows"] if r["ratio"] in ends):
        rows.append(claim(f"stochastic GDA, η_y/η_x = {r['ratio']:g}: mean exit iteration of w",
                          r["mean_iter_w"], theory=r["ar1_mean_iter_w"],
                          note=f"SE {r['mean_iter_w_se']:.3g}; theory: the exact AR(1) law"))
    for label, t in summary["gdmax_tracking"].items():
        rows.append(claim(f"GDmax tracking, {label}: iterates above the contraction bound",
                          t["bound_violations"], theory=0.0,
                          note=f"of {t['checked_iterates']} checked (q = {t['q']:.4g})"))
    return rows

"""The minimax studies' building blocks (exponent fits over exited paths only, per-run fractions,
the rows' verdicts on synthetic inputs, one grid point) and, marked slow, their quick modes."""

import json

import numpy as np
import pytest

from sde_opt import studies
from sde_opt.experiment import ResultsDir
from sde_opt.studies._minimax_common import (
    clopper_pearson,
    fit_exponents,
    fraction_verdict,
    one_sided_row,
)


def test_studies_are_registered():
    reg = studies.registry()
    assert "minimax-rates" in reg and "minimax-escape" in reg


def _grid(noise=0.01, n=50, seed=0):
    eps, kap = np.array([0.2, 0.1, 0.05]), np.array([2.0, 4.0, 8.0])
    rng = np.random.default_rng(seed)
    vals = (kap[:, None, None] ** 2) * (eps[None, :, None] ** -2.0) * np.exp(
        noise * rng.normal(size=(3, 3, n)))
    return eps, kap, vals


def test_fit_exponents_recovers_known_exponents():
    eps, kap, vals = _grid()
    fit = fit_exponents(eps, kap, vals, n_boot=100)
    assert abs(fit["eps_exponent"] + 2) < 0.01 and abs(fit["kappa_exponent"] - 2) < 0.01
    assert fit["eps_ci"][0] < -2 < fit["eps_ci"][1]
    assert fit["cells_left_out"] == [] and fit["cells_used"] == 9


def test_diverged_and_censored_paths_are_never_averaged_in():
    """Defect 3: a few paths that diverged early (their 'steps' are the divergence step) or were
    censored (the horizon) used to enter the mean as iteration counts; with them the κ-exponent
    fell from 2 to about 1. Now their cells are left out and listed with their counts."""
    eps, kap, vals = _grid()
    status = np.ones(vals.shape, int)
    vals[2, 2, :3] = 5.0            # diverged after 5 steps at the largest κ, smallest ε
    status[2, 2, :3] = 2
    vals[2, 1, :2] = 1e9            # censored at a huge horizon
    status[2, 1, :2] = 3
    naive = fit_exponents(eps, kap, vals, n_boot=20)
    assert abs(naive["kappa_exponent"] - 2) > 0.3               # what the old study reported
    fit = fit_exponents(eps, kap, vals, valid=status == 1, n_boot=100)
    assert abs(fit["kappa_exponent"] - 2) < 0.02 and abs(fit["eps_exponent"] + 2) < 0.02
    left = {(c["kappa"], c["eps"]): c["not_reached"] for c in fit["cells_left_out"]}
    assert left == {(8.0, 0.05): 3, (8.0, 0.1): 2} and fit["cells_used"] == 7


def test_a_fit_without_enough_cells_says_so():
    eps, kap, vals = _grid()
    valid = np.zeros(vals.shape, bool)
    valid[0, 0] = True
    fit = fit_exponents(eps, kap, vals, valid=valid, n_boot=10)
    assert fit["kappa_exponent"] is None and fit["cells_used"] == 1


def test_summarize_ramp_counts_every_outcome_apart():
    from sde_opt.studies.minimax_rates import QUICK, summarize_ramp

    steps = np.full((2, 2, 4), 100.0)
    status = np.ones((2, 2, 4), int)
    status[1, 1, 0], status[1, 1, 1] = 2, 3
    g = {"kappas": [2.0, 4.0], "epsilons": [0.2, 0.1], "steps": steps, "status": status,
         "theory": np.full(steps.shape, np.nan), "lower": np.full(steps.shape, 50.0),
         "r0": np.ones(steps.shape)}
    s = summarize_ramp({("OGDA", "k^-2"): g}, QUICK)["OGDA k^-2"]
    assert s["counts"] == {"exited": 14, "diverged": 1, "censored": 1}
    assert s["runs_above_lower_bound"] == 14                       # only runs that reached ε
    cell = s["cells"][-1]
    assert cell["counts"] == {"exited": 2, "diverged": 1, "censored": 1}
    assert cell["iterations_mean_exited"] == 100.0


def test_clopper_pearson_and_fraction_verdicts():
    lo, hi = clopper_pearson(10, 10)
    assert hi == 1.0 and 0.3 < lo < 0.5
    assert fraction_verdict("all", 32, 32).verdict == "pass"
    assert fraction_verdict("all", 31, 32).verdict == "fail"       # one failing run is enough
    # "with probability ≥ 0.9": fails only when the whole interval lies below 0.9
    assert fraction_verdict("p", 28, 32, at_least=0.9).verdict == "pass"
    assert fraction_verdict("p", 10, 32, at_least=0.9).verdict == "fail"


def test_one_sided_rows_fail_only_on_the_wrong_side():
    assert one_sided_row("x", -6.0, -4.8, 0.1, at_least=True)["verdict"] == "pass"
    assert one_sided_row("x", -6.0, -7.0, 0.1, at_least=True)["verdict"] == "fail"
    assert one_sided_row("x", -6.0, -6.2, 0.1, at_least=True)["verdict"] == "pass"  # within 4 SE


def _batch_rows(exponent):
    """Synthetic best-batch search results with M* ∝ κ^exponent ε⁻² (and a bootstrap that agrees)."""
    rows = []
    for k in (2.0, 4.0, 8.0):
        for e in (0.2, 0.1, 0.05):
            m = max(1, int(round(256 * k**exponent / (e / 0.2) ** 2)))
            rows.append({"kappa": k, "eps": e, "best_batch": m, "bootstrap_best_batch": [m] * 20,
                         "theory_best_batch": 16 * k**-1.8 / (e / 0.2) ** 2})
    return {"rows": rows}


def test_best_batch_rows_reject_a_wrong_exponent():
    from sde_opt.studies.minimax_rates import batch_rows

    good = batch_rows(_batch_rows(-1.8))
    assert [r["verdict"] for r in good] == ["pass", "pass"]
    # a search that found M* ∝ κ (the papers' M): the derived κ-exponent is rejected
    wrong = batch_rows(_batch_rows(1.0))
    assert [r["verdict"] for r in wrong] == ["pass", "fail"]


def _strong(found):
    """Synthetic strong-coupling search results: M* = ``found(κ, ε, derived)``, the bootstrap
    agreeing up to one √2 step."""
    rows = []
    for i, (k, e) in enumerate([(2.0, 0.2), (2.0, 0.1), (4.0, 0.2), (4.0, 0.1)]):
        derived = 2 * 0.5 * k**0.2 / e**2
        m = max(1, int(round(found(k, e, derived))))
        boot = np.roll([m] * 8 + [int(m * 1.41), int(m / 1.41)], 3 * i).tolist() * 4
        rows.append({"kappa": k, "eps": e, "best_batch": m, "theory_best_batch": derived,
                     "bootstrap_best_batch": boot,
                     "floor_one": 0.5 * k**0.2, "papers_batch": int(np.ceil(k / e**2))})
    return {"rows": rows}


def test_strong_coupling_row_rejects_the_papers_batch_and_a_wrong_noise():
    """Power of the strong-coupling best-batch row: a search landing on the derived 2F₁/ε² passes;
    one landing on the papers' ⌈κσ²/ε²⌉ (at κ ≤ 4, where F₁ is flat) or on a floor of 1.5²× the
    noise is rejected, and so is the right search judged against the papers' M."""
    from sde_opt.studies.minimax_rates import strong_rows

    assert strong_rows(_strong(lambda k, e, d: d))[0]["verdict"] == "pass"
    assert strong_rows(_strong(lambda k, e, d: np.ceil(k / e**2)))[0]["verdict"] == "fail"
    assert strong_rows(_strong(lambda k, e, d: 2.25 * d))[0]["verdict"] == "fail"
    ok = _strong(lambda k, e, d: d)
    assert strong_rows(ok, predicted=lambda r: r["papers_batch"])[0]["verdict"] == "fail"


def test_step_ratio_rows_fail_when_a_run_misbehaves():
    from sde_opt.studies.minimax_rates import ratio_rows

    def part(grew):
        rows = [{"kappa": k, "critical_eta_x": 2 / (k + 1), "contracted_below": 16,
                 "grew_above": grew, "n": 16} for k in (4.0, 16.0, 64.0)]
        return {"kappas": [4.0, 16.0, 64.0], "methods": {"GDA": {
            "rows": rows, "critical_exponent": -0.98,
            # a run at 1.25× that did not grow leaves that threshold unbracketed above
            "critical_exponent_bracket": [-1.15, -0.8] if grew == 16 else [-np.inf, np.inf]}}}

    ok = ratio_rows(part(16))
    assert [r["verdict"] for r in ok] == ["pass"]
    bad = ratio_rows(part(15))
    assert [r["verdict"] for r in bad] == ["fail"]


def _li(exponent, kappas=(8.0, 32.0, 128.0), offset=1.0):
    from sde_opt.studies.minimax_rates import li_exponent

    ratios = [2.0 * (k + offset) ** exponent for k in kappas]
    return {**li_exponent(kappas, ratios), "kappas": list(kappas), "ratios": ratios,
            "exact": ratios}


def test_li_row_passes_a_theta_kappa_threshold_and_rejects_wrong_exponents():
    """Power of the step-ratio row: a threshold 2/(κ + 1) (Q_κ's, Θ(κ⁻¹)) passes against
    Li et al.'s −1; thresholds falling like κ⁻² (the papers' regime) or κ^-1.2 fail, and so does
    the right data judged against a wrong prediction."""
    from sde_opt.studies.minimax_rates import li_row

    assert li_row(_li(-1.0))["verdict"] == "pass"
    assert li_row(_li(-2.0))["verdict"] == "fail"
    assert li_row(_li(-1.2))["verdict"] == "fail"
    assert li_row(_li(-1.0), predicted=-2.0)["verdict"] == "fail"


@pytest.mark.slow
def test_one_ramp_point_matches_its_theory_count_and_bound():
    from sde_opt.studies.minimax_rates import ramp_point

    p = ramp_point("GDA", 4.0, 0.2, 4)
    assert np.all(p["status"] == 1)
    assert np.all(np.abs(p["steps"] - p["theory"]) <= 4 + 2)  # the κ-iteration transient
    assert np.all(p["steps"] >= p["lower"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["minimax-rates", "minimax-escape"])
def test_quick_modes_run(tmp_path, name):
    mod = studies.registry()[name]
    out = ResultsDir(tmp_path / name)
    summary = mod.run(out, quick=True, progress=False)
    rows = mod.headline_claims(json.loads(json.dumps(summary, default=float)))
    assert 3 <= len(rows) <= 12
    assert all(r["verdict"] in ("pass", "deviation") or "no verdict" in r["note"] for r in rows)
    assert list(out.path.glob("*.png"))


def _ncc_summary(censored_eg=0, eg_fit=True, off_gd=0):
    """A synthetic NC-C summary: 3 ε × 8 runs per method, EG with ``censored_eg`` runs that never
    reached ε (and no exponent when ``eg_fit`` is False) and ``off_gd`` runs whose count differs
    from gradient descent on Φ by more than the allowance."""
    methods = {}
    for m in ("GDA", "OGDA", "EG"):
        c = censored_eg if m == "EG" else 0
        o = off_gd if m == "OGDA" else 0
        d = {"counts": {"exited": 24 - c, "diverged": 0, "censored": c}, "runs_at_kink": [0, 0, 0],
             "runs_as_gd_on_phi": 24 - c - o, "runs": 24, "max_abs_difference_to_gd": 3.0,
             "max_allowance": 12.0, "gd_mean_iterations": [35.0, 300.0, 950.0]}
        if m != "EG" or eg_fit:
            d.update(eps_exponent=-4.7, eps_se=0.05)
        methods[m] = d
    return {"epsilons": [0.4, 0.28, 0.2], "methods": methods}


def test_ncc_rows_fail_when_a_run_is_not_gradient_descent_on_phi():
    """Review of issue 18: the NC-C verdict is per run — each method's count against gradient
    descent on the closed-form Φ at the same η_x; a run that never reaches ε, or one off by more
    than its allowance, fails the row; the ε-exponent beside −6 has no verdict (it could not
    fail)."""
    from sde_opt.studies.minimax_rates import ncc_rows

    ok = ncc_rows(_ncc_summary())
    assert [r["verdict"] for r in ok] == ["pass", "-"]
    for bad in (_ncc_summary(censored_eg=1), _ncc_summary(censored_eg=24, eg_fit=False),
                _ncc_summary(off_gd=1)):
        rows = ncc_rows(bad)
        assert rows[0]["verdict"] == "fail", rows


def test_gd_on_phi_counts_follow_the_step():
    """The NC-C reference: GD on Φ with a third of the step needs about three times the
    iterations (the comparison the NC-C row rests on can tell steps apart)."""
    from sde_opt.studies.minimax_rates import NCC, gd_on_phi_steps, ncc_game, ncc_starts

    game = ncc_game()
    x0 = ncc_starts(game, game.moreau_lambda(NCC["region"]), 4)
    a = gd_on_phi_steps(x0, 0.02, 0.4, 4000, 1)
    b = gd_on_phi_steps(x0, 0.02 / 3, 0.4, 12000, 1)
    assert np.all(np.isfinite(a)) and np.all(np.abs(b / a - 3) < 0.1), (a, b)

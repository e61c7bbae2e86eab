"""Power of the headline verdicts of msgd-escape, sghmc-vs-sgld and fit-traces (issue 22): the same
rules that pass on the stored quick summaries reject a deliberately wrong algorithm, noise level
or exponent."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jax.numpy as jnp
import pytest

import sde_opt as so
from sde_opt import stats
from sde_opt.studies import fit_traces, msgd_escape, sghmc_vs_sgld

DATA = Path(__file__).parent / "data" / "study_summaries"


def _summary(name):
    return json.loads((DATA / f"{name}.json").read_text())


def _row(rows, start):
    return next(r for r in rows if r["quantity"].startswith(start))


def _escape_summary(eta, mu, n_paths=2048, dof=None):
    """MSGD's exit iterations from e₂ on the study's streaming PCA (the study's event)."""
    problem = so.StreamingPCA(msgd_escape.SPECTRUM, dof=dof)
    res = so.simulate(so.MomentumSGD(problem, eta, mu), jnp.eye(len(msgd_escape.SPECTRUM))[1], 11,
                      n_paths=n_paths, n_steps=4000, events=[so.Threshold(msgd_escape.cos2_e1, 0.5)])
    return stats.exit_time_summary(res, unit="steps")


@pytest.mark.slow
def test_msgd_escape_row_rejects_a_step_size_five_percent_off():
    """The escape row at (η, μ) = (6e-3, 0) passes for the right chain (the stored summary) and
    fails for MSGD run at η = 6.3e-3 but compared with the predictions for 6e-3."""
    summary = _summary("msgd-escape")
    assert msgd_escape.headline_claims(summary)[0]["verdict"] == "pass"
    wrong = _escape_summary(6.3e-3, 0.0)
    s = copy.deepcopy(summary)
    s["phase1_escape"][0]["msgd"].update(mean=wrong.mean, mean_se=wrong.mean_se)
    row = msgd_escape.headline_claims(s)[0]
    assert row["quantity"].startswith("escape from e₂") and "μ = 0" in row["quantity"]
    assert row["verdict"] == "fail", row


@pytest.mark.slow
def test_msgd_floor_row_rejects_a_wrong_noise_level():
    """Student-t samples (kurtosis 4/3: a third more gradient noise) against the Gaussian floor."""
    summary = _summary("msgd-escape")
    problem = so.StreamingPCA(msgd_escape.SPECTRUM, dof=10)
    res = so.simulate(so.MomentumSGD(problem, 1e-2, 0.0), jnp.eye(len(msgd_escape.SPECTRUM))[0], 31,
                      n_paths=256, n_steps=2000, observables={"err": problem.error}, stride=10)
    v = res.observables["err"]
    est = stats.batch_means(v, burn_in=int(0.2 * (v.shape[1] - 1)))
    s = copy.deepcopy(summary)
    s["floor"][0]["msgd"].update(value=float(est.value), se=float(est.se))
    row = _row(msgd_escape.headline_claims(s), "floor: MSGD stationary error")
    assert "μ = 0" in row["quantity"] and row["verdict"] == "fail", row


@pytest.mark.parametrize("exponent", [0.5, 2.0])
def test_msgd_weak_order_row_rejects_a_wrong_exponent(exponent):
    """The fitted weak order (≈ 0.92 over η = 6e-4, 6e-3) is not ½ (a strong order) nor 2."""
    s = copy.deepcopy(_summary("msgd-escape"))
    fit = s["weak_error"]["mu=0.9"]["escape_order_fit"]
    assert _row(msgd_escape.headline_claims(s), "weak order")["verdict"] == "pass"
    fit["predicted_linear_order"] = exponent
    assert _row(msgd_escape.headline_claims(s), "weak order")["verdict"] == "fail"


def test_msgd_momentum_factor_row_rejects_a_wrong_momentum():
    """The measured factor of μ = 0.9 against the discrete prediction for μ = 0.8 (a chain run at
    the wrong momentum) is rejected; the paper row's documented deviation logic stays consistent."""
    s = copy.deepcopy(_summary("msgd-escape"))
    rows = msgd_escape.headline_claims(s)
    assert _row(rows, "momentum factor:")["verdict"] == "pass"
    # the μ = 0.9 measurement read as if it were μ = 0.8: discrete prediction ≈ twice as large
    f = s["collapse"]["gaussian"]["momentum_factor_at_fixed_eta"][1]
    f["factor"] *= 2.0
    assert _row(msgd_escape.headline_claims(s), "momentum factor:")["verdict"] == "fail"


def test_sghmc_speedup_row_rejects_a_wrong_friction():
    """The speedup of SGHMC1 at γ = 0.4 (the fastest in theory) over SGLD passes; a chain run at
    the wrong friction γ = 1.6 — its exact discrete rate, with the same SE, in place of the γ = 0.4
    measurement — is rejected."""
    import numpy as np

    from sde_opt.theory.langevin import chain_relaxation_rate

    s = copy.deepcopy(_summary("sghmc-vs-sgld"))
    assert _row(sghmc_vs_sgld.headline_claims(s), "quadratic: speedup of SGHMC1")["verdict"] == "pass"
    st = s["quadratic"]["setting"] if "setting" in s["quadratic"] else {"m": 0.04}
    wrong = so.SGHMC1(so.Quadratic([st["m"]], noise_cov=1.0), 0.1, 1.6, 10.0)
    rate = float(chain_relaxation_rate(wrong, np.zeros(1)))
    best = next(r for r in s["quadratic"]["rows"] if r.get("algorithm") == "SGHMC1(γ=0.4)")
    best["measured_rate"] = {"value": rate, "se": best["measured_rate"]["se"]}
    assert _row(sghmc_vs_sgld.headline_claims(s), "quadratic: speedup of SGHMC1")["verdict"] == "fail"


def test_fit_traces_rows_reject_a_wrong_batch_size():
    """The fitted diffusion and η_eff of SGD (batch 32) against the target for batch 16 (twice the
    gradient noise: the diffusion target doubles) are rejected; with the right batch they pass."""
    s = copy.deepcopy(_summary("fit-traces"))
    rows = fit_traces.headline_claims(s)
    assert _row(rows, "sgd-iid: fitted / limit diffusion")["verdict"] == "pass"
    assert _row(rows, "sgd-iid: fitted η_eff")["verdict"] == "pass"
    run = s["runs"]["sgd-iid"]
    run["exact_trace_noise_over_limit_diffusion"] *= 2.0
    # η_eff solves H S + S H = η_eff Σ_b: the same S with twice the Σ_b gives half the η_eff
    run["eta_eff"]["exact_discrete_trace_noise"] /= 2.0
    rows = fit_traces.headline_claims(s)
    assert _row(rows, "sgd-iid: fitted / limit diffusion")["verdict"] == "fail"
    assert _row(rows, "sgd-iid: fitted η_eff")["verdict"] == "fail"

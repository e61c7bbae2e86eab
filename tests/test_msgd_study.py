"""The msgd-escape study on tiny configurations: it runs, writes its outputs, and resumes."""

import dataclasses
import json

import numpy as np
import pytest

from sde_opt import studies
from sde_opt.experiment import ResultsDir
from sde_opt.studies import msgd_escape as study
from sde_opt.theory import momentum_pca as mp

TINY = study.Config(
    mode="tiny",
    escape_grid={"gaussian": [(3e-2, 0.0), (3e-3, 0.9), (1e-2, 0.9)]},
    escape_paths=256,
    phase_eta=2e-2, phase_mus=(0.0, 0.9), phase_iters=400, phase_paths=64,
    floor_grid={"gaussian": [(3e-2, 0.0), (3e-2, 0.9)]},
    floor_paths=64, floor_horizon=10.0,
    weak_mu=0.9,
    anneal=False,
)


def test_study_is_registered():
    assert studies.registry()["msgd-escape"] is study


@pytest.mark.slow
def test_tiny_study_writes_outputs_and_resumes_without_recomputing(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "QUICK", TINY)
    out = ResultsDir(tmp_path / "msgd-escape")
    s1 = study.run(out, quick=True, progress=False)
    assert len(out.computed) == 3 + 2 + 2 and not out.resumed  # escape, phases, floors
    for fig in ("collapse.png", "escape_distribution.png", "phases.png", "floor.png",
                "weak_error.png"):
        assert (tmp_path / "msgd-escape" / fig).stat().st_size > 10_000
    cfg = json.loads((tmp_path / "msgd-escape" / "config.json").read_text())
    assert cfg["parameters"]["escape_paths"] == 256
    rows = s1["phase1_escape"]
    assert len(rows) == 3
    for r in rows:
        m = r["msgd"]
        assert m["exited"] == 256
        # the interval is the 95% normal interval of the mean: half-width 1.96·SE
        lo, hi = m["mean_ci"]
        assert (hi - lo) / 2 == pytest.approx(1.959964 * m["mean_se"], rel=1e-3)
        assert (lo + hi) / 2 == pytest.approx(m["mean"], rel=1e-9)
        pred = mp.pca_escape(study.SPECTRUM, r["eta"], r["mu"])
        # the mean against heavy ball's discrete prediction with the stable coordinates and the
        # exact event: 4 SE + the derived bound on what that prediction neglects
        assert r["predicted_mean_discrete"] == pytest.approx(pred.discrete, rel=1e-12)
        tol = 4 * m["mean_se"] + pred.stable_bias() + abs(pred.discrete_sigma2_terms)
        assert abs(m["mean"] - pred.discrete_exact_event) < tol, (r["eta"], r["mu"], m, tol)
    # the second run loads every point and reproduces the numbers exactly
    out2 = ResultsDir(tmp_path / "msgd-escape")
    s2 = study.run(out2, quick=True, progress=False)
    assert not out2.computed and len(out2.resumed) == 7
    assert json.dumps(s1["phase1_escape"], sort_keys=True, default=str) == json.dumps(
        s2["phase1_escape"], sort_keys=True, default=str)
    assert s1["floor"][0]["msgd"] == s2["floor"][0]["msgd"]


@pytest.mark.slow
def test_quick_and_full_use_different_point_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "QUICK", TINY)
    other = dataclasses.replace(TINY, mode="tiny-full")
    out = ResultsDir(tmp_path / "r")
    study.escape_sweep(out, TINY, "gaussian", False)
    study.escape_sweep(out, other, "gaussian", False)
    assert len(out.computed) == 6 and not out.resumed


def test_crossing_time_and_its_bootstrap_interval():
    steps = np.arange(0, 1000, 10)
    rng = np.random.default_rng(0)
    # each path's error decays exponentially at its own rate; mean crosses 0.1 near k = 230
    rates = rng.uniform(0.009, 0.011, size=400)
    err = np.exp(-np.outer(rates, steps))
    est, lo, hi, never = study._crossing(err, steps, 0.1)
    truth = steps[np.flatnonzero(err.mean(0) <= 0.1)[0]]
    assert est == truth and lo <= est <= hi and never == 0.0
    assert hi - lo <= 30
    est, lo, hi, never = study._crossing(err, steps, 1e-9)
    assert est == np.inf and never == 1.0


def test_anneal_runs_share_the_effective_step_trajectory():
    runs = study.anneal_runs(study.FULL)
    a, b = runs["step-size schedule"], runs["momentum schedule"]
    eff_a = np.asarray(a["eta"]) / (1 - a["mu"])
    eff_b = b["eta"] / (1 - np.asarray(b["mu"]))
    np.testing.assert_allclose(eff_a, eff_b)
    np.testing.assert_allclose(eff_a[[0, -1]], [0.03, 0.003])


@pytest.mark.slow
def test_tiny_full_study_runs_every_part(tmp_path, monkeypatch):
    tiny_full = dataclasses.replace(
        TINY, mode="tiny-full",
        escape_grid={"gaussian": [(3e-2, 0.0), (3e-3, 0.9)], "student-t": [(3e-2, 0.0)]},
        floor_grid={"gaussian": [(3e-2, 0.0)], "student-t": [(3e-2, 0.0)]},
        anneal=True, anneal_paths=32, anneal_iters=600, mf=True,
        mf_escape_grid=((3e-2, 0.0), (3e-3, 0.9)), mf_floor_grid=((3e-2, 0.0),), mf_paths=256)
    monkeypatch.setattr(study, "FULL", tiny_full)
    s = study.run(ResultsDir(tmp_path / "m"), quick=False, progress=False)
    assert {"annealing", "matrix_factorization", "headline"} <= set(s)
    assert (tmp_path / "m" / "annealing.png").exists()
    assert (tmp_path / "m" / "matrix_factorization.png").exists()
    # the full mode's headline rows (annealing, matrix factorization included): every row has
    # units and a verdict, or the reason it has none
    import json

    rows = study.headline_claims(json.loads(json.dumps(s, default=float)))
    ann = s["annealing"]["runs"]["step-size schedule"].get("speedup_vs_best_constant")
    assert any(r["quantity"].startswith("annealing") for r in rows) == (ann is not None)
    assert any(r["quantity"].startswith("matrix factorization") for r in rows)
    for r in rows:
        assert "units:" in r["note"], r
        assert r["verdict"] != "-" or "no verdict:" in r["note"], r

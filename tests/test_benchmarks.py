"""Smoke test of benchmarks/run.py on a tiny workload: every implementation runs, and all of them
simulate the same law (a correctness cross-check between peers; no timing assertions)."""

import json
import math

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("torchsde")

from benchmarks import run as bench  # noqa: E402
from benchmarks.workloads import FIXED, Workload, em_variances  # noqa: E402

TINY = {
    "fixed_horizon": FIXED.scaled(n_paths=400, n_steps=20),
    # radius 0.1: E‖X_k‖² ≈ d σ² h k, so paths leave after ~10 steps
    "exit_time": Workload("exit_time", n_paths=400, n_steps=80, radius=0.1),
}


@pytest.fixture(scope="module")
def rows():
    return bench.run_benchmarks(bench.entries(vbt_paths=400), TINY, repeats=1)


@pytest.mark.slow
def test_every_implementation_ran(rows):
    keys = {r.entry.key for r in rows}
    assert keys == {e.key for e in bench.entries()}
    for r in rows:
        assert r.best_s > 0 and r.first_s > 0 and math.isfinite(r.rate)


@pytest.mark.slow
def test_all_peers_simulate_the_same_final_law(rows):
    """Each implementation's E X₁² and E Σ Xᵢ² (i ≥ 2) match the exact EM values within 4 SE."""
    fixed = [r for r in rows if r.entry.workload == "fixed_horizon"]
    assert len(fixed) == 6
    for r in fixed:
        for part in ("unstable", "stable"):
            z = r.check["moments"][part]["z"]
            assert abs(z) <= 4, (r.entry.key, part, r.check["moments"][part])


def test_exit_times_agree_between_sde_opt_and_the_torch_loop(rows):
    ex = {r.entry.key: r.check["exit"] for r in rows if "exit" in r.check}
    a, b = ex["sde_opt_events"], ex["torch_masked_loop"]
    assert a["exited"] == b["exited"] == 400  # horizon 80 ≫ typical exit step
    assert a["censored"] == b["censored"] == 0
    assert abs(a["mean"] - b["mean"]) <= 4 * math.hypot(a["se"], b["se"])
    assert 3 < a["mean"] < 40
    fixed = next(r for r in rows if r.entry.key == "sde_opt_fixed_horizon")
    # the fixed-horizon run computes every step; its useful work is the events run's
    assert fixed.computed_path_steps == 400 * 80
    assert fixed.useful_path_steps == a["useful_path_steps"]


def test_exact_variances_are_right():
    """vᵢ(n) against a direct recursion v ← (1 + Λh)² v + σ²h."""
    w = FIXED.scaled(n_steps=37)
    v = np.zeros(w.d)
    for _ in range(37):
        v = w.step_factor**2 * v + w.noise_scale**2
    np.testing.assert_allclose(em_variances(w), v, rtol=1e-12)


def test_report_and_results_section(rows, tmp_path):
    env = bench.environment()
    env["load_after"] = 0.0
    text = bench.format_report(rows, env, "python benchmarks/run.py --test")
    for e in bench.entries():
        assert e.label in text
    assert "sde_opt ÷ this" in text
    f = tmp_path / "RESULTS.md"
    f.write_text("a\n<!-- cpu-results:start -->\nold\n<!-- cpu-results:end -->\nb\n")
    bench.update_results("cpu", text, f)
    new = f.read_text()
    assert "old" not in new and text in new and new.startswith("a\n") and new.endswith("b\n")


@pytest.mark.slow
def test_json_output(capsys):
    bench.main(["--json", "--only", "sde_opt,numpy_loop,sde_opt_events", "--paths", "64",
                "--steps", "10", "--repeats", "1"])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"fixed_horizon", "exit_time"}
    assert set(out["fixed_horizon"]) == {"sde_opt", "numpy_loop"}
    assert set(out["exit_time"]) == {"sde_opt_events"}
    assert all(v > 0 for w in out.values() for v in w.values())


@pytest.mark.slow
def test_optax_adam_benchmark_implementations_simulate_the_same_law():
    from benchmarks import optax_adam

    a = optax_adam.prepare_sde_opt(512, 60)()
    b = optax_adam.prepare_hand_loop(512, 60)()
    z = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(z) < 5 and np.all(np.isfinite(a)) and np.all(np.isfinite(b))
    assert a.mean() < 0.6931  # both moved off log 2 (the loss at the zero start)


@pytest.mark.slow
def test_bilevel_benchmark_loops_simulate_the_same_recursions():
    """AID is deterministic: sde_opt and the PyTorch loop agree path by path up to float32
    rounding (each outer step rounds ≈ 10² operations per coordinate, at most a few ulps of
    |x| each, and the outer map is a near-contraction for β = 0.01: the gap stays below
    K · 10² · ε₃₂ · max|x|). StocBiO and perturbed AID draw their own noise: E x₁² agrees (|z| < 4).
    Power: AID with a 1 % larger β is several times outside the bound."""
    from benchmarks import bilevel

    n, k = 300, 30
    a = bilevel.sde_opt_run(n, k, "aid")()
    b = bilevel.torch_run(n, k, workload="aid")()
    bound = k * 1e2 * np.finfo(np.float32).eps * np.abs(b).max()
    assert np.abs(a.astype(np.float64) - b).max() < bound
    beta = bilevel.BETA
    try:
        bilevel.BETA = beta * 1.01
        wrong = bilevel.torch_run(n, k, workload="aid")()
    finally:
        bilevel.BETA = beta
    assert np.abs(a.astype(np.float64) - wrong).max() > 3 * bound
    for workload in ("stocbio", "perturbed_aid"):
        a = bilevel.sde_opt_run(2000, k, workload)()[:, 0].astype(np.float64) ** 2
        b = bilevel.torch_run(2000, k, workload=workload)()[:, 0].astype(np.float64) ** 2
        z = (a.mean() - b.mean()) / math.hypot(a.std(ddof=1) / math.sqrt(a.size),
                                                b.std(ddof=1) / math.sqrt(b.size))
        assert abs(z) < 4, (workload, z)


@pytest.mark.slow
def test_all_py_runs_every_family_and_reports_a_median_ratio(capsys):
    from benchmarks import all as every

    report = every.main(["--scale", "0.005", "--rounds", "1", "--json",
                         "--only", "exit_time,bilevel_aid,optax_adam"])
    assert set(report["workloads"]) == {"exit_time", "bilevel_aid", "optax_adam"}
    for r in report["workloads"].values():
        assert len(r["ratios"]) == 1 and r["median_ratio"] == r["ratios"][0] > 0
    assert {c.key for c in every.CASES} >= {"fixed_horizon", "minimax_gda", "minimax_eg",
                                           "bilevel_stocbio", "bilevel_perturbed_aid",
                                           "neural_collapse_rsgd"}


def test_bare_loops_compute_the_engines_numbers():
    """``benchmarks/bare_loop.py``'s bounds, path-first and path-last, with and without the
    engine's checks, draw the engine's normals and take its steps: the same final points bit for
    bit as ``simulate`` (which runs this elementwise chain path-last)."""
    from benchmarks import bare_loop, peers

    w = FIXED.scaled(n_paths=64, n_steps=bare_loop.SEGMENT)
    engine = np.asarray(peers.prepare_sde_opt(w, events=False)().final)
    for arm in ("bare", "checked", "minor", "minor_checked"):
        np.testing.assert_array_equal(bare_loop.prepare_bare(arm, w)(), engine, err_msg=arm)

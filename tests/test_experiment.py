"""The experiment layer: results folder, resumable points, config/summary writing, progress, and
the one estimate type (delta-method ratios and differences, intervals at a stated level)."""

import json
import math
import os
import stat
import types

import numpy as np
import pytest
from scipy import stats as sps

from sde_opt import stats
from sde_opt.experiment import Progress, ResultsDir, run_study
from sde_opt.experiment.study import merge_timing
from sde_opt.stats import Estimate, normal_quantile
from sde_opt.theory.langevin import (
    eyring_kramers_time,
    kramers_langer_rate,
    kramers_rate,
    langevin_effective_temperature,
)

# ------------------------------------------------------------------------------ results folder


def _mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_files_are_written_with_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        out = ResultsDir(tmp_path / "r")
        paths = [out.write_json("a.json", {"x": np.float64(1.5), "y": np.arange(3)}),
                 out.write_text("b.txt", "hi"), out.save_npz("c.npz", z=np.zeros(2))]
        out.point("p", lambda: {"v": np.ones(2)})
        paths.append(next((tmp_path / "r" / "points").glob("*.npz")))
    finally:
        os.umask(old)
    assert [_mode(p) for p in paths] == [0o644] * 4
    assert json.loads(paths[0].read_text()) == {"x": 1.5, "y": [0, 1, 2]}


def test_interrupted_temporaries_are_removed_on_the_next_run(tmp_path):
    d = tmp_path / "r"
    (d / "points").mkdir(parents=True)
    stale = [d / ".summary.json.abc123.tmp", d / "points" / ".k.npz.x9.tmp"]
    for p in stale:
        p.write_text("half a file")
    keep = d / "summary.json"
    keep.write_text("{}")
    out = ResultsDir(d)
    assert not any(p.exists() for p in stale) and keep.exists()
    assert sorted(out.stale_removed) == sorted(stale)


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    out = ResultsDir(tmp_path)
    out.write_json("s.json", {"ok": 1})

    class Boom:
        def savefig(self, *a, **k):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        out.savefig(Boom(), "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == {"ok": 1}
    assert not list(tmp_path.glob(".*.tmp"))


def test_points_resume_without_recomputing(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(4.0)}

    a = ResultsDir(tmp_path).point("x=1 y", compute)
    out = ResultsDir(tmp_path)
    b = out.point("x=1 y", compute)
    np.testing.assert_array_equal(a["a"], b["a"])
    assert len(calls) == 1 and out.resumed == ["x=1 y"] and not out.computed


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04truncated"])
def test_a_corrupt_point_is_named_moved_aside_and_recomputed(tmp_path, content):
    out = ResultsDir(tmp_path)
    out.point("a", lambda: {"x": np.arange(3)})
    f = tmp_path / "points" / "a.npz"
    f.write_bytes(content)
    out2 = ResultsDir(tmp_path)
    with pytest.warns(RuntimeWarning, match=r"a\.npz could not be read.*a\.npz\.corrupt"):
        got = out2.point("a", lambda: {"x": np.arange(3) + 1})
    np.testing.assert_array_equal(got["x"], [1, 2, 3])
    assert out2.computed == ["a"] and out2.resumed == []
    assert (tmp_path / "points" / "a.npz.corrupt").read_bytes() == content  # nothing lost
    np.testing.assert_array_equal(ResultsDir(tmp_path).point("a", lambda: 1 / 0)["x"], [1, 2, 3])
    f.write_bytes(content)  # a second corrupt copy gets its own name
    with pytest.warns(RuntimeWarning, match="corrupt1"):
        ResultsDir(tmp_path).point("a", lambda: {"x": np.zeros(1)})
    assert (tmp_path / "points" / "a.npz.corrupt1").exists()


def test_record_config_merges_without_reading_the_file(tmp_path):
    out = ResultsDir(tmp_path)
    out.record_config(study="s", quick=True)
    (tmp_path / "config.json").write_text("not json")  # never read back
    out.record_config(parameters={"n": 3})
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "study": "s", "quick": True, "parameters": {"n": 3}}


# ------------------------------------------------------------------------------ run_study


def _fake_study(n_points):
    def run(out, quick, progress):
        out.record_config(parameters={"n_points": n_points})
        for i in range(n_points):
            out.point(f"p{i}", lambda i=i: {"v": np.array([i])})
        return {"answer": Estimate.normal("a", 1.0, 0.1), "timing": {"extra": 1}}

    return types.SimpleNamespace(NAME="fake", DESCRIPTION="a fake study", run=run)


def test_run_study_writes_config_and_summary_with_timing_across_resumes(tmp_path):
    mod = _fake_study(2)
    r1 = run_study(mod, tmp_path / "fake", quick=True, progress=False)
    cfg = json.loads((tmp_path / "fake" / "config.json").read_text())
    assert cfg["study"] == "fake" and cfg["quick"] is True and cfg["parameters"] == {"n_points": 2}
    s1 = json.loads((tmp_path / "fake" / "summary.json").read_text())
    assert s1["answer"]["value"] == 1.0 and s1["answer"]["ci_low"] == pytest.approx(
        1 - 0.1 * normal_quantile(0.95))
    q1 = s1["timing"]["quick"]
    assert q1["points_computed"] == 2 and q1["points_resumed"] == 0 and q1["extra"] == 1
    assert "2 points computed" in r1.message()
    # full mode, then a quick rerun that only reloads: both modes kept, quick keeps its cost
    run_study(mod, tmp_path / "fake", quick=False, progress=False)
    run_study(mod, tmp_path / "fake", quick=True, progress=False)
    t = json.loads((tmp_path / "fake" / "summary.json").read_text())["timing"]
    assert set(t) == {"quick", "full"}
    assert t["quick"]["wall_seconds"] == q1["wall_seconds"]
    assert t["quick"]["last_resumed_run"]["points_resumed"] == 2


def test_merge_timing_replaces_an_entry_when_points_were_computed():
    prev = {"quick": {"wall_seconds": 5.0}}
    assert merge_timing(prev, "quick", {"wall_seconds": 1.0}, True) == {
        "quick": {"wall_seconds": 1.0}}
    assert merge_timing({}, "full", {"wall_seconds": 2.0}, False) == {
        "full": {"wall_seconds": 2.0}}


def test_cli_study_is_a_thin_call(tmp_path, monkeypatch, capsys):
    from sde_opt import cli, studies

    monkeypatch.setattr(studies, "registry", lambda: {"fake": _fake_study(1)})
    assert cli.main(["study", "fake", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "fake" / "summary.json").exists()
    assert "1 points computed" in capsys.readouterr().out
    assert cli.main(["study", "nope", "--out", str(tmp_path)]) == 2


def test_progress_is_inert_when_disabled_and_writes_to_stderr(capsys):
    with Progress("x", ["a", "b"], enabled=False) as bar:
        with bar.part("a"):
            pass
        assert list(bar.track([1, 2])) == [1, 2]
    assert capsys.readouterr() == ("", "")
    with Progress("study-x", ["a", "b"]) as bar:
        for _name in bar.track(["a", "b"]):
            pass
    cap = capsys.readouterr()
    assert cap.out == "" and "study-x" in cap.err


# ------------------------------------------------------------------------------ estimates


def test_intervals_are_at_the_stated_level():
    e = Estimate.normal("m", 2.0, 0.5, level=0.9, n=40)
    z = sps.norm.ppf(0.95)
    assert e.ci == pytest.approx((2 - z * 0.5, 2 + z * 0.5))
    e99 = e.at_level(0.99)
    assert e99.ci_high - e99.value == pytest.approx(sps.norm.ppf(0.995) * 0.5)
    assert e99.n == 40 and e.as_dict()["n"] == 40
    assert "n" not in Estimate.normal("m", 1.0, 0.1).as_dict()
    t = Estimate.normal("m", 0.0, 1.0, level=0.95, df=4)
    assert t.ci_high == pytest.approx(sps.t.ppf(0.975, 4))


def test_ratio_and_difference_by_the_delta_method():
    a, b = Estimate.normal("a", 4.0, 0.2), Estimate.normal("b", 2.0, 0.1)
    r = a.ratio(b)
    assert float(r.value) == 2.0
    assert float(r.se) == pytest.approx(2.0 * math.hypot(0.2 / 4, 0.1 / 2))
    assert r.ci == pytest.approx((2 - normal_quantile(0.95) * float(r.se),
                                  2 + normal_quantile(0.95) * float(r.se)))
    assert r.method == "delta method"
    rc = a.ratio(b, cov=0.01)   # positively correlated: a smaller SE
    assert float(rc.se) == pytest.approx(2.0 * math.sqrt(0.05**2 + 0.05**2 - 2 * 0.01 / 8))
    d = a.difference(b)
    assert float(d.value) == 2.0 and float(d.se) == pytest.approx(math.hypot(0.2, 0.1))
    dc = a.difference(b, cov=0.015)
    assert float(dc.se) == pytest.approx(math.sqrt(0.04 + 0.01 - 0.03))
    assert float((a / b).value) == 2.0 and float((a - b).se) == float(d.se)
    lg = a.log()
    assert float(lg.value) == pytest.approx(math.log(4)) and float(lg.se) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="positive"):
        Estimate.normal("neg", -1.0, 0.1).log()


def test_ratio_se_matches_monte_carlo():
    rng = np.random.default_rng(0)
    a = rng.normal(10.0, 0.3, 200_000)
    b = rng.normal(5.0, 0.2, 200_000)
    r = Estimate.normal("a", 10.0, 0.3).ratio(Estimate.normal("b", 5.0, 0.2))
    assert np.std(a / b) == pytest.approx(float(r.se), rel=0.02)


def test_arithmetic_with_exact_numbers():
    e = Estimate("x", np.array([1.0, 2.0]), np.array([0.1, 0.2]), np.array([0.8, 1.6]),
                 np.array([1.2, 2.4]), 0.95, "m", 10)
    h = e / 2.0
    np.testing.assert_allclose(h.value, [0.5, 1.0])
    np.testing.assert_allclose(h.ci_low, [0.4, 0.8])
    neg = e / -1.0
    np.testing.assert_allclose(neg.ci_low, [-1.2, -2.4])
    s = e - 1.0
    np.testing.assert_allclose(s.value, [0.0, 1.0])
    np.testing.assert_allclose(s.se, e.se)
    np.testing.assert_allclose((3 * e).ci_high, [3.6, 7.2])
    assert s.n == 10


def test_result_types_return_estimates():
    x = np.random.default_rng(1).exponential(size=500)
    s = stats.exit_time_summary(x)
    e = s.estimate()
    assert isinstance(e, Estimate) and float(e.value) == s.mean and e.ci == (s.mean_low, s.mean_high)
    assert e.n == 500 and e.level == s.level
    q = s.quantile_estimate(0.5)
    assert float(q.value) == s.median and q.ci == s.median_ci
    f = stats.slope_fit([1, 2, 4, 8], [1.0, 2.1, 3.9, 8.2])
    fe = f.estimate()
    assert float(fe.value) == f.slope and fe.ci == (f.slope_low, f.slope_high) and fe.n == 4
    rf = stats.RateFit(0.5, 0.01, (0.0, 1.0), 12)
    re = rf.estimate(0.9)
    assert re.ci == pytest.approx((0.5 - sps.norm.ppf(0.95) * 0.01, 0.5 + sps.norm.ppf(0.95) * 0.01))
    assert rf.rate == 0.5 and re.n == 12


# ------------------------------------------------------------------------------ theory used


def test_kramers_rate_is_the_eyring_kramers_and_kramers_langer_rate():
    hm, hs = np.diag([2.0, 3.0]), np.diag([-0.5, 1.0])
    assert kramers_rate(hm, hs, 0.25, 0.1) == pytest.approx(1 / eyring_kramers_time(hm, hs, 0.25,
                                                                                     0.1))
    assert kramers_rate(hm, hs, 0.25, 0.1, 0.7) == pytest.approx(
        kramers_langer_rate(hm, hs, 0.25, 0.1, 0.7))
    assert kramers_rate(hm, hs, 0.25, 0.1, 0.7) < kramers_rate(hm, hs, 0.25, 0.1, 0.0) * (1 + 1e-12)
    with pytest.raises(ValueError, match="negative eigenvalue"):
        kramers_rate(hm, np.eye(2), 0.25, 0.1)
    assert langevin_effective_temperature(10.0, 0.1, 2.0) == pytest.approx(0.2)
    assert langevin_effective_temperature(10.0, 0.1, 2.0, gamma=4.0) == pytest.approx(0.125)

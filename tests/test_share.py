"""A study's grid points spread over processes (``ResultsDir(share=Share(i, n))``,
``sde-opt study NAME --share i/n``): every point computed once, the summary that of one process."""

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from sde_opt.experiment import ResultsDir, Share, run_study

TOY = textwrap.dedent('''
    """A toy study: a batch of 12 points, then one lone point, each recording who computed it."""
    import os, time
    import numpy as np

    NAME = "toy"

    def _point(i):
        time.sleep(0.05)
        return {"v": np.arange(4.0) * i, "pid": np.asarray(os.getpid())}

    def run(out, quick=False, progress=False):
        batch = out.points([(f"cell-{i}", lambda i=i: _point(i)) for i in range(12)])
        lone = out.point("lone", lambda: _point(100))
        out.write_text("figure.txt", "drawn\\n")
        return {"total": float(sum(a["v"].sum() for a in batch) + lone["v"].sum())}
''')


def _toy_module(tmp_path):
    path = tmp_path / "toy_study.py"
    path.write_text(TOY)
    return path


def _run_share(tmp_path, out, share):
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import toy_study; "
            f"from sde_opt.experiment import run_study, Share; "
            f"print(run_study(toy_study, {str(out)!r}, share=Share.parse({share!r})).message())")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_processes_compute_each_point_once_and_write_the_one_process_summary(tmp_path):
    _toy_module(tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        import toy_study
    finally:
        sys.path.remove(str(tmp_path))
    alone = run_study(toy_study, tmp_path / "alone", progress=False)

    shared = tmp_path / "shared"
    procs = [_run_share(tmp_path, shared, f"{i}/2") for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    share = Share(0, 2)
    pids = {}
    for key in [f"cell-{i}" for i in range(12)] + ["lone"]:
        with np.load(shared / "points" / "full" / f"{key}.npz") as f:
            pids.setdefault(share.owner(key), set()).add(int(f["pid"]))
    # each process computed exactly the points it owns: one pid per owner, two owners, two pids
    assert sorted(pids) == [0, 1] and all(len(v) == 1 for v in pids.values())
    assert pids[0] != pids[1]

    summary = json.loads((shared / "summary.json").read_text())
    assert summary["total"] == alone.summary["total"]
    timing = summary["timing"]["full"]
    assert timing["processes"] == 2
    # a point of the other process is "resumed" when its file was there at the first look
    assert timing["points_computed"] + timing["points_from_other_processes"] \
        + timing["points_resumed"] == 13
    assert 0 < timing["points_computed"] < 13
    assert (shared / "figure.txt").read_text() == "drawn\n"
    assert "process 1 of 2" in outs[1][0] and "process 0 writes the summary" in outs[1][0]
    assert "as process 0 of 2" in outs[0][0]

    # a rerun of one process resumes every point, whoever computed it
    again = run_study(toy_study, shared, progress=False)
    assert again.summary["total"] == alone.summary["total"]
    assert len(again.out.resumed) == 13 and not again.out.computed


def test_a_missing_process_is_named_after_the_timeout(tmp_path):
    share = Share(0, 2, poll=0.01, timeout=0.2)
    key = next(f"k{i}" for i in range(100) if share.owner(f"k{i}") == 1)
    out = ResultsDir(tmp_path, share=share)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match=r"process 1 of 2 .*--share 1/2"):
        out.point(key, lambda: {"x": np.zeros(1)})
    assert time.monotonic() - t0 < 10


def test_processes_other_than_0_leave_files_and_temporaries_alone(tmp_path):
    stale = tmp_path / "points" / ".cell.npz.abc.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_text("another process's write in progress")
    out = ResultsDir(tmp_path, share=Share(1, 2))
    assert stale.exists() and not out.stale_removed
    out.write_json("summary.json", {"a": 1})
    out.write_text("notes.txt", "x")
    assert not (tmp_path / "summary.json").exists() and not (tmp_path / "notes.txt").exists()
    ResultsDir(tmp_path)  # one process: the temporary is stale and goes
    assert not stale.exists()


def test_share_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="index must be in 0 … count − 1 = 1; got 2"):
        Share(2, 2)
    with pytest.raises(ValueError, match=r"count must lie in \[1, inf\) \(an integer\); got 0"):
        Share(0, 0)
    with pytest.raises(TypeError, match="index must be an integer; got '1'"):
        Share("1", 2)
    with pytest.raises(ValueError, match="INDEX/COUNT"):
        Share.parse("1 of 2")
    with pytest.raises(ValueError, match=r"timeout must lie in \(0.0, inf\); got 0"):
        Share(0, 1, timeout=0)
    with pytest.raises(TypeError, match="share must be a Share or None"):
        ResultsDir("/tmp/never-created-by-this-test", share="0/2")
    assert Share.parse(" 3 / 4 ") == Share(3, 4)


def test_owner_is_stable_and_spreads_the_keys():
    share = Share(0, 4)
    keys = [f"ramp-GDA-k{k}-e{e}" for k in range(10) for e in range(10)]
    owners = [share.owner(k) for k in keys]
    assert owners == [Share(3, 4).owner(k) for k in keys]  # same in every process
    counts = np.bincount(owners, minlength=4)
    assert counts.min() >= 10  # 100 keys over 4 processes: none left idle
    # CRC-32, not Python's salted hash(): the same owner in every process and session
    assert [Share(0, 7).owner(k) for k in ("a", "lone", "cell-3")] == [
        __import__("zlib").crc32(k.encode()) % 7 for k in ("a", "lone", "cell-3")]


def test_cli_share_errors_name_the_option(capsys):
    from sde_opt.cli import main

    with pytest.raises(SystemExit):
        main(["study", "msgd-escape", "--share", "2/2"])
    err = capsys.readouterr().err
    assert "--share" in err and "index must be in 0 … count − 1 = 1; got 2" in err


def test_points_refuses_repeated_keys(tmp_path):
    out = ResultsDir(tmp_path)
    with pytest.raises(ValueError, match="repeated: \\['a'\\]"):
        out.points([("a", dict), ("a", dict)])


@pytest.mark.slow
def test_minimax_rates_quick_over_two_processes_equals_one(tmp_path):
    """A real study: the two-process summary equals the one-process summary, timing aside."""
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    cmd = [sys.executable, "-m", "sde_opt.cli", "study", "minimax-rates", "--quick",
           "--no-progress", "--out"]
    subprocess.run(cmd + [str(tmp_path / "one")], check=True, env=env, capture_output=True)
    procs = [subprocess.Popen(cmd + [str(tmp_path / "two"), "--share", f"{i}/2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    for p in procs:
        p.communicate(timeout=900)
        assert p.returncode == 0
    one, two = (json.loads((tmp_path / d / "minimax-rates" / "summary.json").read_text())
                for d in ("one", "two"))
    one.pop("timing"), two.pop("timing")
    assert one == two


def test_a_share_must_match_the_distributed_runtime(tmp_path, monkeypatch):
    import jax

    monkeypatch.setattr(jax, "process_count", lambda: 4)
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    mod = type(sys)("never_run")
    mod.NAME, mod.run = "never-run", lambda *a, **k: pytest.fail("the study ran")
    with pytest.raises(ValueError, match=r"share 0/2 disagrees .* process 1 of 4; give --share 1/4"):
        run_study(mod, tmp_path / "x", share=Share(0, 2))
    assert not (tmp_path / "x").exists()

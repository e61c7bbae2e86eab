"""A results folder never mixes configurations; the CLI explains itself (issue 21, §5–§6)."""

import json
import os
import types
import warnings

import numpy as np
import pytest

from sde_opt import cli, studies
from sde_opt.experiment import ConfigMismatch, ResultsDir, Share, run_study
from sde_opt.experiment.environment import versions


def _toy(n=3, scale=1.0, log=None):
    """A study module with ``n`` points whose values depend on ``scale`` (its parameter)."""

    def run(out, quick=False, progress=False):
        out.record_config(parameters={"n": n, "scale": scale})
        pts = out.points([(f"p{i}", lambda i=i: (log.append(i) if log is not None else None)
                           or {"v": np.full(2, scale * i)}) for i in range(n)])
        return {"total": float(sum(p["v"].sum() for p in pts))}

    return types.SimpleNamespace(NAME="toy", DESCRIPTION="toy", run=run)


def test_quick_and_full_keep_their_points_apart(tmp_path):
    a = run_study(_toy(scale=1.0), tmp_path, quick=True, progress=False)
    b = run_study(_toy(scale=1.0), tmp_path, quick=False, progress=False)
    assert len(a.out.computed) == 3 and len(b.out.computed) == 3  # full reuses nothing of quick
    assert sorted(p.name for p in (tmp_path / "points" / "quick").glob("*.npz")) == \
        sorted(p.name for p in (tmp_path / "points" / "full").glob("*.npz"))
    again = run_study(_toy(scale=1.0), tmp_path, quick=True, progress=False)
    assert again.out.resumed == ["p0", "p1", "p2"] and not again.out.computed


def test_a_resume_with_other_parameters_is_refused_naming_them(tmp_path):
    run_study(_toy(scale=1.0), tmp_path, progress=False)
    with pytest.raises(ConfigMismatch) as e:
        run_study(_toy(scale=2.0), tmp_path, progress=False)
    msg = str(e.value)
    assert "parameters.scale: 1.0 there, 2.0 now" in msg and "--fresh" in msg
    assert "parameters.n" not in msg  # only what differs is named
    # nothing was overwritten: the old points are still those of scale 1
    with np.load(tmp_path / "points" / "full" / "p2.npz") as f:
        assert f["v"][0] == 2.0


def test_a_resume_by_another_package_version_is_refused(tmp_path):
    run_study(_toy(), tmp_path, progress=False)
    marker = tmp_path / "points" / "full" / "config.json"
    cfg = json.loads(marker.read_text())
    marker.write_text(json.dumps({**cfg, "sde_opt_version": "0.0.1"}))
    with pytest.raises(ConfigMismatch, match="sde_opt_version: '0.0.1' there"):
        run_study(_toy(), tmp_path, progress=False)


def test_config_records_library_versions_and_the_cpu(tmp_path):
    run_study(_toy(), tmp_path, progress=False)
    env = json.loads((tmp_path / "config.json").read_text())["environment"]
    for name in ("python", "jax", "jaxlib", "equinox", "diffrax", "optax", "numpy", "cpu"):
        assert env[name] and env[name] != "not installed", name
    assert env == versions()


@pytest.mark.parametrize("content", ["other-key", "no-key"])
def test_a_point_file_of_another_point_is_moved_aside_and_recomputed(tmp_path, content):
    d = ResultsDir(tmp_path)
    d.point("a", lambda: {"v": np.zeros(3)})
    p = d._point_path("a")
    if content == "other-key":
        d.point("b", lambda: {"w": np.ones((2, 2))})
        os.replace(d._point_path("b"), p)
    else:
        np.savez(p, w=np.ones((2, 2)))  # written by hand or by an older version: no key inside
    d2 = ResultsDir(tmp_path)
    with pytest.warns(RuntimeWarning, match="not the point 'a'"):
        got = d2.point("a", lambda: {"v": np.zeros(3)})
    assert set(got) == {"v"} and d2.computed == ["a"]
    assert (p.parent / (p.name + ".corrupt")).exists()


def test_keys_that_sanitize_alike_get_their_own_files(tmp_path):
    d = ResultsDir(tmp_path)
    a = d.point("eta 0.1", lambda: {"v": np.asarray(1.0)})
    b = d.point("eta_0.1", lambda: {"v": np.asarray(2.0)})
    assert float(a["v"]) == 1.0 and float(b["v"]) == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d2 = ResultsDir(tmp_path)
        assert float(d2.point("eta 0.1", lambda: {"v": np.asarray(-1.0)})["v"]) == 1.0
        assert d2.resumed == ["eta 0.1"]


def test_compute_time_of_a_killed_run_is_still_counted(tmp_path):
    # a first run computed two points, then was killed before writing its summary
    d = ResultsDir(tmp_path, points="points/full")
    for i in range(2):
        d.point(f"p{i}", lambda: (__import__("time").sleep(0.2), {"v": np.zeros(2)})[1])
    done = run_study(_toy(scale=0.0), tmp_path, progress=False)
    timing = done.summary["timing"]["full"]
    assert timing["points_resumed"] == 2 and timing["points_computed"] == 1
    assert timing["points_compute_seconds"] >= 0.4


def test_reserved_array_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        ResultsDir(tmp_path).point("a", lambda: {"__point_key__": np.zeros(1)})


def test_shares_wait_an_hour_by_default_and_process_0_removes_stale_temporaries(tmp_path):
    assert Share(0, 2).timeout == 3600.0
    d = ResultsDir(tmp_path, share=Share(0, 1), points="points/full")
    d.point("a", lambda: {"v": np.zeros(1)})
    stale = d.points_folder / ".b.npz.x1.tmp"  # left by a killed process
    stale.write_bytes(b"")
    d.finish()
    assert not stale.exists() and stale in d.stale_removed


@pytest.mark.parametrize("out, fragment", [("", "--out must name a folder"),
                                           ("/proc/sde-opt-results", "cannot create")])
def test_cli_refuses_unusable_out_folders_in_one_line(out, fragment, capsys):
    assert cli.main(["study", "msgd-escape", "--quick", "--no-progress", "--out", out]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_mismatch_is_one_line_and_fresh_moves_the_folder_aside(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(studies, "registry", lambda: {"toy": _toy(scale=float(os.environ["SCALE"]))})
    monkeypatch.setenv("SCALE", "1.0")
    assert cli.main(["study", "toy", "--no-progress", "--out", str(tmp_path)]) == 0
    monkeypatch.setenv("SCALE", "3.0")
    capsys.readouterr()
    assert cli.main(["study", "toy", "--no-progress", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "parameters.scale" in err and "--fresh" in err and "Traceback" not in err
    assert cli.main(["study", "toy", "--no-progress", "--fresh", "--out", str(tmp_path)]) == 0
    asides = [p for p in tmp_path.iterdir() if p.name.startswith("toy.")]
    assert len(asides) == 1 and (asides[0] / "summary.json").exists()
    assert json.loads((tmp_path / "toy" / "summary.json").read_text())["total"] == 3.0 * 6


def test_cli_share_timeout_is_checked(capsys):
    with pytest.raises(SystemExit):
        cli.main(["study", "toy", "--share", "0/2", "--share-timeout", "-1"])
    assert "--share-timeout" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(studies.registry()))
def test_study_help_lists_parts_run_times_and_quick(name, capsys):
    assert cli.main(["study", name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"sde-opt study {name}:")
    assert "run times:" in out and "quick" in out and "full" in out
    assert "--quick" in out and "--fresh" in out  # what --quick changes, then the options
    assert ":class:" not in out and ":func:" not in out


def test_fit_help_says_what_each_model_estimates(capsys):
    with pytest.raises(SystemExit):
        cli.main(["fit", "--help"])
    out = capsys.readouterr().out
    assert "ou  (default)" in out and "qv  realized quadratic variation" in out
    assert "km  Kramers–Moyal" in out


def test_a_pytree_final_point_is_stored_without_pickle(tmp_path):
    """A result whose final point is a pytree (the {W, H} point of a UFM) is written leaf by leaf
    and read back with allow_pickle=False (it was an object array, which a resumed study could
    not load: its points were moved aside as corrupt and recomputed)."""
    import numpy as np

    import sde_opt as so

    n = 3
    final = {"W": np.arange(n * 4.0).reshape(n, 2, 2), "H": (np.ones((n, 2)), np.zeros((n, 1)))}
    r = so.SimulationResult(steps=np.arange(n), status=np.zeros(n, np.int8),
                            event=np.full(n, -1), final=final, observables={"e": np.ones((n, 2))},
                            save_steps=np.array([0, 1]), dt=0.1, n_steps=2)
    np.savez(tmp_path / "p.npz", **r.to_arrays("limit:"))
    with np.load(tmp_path / "p.npz", allow_pickle=False) as f:
        back = so.SimulationResult.from_arrays(dict(f), "limit:")
    np.testing.assert_array_equal(back.final["W"], final["W"])
    np.testing.assert_array_equal(back.final["H"][0], final["H"][0])
    np.testing.assert_array_equal(back.final["H"][1], final["H"][1])

"""`sde-opt validate`: JSON with references, bias sources and counts per verdict; a table of at most
120 columns ending with a counts line; exit 0 unless some claim fails."""

import json

import pytest

from sde_opt.cli import main
from sde_opt.experiment.verdict import Deviation, compare


@pytest.fixture
def fake_checks():
    from sde_opt import validation
    from sde_opt.validation import _framework

    validation.load_all()
    added = []

    def add(name, fn):
        _framework.check(name)(fn)
        added.append(name)

    yield add
    for name in added:
        del _framework._REGISTRY[name]


def _deviation():
    return compare("paper's statement " + "x" * 150, 0.5, 0.46, 0.005,
                   reference="a paper", deviation=Deviation("drops a log", "the collapse"))


def _passing():
    return [compare("a passing claim", 1.0, 1.01, 0.01, bias=0.02, bias_source="derived O(h)",
                    reference="closed form"),
            compare("engine", 0.0, 0.0, 0.0, kind="engine", reference="itself")]


def _failing():
    return compare("a failing claim", 1.0, 2.0, 0.01, reference="closed form")


def test_json_has_references_bias_sources_and_counts(fake_checks, capsys):
    fake_checks("zz-cli-pass", _passing)
    fake_checks("zz-cli-dev", _deviation)
    assert main(["validate", "--select", "zz-cli-", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["claims"] == {"pass": 1, "fail": 0, "deviation": 1, "total": 2}
    assert out["counts"]["engine"] == {"pass": 1, "fail": 0, "deviation": 0, "total": 1}
    first = out["verdicts"][0]
    for key in ("reference", "bias", "bias_source", "se", "z", "deviation", "kind", "z_score"):
        assert key in first
    dev = [v for v in out["verdicts"] if v["verdict"] == "deviation"][0]
    assert "the collapse" in dev["deviation"]
    eng = [v for v in out["verdicts"] if v["kind"] == "engine"][0]
    assert eng["z_score"] is None   # NaN → null: strict JSON


def test_table_width_counts_line_and_exit_status(fake_checks, capsys):
    fake_checks("zz-cli-pass", _passing)
    fake_checks("zz-cli-dev", _deviation)
    assert main(["validate", "--select", "zz-cli-", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 120
    assert text.rstrip().splitlines()[-1].startswith("2 claims: 1 pass, 1 deviation, 0 fail")
    assert "reference: closed form | bias 0.02: derived O(h)" in text
    fake_checks("zz-cli-fail", _failing)
    assert main(["validate", "--select", "zz-cli-", "--quiet"]) == 1
    assert "1 fail" in capsys.readouterr().out.rstrip().splitlines()[-1]


def test_progress_lines_go_to_stderr_and_the_table_to_stdout(fake_checks, capsys):
    fake_checks("zz-cli-pass", _passing)
    assert main(["validate", "--select", "zz-cli-"]) == 0
    captured = capsys.readouterr()
    assert "… zz-cli-pass" in captured.err and "…" not in captured.out
    assert captured.out.rstrip().splitlines()[-1].startswith("1 claims: 1 pass")


@pytest.mark.slow
def test_a_real_deterministic_check_passes_through_the_cli(capsys):
    assert main(["validate", "--select", "langevin-splitting-table", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["claims"]["pass"] == out["counts"]["claims"]["total"] == 8
    assert all(v["reference"] for v in out["verdicts"])

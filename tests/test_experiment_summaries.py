"""A study's summary keeps its keys: the msgd-escape study on a tiny configuration, run through
:func:`sde_opt.experiment.run_study`, writes a ``summary.json`` whose key structure equals the
stored one (``tests/data/msgd_escape_tiny_summary_keys.json``).

A key that is renamed, dropped or added fails here; if the change is intended, regenerate the file
with ``python tests/test_experiment_summaries.py`` and say so in the commit."""

import json
import sys
from pathlib import Path

import pytest

from sde_opt.experiment import run_study
from sde_opt.studies import msgd_escape as study

KEYS = Path(__file__).parent / "data" / "msgd_escape_tiny_summary_keys.json"

TINY = study.Config(
    mode="tiny-keys",
    escape_grid={"gaussian": [(3e-2, 0.0), (3e-3, 0.9), (1e-2, 0.9)]},
    escape_paths=128,
    phase_eta=2e-2, phase_mus=(0.0, 0.9), phase_iters=400, phase_paths=32,
    floor_grid={"gaussian": [(3e-2, 0.0), (3e-2, 0.9)]},
    floor_paths=32, floor_horizon=10.0,
    weak_mu=0.9,
    anneal=False,
)


def key_structure(obj):
    """Keys only: a dict maps each key to its structure; a list holds the union of its items'
    structures (one entry); every other value is ``"*"``."""
    if isinstance(obj, dict):
        return {k: key_structure(v) for k, v in obj.items()}
    if isinstance(obj, list):
        items = [key_structure(v) for v in obj]
        dicts = [i for i in items if isinstance(i, dict)]
        if not dicts:
            return ["*"] if items else []
        merged = {}
        for d in dicts:
            for k, v in d.items():
                merged.setdefault(k, v)
        return [merged]
    return "*"


def tiny_summary_keys(tmp_path) -> dict:
    original = study.QUICK
    study.QUICK = TINY
    try:
        done = run_study(study, tmp_path / "msgd-escape", quick=True, progress=False)
    finally:
        study.QUICK = original
    summary = json.loads((tmp_path / "msgd-escape" / "summary.json").read_text())
    assert summary.keys() == done.summary.keys()
    summary.pop("timing")
    return key_structure(summary)


@pytest.mark.slow
def test_msgd_escape_summary_keys_are_stable(tmp_path):
    expected = json.loads(KEYS.read_text())
    got = tiny_summary_keys(tmp_path)
    assert got == expected, json.dumps(got, indent=1)[:4000]


if __name__ == "__main__":  # regenerate the stored key structure
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        keys = tiny_summary_keys(Path(d))
    KEYS.write_text(json.dumps(keys, indent=1) + "\n")
    print(f"wrote {KEYS}", file=sys.stderr)

"""The progress bar shows compilation as its own phase and takes its rate/ETA from later steps."""

import io

import numpy as np
import pytest

import sde_opt as so
from sde_opt.engine._simulate import _Progress, _progress_bar


def test_compilation_phase_then_clock_restarts(monkeypatch):
    bar = _Progress("demo", 1000)
    bar.bar.fp = io.StringIO()
    assert "compiling" in bar.bar.desc
    t_created = bar.bar.start_t
    bar.update(128)                    # the first segment returns: compilation is over
    assert bar.bar.desc.rstrip(": ") == "demo" and bar.bar.n == 128
    assert bar.bar.initial == 128      # the rate counts only steps after compilation
    assert bar.bar.start_t >= t_created
    bar.update(128)
    assert bar.bar.n == 256 and bar.bar.format_dict["initial"] == 128
    bar.close()
    assert _progress_bar(False, 10) is None


@pytest.mark.slow
def test_simulate_with_progress_runs(capsys):
    chain = so.MomentumSGD(so.QuadraticSaddle([-1.0, 1.0], 0.1), eta=0.1)
    r = so.simulate(chain, np.zeros(2, np.float32), 0, n_paths=8, n_steps=20, progress="lbl")
    assert r.n_paths == 8
    err = capsys.readouterr().err
    assert "lbl (compiling)" in err

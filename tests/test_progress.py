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


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_default_progress_appears_only_on_a_terminal_and_only_for_long_runs(monkeypatch):
    """progress=None: no bar when stderr is not a terminal (logs, CI); on a terminal a bar that
    stays hidden until the run has taken AUTO_PROGRESS_DELAY seconds (tqdm's ``delay``)."""
    import sys

    from sde_opt.engine import _simulate

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert _progress_bar(None, 10) is None
    monkeypatch.setattr(sys, "stderr", _Terminal())
    bar = _progress_bar(None, 10)
    assert bar is not None and bar.bar.delay == _simulate.AUTO_PROGRESS_DELAY > 0
    bar.close()
    shown = _progress_bar(True, 10)
    assert shown.bar.delay == 0      # asked for: shown at once
    shown.close()
    assert _progress_bar(False, 10) is None


def test_progress_must_be_a_flag_a_label_or_none():
    chain = so.MomentumSGD(so.QuadraticSaddle([-1.0, 1.0], 0.1), eta=0.1)
    with pytest.raises(TypeError, match="progress must be True/False/None"):
        so.simulate(chain, np.zeros(2, np.float32), 0, n_paths=2, n_steps=2, progress=1)

"""The minimax studies' building blocks (exponent fits, one grid point) and, marked slow, their
quick modes."""

import numpy as np
import pytest

from sde_opt import studies
from sde_opt.experiment import ResultsDir


def test_studies_are_registered():
    reg = studies.registry()
    assert "minimax-rates" in reg and "minimax-escape" in reg


def test_fit_exponents_recovers_known_exponents():
    from sde_opt.studies.minimax_rates import fit_exponents

    eps, kap = np.array([0.2, 0.1, 0.05]), np.array([2.0, 4.0, 8.0])
    rng = np.random.default_rng(0)
    noise = np.exp(0.01 * rng.normal(size=(3, 3, 50)))
    vals = (kap[:, None, None] ** 2) * (eps[None, :, None] ** -2.0) * noise
    fit = fit_exponents(eps, kap, vals, n_boot=100)
    assert abs(fit["eps_exponent"] + 2) < 0.01 and abs(fit["kappa_exponent"] - 2) < 0.01
    assert fit["eps_ci"][0] < -2 < fit["eps_ci"][1]


@pytest.mark.slow
def test_one_ramp_point_matches_its_theory_count():
    from sde_opt.studies.minimax_rates import ramp_point

    p = ramp_point("GDA", 4.0, 0.2, 4)
    assert np.all(p["status"] == 1)
    assert np.all(np.abs(p["steps"] - p["theory"]) <= 4 + 2)  # the κ-iteration transient


@pytest.mark.slow
@pytest.mark.parametrize("name", ["minimax-rates", "minimax-escape"])
def test_quick_modes_run(tmp_path, name):
    mod = studies.registry()[name]
    out = ResultsDir(tmp_path / name)
    summary = mod.run(out, quick=True, progress=False)
    assert "headline" in summary
    assert list(out.path.glob("*.png"))

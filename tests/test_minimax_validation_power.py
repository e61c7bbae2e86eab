"""Power of the rewritten minimax claims: each check, run on a deliberately wrong algorithm, noise
level or order, must return ``fail``; the same check on the correct one passes (issue 18)."""

import numpy as np
import pytest

import sde_opt as so
from sde_opt.theory import minimax_rates as mr
from sde_opt.theory import modified_equations as me
from sde_opt.validation.minimax import (
    gradient_floor_verdicts,
    lower_bound_fractions,
    modified_equation_order_verdicts,
    step_ratio_fractions,
)


def test_modified_equation_order_passes_as_derived():
    assert {v.verdict for v in modified_equation_order_verdicts()} == {"pass"}


def test_modified_equation_order_rejects_a_second_order_remainder():
    """A modified equation that is wrong at O(η²) leaves a remainder of order 2: R/η³ ∝ 1/η."""
    wrong = lambda method, J, ex, ey, m: me.modified_log_rate(method, J, ex, ey, m) + 0.05 * ex**2
    assert {v.verdict for v in modified_equation_order_verdicts(wrong)} == {"fail"}


def test_modified_equation_order_rejects_the_wrong_sign_of_the_first_order_term():
    """GDA measured against EG's modified equation (the O(η) term with the other sign)."""
    swap = {"gda": "extragradient", "extragradient": "gda", "ogda": "gda"}
    wrong = lambda method, J, ex, ey, m: me.modified_log_rate(swap[method], J, ex, ey, m)
    assert {v.verdict for v in modified_equation_order_verdicts(wrong)} == {"fail"}


class _FastGDA(so.GDA):
    """GDA whose x-step is three times the one it is given: it moves x faster than the ramp's
    derived bound allows."""

    def __init__(self, problem, eta_x, eta_y):
        super().__init__(problem, 3.0 * eta_x, eta_y)


@pytest.mark.slow
def test_lower_bound_rejects_a_gda_with_a_too_large_x_step():
    vs = lower_bound_fractions({"GDA": so.GDA, "GDA with 3η_x": _FastGDA}, regimes=("k^-2",),
                               kappas=(4.0,), epsilons=(0.1,), n=4)
    assert [v.verdict for v in vs] == ["pass", "fail"]


@pytest.mark.slow
def test_step_ratio_rejects_gda_run_at_extragradients_threshold():
    """GDA simulated at 0.8× EG's threshold (above GDA's own) grows: the check must fail."""
    ok = step_ratio_fractions({"GDA": so.GDA}, kappas=(4.0,), n=8)
    bad = step_ratio_fractions({"GDA": so.GDA}, kappas=(4.0,), n=8,
                               matrix_keys={"GDA": "extragradient"})
    assert ok[0].verdict == "pass" and bad[0].verdict == "fail"


@pytest.mark.slow
@pytest.mark.parametrize("sigma, verdict", [(1.0, "pass"), (1.1, "fail")])
def test_gradient_floor_rejects_a_ten_percent_wrong_noise_level(sigma, verdict):
    A, B, C = mr.nc_sc_quadratic_blocks(4.0, 1.0, 0.5, d=2)
    game_for = lambda m: so.QuadraticGame(A, B, C, sigma_x=sigma, sigma_y=sigma, batch_size=m)
    vs = gradient_floor_verdicts(game_for, batches=(1,), n=32, n_steps=20480, burn_in=2048)
    assert vs[0].verdict == verdict, vs[0]
    assert np.isfinite(vs[0].se)


class _KappaScaledGDA(so.GDA):
    """GDA whose x-step is κ times the one it is given (on Q_κ with ℓ = 1, C = μI = I/κ): its
    stable ratio falls like κ⁻², not Θ(κ⁻¹)."""

    def __init__(self, problem, eta_x, eta_y):
        super().__init__(problem, eta_x / float(np.asarray(problem.C)[0, 0]), eta_y)


@pytest.mark.slow
def test_simulated_step_ratio_rejects_a_gda_whose_threshold_falls_like_kappa_squared():
    from sde_opt.studies.minimax_rates import li_exponent, li_row, simulated_critical_ratio

    kappas = (8.0, 32.0)
    for cls, verdict in ((so.GDA, "pass"), (_KappaScaledGDA, "fail")):
        ratios = [float(simulated_critical_ratio(cls, k)["ratio"]) for k in kappas]
        li = {**li_exponent(kappas, ratios), "kappas": list(kappas), "ratios": ratios,
              "exact": ratios}
        assert li_row(li)["verdict"] == verdict, (cls, li)


def _sosp_increment(n=64, epsilons=(0.08, 0.02)):
    from sde_opt.studies import minimax_escape as me

    pts = [me.sosp_point(e, n) for e in epsilons]
    man = slice(n // 2, n)
    steps = np.array([p["steps"][man] for p in pts], float)
    status = np.array([p["status"][man] for p in pts])
    refs = np.array([p["reference"][man] for p in pts])
    t = [dict(zip(("eta_x", "eta_y", "n_inner", "radius", "interval"), p["template"],
                  strict=True)) for p in pts]
    inc = me.sosp_increment(list(epsilons), steps, status, refs, t)
    z = 4.0
    return inc, abs(inc["measured"] - inc["predicted"]) <= z * inc["se"] + inc["bias"]


@pytest.mark.slow
def test_escape_eps_row_rejects_a_kick_radius_that_ignores_eps(monkeypatch):
    """The minimax-escape ε row (increase of the iterations from ε = 0.08 to 0.02 against the
    rule's NumPy recursion): passes for the template, fails when the algorithm's kick radius stays
    at its ε = 0.08 value (ε then enters only through the thresholds, the escape is ≈ 8
    iterations shorter)."""
    from sde_opt.algorithms import perturbed_gdmax as pg

    inc, ok = _sosp_increment()
    assert ok, inc
    real = pg.perturbed_gdmax_template

    def fixed_radius(**kw):
        out = real(**kw)
        out["radius"] = real(**{**kw, "eps": 0.08})["radius"]
        return out

    monkeypatch.setattr(pg, "perturbed_gdmax_template", fixed_radius)
    import sde_opt.studies.minimax_escape as me

    # the study reads the template for its reference from the same name: keep the reference's
    # radius the template's own (only the algorithm's kick is wrong)
    monkeypatch.setattr(me, "perturbed_gdmax_template", real)
    inc, ok = _sosp_increment()
    assert not ok, inc

"""Power of the validation itself: the checks' logic, run against deliberately wrong chains, must
return ``fail`` (issue 9, item 6); the same logic on a correct chain built the same way passes.

The wrong chains are built from correct components (Euler–Maruyama of a :class:`LinearSDE` whose
coefficients are wrong), so the check functions see them exactly as they see a scheme under test.
"""

import math

import numpy as np
import pytest

import sde_opt as so
from sde_opt.experiment.verdict import Deviation, compare, counts, exit_status
from sde_opt.validation import _linear_references as ref
from sde_opt.validation._fit_common import coverage, se_calibration
from sde_opt.validation.langevin_stationary import (
    _BETA,
    _GAMMA,
    _H,
    _OMEGA2,
    _flat_xv,
    harmonic_verdicts,
    overdamped_verdict,
)

N_PATHS = 1024  # half the validation's paths: the wrong chains are still ≥ 8 SE off


def _identity(chain):
    return chain


def _underdamped_linear_sde(friction=_GAMMA, noise_scale=1.0):
    """dX = V dt, dV = −ω²X dt − friction·V dt + noise_scale·√(2γ/β) dW as a LinearSDE."""
    A = np.array([[0.0, 1.0], [-_OMEGA2, -friction]])
    B = np.array([[0.0], [noise_scale * math.sqrt(2 * _GAMMA / _BETA)]])
    return so.LinearSDE(A, B)


def _run_underdamped(sde, seed=7):
    M, Q = ref.em_underdamped(_OMEGA2, _GAMMA, _BETA, _H)
    return harmonic_verdicts("EM", so.EulerMaruyama(sde, _H), M, Q, seed, what="EM",
                             xv=_flat_xv, wrap=_identity,
                             start=np.zeros((N_PATHS, 2), np.float32), n_paths=N_PATHS)


@pytest.mark.slow
def test_harmonic_check_passes_a_correct_em_chain():
    vs = _run_underdamped(_underdamped_linear_sde())
    assert [v.verdict for v in vs] == ["pass"] * 3, vs


@pytest.mark.slow
def test_harmonic_check_fails_em_with_friction_off_by_5_percent():
    vs = _run_underdamped(_underdamped_linear_sde(friction=1.05 * _GAMMA))
    assert {v.verdict for v in vs[:2]} == {"fail"}, vs   # ⟨x²⟩ and ⟨v²⟩ both ≈ 9 % low


@pytest.mark.slow
def test_harmonic_check_fails_em_without_the_sqrt_h_of_its_noise():
    # EM draws B √h Z; dividing B by √h leaves B Z: the noise term without its √h
    vs = _run_underdamped(_underdamped_linear_sde(noise_scale=1 / math.sqrt(_H)))
    assert all(v.verdict == "fail" for v in vs[:2]), vs


@pytest.mark.parametrize("drift, ok", [(1.0, True), (1.05, False)])
@pytest.mark.slow
def test_overdamped_check_fails_a_drift_coefficient_off_by_5_percent(drift, ok):
    M, Q = ref.em_overdamped(_OMEGA2, _BETA, _H)
    sde = so.LinearSDE([[-drift * _OMEGA2]], math.sqrt(2 / _BETA))
    v = overdamped_verdict("EM overdamped", so.EulerMaruyama(sde, _H), M, Q, 3, what="EM",
                           n_paths=N_PATHS)
    assert v.verdict == ("pass" if ok else "fail"), v


def test_hand_matrices_reproduce_the_published_closed_forms():
    """validation-theory §5: BAOAB's ⟨x²⟩ and OBABO's ⟨v²⟩ exact, BAOAB ⟨v²⟩ = (1 − h²ω²/4)/β;
    overdamped EM ⟨x²⟩ = 1/(βω²(1 − hω²/2)); EM underdamped by the 2×2 Stein equation."""
    for h in (0.1, 0.5, 1.5):
        cf = ref.closed_forms(_OMEGA2, _BETA, h)
        pb = ref.stationary_covariance(*ref.baoab(_OMEGA2, _GAMMA, _BETA, h))
        po = ref.stationary_covariance(*ref.obabo(_OMEGA2, _GAMMA, _BETA, h))
        pe = ref.stationary_covariance(*ref.em_overdamped(_OMEGA2, _BETA, h))
        assert pb[0, 0] == pytest.approx(cf["baoab_xx"], rel=1e-12)
        assert pb[1, 1] == pytest.approx(cf["baoab_vv"], rel=1e-12)
        assert po[1, 1] == pytest.approx(cf["obabo_vv"], rel=1e-12)
        assert pe[0, 0] == pytest.approx(cf["em_overdamped_xx"], rel=1e-12)
    # exact-OU tends to the continuous law 1/(βω²), 1/β as h → 0 (O(h) bias)
    p = ref.stationary_covariance(*ref.exact_ou(_OMEGA2, _GAMMA, _BETA, 1e-3))
    assert p[0, 0] == pytest.approx(1 / (_BETA * _OMEGA2), rel=2e-3)
    assert p[1, 1] == pytest.approx(1 / _BETA, rel=2e-3)


@pytest.mark.slow
def test_hand_matrices_match_the_chains_linearization():
    """Engine self-consistency: autodiff of chain.step gives the same M, NNᵀ (float64)."""
    from sde_opt.theory.langevin import chain_linearization
    from sde_opt.validation.langevin_stationary import _harmonic_cases

    for label, chain, (M, Q), _, _ in _harmonic_cases():
        lin = chain_linearization(chain, np.zeros(1))
        np.testing.assert_allclose(lin.M, M, atol=1e-12, err_msg=label)
        np.testing.assert_allclose(lin.N @ lin.N.T, Q, atol=1e-12, err_msg=label)


@pytest.mark.slow
def test_coverage_check_detects_standard_errors_20_percent_too_small():
    """400 replicates of one interval each. Over 300 simulated validation runs: with SEs 20 % too
    small (coverage ≈ 0.883) the check fails at the rate it states as its power (≈ 0.93, ≥ 0.9),
    with calibrated SEs it (almost) never fails. Same for the SE-ratio check."""
    rng = np.random.default_rng(0)
    runs, R = 300, 400
    fails_bad = fails_good = ratio_bad = ratio_good = 0
    for _ in range(runs):
        est = rng.standard_normal(R)
        good = coverage("c", np.abs(est) <= 1.96)
        bad = coverage("c", np.abs(est) <= 1.96 * 0.8)
        fails_good += good.verdict == "fail"
        fails_bad += bad.verdict == "fail"
        ratio_good += se_calibration("s", est, np.full(R, 1.0)).verdict == "fail"
        ratio_bad += se_calibration("s", est, np.full(R, 0.8)).verdict == "fail"
    power = float(bad.note.rsplit(":", 1)[1])
    assert power >= 0.9
    se = math.sqrt(power * (1 - power) / runs)
    assert abs(fails_bad / runs - power) < 4 * se + 0.01, (fails_bad, power)
    assert fails_good <= 2 and ratio_good <= 2      # false-alarm rate ≈ 6e-5 per check
    assert ratio_bad / runs >= 0.9


def test_verdict_rule_deviation_and_exit_status():
    dev = Deviation("drops a term", "the exact statement")
    assert compare("x", 1.0, 1.0, 0.1, deviation=dev).verdict == "fail"   # did not show
    v = compare("x", 2.0, 1.0, 0.1, deviation=dev)
    assert v.verdict == "deviation" and "exact statement" in v.deviation
    p = compare("y", 1.0, 1.05, 0.1)
    f = compare("z", 1.0, 2.0, 0.1)
    e = compare("e", 0.0, 0.0, 0.0, kind="engine")
    assert exit_status([p, v, e]) == 0 and exit_status([p, v, f]) == 1
    c = counts([p, v, f, e])
    assert c["claims"] == {"pass": 1, "fail": 1, "deviation": 1, "total": 3}
    assert c["engine"]["total"] == 1
    with pytest.raises(ValueError, match="bias_source"):
        compare("b", 1.0, 1.0, 0.1, bias=0.5)
    # tolerance is z·SE + bias, nothing else
    w = compare("t", 1.0, 1.5, 0.1, bias=0.1, bias_source="derived")
    assert w.ci_high - w.measured == pytest.approx(0.5)
    assert w.verdict == "pass"
    assert compare("t", 1.0, 1.51, 0.1, bias=0.1, bias_source="derived").verdict == "fail"


@pytest.mark.slow
def test_escape_check_fails_a_step_size_off_by_5_percent():
    """The msgd-escape-mean rule on MSGD run at 1.05 η but judged against the prediction for η."""
    import jax.numpy as jnp

    from sde_opt import stats
    from sde_opt.theory import momentum_pca as mp
    from sde_opt.validation.msgd_escape import SPECTRUM, cos2_e1, escape_mean_verdict

    eta, mu = 6e-3, 0.5
    pred = mp.pca_escape(SPECTRUM, eta, mu)
    problem = so.StreamingPCA(SPECTRUM)
    verdicts = []
    for factor in (1.0, 1.05):
        res = so.simulate(so.MomentumSGD(problem, factor * eta, mu), jnp.eye(len(SPECTRUM))[1],
                          101, n_paths=2048, n_steps=1500, events=[so.Threshold(cos2_e1, 0.5)])
        s = stats.exit_time_summary(res, unit="steps")
        verdicts.append(escape_mean_verdict("power check", s, pred).verdict)
    assert verdicts == ["pass", "fail"]

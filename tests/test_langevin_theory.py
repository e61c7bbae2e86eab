"""Theory references for the Langevin family: quadrature, finite differences, Kramers, rates."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

import sde_opt as so
from sde_opt.stats.rates import exponential_rate, loglog_slope
from sde_opt.theory.fokker_planck import (
    mfpt_overdamped_2d,
    mfpt_overdamped_2d_grid,
    mfpt_underdamped_1d,
)
from sde_opt.theory.langevin import (
    chain_linearization,
    chain_relaxation_rate,
    eyring_kramers_time,
    gibbs_expectations,
    kramers_langer_lambda_plus,
    kramers_langer_rate,
    mean_first_passage_1d,
    underdamped_quadratic_rate,
)


def quartic(x):
    return x**4 / 4 - x**2 / 2


def test_mfpt_quadrature_matches_nested_quad():
    eps = 0.2

    def inner(y):
        return quad(lambda z: math.exp(-quartic(z) / eps), -3, y, epsrel=1e-12)[0]

    ref = quad(lambda y: math.exp(quartic(y) / eps) * inner(y), -1, 0.5, epsrel=1e-11)[0] / eps
    assert mean_first_passage_1d(quartic, eps, -1.0, 0.5, -3.0) == pytest.approx(ref, rel=1e-8)


def test_mfpt_finite_noise_correction_of_the_quartic_well():
    """validation-theory §4.1: T_exact/T_EK = 1 + 1.5ε + O(ε²)."""
    for eps in (0.02, 0.01):
        r = mean_first_passage_1d(quartic, eps, -1.0, 1.0, -3.0) / eyring_kramers_time(
            [[2.0]], [[-1.0]], 0.25, eps)
        assert abs((r - 1) / eps - 1.5) < 15 * eps


def test_finite_volume_2d_reproduces_the_1d_quadrature_when_decoupled():
    eps = 0.1

    def v(x, y):
        return (x**2 - 1) ** 2 / 4 + y**2 / 2

    t2 = mfpt_overdamped_2d(v, eps, x_lo=-2.5, b=1.0, y_lo=-2.0, y_hi=2.0, nx=70, ny=40,
                            start=(-1.0, 0.0))[0]
    assert t2 == pytest.approx(mean_first_passage_1d(quartic, eps, -1.0, 1.0, -2.5), rel=1e-6)
    with pytest.raises(ValueError, match="is not a grid node"):
        mfpt_overdamped_2d_grid(v, eps, x_lo=-2.5, b=1.0, y_lo=-2.0, y_hi=2.0, nx=71, ny=40,
                                start=(-1.0, 0.0))


@pytest.mark.slow
def test_finite_difference_underdamped_has_the_smoluchowski_limit():
    """γ large: the underdamped mean first-passage time ≈ γ × the overdamped one (1 + O(1/γ²))."""
    gamma, eps = 20.0, 0.1
    t = mfpt_underdamped_1d(lambda x: x - x**3, eps, gamma, x_lo=-2.0, b=1.0, v_max=2.0, nx=120,
                            nv=100, start=(-1.0, 0.0))
    over = mean_first_passage_1d(quartic, eps, -1.0, 1.0, -2.0)
    assert abs(t[0] / gamma / over - 1) < 0.01
    assert abs(t[1] - t[2]) / t[0] < 0.01  # grids agree: resolved


def test_kramers_formulas():
    assert eyring_kramers_time([[2.0]], [[-1.0]], 0.25, 0.1) == pytest.approx(
        2 * math.pi / math.sqrt(2) * math.exp(2.5))
    ek2 = eyring_kramers_time(np.diag([2.0, 2.0]), np.diag([-1.0, 1.0]), 0.25, 0.1)
    assert ek2 == pytest.approx(math.pi * math.exp(2.5))  # validation-theory §4.1, a = 1
    # Kramers–Langer: γ → ∞ gives the overdamped rate in time t/γ; γ → 0 the TST rate ω₀/2π
    k_big = kramers_langer_rate([[2.0]], [[-1.0]], 0.25, 0.1, 1e4)
    assert k_big * 1e4 == pytest.approx(1 / eyring_kramers_time([[2.0]], [[-1.0]], 0.25, 0.1),
                                        rel=1e-3)
    k0 = kramers_langer_rate([[2.0]], [[-1.0]], 0.25, 0.1, 1e-9)
    assert k0 == pytest.approx(math.sqrt(2) / (2 * math.pi) * math.exp(-2.5), rel=1e-6)
    assert float(kramers_langer_lambda_plus(4.0) / kramers_langer_lambda_plus(1.0)) == \
        pytest.approx((math.sqrt(5) - 2) / ((math.sqrt(5) - 1) / 2))
    with pytest.raises(ValueError, match="negative eigenvalue"):
        eyring_kramers_time([[2.0]], [[1.0]], 0.25, 0.1)


def test_underdamped_quadratic_rate_peaks_at_critical_friction():
    m = 0.01
    gammas = np.linspace(0.01, 1.0, 2001)
    rates = underdamped_quadratic_rate(m, gammas)
    assert gammas[np.argmax(rates)] == pytest.approx(2 * math.sqrt(m), abs=1e-3)
    assert rates.max() <= math.sqrt(m) + 1e-12
    assert underdamped_quadratic_rate(m, 2 * math.sqrt(m)) == pytest.approx(math.sqrt(m))
    assert underdamped_quadratic_rate(m, 100.0) == pytest.approx(m / 100.0, rel=1e-3)


@pytest.mark.slow
def test_discrete_relaxation_rate_tends_to_the_continuous_one():
    p = so.Quadratic([0.04])
    for h, tol in ((0.2, 0.05), (0.05, 0.0125)):
        r = chain_relaxation_rate(so.BAOAB(so.UnderdampedLangevin(p, 0.4, 1.0), h), np.zeros(1))
        assert abs(r / 0.2 - 1) < tol
    sgld = so.SGLD(p, 0.1, 1.0)
    assert chain_relaxation_rate(sgld, np.zeros(1)) == pytest.approx(
        -math.log(1 - 0.1 * 0.04) / 0.1, rel=1e-6)


@pytest.mark.slow
def test_linearization_rejects_nonlinear_chains():
    with pytest.raises(ValueError, match=r"step affine in \(state, noise\).*got a nonlinear step"):
        chain_linearization(so.BAOAB(so.UnderdampedLangevin(so.DoubleWell()), 0.1), np.zeros(1))


def test_gibbs_expectations_of_a_gaussian():
    g = gibbs_expectations(lambda x: 0.5 * 3.0 * x**2, 2.0, {"x2": lambda x: x**2}, -10, 10)
    assert g["x2"] == pytest.approx(1 / 6.0, rel=1e-9)


def test_slope_and_rate_fits_recover_known_values():
    rng = np.random.default_rng(0)
    h = np.array([1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128])
    per_path = h[:, None] * (1 + 0.3 * h[:, None]) * np.abs(rng.standard_normal((5, 400)) + 2)
    fit = loglog_slope(h, per_path, correction=True)
    assert abs(fit.slope - 1.0) < 4 * fit.se + 0.02
    t = np.linspace(0, 5, 51)
    paths = 1.0 + 2.0 * np.exp(-0.7 * t)[None, :] + 0.05 * rng.standard_normal((500, 51))
    r = exponential_rate(t, paths, 1.0)
    assert abs(r.rate - 0.7) < 4 * r.se + 1e-3
    with pytest.raises(ValueError, match="fewer than 3 resolved points"):
        exponential_rate(t, paths, 1.0, t_min=4.9)


def test_chain_relaxation_rate_needs_standard_normal_noise():
    p = so.RobustRegression.generate(n=16)
    with pytest.raises(ValueError, match="must be a StandardNormal"):
        chain_linearization(so.SGLD(p, 0.1, 1.0), jnp.zeros(2))


def test_study_and_validation_checks_are_registered():
    from sde_opt import studies, validation

    assert "sghmc-vs-sgld" in studies.registry()
    validation.load_all()
    names = set(validation.registry())
    for n in ("langevin-harmonic-exact-moments", "langevin-splitting-table", "langevin-gibbs-limit",
              "langevin-strong-order", "kramers-overdamped-1d", "kramers-eyring-2d",
              "kramers-langer-friction", "sghmc-msgd-mapping"):
        assert n in names

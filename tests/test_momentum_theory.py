"""Theory of momentum SGD: PCA closed forms against the generic local SDE and independent routes."""

import math

import numpy as np
import pytest

import sde_opt as so
from sde_opt import theory as th
from sde_opt.theory import momentum_pca as mp

LAM = np.array([1.0, 0.5, 0.4, 0.32, 0.25, 0.2, 0.15, 0.1, 0.07, 0.05])


@pytest.mark.parametrize("dof", [None, 10])
@pytest.mark.parametrize("eta, mu", [(3e-3, 0.0), (3e-4, 0.9), (1e-4, 0.99)])
@pytest.mark.slow
def test_pca_escape_matches_local_sde_from_hessian_and_noise(dof, eta, mu):
    # local_sde builds the Riemannian Hessian (autodiff) and Σ_g on the tangent space at e2:
    # an independent route to the closed forms α² = κλ₁λ₂, rate (λ₁ − λ₂)/(1 − μ)
    p = so.StreamingPCA(LAM, dof=dof)
    loc = th.local_sde(p, np.eye(10)[1], eta, mu)
    esc = mp.pca_escape(LAM, eta, mu, kurtosis=p.kurtosis)
    assert loc.n_unstable == 1
    np.testing.assert_allclose(abs(loc.escape_direction[0]), 1.0, atol=1e-6)
    np.testing.assert_allclose(loc.escape_rate, esc.rate, rtol=1e-5)
    np.testing.assert_allclose(loc.escape_noise, esc.noise, rtol=1e-5)
    np.testing.assert_allclose(loc.exit_iterations_mean(1.0), esc.mean, rtol=1e-5)
    np.testing.assert_allclose(loc.exit_iterations_discrete(1.0), esc.discrete, rtol=1e-5)
    # stable tangent directions at e2: λ₂ − λᵢ for i ≥ 3
    np.testing.assert_allclose(np.sort(loc.curvatures[1:]), np.sort(LAM[1] - LAM[2:]), atol=1e-6)


def test_escape_iterations_depend_on_effective_step_only():
    a = mp.pca_escape(LAM, 3e-3, 0.0)
    for mu in (0.5, 0.9, 0.99):
        b = mp.pca_escape(LAM, 3e-3 * (1 - mu), mu)
        np.testing.assert_allclose(b.mean, a.mean, rtol=1e-9)
        np.testing.assert_allclose(b.quantile(0.9), a.quantile(0.9), rtol=1e-9)
        # ...but heavy ball's discrete chain does not: its growth rate is slower at large μ
        assert b.discrete > a.discrete
    # the paper's asymptotic count is the small-noise expansion of the exact mean
    e = mp.pca_escape(LAM, 1e-5, 0.0)
    assert abs(e.asymptotic / e.mean - 1) < 1e-4


def test_momentum_factor_is_one_minus_mu_with_a_log_correction():
    # leading order in the noise (the O(σ²) terms are ≈ 3e-4 relative at η = 3e-4)
    eta, mu = 3e-4, 0.9
    f = mp.momentum_escape_factor(LAM, eta, mu)
    g, a2 = LAM[0] - LAM[1], LAM[0] * LAM[1]
    big_l = math.log(4 * g / (eta * a2)) + np.euler_gamma
    np.testing.assert_allclose(f, (1 - mu) * (big_l + math.log(1 - mu)) / big_l, rtol=5e-4)
    assert f < 1 - mu


@pytest.mark.parametrize("dof", [None, 10])
@pytest.mark.parametrize("eta, mu", [(1e-2, 0.0), (1e-3, 0.9), (2e-3, 0.5)])
def test_floor_formulas_match_lyapunov_solutions_of_the_local_model(dof, eta, mu):
    p = so.StreamingPCA(LAM, dof=dof)
    loc = th.local_sde(p, np.eye(10)[0], eta, mu)
    assert loc.n_unstable == 0
    k = p.kurtosis
    np.testing.assert_allclose(mp.stationary_error(LAM, eta, mu, kurtosis=k), loc.mean_squared_distance(),
                               rtol=1e-5)
    np.testing.assert_allclose(mp.stationary_error_discrete(LAM, eta, mu, kurtosis=k),
                               loc.mean_squared_distance(discrete=True), rtol=1e-5)
    # Euler–Maruyama of the limit, via the discrete Lyapunov equation of EM
    em = th.em_stationary_covariance(np.diag(-loc.curvatures / (1 - mu)),
                                     math.sqrt(eta) / (1 - mu) * np.diag(np.sqrt(np.diag(loc.noise_cov))),
                                     eta)
    np.testing.assert_allclose(mp.stationary_error_em(LAM, eta, mu, kurtosis=k), np.trace(em), rtol=1e-5)
    # closed form by hand for the diffusion value
    hand = eta / (2 * (1 - mu)) * np.sum(k * LAM[0] * LAM[1:] / (LAM[0] - LAM[1:]))
    np.testing.assert_allclose(mp.stationary_error(LAM, eta, mu, kurtosis=k), hand, rtol=1e-12)


def test_mean_error_curve_against_monte_carlo_of_the_linear_sde():
    eta, mu = 1e-3, 0.5
    esc = mp.pca_escape(LAM, eta, mu)
    ks = np.array([0.0, 500.0, 1500.0, 2500.0, 4000.0, 60000.0])
    curve = mp.mean_error_curve(LAM, eta, mu, ks)
    f = mp.stationary_error(LAM, eta, mu)
    assert curve[0] == pytest.approx(1.0)
    assert curve[-1] == pytest.approx(f, rel=1e-6)
    z = np.random.default_rng(0).standard_normal(400_000)
    for k, c in zip(ks[1:-1], curve[1:-1]):
        t = k * eta
        v = esc.noise**2 * np.expm1(2 * esc.rate * t) / (2 * esc.rate)
        sample = 1.0 / (1.0 + v * z**2)
        p = sample.mean()
        se = sample.std() / math.sqrt(z.size)
        assert abs(c - (p + (1 - p) * f)) < 4 * se + 1e-12
    assert np.all(np.diff(curve[:-1]) < 0)


def test_local_sde_on_a_quadratic_saddle_reduces_to_the_saddle_exit_formulas():
    c = np.array([[0.3, 0.05, 0.0], [0.05, 0.2, 0.0], [0.0, 0.0, 0.1]])
    p = so.QuadraticSaddle([-0.8, 0.5, 2.0], c)
    loc = th.local_sde(p, np.zeros(3), 1e-3, 0.5)
    assert loc.curvatures[0] == pytest.approx(-0.8, rel=1e-6)
    np.testing.assert_allclose(loc.escape_rate, 0.8 / 0.5, rtol=1e-6)
    np.testing.assert_allclose(loc.escape_noise, math.sqrt(1e-3 * 0.3) / 0.5, rtol=1e-6)
    np.testing.assert_allclose(loc.exit_time_mean(0.5), th.saddle_exit_mean(1.6, math.sqrt(3e-4) / 0.5, 0.5),
                               rtol=1e-6)
    np.testing.assert_allclose(loc.exit_iterations_discrete(0.5),
                               th.heavy_ball_exit_iterations(0.8, 0.3, 1e-3, 0.5, mu=0.5), rtol=1e-6)
    with pytest.raises(ValueError, match="stable"):
        loc.stationary_covariance()


def test_local_sde_stationary_covariance_is_the_heavy_ball_diffusion_covariance():
    c = np.array([[0.3, 0.1], [0.1, 0.2]])
    p = so.Quadratic([0.5, 2.0], c)
    loc = th.local_sde(p, np.zeros(2), 0.01, 0.9)
    s = loc.directions @ loc.stationary_covariance() @ loc.directions.T
    np.testing.assert_allclose(s, th.heavy_ball_diffusion_covariance([0.5, 2.0], c, 0.01, 0.9), rtol=1e-6)
    sd = loc.directions @ loc.stationary_covariance_discrete() @ loc.directions.T
    exact = th.heavy_ball_stationary_covariance([0.5, 2.0], c, 0.01, 0.9)[:2, :2]
    np.testing.assert_allclose(sd, exact, rtol=1e-6)
    with pytest.raises(ValueError, match="no unstable"):
        loc.exit_time_mean(1.0)


def test_local_sde_rejects_bad_input():
    p = so.StreamingPCA(LAM)
    with pytest.raises(ValueError, match="not a critical point"):
        th.local_sde(p, np.ones(10) / math.sqrt(10), 1e-3)
    with pytest.raises(ValueError, match="eta"):
        th.local_sde(p, np.eye(10)[0], 0.0)
    with pytest.raises(ValueError, match="mu"):
        th.local_sde(p, np.eye(10)[0], 1e-3, 1.0)
    with pytest.raises(ValueError, match="shape"):
        th.local_sde(p, np.eye(3)[0], 1e-3)
    with pytest.raises(ValueError, match="level"):
        mp.escape_radius(1.0)
    with pytest.raises(ValueError, match="saddle"):
        mp.pca_escape(LAM, 1e-3, 0.0, saddle=0)


@pytest.mark.slow
def test_student_t_sampler_has_the_stated_kurtosis():
    # the integer-dof sampler draws s² = (ν − 2)/χ²_ν from ν extra normals: E s² = 1, E s⁴ = κ
    p = so.StreamingPCA([1.0, 0.5], dof=10)
    assert p.noise.shape == (12,)
    import jax

    z = jax.random.normal(jax.random.key(3), (400_000, 12))
    x = np.asarray(jax.vmap(p.sample)(z), np.float64)
    s2 = x[:, 0] ** 2  # λ₁ = 1: x₁ = s z₁, E x₁⁴ = 3κ
    m4 = np.mean(s2**2)
    se = np.std(s2**2) / math.sqrt(s2.size)
    assert abs(m4 - 3 * p.kurtosis) < 4 * se
    assert abs(np.mean(s2) - 1.0) < 4 * np.std(s2) / math.sqrt(s2.size)

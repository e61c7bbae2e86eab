"""Closed forms of sde_opt.theory against independent computations.

References used here, none of them the code under test: boundary-value and quadrature solutions of
the backward equation, a special-function closed form (k = 2), a Nyström solution of the
Euler–Maruyama chain's mean-exit-time equation, Kronecker-product linear solves, quadrature of
matrix exponentials, and small exact simulations.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sla
from scipy import integrate, special
from scipy.stats import norm

from sde_opt import theory as T
from sde_opt.algorithms import MomentumSGD
from sde_opt.engine import trajectory
from sde_opt.problems import Quadratic

# --------------------------------------------------------------------------- saddle exit (SDE)


@pytest.mark.parametrize("lam,sigma,r", [(1.0, 0.3, 1.0), (2.0, 0.5, 1.5), (0.5, 0.2, 0.7)])
def test_dawson_mean_solves_the_backward_equation(lam, sigma, r):
    # (σ²/2) T'' + λ x T' = −1 on (0, r), T'(0) = 0 (symmetry), T(r) = 0.
    def rhs(x, y):
        return np.vstack([y[1], -2.0 * (1.0 + lam * x * y[1]) / sigma**2])

    def bc(ya, yb):
        return np.array([ya[1], yb[0]])

    x = np.linspace(0.0, r, 400)
    sol = integrate.solve_bvp(rhs, bc, x, np.zeros((2, x.size)), tol=1e-10, max_nodes=200000)
    assert sol.success
    assert T.saddle_exit_mean(lam, sigma, r) == pytest.approx(sol.sol(0.0)[0], rel=1e-6)


@pytest.mark.parametrize("big_r", [0.5, 2.0, 7.0, 40.0])
def test_two_unstable_directions_closed_form(big_r):
    # k = 2: G_2(u) = (1 − e^{−u²})/(2u), so E τ = (1/(2λ)) (ln R² + γ + E₁(R²)).
    lam, sigma = 1.7, 0.3
    r = big_r * sigma / math.sqrt(lam)
    exact = (math.log(big_r**2) + np.euler_gamma + special.exp1(big_r**2)) / (2.0 * lam)
    assert T.saddle_exit_mean(lam, sigma, r, k=2) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_asymptotic_mean_error_is_fourth_order(k):
    lam, r = 1.3, 1.0
    errs = [T.saddle_exit_mean(lam, s, r, k=k) - T.saddle_exit_mean_asymptotic(lam, s, r, k=k)
            for s in (0.1, 0.05)]
    assert abs(errs[1]) < abs(errs[0]) / 10.0  # σ⁴: a factor 16 when σ halves
    # without the σ² term the error is the σ² term itself
    s = 0.05
    gap = (T.saddle_exit_mean(lam, s, r, k=k)
           - T.saddle_exit_mean_asymptotic(lam, s, r, k=k, correction=False))
    assert gap == pytest.approx((k - 2) * s**2 / (4 * lam**2 * r**2), rel=0.02)


def test_asymptotic_mean_uses_ln_4_lambda_r2():
    lam, sigma, r = 1.0, 0.01, 1.0
    exact = T.saddle_exit_mean(lam, sigma, r)
    good = (math.log(4 * lam * r * r / sigma**2) + np.euler_gamma) / (2 * lam)
    wrong = (math.log(2 * lam * r * r / sigma**2) + np.euler_gamma) / (2 * lam)
    assert abs(exact - good) < 1e-4
    assert abs(exact - wrong) > 0.3


def _law_moments(cdf, t_max, n=400001):
    t = np.linspace(0.0, t_max, n)
    tail = 1.0 - cdf(t)
    mean = integrate.trapezoid(tail, t)
    second = integrate.trapezoid(2.0 * t * tail, t)
    return mean, second - mean**2


@pytest.mark.parametrize("lam,sigma,r", [(1.0, 0.01, 1.0), (3.0, 0.05, 0.5)])
def test_limiting_law_mean_median_variance(lam, sigma, r):
    mean, var = _law_moments(lambda t: T.saddle_exit_cdf(t, lam, sigma, r), 40.0 / lam)
    assert mean == pytest.approx(
        T.saddle_exit_mean_asymptotic(lam, sigma, r, correction=False), rel=1e-6)
    assert var == pytest.approx(math.pi**2 / (8 * lam**2), rel=1e-5)
    assert T.saddle_exit_variance(lam) == pytest.approx(math.pi**2 / (8 * lam**2))
    med = T.saddle_exit_quantile(0.5, lam, sigma, r)
    assert T.saddle_exit_cdf(med, lam, sigma, r) == pytest.approx(0.5, abs=1e-12)
    # median = (1/λ)[ln(r√(2λ)/σ) − ln(median |Z|)], median |Z| = Φ⁻¹(3/4)
    expect = (math.log(r * math.sqrt(2 * lam) / sigma) - math.log(norm.ppf(0.75))) / lam
    assert med == pytest.approx(expect, rel=1e-12)
    assert -math.log(norm.ppf(0.75)) == pytest.approx(0.39380, abs=1e-5)


def test_em_law_grid_moments_and_continuous_limit():
    lam, sigma, r, h = 1.0, 0.05, 1.0, 0.1
    n = np.arange(0, 2000)
    grid_cdf = T.saddle_exit_cdf(n * h, lam, sigma, r, dt=h)
    p = np.diff(np.concatenate([[0.0], grid_cdf]))
    mean = float(np.sum(p * n * h))
    var = float(np.sum(p * (n * h) ** 2) - mean**2)
    assert var == pytest.approx(T.saddle_exit_variance(lam, dt=h), rel=2e-3)
    q = T.saddle_exit_quantile(0.3, lam, sigma, r, dt=h)
    assert T.saddle_exit_cdf(q, lam, sigma, r, dt=h) == pytest.approx(0.3, abs=1e-12)
    t = np.linspace(1.0, 10.0, 7)
    assert np.allclose(T.saddle_exit_cdf(t, lam, sigma, r, dt=1e-7),
                       T.saddle_exit_cdf(t, lam, sigma, r), atol=1e-5)


def _em_exit_steps_nystrom(lam, sigma, r, h, n=2001):
    """Mean exit step of x' = (1 + λh)x + σ√h Z from (−r, r), x₀ = 0: T = 1 + K T on a grid."""
    edges = np.linspace(-r, r, n + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    cdf = norm.cdf((edges[None, :] - (1 + lam * h) * mid[:, None]) / (sigma * math.sqrt(h)))
    steps = np.linalg.solve(np.eye(n) - np.diff(cdf, axis=1), np.ones(n))
    return float(np.interp(0.0, mid, steps))


@pytest.mark.parametrize("lam,sigma,h", [(1.0, 0.1, 0.1), (2.0, 0.1, 0.05)])
@pytest.mark.slow
def test_em_mean_against_nystrom_solution(lam, sigma, h):
    r = 1.0
    exact = h * _em_exit_steps_nystrom(lam, sigma, r, h)
    formula = T.saddle_exit_mean_em(lam, sigma, r, h)
    sig2 = sigma**2 / (4 * lam**2 * r**2)
    assert abs(formula - exact) < 0.3 * sig2
    # the reference's "subtract σ²/(4λ²r²)" (continuous correction) is off by ≈ 2·sig2 here
    leading = formula - sig2  # = §3 leading form + h/2 (the +σ²/(4λ²r²) term removed)
    assert abs((leading - sig2) - exact) > 1.5 * sig2
    # and the EM mean exceeds the continuous one by ≈ h(λ E τ/2 + 3/4)
    cont = T.saddle_exit_mean(lam, sigma, r)
    assert exact - cont == pytest.approx(h * (lam * cont / 2 + 0.75), rel=0.15)


def test_heavy_ball_exit_at_mu_zero_is_em():
    lam, c, eta, r = 1.5, 0.7, 0.02, 0.8
    sgd = T.heavy_ball_exit_iterations(lam, c, eta, r) * eta
    assert sgd == pytest.approx(T.saddle_exit_mean_em(lam, math.sqrt(eta * c), r, eta), rel=1e-12)


def test_heavy_ball_exit_matches_exact_simulation():
    # heavy ball along the unstable direction, in MomentumSGD's form, float64, 1-D exit |x| ≥ r
    lam, c, eta, mu, r = 1.0, 0.05, 0.01, 0.9, 1.0
    rng = np.random.default_rng(1)
    n_paths = 20000
    x, m = np.zeros(n_paths), np.zeros(n_paths)
    steps = np.zeros(n_paths)
    alive = np.ones(n_paths, bool)
    k = 0
    while alive.any():
        k += 1
        g = -lam * x[alive] + math.sqrt(c) * rng.standard_normal(alive.sum())
        m[alive] = mu * m[alive] - eta * g
        x[alive] = x[alive] + m[alive]
        out = alive.copy()
        out[alive] = np.abs(x[alive]) >= r
        steps[out] = k
        alive &= ~out
    mean, se = steps.mean(), steps.std(ddof=1) / math.sqrt(n_paths)
    pred = T.heavy_ball_exit_iterations(lam, c, eta, r, mu=mu)
    # the prediction neglects the decaying ρ₂ = μ/ρ component Y of x_n = ρⁿW_n + Y_n: at the exit
    # it is additive noise of stationary variance q ρ₂²/(1 − ρ₂²), q = η²c/(ρ − ρ₂)², which moves
    # ln|x| by ≈ Y/r and the exit by ≈ −Var Y/(2r² ln ρ) iterations; allowance twice that
    b = 1 + mu + eta * lam
    rho = 0.5 * (b + math.sqrt(b * b - 4 * mu))
    rho2 = mu / rho
    var_y = eta**2 * c / (rho - rho2) ** 2 * rho2**2 / (1 - rho2**2)
    bias = var_y / (r * r * math.log(rho))
    assert abs(mean - pred) < 4 * se + bias, (mean, se, pred, bias)
    ml = T.saddle_exit_iterations(lam, c, eta, r, mu=mu)
    assert abs(mean - ml) > 10 * se  # the diffusion limit's rate is visibly off at η_eff = 0.1


def test_ml_reading_is_the_diffusion_limit_asymptotic_and_the_small_step_limit():
    lam, c, eta, mu, r = 1.2, 0.8, 1e-3, 0.6, 0.9
    ml = T.saddle_exit_iterations(lam, c, eta, r, mu=mu)
    sde = T.saddle_exit_mean_asymptotic(lam / (1 - mu), math.sqrt(eta * c) / (1 - mu), r,
                                        correction=False) / eta
    assert ml == pytest.approx(sde, rel=1e-12)
    for mu in (0.0, 0.9):
        eta = 1e-7
        assert T.heavy_ball_exit_iterations(lam, c, eta, r, mu=mu) == pytest.approx(
            T.saddle_exit_iterations(lam, c, eta, r, mu=mu), rel=1e-4)


def test_saddle_exit_bad_input():
    with pytest.raises(ValueError, match=r"saddle_exit_mean: sigma must lie in \(0.0, inf\); got 0.0"):
        T.saddle_exit_mean(1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="mu must lie in"):
        T.heavy_ball_exit_iterations(1.0, 1.0, 0.1, 1.0, mu=1.0)
    with pytest.raises(ValueError, match="p must lie in"):
        T.saddle_exit_quantile(1.0, 1.0, 0.1, 1.0)


# --------------------------------------------------------------------------- Lyapunov

A_NONNORMAL = np.array([[-1.0, 3.0], [0.0, -2.0]])
B_FULL = np.array([[1.0, 0.0], [0.5, 0.7]])


def _kron_solve(lhs_ops, rhs):
    """Solve Σ_i L_i X R_i = rhs for X by vectorization (column-major vec)."""
    d = rhs.shape[0]
    big = sum(np.kron(r.T, left) for left, r in lhs_ops)
    return np.linalg.solve(big, rhs.reshape(-1, order="F")).reshape(d, d, order="F")


def _gram_integral(A, bbt, t_max, n=20001):
    """∫_0^{t_max} e^{At} BBᵀ e^{Aᵀt} dt by Simpson's rule, e^{At} from A's eigendecomposition."""
    w, V = np.linalg.eig(A)
    Vinv = np.linalg.inv(V)
    t = np.linspace(0.0, t_max, n)
    E = np.real(np.einsum("ij,tj,jk->tik", V, np.exp(np.outer(t, w)), Vinv))
    return integrate.simpson(E @ bbt @ np.transpose(E, (0, 2, 1)), x=t, axis=0)


def test_lyapunov_against_kronecker_and_quadrature():
    A, bbt = A_NONNORMAL, B_FULL @ B_FULL.T
    S = T.lyapunov_covariance(A, B_FULL)
    eye = np.eye(2)
    assert np.allclose(S, _kron_solve([(A, eye), (eye, A.T)], -bbt), atol=1e-12)
    assert np.allclose(S, _gram_integral(A, bbt, 30.0), atol=1e-9)
    assert T.lyapunov_covariance([[-2.0]], 3.0) == pytest.approx(9.0 / 4.0)


def test_em_covariance_h_corrected_equation_and_scalar_bias():
    A, B, h = A_NONNORMAL, B_FULL, 0.1
    bbt = B @ B.T
    Sh = T.em_stationary_covariance(A, B, h)
    assert np.allclose(A @ Sh + Sh @ A.T + h * A @ Sh @ A.T + bbt, 0.0, atol=1e-12)
    # iterate the chain's covariance recursion from 0
    m, P = np.eye(2) + h * A, np.zeros((2, 2))
    for _ in range(3000):
        P = m @ P @ m.T + h * bbt
    assert np.allclose(P, Sh, atol=1e-12)
    # first-order bias: S_h − S ≈ h δ with A δ + δ Aᵀ = −A S Aᵀ
    S = T.lyapunov_covariance(A, B)
    delta = sla.solve_continuous_lyapunov(A, -A @ S @ A.T)
    h = 1e-4
    assert np.allclose((T.em_stationary_covariance(A, B, h) - S) / h, delta, rtol=1e-3, atol=1e-6)
    a, s = 1.5, 0.8
    for h in (0.05, 0.4, 1.2):
        rel = T.em_stationary_covariance([[-a]], s, h)[0, 0] / (s**2 / (2 * a)) - 1
        assert rel == pytest.approx(a * h / (2 - a * h), rel=1e-10)


def test_exact_transition_stable_and_saddle():
    A, B, h = A_NONNORMAL, B_FULL, 0.3
    phi, Q = T.exact_transition(A, B, h)
    S = T.lyapunov_covariance(A, B)
    assert np.allclose(phi, sla.expm(A * h), atol=1e-12)
    assert np.allclose(Q, S - phi @ S @ phi.T, atol=1e-12)
    saddle = np.array([[1.0, 0.4], [0.0, -2.0]])
    bbt = B @ B.T
    _, Q = T.exact_transition(saddle, B, h)
    assert np.allclose(Q, _gram_integral(saddle, bbt, h), atol=1e-11)
    a, s = 0.7, 1.3
    assert T.exact_transition([[-a]], s, h)[1][0, 0] == pytest.approx(
        s**2 * (1 - math.exp(-2 * a * h)) / (2 * a))


def test_lyapunov_bad_input():
    with pytest.raises(ValueError, match="must be stable"):
        T.lyapunov_covariance([[1.0, 0.0], [0.0, -1.0]], 1.0)
    with pytest.raises(ValueError, match="unstable at this dt"):
        T.em_stationary_covariance([[-1.0]], 1.0, 2.5)
    with pytest.raises(ValueError, match="B must have shape"):
        T.lyapunov_covariance(-np.eye(2), np.ones((3, 1)))


# --------------------------------------------------------------------------- heavy ball


def test_heavy_ball_vector_form_matches_scalar_closed_forms():
    h, c = np.array([0.5, 2.0, 7.0]), np.array([1.0, 0.3, 2.0])
    eta, mu = 0.1, 0.8
    P = T.heavy_ball_stationary_covariance(h, c, eta, mu)
    M, _ = T.heavy_ball_transition(np.diag(h), eta, mu)
    lag1 = (M @ P)[:3, :3]
    for i in range(3):
        mom = T.heavy_ball_moments(h[i], c[i], eta, mu)
        assert P[i, i] == pytest.approx(mom.var_x, rel=1e-10)
        assert P[i, 3 + i] == pytest.approx(mom.cov_xm, rel=1e-10)
        assert P[3 + i, 3 + i] == pytest.approx(mom.var_m, rel=1e-10)
        assert lag1[i, i] == pytest.approx(mom.lag1_cov_x, rel=1e-10)
    assert np.allclose(P[:3, :3] - np.diag(np.diag(P[:3, :3])), 0.0, atol=1e-14)


def test_heavy_ball_noncommuting_noise_solves_stein_equation():
    H = np.array([[2.0, 0.5], [0.5, 1.0]])
    C = np.array([[1.0, -0.6], [-0.6, 0.8]])
    eta, mu = 0.2, 0.5
    P = T.heavy_ball_stationary_covariance(H, C, eta, mu)
    M, G = T.heavy_ball_transition(H, eta, mu)
    vec = np.linalg.solve(np.eye(16) - np.kron(M, M), (G @ C @ G.T).reshape(-1))
    assert np.allclose(P, vec.reshape(4, 4), atol=1e-12)
    # its η → 0 limit is the diffusion value (H Σ + Σ H = η C/(1 − μ))
    eta = 1e-6
    P = T.heavy_ball_stationary_covariance(H, C, eta, mu)
    D = T.heavy_ball_diffusion_covariance(H, C, eta, mu)
    assert np.allclose(P[:2, :2], D, rtol=1e-5)


def test_three_reference_values():
    h, c, eta, mu = 1.0, 1.0, 0.1, 0.9
    mom = T.heavy_ball_moments(h, c, eta, mu)
    eta_eff = eta / (1 - mu)
    assert mom.var_x_diffusion == pytest.approx(
        T.heavy_ball_diffusion_covariance(h, c, eta, mu)[0, 0])
    assert mom.var_x_sgd_effective == pytest.approx(
        T.heavy_ball_stationary_covariance(h, c, eta_eff, 0.0)[0, 0])
    # reference §2: Var x = diffusion/(1 − ηh/(2(1 + μ))), SGD at η_eff: diffusion/(1 − η_eff h/2)
    assert mom.var_x / mom.var_x_diffusion == pytest.approx(1 / (1 - eta * h / (2 * (1 + mu))))
    assert mom.var_x_sgd_effective / mom.var_x_diffusion == pytest.approx(1 / (1 - eta_eff * h / 2))
    # so at small η momentum's bias is smaller by (1 − μ)/(1 + μ), 1/19 at μ = 0.9
    small = T.heavy_ball_moments(h, c, 1e-5, mu)
    ratio = ((small.var_x - small.var_x_diffusion)
             / (small.var_x_sgd_effective - small.var_x_diffusion))
    assert ratio == pytest.approx((1 - mu) / (1 + mu), rel=1e-3)
    assert T.heavy_ball_moments(h, c, 1.2, 0.5).var_x_sgd_effective == np.inf  # ηh/(1−μ) ≥ 2


def test_pytorch_convention_conversion_against_direct_simulation():
    """The reference's (x, v) closed forms, converted, match sde_opt's MomentumSGD."""
    h, c, eta, mu = 2.0, 1.5, 0.15, 0.7
    problem = Quadratic([h], c)
    alg = MomentumSGD(problem, eta, mu)
    rng = np.random.default_rng(3)
    n_paths, n_steps = 4000, 400
    z = rng.standard_normal((n_paths, n_steps, 1))
    xs = np.asarray(trajectory(alg, jnp.zeros((n_paths, 1), jnp.float32),
                               jnp.asarray(z, jnp.float32)))
    # the PyTorch form on the same noise: v' = μv + g, x' = x − ηv'
    x, v = np.zeros(n_paths), np.zeros(n_paths)
    x_pt = [x.copy()]
    for k in range(n_steps):
        g = h * x + math.sqrt(c) * z[:, k, 0]
        v = mu * v + g
        x = x - eta * v
        x_pt.append(x.copy())
    x_pt = np.stack(x_pt, axis=1)
    assert np.allclose(xs[..., 0], x_pt, atol=2e-4)
    # m_k = x_k − x_{k−1} = −η v_k, pathwise
    assert np.allclose(np.diff(x_pt, axis=1)[:, -1], -eta * v, atol=1e-12)
    # stationary moments at the last step (burn-in 400 ≫ 1/(1 − √μ)), in both conventions
    d = (1 - mu) * (2 * (1 + mu) - eta * h)
    pt = {"var_x": eta * c * (1 + mu) / (h * d), "cov_xv": -eta * c / d, "var_v": 2 * c / d}
    mom = T.heavy_ball_moments(h, c, eta, mu)
    assert mom.var_x == pytest.approx(pt["var_x"])
    assert -mom.cov_xm / eta == pytest.approx(pt["cov_xv"])
    assert mom.var_m / eta**2 == pytest.approx(pt["var_v"])
    xe, ve = x_pt[:, -1], v
    cov = np.cov(np.stack([xe, ve]))
    n = n_paths
    for (i, j), key in {(0, 0): "var_x", (0, 1): "cov_xv", (1, 1): "var_v"}.items():
        se = math.sqrt((cov[i, i] * cov[j, j] + cov[i, j] ** 2) / n)
        assert abs(cov[i, j] - pt[key]) < 4 * se


def test_heavy_ball_stability_errors():
    with pytest.raises(ValueError, match=r"0 < eta·h < 2\(1 \+ mu\) = 3.8"):
        T.heavy_ball_moments(40.0, 1.0, 0.1, 0.9)
    with pytest.raises(ValueError, match="eta·h = -0.1"):
        T.heavy_ball_stationary_covariance([-1.0, 1.0], 1.0, 0.1, 0.5)
    with pytest.raises(ValueError, match="mu must lie in"):
        T.heavy_ball_moments(1.0, 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="positive definite"):
        T.heavy_ball_diffusion_covariance([-1.0, 1.0], 1.0, 0.1, 0.5)

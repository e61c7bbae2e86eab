"""Bilevel theory against independent references: Chebyshev polynomials, Dawson's integral, the
paper's template by hand, and the reduced problem's limits."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.theory import bilevel as tb
from sde_opt.theory import saddle_exit_mean


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def test_cg_bound_is_one_over_a_chebyshev_polynomial():
    for kappa, n in ((10.0, 1), (10.0, 4), (100.0, 7)):
        t = math.cosh(n * math.acosh((kappa + 1) / (kappa - 1)))
        assert tb.cg_contraction_bound(kappa, n) == pytest.approx(1 / t, rel=1e-12)
    assert tb.cg_contraction_bound(10.0, 1) == pytest.approx(9 / 11)  # steepest descent


def test_aid_contraction_picks_the_limiting_loop():
    a = tb.aid_contraction(alpha=0.1, mu=1.0, ell=10.0, D=3, N=40)
    assert a["limited_by"] == "gd" and a["rate"] == pytest.approx(0.9**3)
    b = tb.aid_contraction(alpha=0.1, mu=1.0, ell=10.0, D=400, N=1)
    assert b["limited_by"] == "cg" and b["rate"] == pytest.approx(9 / 11)
    with pytest.raises(ValueError, match=r"D must lie in \[1, inf\)"):
        tb.aid_contraction(alpha=0.1, mu=1.0, ell=10.0, D=0, N=1)


def test_exit_time_quadrature_matches_dawson():
    for lam, s, r in ((1.0, 0.05, 0.5), (2.0, 0.2, 0.3)):
        got = tb.diffusion_exit_mean_1d(lambda x: -lam * x**2 / 2, s, r)
        assert got == pytest.approx(saddle_exit_mean(lam, s, r), rel=1e-5)


@pytest.mark.slow
def test_reduced_problem_bias_noise_and_limits():
    p = so.QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.2, sigma_g=0.5)
    x = jnp.array([0.4, -0.2])
    red = so.problems.ReducedHypergradient(p, 0.1, 5, 400)  # Q → ∞: no bias
    np.testing.assert_allclose(red.grad(x), p.grad(x), rtol=1e-10)
    red = so.problems.ReducedHypergradient(p, 0.1, 5, 3)
    y = p.y_star(x)
    hq = 0.1 * sum(np.linalg.matrix_power(np.eye(6) - 0.1 * np.asarray(p.q_matrix()), q)
                   for q in range(4))
    gy = np.asarray(p.upper_grads(x, y)[1])
    bias = np.asarray(p.lower_cross_matrix(x, y)) @ (np.linalg.solve(np.asarray(p.q_matrix()), gy) - hq @ gy)
    np.testing.assert_allclose(red.bias(x), bias, rtol=1e-9, atol=1e-14)
    s = np.asarray(red.grad_noise_cov(x))
    assert np.allclose(s, s.T) and np.linalg.eigvalsh(s).min() > 0
    # no inner noise: Σ_Φ is the implicit-function map of the upper noise, M_Q C_F M_Qᵀ
    p0 = so.QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.2, sigma_g=0.0)
    r0 = so.problems.ReducedHypergradient(p0, 0.1, 5, 3)
    m = np.concatenate([np.eye(2), -np.asarray(p0.lower_cross_matrix(x, y)) @ hq], 1)
    np.testing.assert_allclose(r0.grad_noise_cov(x), 0.04 * m @ m.T, rtol=1e-10, atol=1e-15)
    # a long inner loop decorrelates successive inner errors: long-run = one-call covariance
    rl = so.problems.ReducedHypergradient(p, 0.1, 400, 3)
    np.testing.assert_allclose(rl.grad_noise_cov(x), rl.one_call_cov(x), rtol=1e-8, atol=1e-15)


@pytest.mark.slow
def test_reduced_saddle_exit_and_growth():
    p = so.QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.2, sigma_g=0.5)
    red = so.problems.ReducedHypergradient(p, 0.1, 5, 400)
    lam, sigma = tb.reduced_unstable_noise(red, jnp.zeros(2), 0.01)
    assert lam == pytest.approx(1.0, rel=1e-8)  # −γ₁, no Q bias
    sig = np.asarray(red.grad_noise_cov(jnp.zeros(2)))
    assert sigma == pytest.approx(math.sqrt(0.01 * sig[0, 0]), rel=1e-10)
    assert tb.reduced_saddle_exit_mean(red, jnp.zeros(2), 0.01, 0.3) == pytest.approx(
        saddle_exit_mean(lam, sigma, 0.3))
    assert tb.perturbed_aid_escape_growth(p, np.zeros(2), 0.2) == pytest.approx(1.2)
    with pytest.raises(ValueError, match="not a strict saddle"):
        tb.perturbed_aid_escape_growth(p, np.array([1.0, 0.0]), 0.2)


def test_perturbed_aid_template_by_hand():
    t = so.algorithms.perturbed_aid_template(eps=1e-2, L=5.75, rho=9.0, delta_phi=0.25, dim=2,
                                             delta=0.1, kappa=10.0)
    iota = math.log(2 * 5.75 * 0.25 / (9.0 * 1e-2 * 0.1))
    assert t["beta"] == pytest.approx(1 / 5.75)
    assert t["radius"] == pytest.approx(1e-2 / (400 * iota**3))
    assert t["interval"] == math.ceil(5.75 / math.sqrt(9e-2) * iota)
    assert t["threshold"] == pytest.approx(5e-3)
    assert (t["D"], t["N"]) == (math.ceil(10 * iota), math.ceil(math.sqrt(10) * iota))


def test_inner_shift_by_hand_in_one_dimension_and_zero_on_a_quadratic():
    """The drift of StocBiO's limit includes the inner shift s = G_y m + ½ ḡ''S (the mean of ĝ
    over the inner SGD chain's stationary law). Reference for d_y = 1, by hand: S = ασ²/(h(2 −
    αh)) (the AR(1) stationary variance of SGD), m = −½ g'''S/h, and ḡ'', g''' by central finite
    differences (no nested autodiff). On a quadratic lower level with ∇ᵧf linear in y the shift is
    exactly zero and the field is ∇Φ_Q bit for bit."""
    from sde_opt.problems.bilevel import biased_hypergradient

    p = so.SoftplusBilevel(d_x=1, d_y=1, n_terms=2, s=(1.0,), sigma_f=0.1, sigma_g=0.7, seed=3)
    alpha, Q = 0.5 / p.lower_smoothness, 6
    red = so.problems.ReducedHypergradient(p, alpha, 4, Q)
    x = jnp.array([0.4])
    y = p.y_star(x)
    h = float(p.lower_hessian(x, y)[0, 0])
    s = alpha * 0.49 / (h * (2 - alpha * h))
    d = 1e-3
    gb = lambda t: float(biased_hypergradient(p, x, y + t, alpha, Q)[0])  # noqa: E731
    gy = lambda t: float(p.lower_grad_y(x, y + t)[0])  # noqa: E731
    g2 = (gb(d) - 2 * gb(0.0) + gb(-d)) / d**2
    g1 = (gb(d) - gb(-d)) / (2 * d)
    third = (gy(d) - 2 * gy(0.0) + gy(-d)) / d**2
    expected = g1 * (-0.5 * third * s / h) + 0.5 * g2 * s
    assert abs(expected) > 1e-3                          # the check has something to see
    np.testing.assert_allclose(float(red.inner_shift(x)[0]), expected, rtol=1e-5)
    np.testing.assert_allclose(float(red.grad(x)[0]), gb(0.0) + expected, rtol=1e-6)
    q = so.QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.2, sigma_g=0.5)
    rq = so.problems.ReducedHypergradient(q, 0.1, 5, 3)
    xq = jnp.array([0.4, -0.2])
    assert np.all(np.asarray(rq.inner_shift(xq)) == 0.0)
    assert np.array_equal(rq.grad(xq), biased_hypergradient(q, xq, q.y_star(xq), 0.1, 3))

"""Bilevel problems: closed forms against autodiff, finite differences and enumeration (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.problems.bilevel import AbstractBilevel, inner_error_covariances, neumann_inverse


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _fd_grad(f, x, h=1e-6):
    """Central differences, all coordinates in one vmapped, jitted call."""
    e = h * jnp.eye(x.shape[0])
    fv = jax.jit(jax.vmap(f))
    return np.asarray((fv(x + e) - fv(x - e)) / (2 * h))


@pytest.mark.slow
def test_quadratic_closed_forms_match_the_implicit_function_theorem():
    p = so.QuadraticBilevel(kappa=30.0, gamma=(-1.0, 0.5), d_y=7, sigma_f=0.2)
    x = jnp.array([0.4, -0.9])
    y = p.y_star(x)
    np.testing.assert_allclose(p.lower_grad_y(x, y), 0.0, atol=1e-12)
    for closed, auto in zip(p.upper_grads(x, y + 0.3), AbstractBilevel.upper_grads(p, x, y + 0.3)):
        np.testing.assert_allclose(closed, auto, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(p.lower_grad_y(x, y + 0.3), AbstractBilevel.lower_grad_y(p, x, y + 0.3),
                               rtol=1e-12, atol=1e-14)
    # the generic (dense IFT) hypergradient, autodiff of Φ, finite differences
    np.testing.assert_allclose(p.grad(x), AbstractBilevel.grad(p, x), rtol=1e-10)
    np.testing.assert_allclose(p.grad(x), _fd_grad(p.objective, x), rtol=1e-7)
    np.testing.assert_allclose(p.grad(x), jax.grad(p.objective)(x), rtol=1e-10)
    np.testing.assert_allclose(p.objective(x), p.upper(x, y), rtol=1e-12)
    np.testing.assert_allclose(p.hessian(x), jax.hessian(p.objective)(x), rtol=1e-10)
    np.testing.assert_allclose(p.lower_hessian(x, y), jax.hessian(p.lower, 1)(x, y), atol=1e-10)
    np.testing.assert_allclose(p.lower_cross_matrix(x, y),
                               AbstractBilevel.lower_cross_matrix(p, x, y), atol=1e-12)
    np.testing.assert_allclose(p.v_star(x), AbstractBilevel.v_star(p, x), rtol=1e-10)
    e = np.linalg.eigvalsh(np.asarray(p.lower_hessian(x, y)))
    np.testing.assert_allclose(e.max() / e.min(), 30.0, rtol=1e-10)
    assert p.lower_smoothness == pytest.approx(30.0) and p.lower_strong_convexity == pytest.approx(1.0)


def test_quadratic_critical_points():
    p = so.QuadraticBilevel(kappa=10.0, gamma=(-2.0, 1.0), omega=(0.5, 1.0))
    cps = p.critical_points()
    assert set(cps) == {"minimum", "saddle"}
    np.testing.assert_allclose(np.abs(cps["minimum"][:, 0]), 2.0)  # √(−γ/ω) = √4
    for kind, pts in cps.items():
        for c in pts:
            np.testing.assert_allclose(p.grad(c), 0.0, atol=1e-12)
            ev = np.linalg.eigvalsh(np.asarray(p.hessian(c)))
            assert (ev.min() > 0) == (kind == "minimum")
    np.testing.assert_allclose(np.linalg.eigvalsh(np.asarray(p.hessian(jnp.zeros(2)))).min(), -2.0)


@pytest.mark.slow
def test_ideal_oracle_covariance_is_exact():
    p = so.QuadraticBilevel(kappa=5.0, d_y=4, sigma_f=0.3)
    x = jnp.array([0.2, 0.1])
    jac = jax.jacfwd(lambda w: p.stochastic_grad(x, w))(jnp.zeros(6))  # linear in the noise
    np.testing.assert_allclose(p.grad_noise_cov(x), jac @ jac.T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(p.stochastic_grad(x, jnp.zeros(6)), p.grad(x), rtol=1e-12)


@pytest.mark.slow  # Newton solves compiled per call: several seconds
def test_softplus_hypergradient_against_finite_differences():
    p = so.SoftplusBilevel()
    x = jnp.array([0.3, -0.2])
    y = jax.jit(lambda z: p.y_star(z))(x)
    np.testing.assert_allclose(p.lower_grad_y(x, y), 0.0, atol=1e-10)
    np.testing.assert_allclose(jax.jit(lambda z: p.grad(z))(x), _fd_grad(p.objective, x), rtol=1e-6)
    assert "saddle" in p.critical_points()
    np.testing.assert_allclose(jax.jit(lambda z: p.grad(z))(jnp.zeros(2)), 0.0, atol=1e-10)
    ell, mu = p.lower_smoothness, p.lower_strong_convexity
    e = np.linalg.eigvalsh(np.asarray(p.lower_hessian(x, y)))
    assert mu <= e.min() + 1e-12 and e.max() <= ell + 1e-12


@pytest.mark.slow  # Newton solves compiled per call: several seconds
def test_hyper_cleaning_hypergradient_and_minibatch_oracles():
    p = so.HyperCleaning(n_train=12, n_val=10, dim=3, batch_size=1)
    x = jnp.linspace(-1, 1, 12)
    y = jax.jit(lambda z: p.y_star(z))(x)
    fd = _fd_grad(p.objective, x)
    np.testing.assert_allclose(jax.jit(lambda z: p.grad(z))(x), fd, rtol=1e-5, atol=1e-9)
    # one-example batches, enumerated: the mean is the full gradient, the covariance is exact
    each = lambda fn, n: jax.jit(jax.vmap(lambda i: fn(i[None])))(jnp.arange(n))  # noqa: E731
    per = each(lambda i: p.stochastic_lower_grad_y(x, y, i), 12)
    np.testing.assert_allclose(per.mean(0), p.lower_grad_y(x, y), atol=1e-12)
    np.testing.assert_allclose(np.cov(np.asarray(per).T, bias=True), p.lower_grad_cov(x, y), atol=1e-12)
    up = each(lambda j: p.stochastic_upper_grads(x, y, j)[1], 10)
    np.testing.assert_allclose(up.mean(0), p.upper_grads(x, y)[1], atol=1e-12)
    np.testing.assert_allclose(np.cov(np.asarray(up).T, bias=True), p.upper_grads_cov(x, y)[12:, 12:],
                               atol=1e-12)
    hv = each(lambda i: p.stochastic_lower_hvp(x, y, jnp.ones(3), i), 12)
    np.testing.assert_allclose(hv.mean(0), p.lower_hvp(x, y, jnp.ones(3)), atol=1e-12)
    cr = each(lambda i: p.stochastic_lower_cross(x, y, jnp.ones(3), i), 12)
    np.testing.assert_allclose(cr.mean(0), p.lower_cross(x, y, jnp.ones(3)), atol=1e-12)


@pytest.mark.slow
def test_neumann_inverse_and_inner_error_covariances_by_hand():
    p = so.QuadraticBilevel(kappa=4.0, d_y=3, sigma_g=0.5)
    h = np.asarray(p.q_matrix())
    a = 0.2
    by_hand = a * sum(np.linalg.matrix_power(np.eye(3) - a * h, q) for q in range(6))
    np.testing.assert_allclose(neumann_inverse(jnp.asarray(h), a, 5), by_hand, rtol=1e-12)
    A, W, S, L = (np.asarray(m) for m in inner_error_covariances(p, jnp.zeros(2), a, 3))
    P = np.eye(3) - a * h
    np.testing.assert_allclose(A, np.linalg.matrix_power(P, 3), rtol=1e-12)
    w = a**2 * 0.25 * sum(np.linalg.matrix_power(P, 2 * t) for t in range(3))
    np.testing.assert_allclose(W, w, rtol=1e-12)
    np.testing.assert_allclose(S, A @ S @ A.T + W, atol=1e-14)
    long_run = S + sum(np.linalg.matrix_power(A, k) @ S + S @ np.linalg.matrix_power(A, k).T
                       for k in range(1, 400))
    np.testing.assert_allclose(L, long_run, rtol=1e-9)


@pytest.mark.parametrize("kw, msg", [({"kappa": 0.5}, "kappa"), ({"omega": (1.0, -1.0)}, "omega"),
                                     ({"d_y": 1}, "d_y"), ({"sigma_f": -1.0}, "sigma_f")])
def test_quadratic_bad_input(kw, msg):
    with pytest.raises(ValueError, match=msg):
        so.QuadraticBilevel(**kw)


@pytest.mark.slow
def test_problems_pass_the_field_check():
    for p in (so.QuadraticBilevel(), so.SoftplusBilevel(), so.HyperCleaning()):
        p.check()

"""Closed forms of the minimax games against independent computations (numerical maximization over
y, finite differences, enumeration of minibatches)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import sde_opt as so


@pytest.fixture(autouse=True, scope="module")
def _float64():
    """float64 for this module's hand computations only (see tests/conftest.py)."""
    with jax.enable_x64(True):
        yield


def _numeric_phi(game, x, y_dim, y_radius=None):
    """max_y f(x, y) by scipy (an independent reference), with the ball constraint if any."""
    xj = jnp.asarray(x)
    neg = jax.jit(jax.value_and_grad(lambda y: -game.objective((xj, y))))
    fun = lambda y: tuple(np.asarray(v, np.float64) for v in neg(jnp.asarray(y)))
    cons = () if y_radius is None else ({"type": "ineq", "fun": lambda y: y_radius**2 - y @ y},)
    best = None
    for y0 in (np.zeros(y_dim), np.full(y_dim, 0.5), -np.full(y_dim, 0.5)):
        res = optimize.minimize(fun, y0, jac=True, constraints=cons, method="SLSQP" if cons else "BFGS",
                                options={"ftol": 1e-13} if cons else {"gtol": 1e-10})
        if best is None or res.fun < best.fun:
            best = res
    return -best.fun, best.x


def _fd_grad(fn, x, h=1e-6):
    x = np.asarray(x, np.float64)
    fn = jax.jit(lambda u, _f=fn: _f(u))
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (float(fn(jnp.asarray(x + e))) - float(fn(jnp.asarray(x - e)))) / (2 * h)
    return out


GAMES = {
    "dw-linear": lambda: so.DoubleWellGame(2, ell=1.5, mu=0.05, c=0.6),
    "dw-tanh": lambda: so.DoubleWellGame(2, ell=1.0, mu=0.2, c=0.7, coupling="tanh"),
    "dw-ball": lambda: so.DoubleWellGame(2, ell=1.0, mu=0.1, c=0.5, y_radius=0.4),
    "ramp": lambda: so.RampGame(2, eps=0.05, ell=1.0, mu=0.1, c=0.5),
    "quadratic": lambda: so.QuadraticGame(np.diag([-1.0, 0.5]), [[1.0, 0.2], [0.0, 0.7]], np.eye(2)),
}


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.slow
def test_phi_and_y_star_match_a_numerical_max(name):
    g = GAMES[name]()
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.normal(size=g.dims[0]) * 0.8
        val, y = _numeric_phi(g, x, g.dims[1], g.y_radius)
        np.testing.assert_allclose(float(g.phi(jnp.asarray(x))), val, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(np.asarray(g.y_star(jnp.asarray(x))), y, atol=2e-4)


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.slow
def test_phi_grad_and_hessian_match_finite_differences(name):
    g = GAMES[name]()
    x = np.array([0.37, -0.21])
    np.testing.assert_allclose(np.asarray(g.phi_grad(jnp.asarray(x))), _fd_grad(g.phi, x),
                               rtol=1e-6, atol=1e-8)
    hess = np.stack([_fd_grad(lambda u, i=i: g.phi_grad(u)[i], x) for i in range(2)])
    np.testing.assert_allclose(np.asarray(g.phi_hessian(jnp.asarray(x))), hess, rtol=1e-5,
                               atol=1e-7)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_field_is_the_game_gradient(name):
    g = GAMES[name]()
    z = (jnp.array([0.3, -0.4]), jnp.array([0.1, 0.2]))
    gx, gy = jax.grad(g.objective)(z)
    vx, vy = g.field(z)
    np.testing.assert_allclose(vx, gx, atol=1e-12)
    np.testing.assert_allclose(vy, -gy, atol=1e-12)


@pytest.mark.slow
def test_double_well_critical_points_and_kappa_independence():
    for coupling in ("linear", "tanh"):
        g = so.DoubleWellGame(2, ell=2.0, mu=0.02, c=0.6, coupling=coupling)
        cps = g.phi_critical_points()
        for kind, xs in cps.items():
            for x in xs:
                np.testing.assert_allclose(g.phi_grad(jnp.asarray(x)), 0.0, atol=1e-10)
                w = np.linalg.eigvalsh(np.asarray(g.phi_hessian(jnp.asarray(x))))
                assert (w.min() < 0 < w.max()) if kind == "saddle" else (w.min() > 0)
        w0 = np.linalg.eigvalsh(np.asarray(g.phi_hessian(jnp.zeros(2))))
        np.testing.assert_allclose(-w0.min(), g.saddle_curvature(), rtol=1e-12)
    # linear coupling: Φ does not depend on κ (two decades apart), minimum value −ℓ(1−c²)²/4
    x = jnp.array([0.4, 0.3])
    a = so.DoubleWellGame(2, ell=1.0, mu=1.0, c=0.5)
    b = so.DoubleWellGame(2, ell=1.0, mu=0.01, c=0.5)
    np.testing.assert_allclose(a.phi(x), b.phi(x), rtol=1e-12)
    xm = jnp.asarray(a.phi_critical_points()["minimum"][0])
    np.testing.assert_allclose(a.phi(xm), -(1 - 0.25) ** 2 / 4, rtol=1e-12)
    assert b.kappa == pytest.approx(100.0)


@pytest.mark.slow
def test_ramp_threshold_and_lower_bound_constants():
    g = so.RampGame(1, eps=0.1, ell=1.0, mu=0.01, c=0.5)
    for r, small in ((0.99 * g.x_eps, True), (1.01 * g.x_eps, False)):
        assert (float(g.grad_norm_phi((jnp.array([r]), jnp.zeros(1)))) <= g.eps) == small
    x0 = g.start_radius(1.0)
    assert float(g.phi(jnp.array([x0]))) >= 1.0
    # ∇h is bounded by 2ε and ∇²h by ℓ
    xs = jnp.linspace(-5, 5, 2001)[:, None]
    gr = jax.jit(jax.vmap(g.phi_grad))(xs)
    assert float(jnp.max(jnp.abs(gr))) < 2 * g.eps
    hs = jax.jit(jax.vmap(g.phi_hessian))(xs)
    assert float(jnp.max(hs)) <= g.ell * (1 + 1e-9)
    assert g.predicted_iterations(1.0, 1 / (g.kappa**2 * g.ell)) == pytest.approx(
        g.kappa**2 / (4 * 0.01))


def test_quadratic_game_phi_and_kinds():
    g = so.QuadraticGame(np.diag([-1.0, 0.5]), np.eye(2) * 0.5, np.eye(2))
    np.testing.assert_allclose(g.phi_matrix(), np.diag([-0.75, 0.75]))
    assert "saddle" in g.phi_critical_points()
    j = g.jacobian()
    z = (jnp.array([0.2, -0.1]), jnp.array([0.3, 0.4]))
    np.testing.assert_allclose(np.concatenate(g.field(z)), j @ np.concatenate(z), atol=1e-12)
    bil = so.QuadraticGame.bilinear(np.eye(2))
    with pytest.raises(ValueError, match="C ≻ 0"):
        bil.phi_matrix()


def test_gaussian_oracle_covariance_and_factor():
    g = so.DoubleWellGame(2, sigma_x=0.3, sigma_y=0.2, batch_size=4)
    z = (jnp.zeros(2), jnp.zeros(2))
    cov = np.asarray(g.noise_cov(z))
    np.testing.assert_allclose(cov, np.diag([0.09, 0.09, 0.04, 0.04]) / 4)
    bmat = np.stack([np.concatenate(g.noise_factor(z, jnp.eye(4)[i])) for i in range(4)], 1)
    np.testing.assert_allclose(bmat @ bmat.T, cov, atol=1e-12)
    w = jax.random.normal(jax.random.key(0), (20000, 4))
    draws = jax.jit(jax.vmap(lambda ww: jnp.concatenate(g.stochastic_field(z, ww))))(w)
    np.testing.assert_allclose(np.cov(np.asarray(draws).T), cov, atol=4 * 0.0225 / np.sqrt(20000) * 2)


@pytest.mark.slow
def test_adversarial_logistic_closed_forms_and_minibatch_covariance():
    g = so.AdversarialLogistic(n=12, d=3, mu=0.5, lam=0.1, batch_size=3)
    x = jnp.array([0.3, -0.2, 0.5])
    val, y = _numeric_phi(g, np.asarray(x), g.n)
    np.testing.assert_allclose(float(g.phi(x)), val, rtol=1e-7)
    np.testing.assert_allclose(np.asarray(g.y_star(x)), y, atol=1e-4)
    np.testing.assert_allclose(np.asarray(g.phi_grad(x)), _fd_grad(g.phi, np.asarray(x)), rtol=1e-6)
    z = (x, g.y_star(x) + 0.1)
    # the per-example fields average to the field
    per = g.per_example_fields(z)
    for a, b in zip(g.field(z), per):
        np.testing.assert_allclose(np.mean(np.asarray(b), 0), a, atol=1e-12)
    # Σ by enumeration: one uniform index has Cov = mean VᵢVᵢᵀ − V̄V̄ᵀ; b draws with replacement /b
    flat = np.concatenate([np.asarray(per[0]), np.asarray(per[1])], 1)
    single = flat.T @ flat / g.n - np.outer(flat.mean(0), flat.mean(0))
    np.testing.assert_allclose(np.asarray(g.noise_cov(z)), single / 3, atol=1e-12)
    bmat = np.stack([np.concatenate(g.noise_factor(z, jnp.eye(g.n)[i])) for i in range(g.n)], 1)
    np.testing.assert_allclose(bmat @ bmat.T, single / 3, atol=1e-12)
    # a minibatch draw is the mean of the chosen examples' fields
    idx = jnp.array([0, 5, 5])
    got = np.concatenate(g.stochastic_field(z, idx))
    np.testing.assert_allclose(got, flat[[0, 5, 5]].mean(0), atol=1e-12)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"mu must lie in \(0.0, inf\); got 0.0"):
        so.DoubleWellGame(2, mu=0.0)
    with pytest.raises(ValueError, match=r"mu must lie in \(0.0, inf\); got -1.0"):
        so.RampGame(1, mu=-1.0)
    with pytest.raises(ValueError, match=r"mu must lie in \(0.0, inf\); got 0.0"):
        so.AdversarialLogistic(n=8, d=2, mu=0.0)
    with pytest.raises(ValueError, match="c must lie"):
        so.DoubleWellGame(2, c=1.0)
    with pytest.raises(ValueError, match="y_radius"):
        so.DoubleWellGame(2, y_radius=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        so.DoubleWellGame(2, batch_size=0)
    with pytest.raises(ValueError, match="C must be positive semi-definite"):
        so.QuadraticGame(np.eye(1), np.eye(1), -np.eye(1))

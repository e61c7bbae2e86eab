"""Modified equations vs the exact iteration spectra; escape laws of the minimax theory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as sps

import sde_opt as so
from sde_opt.theory import minimax_escape as mx
from sde_opt.theory import modified_equations as me


@pytest.fixture(autouse=True, scope="module")
def _float64():
    """float64 for this module's hand computations only (see tests/conftest.py)."""
    with jax.enable_x64(True):
        yield

RNG = np.random.default_rng(0)
BMAT = RNG.normal(size=(2, 2))
with jax.enable_x64(True):  # the games' matrices are stored in float64
    GAMES = {"bilinear": so.QuadraticGame.bilinear(BMAT),
             "convex-concave": so.QuadraticGame(np.diag([0.5, 0.2]), BMAT, np.diag([1.0, 0.3]))}
ETAS = np.array([0.04, 0.02, 0.01, 0.005])


@pytest.mark.parametrize("game", sorted(GAMES))
@pytest.mark.parametrize("method", ["gda", "ogda", "extragradient"])
def test_modified_equation_predicts_the_spectral_radius_within_its_remainder_bound(game, method):
    J = GAMES[game].jacobian()
    for eta in ETAS:
        ex = me.exact_log_rate(method, J, eta, 2 * eta, 2)
        mod = me.modified_log_rate(method, J, eta, 2 * eta, 2)
        assert abs(ex - mod) <= me.remainder_bound(method, J, eta, 2 * eta, 2)


def test_first_order_ode_misses_gda_divergence_on_a_bilinear_game():
    J = GAMES["bilinear"].jacobian()
    sigma = np.linalg.svd(BMAT, compute_uv=False).max()
    for eta in ETAS:
        ex = me.exact_log_rate("gda", J, eta, eta, 2)
        np.testing.assert_allclose(ex, 0.5 * np.log1p(eta**2 * sigma**2), rtol=1e-9)
        assert me.modified_log_rate("gda", J, eta, eta, 2, order=0) == pytest.approx(0.0, abs=1e-14)
        assert ex > me.remainder_bound("gda", J, eta, eta, 2)  # the O(η) term is needed


@pytest.mark.parametrize("method", me.METHODS)
def test_remainder_is_third_order_and_first_order_ode_second_order(method):
    J = GAMES["convex-concave"].jacobian()
    err1 = [abs(me.exact_log_rate(method, J, e, 2 * e, 2) - me.modified_log_rate(method, J, e, 2 * e, 2))
            for e in ETAS]
    err0 = [abs(me.exact_log_rate(method, J, e, 2 * e, 2)
                - me.modified_log_rate(method, J, e, 2 * e, 2, order=0)) for e in ETAS]
    s1 = np.polyfit(np.log(ETAS), np.log(err1), 1)[0]
    s0 = np.polyfit(np.log(ETAS), np.log(err0), 1)[0]
    assert s1 > 2.9 and abs(s0 - 2.0) < 0.1


@pytest.mark.parametrize("method", me.METHODS)
@pytest.mark.slow
def test_modified_equation_sde_linearizes_to_the_closed_form(method):
    game = GAMES["convex-concave"]
    eq = me.ModifiedEquation(game, method, 0.02, 0.05)
    a = eq.linearization((jnp.zeros(2), jnp.zeros(2)))
    pred = float(np.max(np.real(np.linalg.eigvals(0.02 * a))))
    assert pred == pytest.approx(me.modified_log_rate(method, game.jacobian(), 0.02, 0.05, 2),
                                 abs=1e-13)


def test_unstable_mode_is_an_exact_scalar_recursion():
    game = so.QuadraticGame(np.diag([-1.0, 0.5]), 0.3 * np.eye(2), np.eye(2))
    T = me.iteration_matrix("gdmax", game.jacobian(), 0.1, 0.5, 2, n_inner=4)
    rho, w, v = mx.unstable_mode(T)
    z = RNG.normal(size=4)
    assert w @ T @ z == pytest.approx(rho * (w @ z), rel=1e-12)
    np.testing.assert_allclose(T @ v, rho * v, atol=1e-12)


@pytest.mark.slow
def test_reduced_sde_covariance_is_the_hypergradient_noise():
    b = np.array([[0.7, 0.1], [0.0, 0.4]])
    c = np.diag([1.0, 2.0])
    game = so.QuadraticGame(np.diag([-1.0, 0.5]), b, c, sigma_x=0.3, sigma_y=0.2)
    sde = so.ReducedSDE(game, 0.01)
    x = jnp.array([0.2, 0.1])
    k = b @ np.linalg.inv(c)
    np.testing.assert_allclose(sde.x_covariance(x), 0.09 * np.eye(2) + 0.04 * k @ k.T, atol=1e-12)
    np.testing.assert_allclose(so.ReducedSDE(game, 0.01, noise="x").x_covariance(x), 0.09 * np.eye(2))
    np.testing.assert_allclose(sde.drift((x, game.y_star(x)))[0], -game.phi_matrix() @ x, atol=1e-12)
    two = so.TwoTimescaleSDE(game, 0.01, 5.0)
    z = (x, jnp.array([0.3, -0.1]))
    vx, vy = game.field(z)
    np.testing.assert_allclose(two.drift(z)[1], -5.0 * vy)
    bz = two.diffusion(z, jnp.array([1.0, 0.0, 0.0, 1.0]))
    np.testing.assert_allclose(bz[0], [-0.1 * 0.3, 0.0])
    np.testing.assert_allclose(bz[1], [0.0, -0.1 * 5.0 * 0.2])


def test_gda_saddle_tends_to_the_reduced_sde_as_the_ratio_grows():
    game = so.QuadraticGame(np.diag([-1.0, 0.5]), 0.5 * np.eye(2), np.eye(2), sigma_x=0.1,
                            sigma_y=0.1)
    gaps = []
    for ratio in (10.0, 40.0, 160.0):
        eta_x = 1e-4
        s = mx.gda_saddle(game, eta_x, ratio * eta_x)
        gaps.append(abs(s.lam_discrete / s.lam_phi - 1))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01
    s = mx.gda_saddle(game, 1e-4, 1e-1)
    assert s.sigma_discrete == pytest.approx(s.sigma_reduced, rel=0.02)


@pytest.mark.slow
def test_perturbed_gdmax_escape_follows_the_kicked_law():
    game = so.QuadraticGame(np.diag([-1.0, 0.5]), 0.4 * np.eye(2), np.eye(2))
    ex, ey, n, r, big_r = 0.2, 0.5, 3, 1e-3, 0.5
    law = mx.gdmax_kicked_escape(game, ex, ey, n, r=r, radius=big_r)
    alg = so.PerturbedGDmax(game, ex, ey, n_inner=n, radius=r / ex, eps=0.1, interval=10**6)
    w = jnp.asarray(law.w, jnp.float32)
    event = lambda z: jnp.abs(jnp.concatenate(z) @ w) >= big_r
    res = so.simulate(alg, (jnp.zeros(2), jnp.zeros(2)), 5, n_paths=3000, n_steps=400,
                      events=[event])
    assert res.counts()["exited"] == 3000
    k = res.steps - 1
    rng = np.random.default_rng(0)
    pit = law.cdf(k - 1) + rng.uniform(size=k.size) * (law.cdf(k) - law.cdf(k - 1))
    assert sps.kstest(pit, "uniform").pvalue > 1e-4
    # without the kick GDmax stays at the saddle exactly
    stay = so.simulate(so.GDmax(game, ex, ey, n_inner=n), (jnp.zeros(2), jnp.zeros(2)), 0,
                       n_paths=4, n_steps=200, events=[event])
    assert stay.counts()["censored"] == 4
    np.testing.assert_array_equal(stay.final[0], 0.0)

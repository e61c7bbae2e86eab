"""GDmax's diffusion limit carries its inner loop's noise (issue 18, defect 1), and simulates through
the engine on a QuadraticGame (defect 2).

References, each obtained independently of the code under test:

* the long-run covariance L of the inner-loop error, from its definition Σ_k Cov(e_0, e_k) with the
  stationary covariance solved by ``scipy.linalg.solve_discrete_lyapunov``;
* the algorithm's exact stationary covariance: GDmax on a quadratic game is a linear recursion
  z_{k+1} = T z_k + W ω on the augmented state z = (x, y), T and W written out by hand from the
  update rule (checked against ``GDmax.step``), solved by ``solve_discrete_lyapunov``;
* for the scalar game, the first-order term of the chain's stationary variance in η_x, expanded by
  hand (with sympy) from the exact 2×2 Lyapunov equation of the (x, ε = y − y*) recursion.

The limit's stationary covariance solves H_Φ S + S H_Φ = η_x C (``solve_continuous_lyapunov``),
C from ``GDmax.limit().x_covariance``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg as sl
from numpy.linalg import matrix_power

import sde_opt as so
from sde_opt.sde.two_timescale import inner_loop_covariance

# the issue's quadratic game: κ = 10 (C = μ = 0.1, ℓ = 1), b = c√(ℓμ) with c = 0.5, H_Φ = 0.75
A1, B1, C1 = 0.5, 0.5 * np.sqrt(0.1), 0.1
# a 2×2 game with non-commuting blocks: C not diagonal, Φ strongly convex
A2 = np.array([[0.6, 0.1], [0.1, 0.4]])
B2 = np.array([[0.4, 0.1], [-0.2, 0.3]])
C2 = np.array([[0.8, 0.3], [0.3, 0.5]])


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


def _game(a, b, c, sx, sy):
    return so.QuadraticGame(np.atleast_2d(a), np.atleast_2d(b), np.atleast_2d(c), sigma_x=sx,
                            sigma_y=sy)


def gdmax_recursion(a, b, c, sx, sy, eta_x, eta_y, n):
    r"""(T, W) with z_{k+1} = T z_k + W ω for GDmax on f = ½xᵀAx + xᵀBy − ½yᵀCy, by hand.

    z = (x_k, y_k) (y_k: the state's y, y_{k−1}^N); ω = (w_1, …, w_N, ξ), the y-parts of the N
    inner draws and the x-part of the last. Inner step (M = I − η_y C):
    y^t = M y^{t−1} + η_y Bᵀx − η_y σ_y w_t, so y^N = M^N y + R x − η_y σ_y Σ_t M^{N−t} w_t with
    R = η_y Σ_{j<N} M^j Bᵀ; outer step x' = x − η_x(Ax + B y^N + σ_x ξ).
    """
    a, b, c = (np.atleast_2d(v) for v in (a, b, c))
    m, k = b.shape
    mm = np.eye(k) - eta_y * c
    r = eta_y * sum(matrix_power(mm, j) for j in range(n)) @ b.T
    wy = np.hstack([-eta_y * sy * matrix_power(mm, n - t) for t in range(1, n + 1)])
    pn = matrix_power(mm, n)
    t_mat = np.block([[np.eye(m) - eta_x * a - eta_x * b @ r, -eta_x * b @ pn], [r, pn]])
    w_mat = np.block([[-eta_x * b @ wy, -eta_x * sx * np.eye(m)], [wy, np.zeros((k, m))]])
    return t_mat, w_mat


def chain_stationary_x(a, b, c, sx, sy, eta_x, eta_y, n):
    t_mat, w_mat = gdmax_recursion(a, b, c, sx, sy, eta_x, eta_y, n)
    m = np.atleast_2d(b).shape[0]
    return sl.solve_discrete_lyapunov(t_mat, w_mat @ w_mat.T)[:m, :m]


def limit_stationary_x(game, eta_x, eta_y, n, cov=None):
    """The limit's stationary covariance; ``cov`` overrides C (the old x-noise-only limit)."""
    m = game.dims[0]
    if cov is None:
        cov = np.asarray(so.GDmax(game, eta_x, eta_y, n_inner=n).limit().x_covariance(jnp.zeros(m)))
    return sl.solve_continuous_lyapunov(game.phi_matrix(), eta_x * cov)


def first_order_coefficient(a, b, c, sx, sy, eta_y, n):
    r"""β with Var_chain x = Var_limit x · (1 + β η_x + O(η_x²)) on the scalar game [derived here].

    The scalar chain in (x, ε), ε = y^N − y*(x), h = a + b²/c, P = (1 − η_yc)^N:
    x' = (1 − η_xh)x − η_xbε − η_xσ_xξ,  ε' = P[ε + (b/c)η_x(hx + bε + σ_xξ)] + u,
    Var u = q = η_y²σ_y² Σ_{j<N}(1 − η_yc)^{2j}. Solving its 2×2 Lyapunov equation in closed form
    and expanding in η_x (sympy) gives, with L = q/(1 − P)² and C = σ_x² + b²L,

        β C = σ_x² [h/2 + (b²/c)P/(1 − P)] + b²L [(b²/c)P/(1 − P) + h/2 − 2hP/(1 − P²)]:

    h/2 from the Euler step of the OU process, (b²/c)P/(1 − P) from y lagging y*(x) as x moves,
    −2hP/(1 − P²) from the inner error's correlation time against x's relaxation.
    """
    h = a + b * b / c
    mm = 1.0 - eta_y * c
    p = mm**n
    q = eta_y**2 * sy**2 * sum(mm ** (2 * j) for j in range(n))
    ell = q / (1.0 - p) ** 2
    lag = b * b / c * p / (1.0 - p)
    big_c = sx**2 + b * b * ell
    return (sx**2 * (h / 2 + lag) + b * b * ell * (lag + h / 2 - 2 * h * p / (1 - p * p))) / big_c


# ----- the long-run covariance ------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 3, 10, 100])
def test_inner_loop_covariance_is_the_sum_of_the_autocovariances(n):
    rng = np.random.default_rng(n)
    q_, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    h = q_ @ np.diag([0.05, 0.4, 1.5]) @ q_.T
    g = rng.normal(size=(3, 3))
    sigma = g @ g.T + 0.1 * np.eye(3)          # not isotropic in H's eigenbasis
    eta_y = 0.9
    mm = np.eye(3) - eta_y * h
    p = matrix_power(mm, n)
    q = sum(matrix_power(mm, j) @ (eta_y**2 * sigma) @ matrix_power(mm, j).T for j in range(n))
    s = sl.solve_discrete_lyapunov(p, q)       # stationary Cov e
    want, pk = s.copy(), np.eye(3)
    for _ in range(20000):
        pk = pk @ p
        term = pk @ s
        want += term + term.T
        if np.max(np.abs(term)) < 1e-16 * np.max(np.abs(want)):
            break
    got = np.asarray(inner_loop_covariance(jnp.asarray(h), jnp.asarray(sigma), eta_y, n))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.max(np.abs(want)))
    assert np.allclose(got, got.T)


def test_inner_loop_covariance_is_nan_for_an_unstable_inner_loop():
    h, sigma = jnp.diag(jnp.array([0.5, 1.0])), jnp.eye(2)
    assert np.all(np.isfinite(inner_loop_covariance(h, sigma, 1.9, 5)))
    assert np.all(np.isnan(inner_loop_covariance(h, sigma, 2.1, 5)))      # η_y h = 2.1 > 2
    assert np.all(np.isnan(inner_loop_covariance(-h, sigma, 0.5, 5)))     # not concave in y


def test_the_limit_reduces_to_the_known_cases():
    """N = 1: C = Σₓₓ + KΣ_yyKᵀ (stochastic GDA's reduced noise without the cross term). N → ∞:
    e_k is the inner chain's stationary fluctuation, independent across outer steps, so
    L = its stationary covariance (solve_discrete_lyapunov(M, η_y²Σ_yy)); that vanishes like η_y,
    so C → Σₓₓ (an exact inner maximization, ``noise="x"``) only as η_y → 0 too."""
    game = _game(A2, B2, C2, 0.5, 1.0)
    x = jnp.array([0.2, -0.1])
    k = B2 @ np.linalg.inv(C2)
    c1 = so.GDmax(game, 1e-3, 1.0, n_inner=1).limit().x_covariance(x)
    np.testing.assert_allclose(c1, 0.25 * np.eye(2) + k @ k.T, rtol=1e-12)
    exact = np.asarray(so.ReducedSDE(game, 1e-3, noise="x").x_covariance(x))
    gaps = []
    for eta_y in (0.5, 0.05):
        n = int(60 / eta_y)                       # (1 − η_y λ_min(C))^N < 1e-7
        s = sl.solve_discrete_lyapunov(np.eye(2) - eta_y * C2, eta_y**2 * np.eye(2))
        c_inf = np.asarray(so.GDmax(game, 1e-3, eta_y, n_inner=n).limit().x_covariance(x))
        np.testing.assert_allclose(c_inf, exact + B2 @ s @ B2.T, rtol=1e-6)
        gaps.append(np.linalg.norm(c_inf - exact))
    assert gaps[1] / gaps[0] == pytest.approx(0.1, rel=0.1)   # O(η_y)


# ----- the limit against the algorithm's exact stationary law ---------------------------------------

def test_the_hand_recursion_is_gdmax():
    game = _game(A2, B2, C2, 0.5, 1.0)
    rng = np.random.default_rng(0)
    for n in (1, 3):
        alg = so.GDmax(game, 0.05, 0.7, n_inner=n)
        t_mat, w_mat = gdmax_recursion(A2, B2, C2, 0.5, 1.0, 0.05, 0.7, n)
        z = rng.normal(size=4)
        noise = rng.normal(size=(n + 1, 4))
        omega = np.concatenate([noise[:n, 2:].ravel(), noise[n, :2]])
        got = alg.step(alg.init((jnp.asarray(z[:2]), jnp.asarray(z[2:]))), jnp.asarray(noise))
        np.testing.assert_allclose(np.concatenate(got.z), t_mat @ z + w_mat @ omega, rtol=1e-12,
                                   atol=1e-14)


@pytest.mark.parametrize("n", [1, 3, 10, 100])
def test_stationary_covariance_tends_to_the_chains_as_eta_x_vanishes(n):
    """The chain's exact stationary covariance over the limit's → I at first order in η_x (×10 less
    per decade); the x-noise-only limit stays wrong by a factor that does not shrink (power)."""
    game = _game(A2, B2, C2, 0.5, 1.0)
    errors, old_errors = [], []
    for eta_x in (1e-2, 1e-3, 1e-4, 1e-5):
        exact = chain_stationary_x(A2, B2, C2, 0.5, 1.0, eta_x, 1.0, n)
        new = limit_stationary_x(game, eta_x, 1.0, n)
        old = limit_stationary_x(game, eta_x, 1.0, n, cov=0.25 * np.eye(2))
        errors.append(np.linalg.norm(exact - new) / np.linalg.norm(new))
        old_errors.append(np.linalg.norm(exact - old) / np.linalg.norm(old))
    errors = np.array(errors)
    assert np.all(errors[1:] / errors[:-1] == pytest.approx(0.1, rel=0.05)), errors  # O(η_x)
    assert errors[-1] < 1e-5
    assert min(old_errors) > 0.8, old_errors  # the old limit misses by ≥ 80 % at every η_x


def test_the_issues_numbers_and_the_first_order_term():
    """The issue's game: the chain's stationary Var x over the old limit's at η_x = 1e-3 is ×3.49,
    ×1.84, ×1.27, ×1.13 (N = 1, 3, 10, 100); over the new limit's it is 1 + βη_x + O(η_x²)."""
    game = _game(A1, B1, C1, 1.0, 1.0)
    for n, ratio in ((1, 3.49), (3, 1.84), (10, 1.27), (100, 1.13)):
        exact = chain_stationary_x(A1, B1, C1, 1.0, 1.0, 1e-3, 1.0, n)[0, 0]
        old = 1e-3 / (2 * 0.75)
        assert exact / old == pytest.approx(ratio, abs=0.005)
        beta = first_order_coefficient(A1, B1, C1, 1.0, 1.0, 1.0, n)
        for eta_x in (1e-3, 1e-4):
            exact = chain_stationary_x(A1, B1, C1, 1.0, 1.0, eta_x, 1.0, n)[0, 0]
            new = limit_stationary_x(game, eta_x, 1.0, n)[0, 0]
            # the remainder is second order: below 5 % of the first-order term here
            assert abs(exact / new - 1 - beta * eta_x) <= 0.05 * abs(beta * eta_x), (n, eta_x)


# ----- Monte Carlo: the simulated chain and the limit through the engine ----------------------------

def _second_moment(x):
    """(mean of x², its standard error) over independent paths (the stationary mean is 0)."""
    sq = np.asarray(x, np.float64).ravel() ** 2
    return sq.mean(), sq.std(ddof=1) / np.sqrt(sq.size)


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 3, 10])
def test_simulated_gdmax_has_the_new_limits_stationary_variance(n):
    """2,000 GDmax paths at η_x = 1e-3 for 8,000 steps (H_Φ t = 6: the start is forgotten to
    e^{−12}): E x² within 4 SE + 2|β|η_x·Var of the new limit's variance (β: the derived first-order
    term; twice it bounds the O(η_x²) rest, see the test above), and far outside that band for the
    old x-noise-only limit. EM of the new limit (same engine, same key) agrees as well, within 4 SE
    plus its own Euler bias η_xH_Φ/2."""
    eta_x, n_paths, n_steps = 1e-3, 2000, 8000
    game = _game(A1, B1, C1, 1.0, 1.0)
    alg = so.GDmax(game, eta_x, 1.0, n_inner=n)
    z0 = (jnp.zeros(1), jnp.zeros(1))
    new = limit_stationary_x(game, eta_x, 1.0, n)[0, 0]
    old = eta_x / (2 * 0.75)
    bias = 2 * abs(first_order_coefficient(A1, B1, C1, 1.0, 1.0, 1.0, n)) * eta_x * new
    res = so.simulate(alg, z0, 11, n_paths=n_paths, n_steps=n_steps)
    assert res.counts()["censored"] == n_paths
    m2, se = _second_moment(res.final[0])
    assert abs(m2 - new) <= 4 * se + bias, (m2, se, new)
    assert abs(m2 - old) > 4 * se + bias, (m2, old)   # power: the old limit is rejected (N = 10: 7 SE)
    em = so.simulate(so.EulerMaruyama(alg.limit(), eta_x), z0, 11, n_paths=n_paths, n_steps=n_steps)
    m2_em, se_em = _second_moment(em.final[0])
    assert abs(m2_em - new) <= 4 * se_em + eta_x * 0.75 / 2 * new * 1.01, (m2_em, se_em, new)


def test_the_limit_simulates_on_a_quadratic_game():
    """Defect 2: EM of GDmax's limit on a QuadraticGame runs through the engine (the game's closed
    forms used to call np.asarray on traced arrays). Y moves by Dy*(X) dX: with the linear
    y*(x) = C⁻¹Bᵀx, Y − y*(X) keeps its starting value."""
    game = _game(A2, B2, C2, 0.5, 1.0)
    alg = so.GDmax(game, 1e-2, 1.0, n_inner=3)
    z0 = (jnp.array([0.3, -0.2]), jnp.zeros(2))
    res = so.simulate(so.EulerMaruyama(alg.limit(), alg.dt), z0, 0, n_paths=8, n_steps=50)
    assert res.counts()["censored"] == 8
    x, y = np.asarray(res.final[0]), np.asarray(res.final[1])
    assert np.all(np.isfinite(x)) and np.ptp(x[:, 0]) > 0
    k = np.linalg.solve(C2, B2.T)
    np.testing.assert_allclose(y - x @ k.T, np.broadcast_to(-k @ np.asarray(z0[0]), y.shape),
                               atol=1e-12)
    ode = so.simulate(so.EulerMaruyama(alg.ode_limit(), alg.dt), z0, 0, n_paths=1, n_steps=50)
    assert np.all(np.isfinite(np.asarray(ode.final[0])))


def _composed_chain_x_covariance(a, b, c, sx, sy, eta_x, eta_y, n):
    """GDmax's exact stationary Cov x, from the step maps composed one oracle call at a time
    (N ascent maps, then the descent map; independent of :func:`gdmax_recursion`)."""
    m, k = b.shape
    t, cols = np.eye(m + k), []

    def apply(s, w):
        nonlocal t
        cols[:] = [s @ col for col in cols]
        t = s @ t
        cols.append(w)

    ascent = np.eye(m + k)
    ascent[m:, :m] += eta_y * b.T
    ascent[m:, m:] -= eta_y * c
    for _ in range(n):
        apply(ascent, np.vstack([np.zeros((m, k)), eta_y * sy * np.eye(k)]))
    descent = np.eye(m + k)
    descent[:m, :m] -= eta_x * a
    descent[:m, m:] -= eta_x * b
    apply(descent, np.vstack([-eta_x * sx * np.eye(m), np.zeros((k, m))]))
    return sl.solve_discrete_lyapunov(t, sum(w @ w.T for w in cols))[:m, :m]


@pytest.mark.parametrize("eta_y", [1.0, 1.9])
@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_the_limit_on_a_rectangular_game_with_an_oscillating_inner_loop(eta_y, n):
    """Review of issue 18: m = 2 ≠ n = 3, C not commuting with BᵀB, σₓ ≠ σ_y, and η_y·h up to
    1.9 (the inner chain's contraction 1 − η_y h < 0 for the stiff directions): the limit's
    stationary Cov x matches the composed chain's to first order in η_x."""
    rng = np.random.default_rng(3)
    u, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    c = u @ np.diag([1 / 30, 1 / np.sqrt(30), 1.0]) @ u.T
    c = (c + c.T) / 2
    b = 0.3 * rng.normal(size=(2, 3))
    a = np.array([[0.4, 0.1], [0.1, 0.2]])
    assert np.linalg.eigvalsh(a + b @ np.linalg.solve(c, b.T)).min() > 0
    game = so.QuadraticGame(a, b, c, sigma_x=0.7, sigma_y=1.3)
    errors = []
    for eta_x in (1e-3, 1e-4):
        exact = _composed_chain_x_covariance(a, b, c, 0.7, 1.3, eta_x, eta_y, n)
        new = limit_stationary_x(game, eta_x, eta_y, n)
        errors.append(np.abs(exact - new).max() / np.abs(exact).max())
    assert errors[1] < 1e-2, errors                                        # β·η_x, β ≈ 45
    assert errors[1] / errors[0] == pytest.approx(0.1, rel=0.05), errors   # O(η_x)

"""Every game algorithm's update by hand on a small case; OGDA against optax step by step; the
exact iteration matrices against the algorithms; bad input; diverging GDA paths counted."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import sde_opt as so
from sde_opt.algorithms._perturbation import uniform_ball
from sde_opt.theory.modified_equations import iteration_matrix


@pytest.fixture(autouse=True, scope="module")
def _float64():
    """The hand computations here are in float64; x64 is switched on for this module only (a
    module-level ``jax.config.update`` would leak into every test collected after it)."""
    with jax.enable_x64(True):
        yield

A = np.array([[0.5, 0.1], [0.1, -0.3]])
B = np.array([[1.0], [0.4]])
C = np.array([[0.8]])
SX, SY = 0.3, 0.2


def _game(**kw):
    return so.QuadraticGame(A, B, C, sigma_x=SX, sigma_y=SY, **kw)


def _v(z):
    """V = (∇ₓf, −∇ᵧf) by hand: (Ax + By, Cy − Bᵀx)."""
    x, y = z
    return A @ x + B @ y, C @ y - B.T @ x


def _noisy(z, w):
    vx, vy = _v(z)
    return vx + SX * w[:2], vy + SY * w[2:]


Z0 = (np.array([0.3, -0.2]), np.array([0.5]))
EX, EY = 0.1, 0.3


def _w(k, seed=0):
    return np.random.default_rng(seed).normal(size=(k, 3))


def _as(z):
    return tuple(jnp.asarray(a) for a in z)


def _close(got, want):
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-12, atol=1e-13)


def test_gda_simultaneous_and_alternating_by_hand():
    w = _w(2)
    alg = so.GDA(_game(), EX, EY)
    s = alg.step(alg.init(_as(Z0)), jnp.asarray(w[:1]))
    gx, gy = _noisy(Z0, w[0])
    _close(s.z, (Z0[0] - EX * gx, Z0[1] - EY * gy))
    assert int(s.calls) == 1
    alt = so.GDA(_game(), EX, EY, alternating=True)
    s = alt.step(alt.init(_as(Z0)), jnp.asarray(w))
    x1 = Z0[0] - EX * _noisy(Z0, w[0])[0]
    y1 = Z0[1] - EY * _noisy((x1, Z0[1]), w[1])[1]
    _close(s.z, (x1, y1))
    assert int(s.calls) == 2


def test_extragradient_by_hand():
    w = _w(2)
    alg = so.Extragradient(_game(), EX, EY)
    s = alg.step(alg.init(_as(Z0)), jnp.asarray(w))
    gx, gy = _noisy(Z0, w[0])
    half = (Z0[0] - EX * gx, Z0[1] - EY * gy)
    hx, hy = _noisy(half, w[1])
    _close(s.z, (Z0[0] - EX * hx, Z0[1] - EY * hy))
    assert int(s.calls) == 2


def test_ogda_popov_form_by_hand_with_its_first_step():
    w = _w(3)
    alg = so.OGDA(_game(), EX, EY)
    s = alg.init(_as(Z0))
    z, g_prev = Z0, (np.zeros(2), np.zeros(1))
    for k in range(3):
        s = alg.step(s, jnp.asarray(w[k]))
        half = (z[0] - EX * g_prev[0], z[1] - EY * g_prev[1])
        g_prev = _noisy(half, w[k])
        z = (z[0] - EX * g_prev[0], z[1] - EY * g_prev[1])
        _close(s.z, z)
        if k == 0:  # the first step is a plain GDA step
            gx, gy = _noisy(Z0, w[0])
            _close(s.z, (Z0[0] - EX * gx, Z0[1] - EY * gy))
    assert int(s.calls) == 3


def test_ogda_matches_optax_optimistic_gradient_step_by_step():
    """optax's OGD on the stacked (x, y) with the max player's gradient negated, α = β = 1, one step
    size η: its iterates w_t are our extrapolation points z_{t+½} (for t ≥ 1; our first step is a
    GDA step, optax's first step is a plain gradient step from its own start)."""
    game = so.QuadraticGame(A, B, C)
    eta = 0.1
    alg = so.OGDA(game, eta, eta)
    field = lambda u: jnp.concatenate(game.field((u[:2], u[2:])))  # (∇ₓf, −∇ᵧf) stacked
    s = alg.init(_as(Z0))
    ours = []
    for _ in range(8):
        ours.append(np.concatenate(alg.extrapolated(s)))
        s = alg.step(s, jnp.zeros(3))
    opt = optax.optimistic_gradient_descent(eta)  # α = β = 1
    # start optax at our w₁ with previous gradient F(w₀): from there both follow
    # w_{t+1} = w_t − η(2F(w_t) − F(w_{t−1}))
    params = jnp.asarray(ours[1])
    state = opt.init(params)
    state = (state[0]._replace(is_initial_step=jnp.array(False),
                               previous_gradient=field(jnp.asarray(ours[0]))), *state[1:])
    for t in range(2, 8):
        upd, state = opt.update(field(params), state, params)
        params = optax.apply_updates(params, upd)
        np.testing.assert_allclose(params, ours[t], rtol=1e-12, atol=1e-13)
    # optax's first-step fix: from a fresh state the first update is a plain gradient step, which
    # is what our OGDA's first step does to z₀
    fresh = opt.init(jnp.asarray(np.concatenate(Z0)))
    upd, _ = opt.update(field(jnp.asarray(np.concatenate(Z0))), fresh)
    one = alg.step(alg.init(_as(Z0)), jnp.zeros(3))
    np.testing.assert_allclose(np.concatenate(Z0) + np.asarray(upd), np.concatenate(one.z),
                               atol=1e-13)


def test_gdmax_by_hand():
    n = 3
    w = _w(n + 1)
    alg = so.GDmax(_game(), EX, EY, n_inner=n)
    s = alg.step(alg.init(_as(Z0)), jnp.asarray(w))
    x, y = Z0
    for t in range(n):
        y = y - EY * _noisy((x, y), w[t])[1]
    x = x - EX * _noisy((x, y), w[n])[0]
    _close(s.z, (x, y))
    assert int(s.calls) == n + 1


@pytest.mark.slow
def test_perturbed_gdmax_kicks_by_the_rule():
    """The paper's kick x − η_x ξ, ξ ~ U(B(0, r)), as its own iteration; the next step's gradient
    at the kicked point; the next kick only after more than T gradient steps."""
    game = so.QuadraticGame(A, B, C)  # deterministic
    alg = so.PerturbedGDmax(game, EX, EY, n_inner=2, radius=0.05, eps=1.0, threshold=0.5,
                            interval=3)
    normals = np.array([0.6, -0.8, 0.3])  # direction (0.6, −0.8), radius 0.05·Φ(0.3)^{1/2}
    kick = uniform_ball(jnp.asarray(normals), 0.05)
    from scipy.stats import norm
    np.testing.assert_allclose(kick, 0.05 * norm.cdf(0.3) ** 0.5 * np.array([0.6, -0.8]), rtol=1e-10)
    noise = lambda: jnp.concatenate([jnp.zeros(3 * 3), jnp.asarray(normals)])  # noqa: E731
    # at the saddle z = 0 the gradient is 0 ≤ cε: the iteration is the kick x₁ = 0 − η_x ξ
    s = alg.init((jnp.zeros(2), jnp.zeros(1)))
    s = alg.step(s, noise())
    _close(s.z, (-EX * np.asarray(kick), np.zeros(1)))
    assert int(s.kick.kicks) == 1 and int(s.first_kick) == 0 and int(s.kick.since) == 0
    zs = [s.z]
    for _ in range(3):
        s = alg.step(s, noise())
        zs.append(s.z)
    assert int(s.kick.kicks) == 1 and int(s.kick.since) == 3  # T = 3 gradient steps: not yet
    s = alg.step(s, noise())
    assert int(s.kick.kicks) == 1 and int(s.kick.since) == 4
    s = alg.step(s, noise())  # more than T gradient steps since the kick, ‖g‖ ≤ cε: kick
    assert int(s.kick.kicks) == 2
    # between kicks it is GDmax with the gradient at the kicked point (hand formula)
    x, y = np.asarray(zs[0][0]), np.asarray(zs[0][1])
    for _t in range(2):
        y = y - EY * _v((x, y))[1]
    x = x - EX * _v((x, y))[0]
    _close(zs[1], (x, y))
    # a large gradient: no kick
    far = alg.init((jnp.array([50.0, 0.0]), jnp.zeros(1)))
    assert int(alg.step(far, noise()).kick.kicks) == 0


@pytest.mark.slow
def test_perturbed_gdmax_termination_returns_the_anchor_and_freezes():
    """With F larger than any decrease a kick can buy, T gradient steps after the kick the path
    returns to the kick's anchor and stays there; oracle calls stop."""
    game = so.QuadraticGame(A, B, C)
    alg = so.PerturbedGDmax(game, EX, EY, n_inner=2, radius=0.05, eps=1.0, interval=3,
                            decrease=1e6)
    noise = jnp.concatenate([jnp.zeros(9), jnp.array([0.6, -0.8, 0.3])])
    s = alg.init((jnp.zeros(2), jnp.zeros(1)))
    for _ in range(4):  # the kick and T = 3 gradient steps
        s = alg.step(s, noise)
    assert not bool(s.kick.done)
    s = alg.step(s, noise)  # T steps after the kick: Φ̂ fell by less than F → x̃ = 0
    assert bool(s.kick.done)
    np.testing.assert_array_equal(np.asarray(s.z[0]), 0.0)
    calls = int(s.calls)
    s2 = alg.step(s, noise)
    assert int(s2.calls) == calls and int(s2.k) == int(s.k)
    _close(s2.z, s.z)


def test_uniform_ball_law():
    z = jax.random.normal(jax.random.key(3), (20000, 4))
    pts = jax.vmap(lambda n: uniform_ball(n, 2.0))(z)
    r = np.linalg.norm(np.asarray(pts), axis=1)
    assert r.max() <= 2.0
    # (‖ξ‖/r)^m is uniform on [0, 1]: mean ½ ± 4·SE
    u = (r / 2.0) ** 3
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / u.size)


@pytest.mark.parametrize("method", ["gda", "alternating-gda", "extragradient", "ogda", "gdmax"])
@pytest.mark.slow
def test_iteration_matrices_are_the_algorithms(method):
    """The hand-derived matrices of theory.modified_equations apply the algorithm's step."""
    game = so.QuadraticGame(A, B, C)
    J = game.jacobian()
    n_inner = 3
    make = {"gda": lambda: so.GDA(game, EX, EY),
            "alternating-gda": lambda: so.GDA(game, EX, EY, alternating=True),
            "extragradient": lambda: so.Extragradient(game, EX, EY),
            "ogda": lambda: so.OGDA(game, EX, EY),
            "gdmax": lambda: so.GDmax(game, EX, EY, n_inner=n_inner)}[method]
    alg = make()
    T = iteration_matrix(method, J, EX, EY, 2, n_inner=n_inner)
    noise = jax.tree_util.tree_map(jnp.zeros_like, alg.noise.sample(jax.random.key(0), jnp.float64))
    for i in range(T.shape[0]):
        e = np.eye(T.shape[0])[i]
        if method == "ogda":  # state (z, h = D ĝ_prev)
            st = so.algorithms.OGDAState((jnp.asarray(e[:2]), jnp.asarray(e[2:3])),
                                         (jnp.asarray(e[3:5] / EX), jnp.asarray(e[5:] / EY)),
                                         jnp.zeros((), jnp.int32))
            new = alg.step(st, noise)
            got = np.concatenate([*new.z, EX * new.g_prev[0], EY * new.g_prev[1]])
        else:
            st = alg.init((jnp.asarray(e[:2]), jnp.asarray(e[2:])))
            got = np.concatenate(alg.step(st, noise).z)
        np.testing.assert_allclose(got, T[:, i], atol=1e-13)


@pytest.mark.slow
def test_projection_onto_a_bounded_y_and_start_check():
    game = so.DoubleWellGame(2, mu=0.1, c=0.5, y_radius=0.3)
    alg = so.GDA(game, 0.1, 1.0)
    with pytest.raises(ValueError, match=r"start y \(x0\[1\]\) must lie in Y"):
        alg.init((jnp.zeros(2), jnp.array([0.3, 0.3])))
    s = alg.init((jnp.array([1.0, 0.0]), jnp.zeros(2)))
    for _ in range(20):
        s = alg.step(s, jnp.zeros((1, 4)))
        assert float(jnp.linalg.norm(s.z[1])) <= 0.3 + 1e-12
    for cls in (so.OGDA, so.Extragradient):
        a = cls(game, 0.1, 1.0)
        st = a.step(a.init((jnp.array([1.0, 0.0]), jnp.zeros(2))), a.noise.sample(jax.random.key(0)))
        assert float(jnp.linalg.norm(st.z[1])) <= 0.3 + 1e-12
    g = so.GDmax(game, 0.1, 1.0, n_inner=30)
    st = g.step(g.init((jnp.array([1.0, 0.0]), jnp.zeros(2))), jnp.zeros((31, 4)))
    np.testing.assert_allclose(st.z[1], game.y_star(jnp.array([1.0, 0.0])), atol=1e-10)


def test_bad_input_is_named():
    game = _game()
    for cls in (so.GDA, so.OGDA, so.Extragradient, so.GDmax):
        with pytest.raises(ValueError, match="eta_x"):
            cls(game, 0.0, 0.1)
        with pytest.raises(ValueError, match="eta_y"):
            cls(game, 0.1, -1.0)
        with pytest.raises(TypeError, match="minimization problem"):
            cls(so.QuadraticSaddle([-1.0, 1.0]), 0.1, 0.1)
    with pytest.raises(ValueError, match="n_inner"):
        so.GDmax(game, 0.1, 0.1, n_inner=0)
    with pytest.raises(ValueError, match="radius"):
        so.PerturbedGDmax(game, 0.1, 0.1, radius=0.0, eps=0.1)
    with pytest.raises(ValueError, match="interval"):
        so.PerturbedGDmax(game, 0.1, 0.1, radius=0.1, eps=0.1, interval=0)
    for bad in (2.5, 4.0, float("inf"), "a", None):
        with pytest.raises(TypeError, match="interval"):
            so.PerturbedGDmax(game, 0.1, 0.1, radius=0.1, eps=0.1, interval=bad)
    with pytest.raises(ValueError, match="decrease"):
        so.PerturbedGDmax(game, 0.1, 0.1, radius=0.1, eps=0.1, decrease=-1.0)
    with pytest.raises(TypeError, match="is a game"):
        so.sgd(game, 0.1)


@pytest.mark.slow
def test_gda_diverges_on_a_bilinear_game_and_the_paths_are_counted():
    game = so.QuadraticGame.bilinear(np.eye(1), sigma_x=0.1, sigma_y=0.1)
    z0 = (jnp.array([1.0], jnp.float32), jnp.array([0.0], jnp.float32))
    res = so.simulate(so.GDA(game, 0.5, 0.5), z0, 0, n_paths=64, n_steps=2000)
    c = res.counts()
    assert c["diverged"] == 64 and sum(c.values()) == 64  # flagged, not dropped
    ok = so.simulate(so.Extragradient(game, 0.5, 0.5), z0, 0, n_paths=64, n_steps=2000)
    assert ok.counts()["diverged"] == 0


def test_perturbed_gdmax_template_defaults():
    game = so.DoubleWellGame(2, ell=1.0, mu=0.1, c=0.5)
    alg = so.PerturbedGDmax.from_template(game, ell=1.0, mu=0.1, eps=0.01, rho_phi=10.0,
                                          delta_phi=1.0)
    kappa, l_phi = 10.0, 11.0
    iota = np.log(2 * l_phi * 1.0 / (10.0 * 0.01 * 0.1))
    assert float(alg.eta_x) == pytest.approx(1 / l_phi)
    assert float(alg.eta_y) == pytest.approx(1.0)
    assert alg.n_inner == int(np.ceil(kappa * iota))
    # the paper's r: the kick x − η_x ξ moves x by at most η_x·ε/(400ι³)
    assert float(alg.radius) == pytest.approx(0.01 / (400 * iota**3))
    assert int(alg.interval) == int(np.ceil(l_phi / np.sqrt(10.0 * 0.01) * iota))
    assert float(alg.decrease) == pytest.approx(np.sqrt(0.01**3 / 10.0) / (50 * iota**3))
    s = alg.step(alg.init((jnp.zeros(2), jnp.zeros(2))),
                 jnp.concatenate([jnp.zeros(alg.noise.shape[0] - 3), jnp.array([1.0, 0.0, 5.0])]))
    # ‖x₁‖ = η_x·r·Φ(5)^{1/2}: the kick moves x by η_x·r at most
    assert float(jnp.linalg.norm(s.z[0])) == pytest.approx(0.01 / (400 * iota**3) / l_phi, rel=1e-6)


@pytest.mark.parametrize("kw, err, match", [
    ({"d": 0}, ValueError, r"template: d must lie in \[1, inf\)"),
    ({"d": 2.5}, TypeError, "template: d must be an integer"),
    ({"mu": 2.0}, ValueError, "kappa"), ({"eps": -1.0}, ValueError, "eps"),
    ({"delta": 1.5}, ValueError, "delta")])
def test_perturbed_gdmax_template_bad_input(kw, err, match):
    args = dict(ell=1.0, mu=0.1, eps=0.01, rho_phi=10.0, delta_phi=1.0, d=2) | kw
    with pytest.raises(err, match=match):
        so.algorithms.perturbed_gdmax_template(**args)


@pytest.mark.slow
def test_stochastic_gda_on_the_adversarial_logistic_game():
    """Minibatch GDA on the data game: ‖∇Φ‖ decreases from the start (with exact Φ)."""
    game = so.AdversarialLogistic(n=32, d=3, mu=1.0, lam=0.1, batch_size=8)
    alg = so.GDA(game, 0.2, 0.1)  # η_y·nμ/b = 0.4 < 1: the sparse y-oracle is stable
    z0 = (jnp.zeros(3, jnp.float32), jnp.ones(32, jnp.float32))
    res = so.simulate(alg, z0, 0, n_paths=8, n_steps=800)
    g0 = float(game.grad_norm_phi(z0))
    g1 = np.array([float(game.grad_norm_phi((res.final[0][i], res.final[1][i]))) for i in range(8)])
    assert np.all(g1 < 0.3 * g0)

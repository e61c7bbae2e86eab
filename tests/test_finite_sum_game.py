"""FiniteSumGame: a game from a per-example loss, checked against a hand-written minibatch game,
against AdversarialLogistic (written independently with hand-derived fields) and closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so

N, D = 10, 3
LAM, MU = 0.1, 0.5


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, D)), rng.normal(size=N)


def _loss(z, ex):
    """Robust least squares: example weight yᵢ, held near 1 by a strongly concave penalty."""
    x, y = z
    r = ex["a"] @ x - ex["b"]
    yi = y[ex["i"]]
    return yi * r**2 / 2 + LAM * x @ x / 2 - N * MU * (yi - 1.0) ** 2 / 2


class HandGame(so.AbstractGame):
    """The same game with every field written out by hand (no autodiff, no per-example code)."""

    a: np.ndarray
    b: np.ndarray
    batch_size: int

    @property
    def shape(self):
        return ((D,), (N,))

    def objective(self, z):
        x, y = z
        r = self.a @ x - self.b
        return jnp.mean(y * r**2 / 2) + LAM * x @ x / 2 - N * MU * jnp.mean((y - 1.0) ** 2) / 2

    def fields(self, z):
        """Vᵢ for every example: (yᵢ rᵢ aᵢ + λx, −eᵢ (rᵢ²/2 − nμ(yᵢ − 1)))."""
        x, y = z
        r = self.a @ x - self.b
        vx = (y * r)[:, None] * self.a + LAM * x[None, :]
        vy = -np.eye(N)[:, :] * (r**2 / 2 - N * MU * (y - 1.0))[:, None]
        return vx, vy

    def field(self, z):
        vx, vy = self.fields(z)
        return vx.mean(0), vy.mean(0)

    def stochastic_field(self, z, idx):
        vx, vy = self.fields(z)
        return vx[idx].mean(0), vy[idx].mean(0)


def _games(batch_size=4, project_y=None):
    a, b = _data()
    data = {"a": a, "b": b, "i": np.arange(N)}
    z0 = (jnp.zeros(D), jnp.ones(N))
    game = so.FiniteSumGame(_loss, data, z0, batch_size=batch_size, project_y=project_y)
    return game, HandGame(a, b, batch_size)


def _point(seed=1):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=D)), jnp.asarray(1.0 + 0.3 * rng.normal(size=N))


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def test_fields_and_oracle_equal_the_hand_written_game():
    game, hand = _games()
    z = _point()
    for got, want in zip(game.field(z), hand.field(z)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    idx = jnp.array([3, 3, 7, 0])
    for got, want in zip(game.stochastic_field(z, idx), hand.stochastic_field(z, idx)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(game.objective(z), hand.objective(z), rtol=1e-12)


def test_exact_covariance_and_factor_equal_the_hand_formula():
    game, hand = _games(batch_size=3)
    z = _point()
    vx, vy = hand.fields(z)
    v = np.concatenate([np.asarray(vx), np.asarray(vy)], axis=1)            # (n, D + n)
    c = v - v.mean(0)
    sigma = c.T @ c / N / 3                                                  # (1/b) population cov
    np.testing.assert_allclose(game.noise_cov(z), sigma, rtol=1e-10, atol=1e-14)
    # B Bᵀ = Σ for the per-example factor: its columns are B e_j
    cols = jax.vmap(lambda w: jnp.concatenate(game.noise_factor(z, w)))(jnp.eye(N))
    np.testing.assert_allclose(cols.T @ cols, sigma, rtol=1e-10, atol=1e-14)
    assert game.factor_shape == (N,)


def test_oracle_is_unbiased_with_the_exact_covariance_by_monte_carlo():
    """Mean and covariance of 20,000 oracle draws (the package's own sampler) within 5 SE."""
    game, _ = _games(batch_size=2)
    z = _point()
    keys = jax.random.split(jax.random.key(0), 20_000)
    draws = jax.vmap(lambda k: jnp.concatenate(game.stochastic_field(z, game.noise.sample(k))))(keys)
    draws = np.asarray(draws)
    mean = np.concatenate(game.field(z))
    se = draws.std(0) / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(0) - mean) <= 5 * se + 1e-12)
    sigma = np.asarray(game.noise_cov(z))
    emp = np.cov(draws.T)
    # SE of an empirical covariance entry: sqrt((Σ_ii Σ_jj + Σ_ij²)/m) for Gaussian-like draws,
    # inflated ×3 for the heavy tails of a two-example average
    se_cov = 3 * np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2) / draws.shape[0])
    assert np.all(np.abs(emp - sigma) <= 5 * se_cov + 1e-12)


def test_closed_form_covariance_of_a_linear_game():
    """ℓᵢ = uᵢ·x − vᵢ·y + ½‖x‖² − ½‖y‖²: Vᵢ = (uᵢ + x, vᵢ + y), so Σ = Cov([u; v])/b exactly and
    does not depend on z."""
    rng = np.random.default_rng(3)
    u, v = rng.normal(size=(N, 2)), rng.normal(size=(N, 3))

    def loss(z, ex):
        x, y = z
        return ex["u"] @ x - ex["v"] @ y + x @ x / 2 - y @ y / 2

    game = so.FiniteSumGame(loss, {"u": u, "v": v}, (jnp.zeros(2), jnp.zeros(3)), batch_size=5)
    want = np.cov(np.concatenate([u, v], axis=1).T, bias=True) / 5
    for z in [(jnp.zeros(2), jnp.zeros(3)), (jnp.ones(2), -2 * jnp.ones(3))]:
        np.testing.assert_allclose(game.noise_cov(z), want, rtol=1e-12, atol=1e-15)
    # field in closed form: (ū + x, v̄ + y); the saddle point is (−ū, −v̄)
    z = (jnp.array([0.3, -0.2]), jnp.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(game.field(z)[0], u.mean(0) + z[0], rtol=1e-12)
    np.testing.assert_allclose(game.field(z)[1], v.mean(0) + z[1], rtol=1e-12)


def test_adversarial_logistic_as_a_finite_sum_game():
    """AdversarialLogistic (hand-derived fields) rebuilt from its per-example loss: same field,
    oracle and exact covariance."""
    ref = so.AdversarialLogistic(n=12, d=3, mu=0.7, lam=0.05, batch_size=4, seed=2)
    n, mu, lam = ref.n, ref.mu, ref.lam

    def loss(z, ex):
        x, y = z
        li = jnp.logaddexp(0.0, -ex["b"] * (ex["a"] @ x))
        yi = y[ex["i"]]
        return yi * li - n * mu * (yi - 1.0) ** 2 / 2 + lam * x @ x / 2

    data = {"a": np.asarray(ref.features, np.float64), "b": np.asarray(ref.labels, np.float64),
            "i": np.arange(n)}
    game = so.FiniteSumGame(loss, data, (jnp.zeros(3), jnp.ones(n)), batch_size=4)
    rng = np.random.default_rng(4)
    z = (jnp.asarray(rng.normal(size=3)), jnp.asarray(1 + 0.1 * rng.normal(size=n)))
    for got, want in zip(game.field(z), ref.field(z)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    idx = jnp.array([0, 5, 5, 11])
    for got, want in zip(game.stochastic_field(z, idx), ref.stochastic_field(z, idx)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(game.noise_cov(z), ref.noise_cov(z), rtol=1e-9, atol=1e-13)


def _ball(r):
    def project(y):
        nrm = jnp.sqrt(jnp.sum(y * y))
        return y * jnp.minimum(1.0, r / jnp.maximum(nrm, 1e-30))

    return project


def test_gda_with_a_projection_equals_a_hand_written_loop():
    r = 3.0
    game, hand = _games(batch_size=3, project_y=_ball(r))
    alg = so.GDA(game, eta_x=0.05, eta_y=0.05)
    rng = np.random.default_rng(5)
    idx = rng.integers(0, N, size=(40, 3))
    z = (jnp.zeros(D), jnp.ones(N) * 0.9)
    state = alg.init(z)
    x, y = np.zeros(D), np.ones(N) * 0.9
    active = 0
    for k in range(40):
        state = alg.step(state, idx[k][None])
        vx, vy = hand.fields((x, y))
        gx, gy = vx[idx[k]].mean(0), vy[idx[k]].mean(0)
        x, y = x - 0.05 * gx, y - 0.05 * gy
        active += np.linalg.norm(y) > r
        y = y * min(1.0, r / np.linalg.norm(y))
    np.testing.assert_allclose(state.z[0], x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(state.z[1], y, rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(y) <= r * (1 + 1e-12) and active > 0   # the constraint was binding


def test_projection_is_used_by_simulate_and_the_start_is_checked():
    game, _ = _games(batch_size=2, project_y=_ball(1.5))
    alg = so.GDA(game, eta_x=0.05, eta_y=0.5)
    res = so.simulate(alg, (jnp.zeros(D), jnp.full(N, 1.5 / np.sqrt(N))), key=0, n_paths=8,
                      n_steps=30)
    assert np.all(np.linalg.norm(res.final[1], axis=1) <= 1.5 * (1 + 1e-6))
    with pytest.raises(ValueError, match=r"FiniteSumGame|GDA.*Y"):
        alg.init((jnp.zeros(D), jnp.ones(N)))          # ‖y0‖ = √10 > 1.5


def test_pytree_players():
    a, b = _data()

    def loss(z, ex):
        x, y = z
        r = ex["a"] @ x["w"] + x["c"] - ex["b"]
        return y["s"] * r**2 / 2 - y["s"] ** 2 / 2

    x0 = {"w": jnp.zeros(D), "c": jnp.zeros(())}
    game = so.FiniteSumGame(loss, {"a": a, "b": b}, (x0, {"s": jnp.ones(())}), batch_size=2)
    z = ({"w": jnp.ones(D), "c": jnp.asarray(0.5)}, {"s": jnp.asarray(2.0)})
    vx, vy = game.field(z)
    r = a @ np.ones(D) + 0.5 - b
    np.testing.assert_allclose(vx["w"], 2.0 * (r[:, None] * a).mean(0), rtol=1e-12)
    np.testing.assert_allclose(vy["s"], -((r**2 / 2).mean() - 2.0), rtol=1e-12)
    assert game.noise_cov(z).shape == (D + 2, D + 2)
    assert jax.tree_util.tree_structure(game.noise_factor(z, jnp.ones(N))) == \
        jax.tree_util.tree_structure(z)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(point=jnp.zeros(3)), TypeError, "point must be a pair"),
    (dict(project_y=3.0), TypeError, "project_y must be a function"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(data={"a": np.zeros((4, 3)), "b": np.zeros(5), "i": np.arange(4)}), ValueError,
     "leading"),
    (dict(loss=lambda z, ex: z[0] * 1.0), ValueError, "scalar per example"),
    (dict(loss="l2"), TypeError, "loss must be a function"),
])
def test_bad_input_is_refused_with_a_clear_error(kwargs, err, match):
    a, b = _data()
    args = dict(loss=_loss, data={"a": a, "b": b, "i": np.arange(N)},
                point=(jnp.zeros(D), jnp.ones(N)), batch_size=2)
    args.update(kwargs)
    with pytest.raises(err, match=f"FiniteSumGame.*{match}"):
        so.FiniteSumGame(args.pop("loss"), args.pop("data"), args.pop("point"), **args)

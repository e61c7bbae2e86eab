"""Where a peer library uses another convention, the mapping stated in our docstrings holds:
Nesterov against optax's look-ahead parameters, OGDA's start against optax's optimistic gradient,
on a nonlinear problem and game (where a wrong mapping shows)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import sde_opt as so
from sde_opt.algorithms.ogda import OGDAState


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


class _Quartic(so.AbstractProblem):
    """f(x) = Σ (x⁴/4 + c·x), deterministic oracle (nonlinear gradient)."""

    @property
    def shape(self):
        return (3,)

    def objective(self, x):
        return jnp.sum(x**4 / 4 + jnp.array([0.3, -0.2, 0.1]) * x)

    def stochastic_grad(self, x, noise):
        return self.grad(x)


def test_nesterov_position_is_optax_look_ahead_minus_mu_m():
    """optax.sgd(η, momentum=μ, nesterov=True) from p₀ = x₀: its parameters are our look-ahead
    p_k = x_k + μ m_k, and its trace is −m_{k+1}/η."""
    eta, mu = 0.1, 0.9
    alg = so.NesterovSGD(_Quartic(), eta, mu)
    state = alg.init(jnp.array([1.0, -0.5, 0.2]))
    opt = optax.sgd(eta, momentum=mu, nesterov=True)
    p = state.x
    ost = opt.init(p)
    grad = alg.problem.grad
    for _ in range(30):
        upd, ost = opt.update(grad(p), ost, p)
        p = optax.apply_updates(p, upd)
        state = alg.step(state, jnp.zeros(1))
        np.testing.assert_allclose(p, state.x + mu * state.m, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ost[0].trace, -state.m / eta, rtol=1e-12, atol=1e-13)
    # and the naive identification (optax's parameters = our x) is wrong by μm
    assert np.max(np.abs(p - state.x)) > 1e-3


def _game():
    """A nonlinear game: f(x, y) = Σ x⁴/4 + x·y + 0.3 sin(y) − y²/2."""

    def loss(z, ex):
        x, y = z
        return jnp.sum(x**4) / 4 + x @ y + 0.3 * jnp.sum(jnp.sin(y)) - y @ y / 2 + 0 * ex

    return so.FiniteSumGame(loss, jnp.zeros(1), (jnp.zeros(2), jnp.zeros(2)), batch_size=1)


def test_ogda_extrapolation_points_are_optax_iterates_from_the_stated_start():
    """optax.optimistic_gradient_descent(η) (α = β = 1) on the stacked (x, y) with ∇ᵧf negated,
    from w₀: w₁ = w₀ − ηV(w₀), w_{t+1} = w_t − η(2V(w_t) − V(w_{t−1})). Our OGDA started at
    OGDAState(w₀ + ηV(w₀), V(w₀)) has extrapolation points z_{t+½} = w_t for every t, on a
    nonlinear game; started at OGDAState(w₀, V(w₀)), z_{t+½} = w_{t+1}."""
    eta = 0.1
    game = _game()
    alg = so.OGDA(game, eta, eta)
    field = lambda w: jnp.concatenate(game.field((w[:2], w[2:])))
    split = lambda w: (w[:2], w[2:])
    w0 = jnp.array([0.8, -0.4, 0.3, 0.5])
    opt = optax.optimistic_gradient_descent(eta)
    ws, w, ost = [w0], w0, opt.init(w0)
    for _ in range(12):
        upd, ost = opt.update(field(w), ost, w)
        w = optax.apply_updates(w, upd)
        ws.append(w)
    v0 = split(field(w0))
    zero = jnp.zeros((), jnp.int32)
    shifted = OGDAState(split(w0 + eta * field(w0)), v0, zero)
    plain = OGDAState(split(w0), v0, zero)
    for t in range(12):
        np.testing.assert_allclose(jnp.concatenate(alg.extrapolated(shifted)), ws[t], rtol=1e-12,
                                   atol=1e-13)
        np.testing.assert_allclose(jnp.concatenate(alg.extrapolated(plain)), ws[t + 1], rtol=1e-12,
                                   atol=1e-13)
        shifted, plain = alg.step(shifted, jnp.zeros(1, jnp.int32)), alg.step(plain, jnp.zeros(1, jnp.int32))
    # from our own init (g_prev = 0) the *positions* are not optax's iterates on this game
    s = alg.init(split(w0))
    for _ in range(5):
        s = alg.step(s, jnp.zeros(1, jnp.int32))
    assert np.max(np.abs(np.concatenate(s.z) - np.asarray(ws[5]))) > 1e-3

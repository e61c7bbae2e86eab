r"""GDmax: N warm-started ascent steps on y per descent step on x (multi-step GDA)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ..problems._base import AbstractGame
from ..sde.two_timescale import ReducedSDE
from ._base import AbstractAlgorithm
from ._game import add_calls, check_game, check_int, check_start, draw, project_y, repeat_noise
from .gda import GameState


def inner_ascent(problem, x, y, noise, eta_y, n_inner: int):
    """N projected ascent steps y ← P_Y(y + η_y ĝ_y(x, y)) from the warm start y; the draws are
    ``noise[0:N]`` (a repeated oracle draw). Returns y_N."""

    def body(yy, w):
        vy = problem.stochastic_field((x, yy), w)[1]
        return project_y(problem, yy - eta_y.astype(vy.dtype) * vy), None

    first = jax.tree_util.tree_map(lambda a: a[:n_inner], noise)
    y, _ = lax.scan(body, y, first)
    return y


class GDmax(AbstractAlgorithm):
    r"""GDmax (papers.md §3.7 without the perturbation), N + 1 oracle calls per step:

        y_k⁰ = y_{k−1}^N (warm start),  y_k^t = P_Y(y_k^{t−1} + η_y ĝ_y(x_k, y_k^{t−1})), t = 1..N,
        x_{k+1} = x_k − η_x ĝₓ(x_k, y_k^N).

    The state's y is y_k^N. As N → ∞ (η_y ≤ 1/ℓ), y_k^N → y*(x_k) and x follows gradient descent on
    Φ (Danskin: ∇Φ = ∇ₓf(x, y*)); the time-kη_x limit is the reduced slow SDE
    dX = −∇Φ(X) dt − √η_x Σₓₓ^{1/2} dW with Y = y*(X) ([`ReducedSDE`][sde_opt.ReducedSDE],
    ``noise="x"``; the inner loop's own O(η_y) fluctuation of y_N is dropped). Huang, Chen, Ji, Ma &
    Lai (2025) take η_y = 1/ℓ, N = Θ(κ log(·)), η_x = 1/L_Φ with L_Φ = (1 + κ)ℓ.

    Args:
        problem: a game.
        eta_x: outer (descent) step > 0.
        eta_y: inner (ascent) step > 0.
        n_inner: N ≥ 1 ascent steps per descent step.
    """

    problem: AbstractGame
    eta_x: jnp.ndarray
    eta_y: jnp.ndarray
    n_inner: int = eqx.field(static=True)

    def __init__(self, problem, eta_x, eta_y, n_inner=10):
        check_game("GDmax", problem, eta_x, eta_y)
        self.n_inner = check_int("GDmax", "n_inner", n_inner, 1)
        self.problem = problem
        self.eta_x = jnp.asarray(eta_x)
        self.eta_y = jnp.asarray(eta_y)

    @property
    def dt(self):
        return self.eta_x

    @property
    def calls_per_step(self) -> int:
        return self.n_inner + 1

    @property
    def noise(self):
        return repeat_noise(self.problem.noise, self.n_inner + 1)

    def init(self, z0):
        check_start(self.problem, z0, "GDmax")
        return GameState(tuple(z0), jnp.zeros((), jnp.int32))

    def step(self, state, noise):
        (x, y), calls = state
        y = inner_ascent(self.problem, x, y, noise, self.eta_y, self.n_inner)
        gx = self.problem.stochastic_field((x, y), draw(noise, self.n_inner))[0]
        x = x - self.eta_x.astype(gx.dtype) * gx
        return GameState((x, y), add_calls(calls, self.n_inner + 1))

    def position(self, state):
        return state.z

    def limit(self):
        return ReducedSDE(self.problem, self.eta_x, noise="x")

    def ode_limit(self):
        return ReducedSDE(self.problem, self.eta_x, noise=None)

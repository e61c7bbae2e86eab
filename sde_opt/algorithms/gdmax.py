r"""GDmax: N warm-started ascent steps on y per descent step on x (multi-step GDA)."""

from __future__ import annotations

import equinox as eqx
import jax
from jax import lax

from ..sde.two_timescale import GDmaxSDE, ReducedSDE
from ._game import DescentAscent, GameState, add_calls, axpy, check_int, draw, project_y, repeat_noise


def inner_ascent(problem, x, y, noise, eta_y, n_inner: int):
    """N projected ascent steps y ← P_Y(y + η_y ĝ_y(x, y)) from the warm start y; the draws are
    ``noise[0:N]`` (a repeated oracle draw). Returns y_N (y may be a pytree)."""

    def body(yy, w):
        vy = problem.stochastic_field((x, yy), w)[1]
        return project_y(problem, axpy(-eta_y, vy, yy)), None

    first = jax.tree_util.tree_map(lambda a: a[:n_inner], noise)
    y, _ = lax.scan(body, y, first)
    return y


class GDmax(DescentAscent):
    r"""GDmax (papers.md §3.7 without the perturbation), N + 1 oracle calls per step:

        y_k⁰ = y_{k−1}^N (warm start),  y_k^t = P_Y(y_k^{t−1} + η_y ĝ_y(x_k, y_k^{t−1})), t = 1..N,
        x_{k+1} = x_k − η_x ĝₓ(x_k, y_k^N),

    the N ascent steps and the descent step each drawing their own oracle call. The state's y is
    y_k^N. As N → ∞ (η_y ≤ 1/ℓ), y_k^N → y*(x_k) in mean and x follows gradient descent on Φ
    (Danskin: ∇Φ = ∇ₓf(x, y*)).

    **Diffusion limit** (time t = kη_x, η_x → 0 at fixed η_y and N;
    [`GDmaxSDE`][sde_opt.GDmaxSDE], derivation in ``sde_opt.sde.two_timescale``):

        dX = −∇Φ(X) dt − √η_x (Σₓₓ + G L Gᵀ)^{1/2} dW,   Y = y*(X),

    G = ∇²_xy f(X, y*). The inner loop's noise does not vanish as η_x → 0: its error e = y_N − y*
    is an AR(1) chain across outer steps (contraction (I − η_yH)^N, H = −∇²_yy f) and G e enters
    every x-step, adding its long-run covariance L (``
    inner_loop_covariance``). On a quadratic game with κ = 10, σₓ = σ_y = 1, η_y = 1/ℓ this makes
    the stationary Var x 3.5, 1.84, 1.27 and 1.13 times the x-noise-only value at N = 1, 3, 10,
    100 (``tests/test_gdmax_limit.py``). Huang, Chen, Ji, Ma & Lai (2025) take η_y = 1/ℓ,
    N = Θ(κ log(·)), η_x = 1/L_Φ with L_Φ = (1 + κ)ℓ.

    Args:
        problem: a game (x and y may be pytrees).
        eta_x: outer (descent) step > 0.
        eta_y: inner (ascent) step > 0.
        n_inner: N ≥ 1 ascent steps per descent step.
    """

    n_inner: int = eqx.field(static=True)

    def __init__(self, problem, eta_x, eta_y, n_inner=10):
        super().__init__(problem, eta_x, eta_y)
        self.n_inner = check_int(type(self).__name__, "n_inner", n_inner, 1)

    @property
    def calls_per_step(self) -> int:
        return self.n_inner + 1

    @property
    def noise(self):
        return repeat_noise(self.problem.noise, self.n_inner + 1)

    def step(self, state, noise):
        (x, y), calls = state
        y = inner_ascent(self.problem, x, y, noise, self.eta_y, self.n_inner)
        gx = self.problem.stochastic_field((x, y), draw(noise, self.n_inner))[0]
        return GameState((axpy(-self.eta_x, gx, x), y), add_calls(calls, self.n_inner + 1))

    def limit(self):
        return GDmaxSDE(self.problem, self.eta_x, self.eta_y, self.n_inner)

    def ode_limit(self):
        return ReducedSDE(self.problem, self.eta_x, noise=None)

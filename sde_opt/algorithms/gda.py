r"""Gradient descent–ascent (simultaneous and alternating), the baseline of NC-SC minimax."""

from __future__ import annotations

import equinox as eqx

from ._game import DescentAscent, GameState, add_calls, check_flag, draw, gda_move, repeat_noise


class GDA(DescentAscent):
    r"""Stochastic gradient descent–ascent with two step sizes (papers.md §4.3).

    Simultaneous (default), one oracle call per step:

        x_{t+1} = x_t − η_x ĝₓ(x_t, y_t),   y_{t+1} = P_Y(y_t + η_y ĝ_y(x_t, y_t));

    alternating (``alternating=True``): the ascent step sees the new x, ĝ_y(x_{t+1}, y_t) — a second
    oracle call (counted: 2 calls per step).

    Time per step t = kη_x. Diffusion limit ([`TwoTimescaleSDE`][sde_opt.TwoTimescaleSDE],
    ratio r = η_y/η_x): dX = −∇ₓf dt + √η_x noise, dY = r∇ᵧf dt + r√η_x noise — shared with OGDA and
    EG at first order; alternating GDA has the same first-order limit. As r → ∞ it reduces to
    dX = −∇Φ(X) dt + noise ([`ReducedSDE`][sde_opt.ReducedSDE]). Lin, Jin & Jordan
    (2020): with η_x = Θ(1/(κ²ℓ)), η_y = Θ(1/ℓ), O(κ²ε⁻²) iterations to ‖∇Φ‖ ≤ ε (deterministic),
    O(κ³ε⁻⁴) oracle calls with minibatches. On a bilinear game GDA spirals out (spectral radius
    √(1 + η²σ²) > 1): such paths turn non-finite and are flagged ``DIVERGED`` by the engine.

    Args:
        problem: a game ([`AbstractGame`][sde_opt.AbstractGame]); x and y may be pytrees.
        eta_x, eta_y: scalar step sizes > 0.
        alternating: ``True`` for the alternating (Gauss–Seidel) update.
    """

    alternating: bool = eqx.field(static=True)

    def __init__(self, problem, eta_x, eta_y, alternating=False):
        super().__init__(problem, eta_x, eta_y)
        self.alternating = check_flag("GDA", "alternating", alternating)

    @property
    def calls_per_step(self) -> int:
        return 2 if self.alternating else 1

    @property
    def noise(self):
        return repeat_noise(self.problem.noise, self.calls_per_step)

    def step(self, state, noise):
        z, calls = state
        v = self.problem.stochastic_field(z, draw(noise, 0))
        if not self.alternating:
            return GameState(gda_move(self.problem, z, v, self.eta_x, self.eta_y),
                             add_calls(calls, 1))
        x_new, _ = gda_move(self.problem, z, v, self.eta_x, self.eta_y)
        v2 = self.problem.stochastic_field((x_new, z[1]), draw(noise, 1))
        _, y_new = gda_move(self.problem, (x_new, z[1]), v2, self.eta_x, self.eta_y)
        return GameState((x_new, y_new), add_calls(calls, 2))

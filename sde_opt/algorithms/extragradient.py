r"""Extragradient (Korpelevich 1976) with two step sizes, for NC-SC minimax."""

from __future__ import annotations

from ._game import DescentAscent, GameState, add_calls, draw, gda_move, repeat_noise


class Extragradient(DescentAscent):
    r"""Stochastic extragradient, two oracle calls per step (papers.md §4.3):

        z_{t+½} = Π(z_t − D V̂(z_t)),    z_{t+1} = Π(z_t − D V̂(z_{t+½})),

    with D = diag(η_x I, η_y I), V = (∇ₓf, −∇ᵧf) and Π = (id, P_Y); the two calls draw independent
    noise. Time per step t = kη_x; first-order limit shared with GDA
    ([`TwoTimescaleSDE`][sde_opt.TwoTimescaleSDE]). Its O(η) modified equation
    ż = −F̃ + (η/2) J̃F̃ (F̃ = D V/η_x) contracts rotations that GDA's ż = −F̃ − (η/2)J̃F̃ expands
    (``sde_opt.theory.modified_equations``). Mahdavinia, Deng, Li & Mahdavi (NeurIPS 2022):
    η_y = Θ(1/ℓ), η_x = Θ(1/(κ²ℓ)) reach ‖∇Φ‖ ≤ ε in O(κ²ε⁻²) gradient calls (NC-SC), tight for
    this step-size regime.

    Args:
        problem: a game (x and y may be pytrees).
        eta_x, eta_y: scalar step sizes > 0.
    """

    calls_per_step = 2

    @property
    def noise(self):
        return repeat_noise(self.problem.noise, 2)

    def step(self, state, noise):
        z, calls = state
        half = gda_move(self.problem, z, self.problem.stochastic_field(z, draw(noise, 0)),
                        self.eta_x, self.eta_y)
        new = gda_move(self.problem, z, self.problem.stochastic_field(half, draw(noise, 1)),
                       self.eta_x, self.eta_y)
        return GameState(new, add_calls(calls, 2))

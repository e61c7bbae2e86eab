r"""Optimistic gradient descent–ascent in its single-call ("past extragradient", Popov) form."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax.tree_util import tree_map

from ._game import DescentAscent, add_calls, check_start, gda_move


class OGDAState(NamedTuple):
    """``z``: the base point z_t; ``g_prev``: the last extrapolation-point oracle value
    V̂(z_{t−½}) (zero before the first step); ``calls``: oracle calls so far."""

    z: tuple
    g_prev: tuple
    calls: jnp.ndarray


class OGDA(DescentAscent):
    r"""Single-call OGDA (papers.md §4.3), one oracle call per step:

        z_{t+½} = Π(z_t − D ĝ_{t−½}),   ĝ_{t+½} = V̂(z_{t+½}),   z_{t+1} = Π(z_t − D ĝ_{t+½}),

    D = diag(η_x I, η_y I), V = (∇ₓf, −∇ᵧf), Π = (id, P_Y). Unconstrained, the extrapolation points
    w_t = z_{t+½} obey the familiar OGDA recursion w_{t+1} = w_t − 2D V(w_t) + D V(w_{t−1})
    (optax's ``optimistic_gradient_descent`` with α = β = 1 on a stacked (x, −y) gradient; tested
    step by step in ``tests/test_minimax_algorithms.py``).

    **First step.** ĝ_{−½} = 0, so z_{½} = z₀ and z₁ = Π(z₀ − D V̂(z₀)): the first step is one plain
    GDA step — the same first-step fix optax adopted (its ``is_initial_step`` guard replaces the
    missing previous gradient by the current one instead of zero, which made the first step jump).

    **Mapping to optax from a start w₀** (η_x = η_y = η): ``optax.optimistic_gradient_descent(η)``
    on the stacked (x, y) with ∇ᵧf negated makes w₁ = w₀ − ηV(w₀), w_{t+1} = w_t − η(2V(w_t) −
    V(w_{t−1})). Its iterates are our *extrapolation points* z_{t+½} (``extrapolated(state)``), not
    our positions z_t: from ``OGDAState((w₀ + ηV(w₀)), V(w₀), 0)`` (split into (x, y)) z_{t+½} = w_t
    for every t and any game; from ``OGDAState(w₀, V(w₀), 0)`` z_{t+½} = w_{t+1}
    (``tests/test_conventions.py``). From our own ``init(w₀)`` (ĝ_{−½} = 0) the positions differ from
    optax's iterates by η V̂(z_{t−½}) and agree with them only up to that shift.

    Time per step t = kη_x; first-order limit shared with GDA and EG
    ([`TwoTimescaleSDE`][sde_opt.TwoTimescaleSDE]); O(η) modified equation the same as EG's,
    ż = −F̃ + (η/2)J̃F̃ (they differ at O(η³) on linear games;
    ``sde_opt.theory.modified_equations``). Rates as for EG (Mahdavinia et al. 2022).

    Args:
        problem: a game (x and y may be pytrees).
        eta_x, eta_y: scalar step sizes > 0.
    """

    calls_per_step = 1

    @property
    def noise(self):
        return self.problem.noise

    def init(self, z0):
        check_start(self.problem, z0, "OGDA")
        z0 = tuple(z0)
        return OGDAState(z0, tree_map(jnp.zeros_like, z0), jnp.zeros((), jnp.int32))

    def step(self, state, noise):
        z, g_prev, calls = state
        half = gda_move(self.problem, z, g_prev, self.eta_x, self.eta_y)
        g = tuple(self.problem.stochastic_field(half, noise))
        return OGDAState(gda_move(self.problem, z, g, self.eta_x, self.eta_y), g,
                         add_calls(calls, 1))

    def extrapolated(self, state):
        """z_{t+½} = Π(z_t − D ĝ_{t−½}), the point the next oracle call is made at."""
        return gda_move(self.problem, state.z, state.g_prev, self.eta_x, self.eta_y)

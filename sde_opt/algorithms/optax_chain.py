r"""Any optax optimizer as a chain: ``so.OptaxChain(problem, tx)``.

One step is one call of the problem's oracle and one optax update,

    g_k = problem.stochastic_grad(θ_k, noise_k),
    (Δ_k, s_{k+1}) = tx.update(g_k, s_k, θ_k),     θ_{k+1} = optax.apply_updates(θ_k, Δ_k),

on the state (θ, s) = (params, opt_state), both pytrees, s₀ = ``tx.init(θ₀)``. The engine then
simulates it like every other chain — many paths at once, each stopped at its own event, with
observables of θ, streaming and sharding — and path i's oracle noise at step k is the same as for
the package's own algorithms under the same key, so ``OptaxChain(problem, optax.sgd(η))`` and
``so.sgd(problem, η)`` run the same paths.

**Conventions mapped** (each checked to rounding by ``tests/test_optax_chain.py``):

* ``optax.sgd(η)`` = [`sgd`][sde_opt.sgd] (θ⁺ = θ − ηg).
* ``optax.sgd(η, momentum=μ)``: optax's trace t⁺ = g + μt and θ⁺ = θ − ηt⁺ is
  [`MomentumSGD`][sde_opt.MomentumSGD] (heavy ball) with the displacement m = −ηt.
* ``optax.sgd(η, momentum=μ, nesterov=True)`` takes the gradient at its iterate and steps
  θ⁺ = θ − η(g + μt⁺); [`NesterovSGD`][sde_opt.NesterovSGD] takes it at the look-ahead point θ + μm.
  They are the same algorithm under the change of variables φ = θ + μm: optax's iterate is
  [`NesterovSGD`][sde_opt.NesterovSGD]'s look-ahead point (and m = −ηt), the gradients are taken at the
  same points with the same noise.
* ``optax.rmsprop(η, decay=β, eps=ε, eps_in_sqrt=False)`` = [`RMSprop`][sde_opt.RMSprop]
  (optax's default ``eps_in_sqrt=True`` divides by √(v + ε) instead of √v + ε).
* ``optax.adam(η, b1, b2, eps)`` = [`Adam`][sde_opt.Adam] (bias-corrected).

``dt`` is the continuous time one step stands for (default 1: t counts iterations); an optax
optimizer has no diffusion limit in general, so this chain has no ``limit()`` — RMSprop and Adam
in the paper's parametrization ([`RMSprop`][sde_opt.RMSprop],
[`Adam`][sde_opt.Adam]) and SGD/heavy ball/Nesterov have theirs.

Hyperparameters written as Python numbers into ``tx`` are compile-time constants (a new value
compiles again); ``optax.inject_hyperparams`` keeps them in the state instead.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp

from .._checks import check_positive
from ..problems._base import AbstractProblem, check_problem
from ._base import ProblemChain


class OptaxState(NamedTuple):
    """``params``: the iterate θ (a pytree like the problem's point); ``opt_state``: optax's."""

    params: object
    opt_state: object


def _is_transformation(tx) -> bool:
    import optax

    return isinstance(tx, optax.GradientTransformation)


class OptaxChain(ProblemChain):
    """An ``optax.GradientTransformation`` driven by a problem's stochastic-gradient oracle (see the
    module docstring for the update and the conventions).

    Args:
        problem: a minimization problem on flat space (any oracle: minibatch, Gaussian …).
        tx: an ``optax.GradientTransformation`` (e.g. ``optax.adam(1e-3)``, a chain of them).
        dt: continuous time per step (default 1.0: time counts iterations).
    """

    problem: AbstractProblem
    tx: object = eqx.field(static=True)
    dt: jnp.ndarray

    def __init__(self, problem: AbstractProblem, tx, dt=1.0):
        check_problem("OptaxChain", problem, game=False)
        if not _is_transformation(tx):
            raise TypeError("OptaxChain: tx must be an optax.GradientTransformation (e.g. "
                            f"optax.adam(1e-3)); got {type(tx).__name__}"
                            + (" — call the factory: optax.adam(learning_rate), not optax.adam"
                               if callable(tx) else ""))
        if not problem.geometry.is_flat:
            raise ValueError(f"OptaxChain: the problem lives on {type(problem.geometry).__name__}; "
                             "an optax update knows nothing about a manifold — use a Euclidean "
                             "problem (or a Riemannian algorithm of this package)")
        check_positive("OptaxChain", "dt", dt, scalar=True)
        self.problem = problem
        self.tx = tx
        self.dt = jnp.asarray(dt)

    def init(self, x0):
        return OptaxState(x0, self.tx.init(x0))

    def step(self, state, noise):
        import optax

        params, opt_state = state
        g = self.problem.stochastic_grad(params, noise)
        updates, opt_state = self.tx.update(g, opt_state, params)
        return OptaxState(optax.apply_updates(params, updates), opt_state)

    def position(self, state):
        return state.params

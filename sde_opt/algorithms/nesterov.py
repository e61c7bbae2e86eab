"""Nesterov's accelerated (momentum) SGD: the gradient is taken at the look-ahead point."""

from __future__ import annotations

import jax.numpy as jnp
from jax.tree_util import tree_map

from .._checks import check_positive, check_range
from ..problems._base import AbstractProblem, check_problem
from ..sde.gradient import GradientSDE
from ._base import AbstractAlgorithm
from .momentum_sgd import MomentumState


class NesterovSGD(AbstractAlgorithm):
    r"""Nesterov momentum:  m_{k+1} = μ m_k − η g(θ_k + μ m_k),  θ_{k+1} = θ_k + m_{k+1}.

    g is one stochastic gradient (on a manifold: projected, and θ, m rescaled by the retraction's
    factor, as in [`MomentumSGD`][sde_opt.MomentumSGD]). Time per step t = kη. For fixed μ and η → 0
    the look-ahead shifts the gradient by O(η), so the diffusion limit is heavy ball's
    (Liu, Chen, Zhou & Zhao 2021 treat both):

        dX = −∇f(X)/(1−μ) dt + (√η/(1−μ)) Σ(X)^{1/2} dW.

    **Mapping to optax.** ``optax.sgd(η, momentum=μ, nesterov=True)`` keeps the *look-ahead*
    point as its parameters: started at p₀ = θ₀, its p_k = θ_k + μ m_k and its momentum trace is
    −m_{k+1}/η (``tests/test_conventions.py``). Our position is θ_k; to compare with optax, map
    ours by θ + μm (``so.OnState(lambda s: s.x + mu * s.m)`` as an observable).

    Args:
        problem: the landscape and its stochastic-gradient oracle.
        eta: step size η > 0.
        mu: momentum μ ∈ [0, 1).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    mu: jnp.ndarray

    def __init__(self, problem: AbstractProblem, eta, mu=0.9):
        check_problem("NesterovSGD", problem, game=False)
        check_positive("NesterovSGD", "eta", eta, scalar=True)
        check_range("NesterovSGD", "mu", mu, 0.0, 1.0, high_closed=False, scalar=True)
        self.problem, self.eta, self.mu = problem, jnp.asarray(eta), jnp.asarray(mu)

    @property
    def dt(self):
        return self.eta

    def init(self, x0):
        x0 = self.problem.geometry.retract(x0)
        return MomentumState(x0, tree_map(jnp.zeros_like, x0))

    def step(self, state, noise):
        x, m = state
        geom = self.problem.geometry
        ahead = geom.retract(tree_map(lambda xi, mi: xi + self.mu.astype(mi.dtype) * mi, x, m))
        g = geom.project(ahead, self.problem.stochastic_field(ahead, noise))
        m = tree_map(lambda mi, gi: self.mu.astype(gi.dtype) * mi - self.eta.astype(gi.dtype) * gi, m, g)
        x = tree_map(jnp.add, x, m)
        scale = geom.radial_scale(x)
        return MomentumState(tree_map(jnp.multiply, x, scale), tree_map(jnp.multiply, m, scale))

    def position(self, state):
        return state.x

    def limit(self):
        c = 1.0 / (1.0 - self.mu)
        return GradientSDE(self.problem, c, jnp.sqrt(self.eta) * c)

    def ode_limit(self):
        return GradientSDE(self.problem, 1.0 / (1.0 - self.mu), 0.0)

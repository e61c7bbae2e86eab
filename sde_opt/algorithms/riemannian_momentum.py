r"""Riemannian heavy-ball momentum: the momentum is transported by projection onto the new tangent space."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax.tree_util import tree_map

from .._checks import check_positive, check_range
from ..problems._base import AbstractProblem, check_problem
from ..sde.field import FieldSDE
from ._base import AbstractAlgorithm
from .riemannian_sgd import retracted_step


class RiemannianMomentumState(NamedTuple):
    """``x``: the iterate; ``m``: the momentum buffer (a tangent vector at ``x``)."""

    x: object
    m: object


class RiemannianMomentum(AbstractAlgorithm):
    r"""m_{k+1} = μ P_{x_k} m_k + P_{x_k} ĝ(x_k),   x_{k+1} = R_{x_k}(−η m_{k+1}).

    The buffer m is a tangent vector; it is carried to the next tangent space by the projection
    P_{x_{k+1}} (a vector transport), applied here at the start of the next step. This is
    geoopt's ``RiemannianSGD(momentum=μ, dampening=0)`` (``retr_transp`` with the projection
    transport). Time per step t = kη. Diffusion limit for fixed μ, η → 0 (Liu, Chen, Zhou & Zhao
    2021 in ℝᵈ; the same on the manifold, with the Itô correction):

        dX = −(1/(1−μ)) P_X ∇f(X) dt − (√η/(1−μ)) P_X Σ(X)^{1/2} dW,

    a [`FieldSDE`][sde_opt.FieldSDE] with c = 1/(1−μ), s = √η/(1−μ). μ = 0 is Riemannian SGD.

    Args:
        problem: the objective and its stochastic-gradient oracle, on its geometry.
        eta: step size η > 0.
        mu: momentum μ ∈ [0, 1).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    mu: jnp.ndarray

    def __init__(self, problem: AbstractProblem, eta, mu=0.9):
        check_problem("RiemannianMomentum", problem, game=False)
        check_positive("RiemannianMomentum", "eta", eta)
        check_range("RiemannianMomentum", "mu", mu, 0.0, 1.0, high_closed=False)
        self.problem = problem
        self.eta = jnp.asarray(eta)
        self.mu = jnp.asarray(mu)

    @property
    def dt(self):
        return self.eta

    def init(self, x0):
        x0 = self.problem.geometry.retract(x0)
        return RiemannianMomentumState(x0, tree_map(jnp.zeros_like, x0))

    def step(self, state, noise):
        x, m = state
        geom = self.problem.geometry
        g = geom.project(x, self.problem.stochastic_grad(x, noise))
        m = tree_map(lambda mi, gi: self.mu.astype(gi.dtype) * mi + gi, geom.project(x, m), g)
        x = retracted_step(geom, x, tree_map(lambda a: -self.eta.astype(a.dtype) * a, m))
        return RiemannianMomentumState(x, m)

    def position(self, state):
        return state.x

    def limit(self):
        c = 1.0 / (1.0 - self.mu)
        return FieldSDE(self.problem, c, jnp.sqrt(self.eta) * c)

    def ode_limit(self):
        return FieldSDE(self.problem, 1.0 / (1.0 - self.mu), 0.0)

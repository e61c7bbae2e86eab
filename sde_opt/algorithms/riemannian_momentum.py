r"""Riemannian heavy-ball momentum: the buffer is carried to the new tangent space by a vector transport."""

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
    """``x``: the iterate; ``m``: the momentum buffer, already transported to the tangent space at
    ``x``."""

    x: object
    m: object


class RiemannianMomentum(AbstractAlgorithm):
    r"""m_{k+1} = μ m_k + P_{x_k} ĝ(x_k),  x_{k+1} = R_{x_k}(−η m_{k+1}),  m_{k+1} ← T_{x_k→x_{k+1}} m_{k+1}.

    The buffer m is a tangent vector at the current iterate: after the retraction it is carried
    to the new tangent space by the geometry's vector transport T_{x→y} v = P_y v
    (``geometry.transport``: the projection transport of geoopt's ``retr_transp`` and Manopt; the
    identity in ℝᵈ, where this is heavy-ball SGD). It starts at zero, m_0 = 0. This is geoopt's
    ``RiemannianSGD(momentum=μ, dampening=0)`` with one difference in the first step: geoopt
    creates its buffer at the first step as the Euclidean (unprojected) gradient ∇f and then
    applies m ← μm + grad f, so its first step moves along μ∇f + grad f (about (1 + μ) times our
    first step, plus a normal part that the retraction turns into a rescaling). With
    geoopt's buffer pre-set to zero the two agree to rounding (tests/test_neural_collapse_algorithms.py);
    left as geoopt starts, they differ by O(μη‖∇f‖) after the first step (e.g. 0.03 after 50
    steps on a small UFM). Time per step t = kη. Diffusion limit for fixed μ, η → 0 (Liu, Chen,
    Zhou & Zhao 2021 in ℝᵈ; the same on the manifold, with the Itô correction):

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
        check_positive("RiemannianMomentum", "eta", eta, scalar=True)
        check_range("RiemannianMomentum", "mu", mu, 0.0, 1.0, high_closed=False, scalar=True)
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
        m = tree_map(lambda mi, gi: self.mu.astype(gi.dtype) * mi + gi, m, g)
        x_new = retracted_step(geom, x, tree_map(lambda a: -self.eta.astype(a.dtype) * a, m))
        return RiemannianMomentumState(x_new, geom.transport(x, x_new, m))

    def position(self, state):
        return state.x

    def limit(self):
        c = 1.0 / (1.0 - self.mu)
        return FieldSDE(self.problem, c, jnp.sqrt(self.eta) * c)

    def ode_limit(self):
        return FieldSDE(self.problem, 1.0 / (1.0 - self.mu), 0.0)

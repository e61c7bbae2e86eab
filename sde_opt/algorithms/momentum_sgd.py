"""Heavy-ball momentum SGD (Polyak), and plain SGD as its μ = 0 case."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax.tree_util import tree_map

from .._checks import check_positive, check_range
from ..problems._base import AbstractProblem, check_problem
from ..sde.gradient import GradientSDE
from ._base import AbstractAlgorithm


class MomentumState(NamedTuple):
    """``x``: the iterate θ_k; ``m``: the last displacement θ_k − θ_{k−1} (not divided by η: the
    usual phase-space pair (θ_{k−1}, (θ_k − θ_{k−1})/η) is (x − m, m/η); see
    [`PhaseSpace`][sde_opt.PhaseSpace])."""

    x: jnp.ndarray
    m: jnp.ndarray


class MomentumSGD(AbstractAlgorithm):
    r"""Heavy-ball momentum SGD:  θ_{k+1} = θ_k − η P g(θ_k) + μ (θ_k − θ_{k−1}).

    Written with the displacement m_k = θ_k − θ_{k−1}:  m_{k+1} = μ m_k − η P g(θ_k),
    θ_{k+1} = θ_k + m_{k+1}, where g is one stochastic gradient and P the tangent projection
    (identity in ℝᵈ). On a sphere (streaming PCA) the new iterate is normalized and the
    displacement rescaled by the same factor, so the momentum stays consistent with the iterate
    (the momentum form of Oja's rule; the paper's version lets Oja's drift keep ‖θ‖ ≈ 1 instead —
    both have the same limits).

    Time per step: t = kη. Diffusion limit (Liu, Chen, Zhou & Zhao 2021, fixed μ, η → 0):

        dX = −∇f(X)/(1−μ) dt + (√η/(1−μ)) Σ(X)^{1/2} dW,

    i.e. SGD with the effective step η/(1−μ) in time kη/(1−μ). μ = 0 is SGD and its SME
    dX = −∇f dt + √(η Σ) dW (Li, Tai & E 2017).

    Args:
        problem: the landscape and its stochastic-gradient oracle.
        eta: step size η > 0.
        mu: momentum μ ∈ [0, 1).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    mu: jnp.ndarray

    def __init__(self, problem: AbstractProblem, eta, mu=0.0):
        check_problem("MomentumSGD", problem, game=False)
        check_positive("MomentumSGD", "eta", eta, scalar=True)
        check_range("MomentumSGD", "mu", mu, 0.0, 1.0, high_closed=False, scalar=True)
        self.problem = problem
        self.eta = jnp.asarray(eta)
        self.mu = jnp.asarray(mu)

    @property
    def dt(self):
        return self.eta

    def init(self, x0):
        x0 = self.problem.geometry.retract(x0)
        return MomentumState(x0, tree_map(jnp.zeros_like, x0))

    def step(self, state, noise):
        x, m = state
        return MomentumState(*heavy_ball_update(self.problem, x, m, noise, self.eta, self.mu))

    def position(self, state):
        return state.x

    def limit(self):
        c = 1.0 / (1.0 - self.mu)
        return GradientSDE(self.problem, c, jnp.sqrt(self.eta) * c)

    def ode_limit(self):
        return GradientSDE(self.problem, 1.0 / (1.0 - self.mu), 0.0)


def heavy_ball_update(problem, x, m, noise, eta, mu):
    """One heavy-ball step on any geometry and pytree point: (x, m) → (x⁺, m⁺) (see MomentumSGD)."""
    geom = problem.geometry
    g = geom.project(x, problem.stochastic_field(x, noise))
    m = tree_map(lambda mi, gi: mu.astype(gi.dtype) * mi - eta.astype(gi.dtype) * gi, m, g)
    x = tree_map(jnp.add, x, m)
    scale = geom.radial_scale(x)
    return tree_map(jnp.multiply, x, scale), tree_map(jnp.multiply, m, scale)


def sgd(problem: AbstractProblem, eta) -> MomentumSGD:
    r"""Plain SGD, θ_{k+1} = θ_k − η P g(θ_k): [`MomentumSGD`][sde_opt.MomentumSGD] with μ = 0.

    Diffusion limit (SME, t = kη): dX = −∇f(X) dt + √(η Σ(X)) dW.
    """
    check_problem("sgd", problem, game=False)
    check_positive("sgd", "eta", eta, scalar=True)
    return MomentumSGD(problem, eta, 0.0)

"""Heavy-ball momentum SGD (Polyak), and plain SGD as its μ = 0 case."""

from __future__ import annotations

from .._checks import check_positive
from ..problems._base import AbstractProblem, check_problem
from ._kinetic import MomentumMethod, MomentumState, heavy_ball_move


class MomentumSGD(MomentumMethod):
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

    def __init__(self, problem: AbstractProblem, eta, mu=0.0):
        super().__init__(problem, eta, mu)

    def step(self, state, noise):
        x, m = state
        return MomentumState(*heavy_ball_update(self.problem, x, m, noise, self.eta, self.mu))


def heavy_ball_update(problem, x, m, noise, eta, mu):
    """One heavy-ball step on any geometry and pytree point: (x, m) → (x⁺, m⁺) (see MomentumSGD)."""
    geom = problem.geometry
    return heavy_ball_move(geom, x, m, geom.project(x, problem.stochastic_field(x, noise)), eta, mu)


def sgd(problem: AbstractProblem, eta) -> MomentumSGD:
    r"""Plain SGD, θ_{k+1} = θ_k − η P g(θ_k): [`MomentumSGD`][sde_opt.MomentumSGD] with μ = 0.

    Diffusion limit (SME, t = kη): dX = −∇f(X) dt + √(η Σ(X)) dW.
    """
    check_problem("sgd", problem, game=False)
    check_positive("sgd", "eta", eta, scalar=True)
    return MomentumSGD(problem, eta, 0.0)

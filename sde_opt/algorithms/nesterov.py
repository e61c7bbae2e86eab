"""Nesterov's accelerated (momentum) SGD: the gradient is taken at the look-ahead point."""

from __future__ import annotations

from jax.tree_util import tree_map

from ._kinetic import MomentumMethod, MomentumState, heavy_ball_move


class NesterovSGD(MomentumMethod):
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

    def step(self, state, noise):
        x, m = state
        geom = self.problem.geometry
        ahead = geom.retract(tree_map(lambda xi, mi: xi + self.mu.astype(mi.dtype) * mi, x, m))
        g = geom.project(ahead, self.problem.stochastic_field(ahead, noise))
        return MomentumState(*heavy_ball_move(geom, x, m, g, self.eta, self.mu))

"""What the momentum methods share.

* ``MomentumMethod``: heavy ball, Nesterov and Riemannian momentum — parameters (η, μ), the
  (x, m) state started at (R(x₀), 0), time t = kη and the field-SDE limit with c = 1/(1 − μ),
  s = √η/(1 − μ) (Liu, Chen, Zhou & Zhao 2021); ``heavy_ball_move``, the rescaled heavy-ball
  move of MomentumSGD, NesterovSGD and AnnealedMomentumSGD.
* ``KineticLangevinAlgorithm``: SGHMC1 and SGHMC2 — parameters (η, γ, β), the (x, v) state,
  noise layout and limits.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax.tree_util import tree_map

from .._checks import check_positive, check_range
from ..noise import StandardNormal, joint
from ..problems._base import AbstractProblem, check_problem
from ..sde.field import FieldSDE
from ..sde.langevin import UnderdampedLangevin, _check_euclidean, check_beta
from ._base import AbstractAlgorithm


class MomentumState(NamedTuple):
    """``x``: the iterate θ_k; ``m``: the last displacement θ_k − θ_{k−1} (not divided by η: the
    usual phase-space pair (θ_{k−1}, (θ_k − θ_{k−1})/η) is (x − m, m/η); see
    [`PhaseSpace`][sde_opt.PhaseSpace])."""

    x: jnp.ndarray
    m: jnp.ndarray


class MomentumMethod(AbstractAlgorithm):
    r"""A momentum method with step η > 0 and momentum μ ∈ [0, 1) on a minimization problem.

    State (x, m) of type ``state_type``, started at (R(x₀), 0) with R the geometry's retraction;
    ``position`` is x; time per step t = kη. Diffusion limit for fixed μ, η → 0 (Liu, Chen, Zhou &
    Zhao 2021; on a manifold with the Itô correction): the [`FieldSDE`][sde_opt.FieldSDE]

        dX = −(1/(1−μ)) P_X ∇f(X) dt − (√η/(1−μ)) P_X Σ(X)^{1/2} dW,

    and its ODE with s = 0. Subclasses give ``step`` (and the default μ of their signature).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    mu: jnp.ndarray

    state_type = MomentumState

    def __init__(self, problem: AbstractProblem, eta, mu=0.9):
        name = type(self).__name__
        check_problem(name, problem, game=False)
        check_positive(name, "eta", eta, scalar=True)
        check_range(name, "mu", mu, 0.0, 1.0, high_closed=False, scalar=True)
        self.problem = problem
        self.eta = jnp.asarray(eta)
        self.mu = jnp.asarray(mu)

    @property
    def dt(self):
        return self.eta

    def init(self, x0):
        x0 = self.problem.geometry.retract(x0)
        return self.state_type(x0, tree_map(jnp.zeros_like, x0))

    def position(self, state):
        return state.x

    def limit(self):
        c = 1.0 / (1.0 - self.mu)
        return FieldSDE(self.problem, c, jnp.sqrt(self.eta) * c)

    def ode_limit(self):
        return FieldSDE(self.problem, 1.0 / (1.0 - self.mu), 0.0)


def heavy_ball_move(geom, x, m, g, eta, mu):
    """(x, m) → (x⁺, m⁺) for a projected stochastic gradient g: m⁺ = μm − ηg, x⁺ = x + m⁺, both
    rescaled by the geometry's radial factor of x⁺ (identity in ℝᵈ; any pytree point)."""
    m = tree_map(lambda mi, gi: mu.astype(gi.dtype) * mi - eta.astype(gi.dtype) * gi, m, g)
    x = tree_map(jnp.add, x, m)
    scale = geom.radial_scale(x)
    return tree_map(jnp.multiply, x, scale), tree_map(jnp.multiply, m, scale)


class KineticLangevinAlgorithm(AbstractAlgorithm):
    """A discretization of underdamped Langevin with a stochastic gradient.

    State ``(2, *shape)`` = (X, V), started at V₀ = 0; ``position`` is X; t = kη. Noise:
    ``joint(problem.noise, N(0, I_{injected_shape}))``. Limit: dX = V dt,
    dV = −(γV + ∇F) dt + √(2γ/β) dW + √η Σ(X)^{1/2} dW'.
    Subclasses give ``step`` and the shape of the injected normal draw (``_injected_shape``).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    gamma: jnp.ndarray
    beta: jnp.ndarray

    def _set_parameters(self, problem, eta, gamma, beta) -> None:
        name = type(self).__name__
        _check_euclidean(name, problem)
        check_positive(name, "eta", eta, scalar=True)
        check_positive(name, "gamma", gamma, scalar=True)
        check_beta(name, beta)
        self.problem = problem
        self.eta = jnp.asarray(eta)
        self.gamma = jnp.asarray(gamma)
        self.beta = jnp.asarray(beta)

    @property
    def _injected_shape(self) -> tuple[int, ...]:
        return tuple(self.problem.shape)

    @property
    def dt(self):
        return self.eta

    @property
    def _parts(self):
        return (self.problem.noise, StandardNormal(self._injected_shape))

    @property
    def noise(self):
        return joint(*self._parts)

    def init(self, x0):
        return jnp.stack([x0, jnp.zeros_like(x0)])

    def position(self, state):
        return state[0]

    def limit(self):
        return UnderdampedLangevin(self.problem, self.gamma, self.beta, jnp.sqrt(self.eta))

    def ode_limit(self):
        return UnderdampedLangevin(self.problem, self.gamma, jnp.inf)

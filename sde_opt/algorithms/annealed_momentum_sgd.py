"""Heavy-ball momentum SGD with annealed step size and/or momentum (piecewise-constant schedules)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax.tree_util import tree_map

from .._checks import check_array, check_integer, check_positive, check_range, check_scalar
from ..problems._base import AbstractProblem, check_problem
from ..sde.gradient import GradientSDE
from ..sde.schedules import PiecewiseConstant
from ._base import AbstractAlgorithm
from .momentum_sgd import heavy_ball_update


class AnnealedState(NamedTuple):
    """``x``: the iterate θ_k; ``m``: the displacement θ_k − θ_{k−1}; ``k``: the iteration count."""

    x: jnp.ndarray
    m: jnp.ndarray
    k: jnp.ndarray


class AnnealedMomentumSGD(AbstractAlgorithm):
    r"""Heavy ball whose step size and momentum follow piecewise-constant schedules.

    With stages s = 0 … S−1 and boundaries b₀ < b₁ < … < b_{S−2} (iterations), iteration k uses
    (η_s, μ_s) for the stage with b_{s−1} ≤ k < b_s:

        m_{k+1} = μ_s m_k − η_s P g(θ_k),    θ_{k+1} = θ_k + m_{k+1}

    (P the tangent projection; on a sphere θ and m are rescaled by the same normalizing factor,
    exactly as [`MomentumSGD`][sde_opt.MomentumSGD], which this is when S = 1). The iteration count k
    lives in the state, and the schedules are array fields, so different schedules of the same
    length reuse one compiled step.

    Why (Liu, Chen, Zhou & Zhao 2021): constant (η, μ) escapes saddles in ≈ ln(1/η_eff)/η_eff
    iterations but settles at an error floor ∝ η_eff = η/(1 − μ). Annealing η (step-size
    schedule) or μ (momentum schedule) after the escape keeps the fast Phase I and lowers the
    floor stage by stage to that of the last stage.

    Time per step: t = k η₀ (the first stage's step, ``dt``). Diffusion limit: piecewise
    autonomous; in stage s, in the same time variable,

        dX = −(η_s/(η₀(1 − μ_s))) ∇f dt + (η_s/(√η₀ (1 − μ_s))) Σ^{1/2} dW

    (``limit`` with ``stage=s``; stage 0 is [`MomentumSGD`][sde_opt.MomentumSGD]`.limit()`). ``limit`` with no
    stage is the whole schedule as one time-inhomogeneous SDE (stage s from t = b_{s−1} η₀ on).

    Args:
        problem: the landscape and its stochastic-gradient oracle.
        eta: step sizes η_s > 0: a scalar (constant) or a sequence of S values.
        mu: momenta μ_s ∈ [0, 1): a scalar or a sequence of S values.
        boundaries: S − 1 strictly increasing iteration counts b_s ≥ 1 at which the next stage
            starts (default: none, one stage).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    mu: jnp.ndarray
    boundaries: jnp.ndarray

    def __init__(self, problem: AbstractProblem, eta, mu=0.0, boundaries=()):
        name = "AnnealedMomentumSGD"
        check_problem(name, problem, game=False)
        b = check_array(name, "boundaries", boundaries, ndim=(0, 1), nonempty=False)
        b = b.astype(np.float64).reshape(-1)
        n_stages = b.size + 1
        eta_a = check_array(name, "eta", eta, ndim=(0, 1)).astype(np.float64)
        mu_a = check_array(name, "mu", mu, ndim=(0, 1)).astype(np.float64)
        for pname, a in (("eta", eta_a), ("mu", mu_a)):
            if a.ndim > 1 or (a.ndim == 1 and a.size not in (1, n_stages)):
                raise ValueError(f"{name}: {pname} must be a scalar or have one value per stage "
                                 f"({n_stages} = len(boundaries) + 1); got shape {a.shape}")
        check_positive(name, "eta", eta_a)
        check_range(name, "mu", mu_a, 0.0, 1.0, high_closed=False)
        check_range(name, "boundaries", b, 1.0, np.inf)
        if b.size > 1 and not np.all(np.diff(b) > 0):
            raise ValueError(f"{name}: boundaries must be strictly increasing; got {b.tolist()}")
        self.problem = problem
        self.eta = jnp.asarray(np.broadcast_to(eta_a, (n_stages,)).copy())
        self.mu = jnp.asarray(np.broadcast_to(mu_a, (n_stages,)).copy())
        self.boundaries = jnp.asarray(b)

    @property
    def n_stages(self) -> int:
        return int(self.eta.shape[0])

    @property
    def dt(self):
        return self.eta[0]

    def stage(self, k):
        """The stage index of iteration ``k`` (number of boundaries ≤ k)."""
        b = self.boundaries
        return jnp.sum(jnp.asarray(k, b.dtype)[..., None] >= b, axis=-1)

    def init(self, x0):
        x0 = self.problem.geometry.retract(x0)
        return AnnealedState(x0, tree_map(jnp.zeros_like, x0), jnp.zeros((), jnp.int32))

    def step(self, state, noise):
        x, m, k = state
        s = self.stage(k)
        x, m = heavy_ball_update(self.problem, x, m, noise, self.eta[s], self.mu[s])
        return AnnealedState(x, m, k + 1)

    def position(self, state):
        return state.x

    def _scales(self, stage: int):
        s = int(stage)
        if not 0 <= s < self.n_stages:
            raise ValueError(f"AnnealedMomentumSGD: stage must lie in [0, {self.n_stages - 1}]; "
                             f"got {stage}")
        eta0, eta, mu = self.eta[0], self.eta[s], self.mu[s]
        return eta / (eta0 * (1.0 - mu)), eta / (jnp.sqrt(eta0) * (1.0 - mu))

    def _schedules(self):
        eta0 = self.eta[0]
        times = self.boundaries * eta0  # stage s starts at t = b_{s−1} η₀
        c = PiecewiseConstant(self.eta / (eta0 * (1.0 - self.mu)), times)
        s = PiecewiseConstant(self.eta / (jnp.sqrt(eta0) * (1.0 - self.mu)), times)
        return c, s

    def limit(self, stage: int | None = None):
        """The diffusion limit in time t = k η₀: one time-inhomogeneous SDE whose scales follow
        the stages (``stage=None``), or the autonomous limit of one stage."""
        if stage is None:
            return GradientSDE(self.problem, *self._schedules())
        c, s = self._scales(stage)
        return GradientSDE(self.problem, c, s)

    def ode_limit(self, stage: int | None = None):
        if stage is None:
            return GradientSDE(self.problem, self._schedules()[0], 0.0)
        c, _ = self._scales(stage)
        return GradientSDE(self.problem, c, 0.0)


def geometric_schedule(first: float, last: float, start: int, n_stages: int,
                       growth: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    r"""A step-down schedule: ``first`` until ``start``, then geometric steps down to ``last``.

    Values v_s = first·(last/first)^{s/(S−1)} for S = ``n_stages`` stages; stage 1 starts at
    ``start`` and stage s lasts ``growth`` times longer than stage s − 1, stage 1 lasting
    ``start`` iterations — so with growth ≈ first/last^{1/(S−1)} each stage is about as long as
    its relaxation time ∝ 1/η_s. Returns ``(values, boundaries)`` for
    [`AnnealedMomentumSGD`][sde_opt.AnnealedMomentumSGD].
    """
    owner = "geometric_schedule"
    first = check_scalar(owner, "first", first, 0.0, np.inf, low_closed=False, high_closed=False)
    last = check_scalar(owner, "last", last, 0.0, np.inf, low_closed=False, high_closed=False)
    start = check_integer(owner, "start", start, low=1)
    n_stages = check_integer(owner, "n_stages", n_stages, low=2)
    growth = check_scalar(owner, "growth", growth, 0.0, np.inf, low_closed=False,
                          high_closed=False)
    s = np.arange(n_stages)
    values = first * (last / first) ** (s / (n_stages - 1))
    lengths = start * growth ** np.arange(n_stages - 2)
    boundaries = start + np.concatenate([[0.0], np.cumsum(lengths)])
    return values, np.round(boundaries)

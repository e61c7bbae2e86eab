r"""Langevin dynamics: overdamped (on x) and underdamped (on the phase-space state (x, v)).

Both optionally carry the gradient noise of a stochastic-gradient algorithm run with step η, which
adds η Σ(x) to the diffusion matrix (per unit time). With ``grad_noise_scale = 0`` they are the
textbook diffusions whose invariant law is the Gibbs measure:

* overdamped  dX = −∇F(X) dt + √(2/β) dW,                         π(x) ∝ e^{−βF(x)};
* underdamped dX = V dt, dV = −∇F(X) dt − γV dt + √(2γ/β) dW,     π(x, v) ∝ e^{−β(F(x) + ‖v‖²/2)}.

Underdamped state layout: one array of shape ``(2, *shape)``, ``state[0] = x``, ``state[1] = v``.
Schemes start from ``init(x0) = (x0, 0)`` and expose ``position(state) = x`` to events and
observables; [`PhaseSpace`][sde_opt.PhaseSpace] wraps a chain to observe (and start from) the whole state.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp

from .._chain import AbstractChain
from .._checks import check_instance, check_positive, check_range, is_concrete
from ..problems._base import AbstractProblem, check_problem
from ..problems.geometry import Euclidean
from ._base import AbstractSDE


def _check_euclidean(owner, problem):
    check_problem(owner, problem, game=False)
    if not problem.geometry.is_flat:
        raise ValueError(f"{owner}: problem must live on ℝᵈ (Langevin dynamics are implemented "
                         f"on ℝᵈ only); got a problem on {type(problem.geometry).__name__}")
    shape = problem.shape
    if not (isinstance(shape, tuple) and all(isinstance(n, int) for n in shape)):
        raise TypeError(f"{owner}: problem must have array points (the state stacks x and v); "
                        f"got points that are a pytree of shapes {shape!r}. Write the loss over "
                        f"one flat array (jax.flatten_util.ravel_pytree gives the map)")


def _with_grad_noise(owner, scale) -> bool:
    """Whether a gradient-noise term is present (``None`` or a concrete 0: none)."""
    if scale is None:
        return False
    check_range(owner, "grad_noise_scale", scale, 0.0, math.inf, high_closed=False, scalar=True)
    return not (is_concrete(scale) and float(scale) == 0.0)


def check_beta(owner, beta):
    check_range(owner, "beta", beta, 0.0, math.inf, low_closed=False, high_closed=True,
                scalar=True)


class _LangevinNoise(eqx.Module):
    """Shared by both SDEs: the injected noise √(2c/β) W and the gradient noise −s Σ^{1/2} W'."""

    problem: eqx.AbstractVar[AbstractProblem]
    beta: eqx.AbstractVar[jnp.ndarray]
    grad_noise_scale: eqx.AbstractVar[jnp.ndarray]
    with_grad_noise: eqx.AbstractVar[bool]

    @property
    def _size(self):
        return math.prod(self.problem.shape)

    @property
    def point_shape(self):
        return self.problem.shape

    @property
    def noise_shape(self):
        if not self.with_grad_noise:
            return tuple(self.problem.shape)
        return (math.prod(self.problem.factor_shape) + self._size,)

    def _noise(self, x, z, intensity):
        """−s B(x) z_g + √(2·intensity/β) z_i, with ``z = [z_g (factor_shape), z_i (shape)]``.

        The gradient-noise part comes first and enters with a minus sign, as the oracle noise does
        in the algorithms (a step −η g; their noise is oracle first, injected second). For an
        additive Gaussian oracle (factor = oracle noise) an algorithm and Euler–Maruyama of its
        limit driven by the same draws are then coupled path by path; the sign does not change
        the law.
        """
        amp = jnp.sqrt(2.0 * intensity / self.beta.astype(x.dtype))
        if not self.with_grad_noise:
            return amp * z
        m = math.prod(self.problem.factor_shape)
        zg = z[:m].reshape(self.problem.factor_shape)
        zi = z[m:].reshape(self.problem.shape)
        bz = self.problem.grad_noise_factor(x, zg)
        return amp * zi - self.grad_noise_scale.astype(x.dtype) * bz


class OverdampedLangevin(_LangevinNoise, AbstractSDE):
    r"""dX = −∇F(X) dt + √(2/β) dW − s Σ(X)^{1/2} dW',  W ⟂ W'.

    With s = 0 (the default) the invariant law is the Gibbs measure ∝ e^{−βF}. With s = √η it is
    the diffusion limit of SGLD with step η in time t = kη: the diffusion matrix is
    2/β I + η Σ(x) (the minibatch noise heats the dynamics by η Σ/2). β = ∞ with s = 0 is the
    gradient flow. ``dW`` has shape ``problem.shape`` (s = 0) or the flat
    ``(prod(factor_shape) + D,)`` (s > 0: gradient noise, then injected noise).

    Args:
        problem: the potential F (Euclidean).
        beta: inverse temperature β ∈ (0, ∞].
        grad_noise_scale: s ≥ 0 (``None`` or 0: no gradient-noise term).
    """

    problem: AbstractProblem
    beta: jnp.ndarray
    grad_noise_scale: jnp.ndarray
    with_grad_noise: bool = eqx.field(static=True)
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, problem, beta=1.0, grad_noise_scale=None):
        _check_euclidean("OverdampedLangevin", problem)
        check_beta("OverdampedLangevin", beta)
        self.problem = problem
        self.beta = jnp.asarray(beta)
        self.with_grad_noise = _with_grad_noise("OverdampedLangevin", grad_noise_scale)
        self.grad_noise_scale = jnp.asarray(0.0 if grad_noise_scale is None else grad_noise_scale)

    @property
    def additive(self) -> bool:
        return not self.with_grad_noise or self.problem.additive_noise

    def drift(self, x):
        return -self.problem.grad(x)

    def diffusion(self, x, z):
        return self._noise(x, z, 1.0)


class UnderdampedLangevin(_LangevinNoise, AbstractSDE):
    r"""dX = V dt,  dV = −∇F(X) dt − γ V dt + √(2γ/β) dW − s Σ(X)^{1/2} dW',  on (x, v).

    State: ``(2, *shape)`` with ``[0] = x``, ``[1] = v``; ``init(x0) = (x0, 0)``,
    ``position(state) = x``. With s = 0 the invariant law is ∝ e^{−β(F(x) + ‖v‖²/2)} (x-marginal
    ∝ e^{−βF}). With s = √η it is the diffusion limit of SGHMC (both discretizations) with step η
    in time t = kη; the velocity diffusion matrix is 2γ/β I + η Σ(x). Noise acts on v only and
    depends on x only, so Euler–Maruyama coincides with Milstein: strong order 1.

    Linearization at a minimum with Hessian eigenvalue m: eigenvalues (−γ ± √(γ² − 4m))/2, so
    the slowest relaxation rate is γ/2 for γ ≤ 2√m and (γ − √(γ² − 4m))/2 ≈ m/γ above — maximal,
    √m, at the critical friction γ = 2√m (papers.md §2.5).

    Args:
        problem: the potential F (Euclidean).
        gamma: friction γ > 0.
        beta: inverse temperature β ∈ (0, ∞].
        grad_noise_scale: s ≥ 0 (``None`` or 0: no gradient-noise term).
    """

    problem: AbstractProblem
    gamma: jnp.ndarray
    beta: jnp.ndarray
    grad_noise_scale: jnp.ndarray
    with_grad_noise: bool = eqx.field(static=True)
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, problem, gamma=1.0, beta=1.0, grad_noise_scale=None):
        _check_euclidean("UnderdampedLangevin", problem)
        check_positive("UnderdampedLangevin", "gamma", gamma, scalar=True)
        check_beta("UnderdampedLangevin", beta)
        self.problem = problem
        self.gamma = jnp.asarray(gamma)
        self.beta = jnp.asarray(beta)
        self.with_grad_noise = _with_grad_noise("UnderdampedLangevin", grad_noise_scale)
        self.grad_noise_scale = jnp.asarray(0.0 if grad_noise_scale is None else grad_noise_scale)

    @property
    def additive(self) -> bool:
        return not self.with_grad_noise or self.problem.additive_noise

    def init(self, x0):
        return jnp.stack([x0, jnp.zeros_like(x0)])

    def position(self, state):
        return state[0]

    def force(self, x):
        """−∇F(x)."""
        return -self.problem.grad(x)

    def velocity_diffusion(self, x, z):
        """B_v(x) z = √(2γ/β) z_i − s Σ(x)^{1/2} z_g  (B_v B_vᵀ = 2γ/β I + s² Σ(x))."""
        return self._noise(x, z, self.gamma.astype(x.dtype))

    def drift(self, state):
        x, v = state[0], state[1]
        return jnp.stack([v, self.force(x) - self.gamma.astype(v.dtype) * v])

    def diffusion(self, state, z):
        x = state[0]
        return jnp.stack([jnp.zeros_like(x), self.velocity_diffusion(x, z)])


class PhaseSpace(AbstractChain):
    """A view of a chain whose ``position`` is its whole state (e.g. (x, v) of a Langevin scheme).

    ``init`` takes a full state, so paths can start from a chosen phase-space law (e.g. Maxwell
    velocities) and observables, events and ``final`` see the whole state. Steps and noise are the
    chain's. Any chain works: the state is the chain's own (``init`` of the wrapped chain shows
    its structure). To read the state only in some observables or events while starting from a
    position, wrap those functions in [`OnState`][sde_opt.OnState] instead.

    Conventions of the states it exposes:

    * Langevin schemes (BAOAB, OBABO, EM of an underdamped SDE): (x, v), the position and the
      velocity at the same time t = kh.
    * [`MomentumSGD`][sde_opt.MomentumSGD] (and Nesterov, annealed heavy ball):
      ``MomentumState(x, m)`` = (x_k, x_k − x_{k−1}): the current iterate and the last
      *displacement*, not divided by η. The usual phase-space pair of heavy ball as a discretized
      second-order ODE, (x_{k−1}, v_k) with v_k = (x_k − x_{k−1})/η, is recovered as
      x_{k−1} = x − m, v_k = m/η (a start (x_{k−1}, v) maps to ``MomentumState(x_{k−1} + η v, η v)``).
      In the limit's time t = kη, m/η → dX/dt.
    """

    chain: AbstractChain

    def __init__(self, chain: AbstractChain):
        check_instance("PhaseSpace", "chain", chain, AbstractChain,
                       "a chain (e.g. BAOAB(sde, dt) or an algorithm)")
        self.chain = chain

    @property
    def dt(self):
        return self.chain.dt

    @property
    def noise(self):
        return self.chain.noise

    def init(self, state0):
        return state0

    def step(self, state, noise):
        return self.chain.step(state, noise)

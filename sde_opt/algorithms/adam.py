r"""Adam in the parametrization of Malladi, Lyu, Panigrahi & Arora (NeurIPS 2022), with its SDE."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jax.tree_util import tree_map

from ..problems._base import AbstractProblem
from ..sde.adaptive import AdamSDE, AdamSDEState
from ._adaptive import check_adaptive, check_regime, default_sigma
from ._base import AbstractAlgorithm


class AdamState(NamedTuple):
    """``theta``: θ; ``m``: first-moment average; ``u``: v/σ²; ``k``: steps taken (int32)."""

    theta: object
    m: object
    u: object
    k: jnp.ndarray


class Adam(AbstractAlgorithm):
    r"""Adam (Kingma & Ba 2015) as written by Malladi et al. (2022):

        m_{k+1} = β₁ m_k + (1 − β₁) g_k,     v_{k+1} = β₂ v_k + (1 − β₂) g_k²,
        m̂ = m_{k+1}/(1 − β₁^{k+1}),  v̂ = v_{k+1}/(1 − β₂^{k+1}),
        θ_{k+1} = θ_k − η m̂ / (√v̂ + ε),

    (m₀ = v₀ = 0; without ``bias_correction`` m̂ = m_{k+1}, v̂ = v_{k+1}). The state is
    (θ, m, u, k) with u = v/σ² (Σ = Σ_prob/σ²). Time per step t = k η² (``dt = η²``).

    **Limit** (``limit``, [`AdamSDE`][sde_opt.AdamSDE], the paper's Adam SDE): with
    σ₀ = ση, ε₀ = εη, cᵢ = (1 − βᵢ)/η², γᵢ(t) = 1 − e^{−cᵢt},

        dθ = −(√γ₂/γ₁) P⁻¹ m dt,   dm = c₁(∇f − m) dt + σ₀c₁ Σ^{1/2} dW,
        du = c₂(diag Σ − u) dt,    P = σ₀√u + ε₀√γ₂,

    on (θ, m, u) (γᵢ = 1 without bias correction, a time-homogeneous SDE). Order-1 weak
    approximation in η (the paper's theorem); square-root scaling rule: batch ×κ ⇒ η → √κ η,
    1 − βᵢ → κ(1 − βᵢ), ε → ε/√κ. Conditions ``limit`` checks:
    ``sde_opt.algorithms._adaptive.check_regime`` (ε > 0; 1 − β₁ ≤ η and 1 − β₂ ≤ η;
    ``noise_cov``); the gradient noise must dominate the gradient ((∂ᵢf)² ≪ Σ_prob,ii).

    **optax**: the same update as ``optax.adam(eta, b1=beta1, b2=beta2, eps=eps)``
    (``eps_root=0``), optax's ``mu`` = m and ``nu`` = σ²u, ``count`` = k.

    Args:
        problem: a minimization problem on flat space.
        eta: step size η > 0.
        beta1, beta2: decays β₁, β₂ ∈ [0, 1).
        eps: ε ≥ 0, added to √v̂.
        sigma: the oracle's noise scale σ > 0 (default 1/√b for a minibatch of b, else 1).
        bias_correction: divide by 1 − βᵢ^{k+1} (default, as in optax and the paper).
        u0: initial second-moment estimate u₀ ≥ 0 (units of Σ; default 0 as in optax — bias
            correction assumes it).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    beta1: jnp.ndarray
    beta2: jnp.ndarray
    eps: jnp.ndarray
    sigma: jnp.ndarray
    u0: jnp.ndarray
    bias_correction: bool = eqx.field(static=True, default=True)

    def __init__(self, problem: AbstractProblem, eta, beta1=0.9, beta2=0.999, eps=1e-8, sigma=None,
                 bias_correction: bool = True, u0=0.0):
        sigma = default_sigma(problem) if sigma is None else sigma
        check_adaptive("Adam", problem, eta, eps, sigma, {"beta1": beta1, "beta2": beta2}, u0)
        if not isinstance(bias_correction, bool):
            raise TypeError(f"Adam: bias_correction must be True or False; got {bias_correction!r}")
        self.problem = problem
        self.eta, self.beta1, self.beta2 = jnp.asarray(eta), jnp.asarray(beta1), jnp.asarray(beta2)
        self.eps, self.sigma, self.u0 = jnp.asarray(eps), jnp.asarray(sigma), jnp.asarray(u0)
        self.bias_correction = bias_correction

    @property
    def dt(self):
        return self.eta * self.eta

    def init(self, x0):
        zeros = tree_map(jnp.zeros_like, x0)
        u = tree_map(lambda a: jnp.full_like(a, self.u0), x0)
        return AdamState(x0, zeros, u, jnp.zeros((), jnp.int32))

    def step(self, state, noise):
        theta, m, u, k = state
        g = self.problem.stochastic_grad(theta, noise)
        k1 = k + 1

        b1, b2, s = self.beta1, self.beta2, self.sigma
        m = tree_map(lambda mi, gi: b1.astype(gi.dtype) * mi + (1 - b1.astype(gi.dtype)) * gi, m, g)
        u = tree_map(lambda ui, gi: b2.astype(gi.dtype) * ui
                     + (1 - b2.astype(gi.dtype)) * (gi / s.astype(gi.dtype)) ** 2, u, g)

        def move(th, mi, ui):
            d = th.dtype
            if self.bias_correction:
                n = k1.astype(d)
                mi, ui = mi / (1 - b1.astype(d) ** n), ui / (1 - b2.astype(d) ** n)
            return th - self.eta.astype(d) * mi / (s.astype(d) * jnp.sqrt(ui) + self.eps.astype(d))

        return AdamState(tree_map(move, theta, m, u), m, u, k1)

    def position(self, state):
        return state.theta

    def limit_state(self, state):
        """The limit's state (θ, m, u) of a chain state (the step count is the SDE's time)."""
        return AdamSDEState(state.theta, state.m, state.u)

    def _sde(self, noisy):
        check_regime("Adam", self.problem, self.eta, self.eps,
                     {"beta1": self.beta1, "beta2": self.beta2}, self.u0)
        h2 = self.eta**2
        return AdamSDE(self.problem, self.sigma, self.sigma * self.eta, self.eps * self.eta,
                       (1 - self.beta1) / h2, (1 - self.beta2) / h2,
                       bias_correction=self.bias_correction, noisy=noisy, u0=self.u0)

    def limit(self):
        """The Adam SDE on (θ, m, u) in time t = kη² (raises outside the paper's regime)."""
        return self._sde(True)

    def ode_limit(self):
        """The Adam SDE without its diffusion."""
        return self._sde(False)

r"""RMSprop in the parametrization of Malladi, Lyu, Panigrahi & Arora (NeurIPS 2022), with its SDE."""

from __future__ import annotations

import jax.numpy as jnp
from jax.tree_util import tree_map

from ..problems._base import AbstractProblem
from ..sde.adaptive import RMSpropSDE, RMSpropSDEState
from ._adaptive import check_adaptive, check_regime, default_sigma
from ._base import AbstractAlgorithm

RMSpropState = RMSpropSDEState  # the chain's state is the SDE's: (θ, u)


class RMSprop(AbstractAlgorithm):
    r"""RMSprop (Hinton 2012) as written by Malladi et al. (2022):

        v_{k+1} = β v_k + (1 − β) g_k²,     θ_{k+1} = θ_k − η g_k / (√v_{k+1} + ε),

    g_k one stochastic gradient of the problem, squares and roots elementwise, v₀ = 0. The state
    is (θ, u) with u = v/σ² (the paper's variable; σ the oracle's noise scale, Σ = Σ_prob/σ²).
    Time per step: t = k η² (``dt = η²``), the paper's time scale.

    **Limit** (``limit``, [`RMSpropSDE`][sde_opt.RMSpropSDE], the paper's RMSprop SDE):
    with σ₀ = ση, ε₀ = εη, c₂ = (1 − β)/η²,

        dθ = −P⁻¹ (∇f(θ) dt + σ₀ Σ(θ)^{1/2} dW),   du = c₂ (diag Σ(θ) − u) dt,   P = σ₀√u + ε₀,

    an order-1 weak approximation in η over a fixed horizon of t (the paper's theorem; the
    square-root scaling rule follows: batch ×κ ⇒ σ → σ/√κ, so η → √κ η, 1 − β → κ(1 − β),
    ε → ε/√κ keep σ₀, c₂, ε₀ and the SDE). The regime and the conditions ``limit`` checks are
    listed in ``sde_opt.algorithms._adaptive.check_regime`` (ε > 0; 1 − β ≤ η; a problem
    with ``noise_cov``); the gradient noise must also dominate the gradient,
    (∂ᵢf)² ≪ Σ_prob,ii — the term the u equation drops, of relative size (∂ᵢf)²/Σ_prob,ii.

    **optax**: the same update as ``optax.rmsprop(eta, decay=beta, eps=eps, eps_in_sqrt=False)``
    (optax's default ``eps_in_sqrt=True`` divides by √(v + ε) instead), with optax's ``nu`` = σ²u.

    Args:
        problem: a minimization problem on flat space (minibatch or Gaussian oracle).
        eta: step size η > 0.
        beta: second-moment decay β ∈ [0, 1).
        eps: ε ≥ 0, added to √v.
        sigma: the oracle's noise scale σ > 0 (default: 1/√b for a minibatch of b, else 1); it
            sets the units of u and of the limit's σ₀ — the chain's θ does not depend on it.
        u0: the initial second-moment estimate u₀ ≥ 0 in the units of Σ (v₀ = σ²u₀; default 0 as
            in optax, whose ``initial_scale`` is σ²u₀).
    """

    problem: AbstractProblem
    eta: jnp.ndarray
    beta: jnp.ndarray
    eps: jnp.ndarray
    sigma: jnp.ndarray
    u0: jnp.ndarray

    def __init__(self, problem: AbstractProblem, eta, beta=0.999, eps=1e-8, sigma=None, u0=0.0):
        sigma = default_sigma(problem) if sigma is None else sigma
        check_adaptive("RMSprop", problem, eta, eps, sigma, {"beta": beta}, u0)
        self.problem = problem
        self.eta, self.beta = jnp.asarray(eta), jnp.asarray(beta)
        self.eps, self.sigma, self.u0 = jnp.asarray(eps), jnp.asarray(sigma), jnp.asarray(u0)

    @property
    def dt(self):
        return self.eta * self.eta

    def init(self, x0):
        return RMSpropState(x0, tree_map(lambda a: jnp.full_like(a, self.u0), x0))

    def step(self, state, noise):
        theta, u = state
        g = self.problem.stochastic_grad(theta, noise)

        beta, s, eta, eps = self.beta, self.sigma, self.eta, self.eps
        u = tree_map(lambda ui, gi: beta.astype(gi.dtype) * ui
                     + (1 - beta.astype(gi.dtype)) * (gi / s.astype(gi.dtype)) ** 2, u, g)
        theta = tree_map(lambda th, gi, ui: th - eta.astype(gi.dtype) * gi
                         / (s.astype(gi.dtype) * jnp.sqrt(ui) + eps.astype(gi.dtype)), theta, g, u)
        return RMSpropState(theta, u)

    def position(self, state):
        return state.theta

    def _sde(self, noisy):
        check_regime("RMSprop", self.problem, self.eta, self.eps, {"beta": self.beta}, self.u0)
        return RMSpropSDE(self.problem, self.sigma, self.sigma * self.eta, self.eps * self.eta,
                          (1 - self.beta) / self.eta**2, noisy=noisy, u0=self.u0)

    def limit(self):
        """The RMSprop SDE on (θ, u) in time t = kη² (raises outside the paper's regime)."""
        return self._sde(True)

    def ode_limit(self):
        """The RMSprop SDE without its diffusion."""
        return self._sde(False)

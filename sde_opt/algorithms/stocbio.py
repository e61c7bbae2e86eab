r"""StocBiO: stochastic bilevel optimization with a Neumann-series hypergradient (Ji, Yang & Liang
2021; the stochastic method of Huang, Chen, Ji, Ma & Lai, JMLR 2025; digest §3.4)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp

from ..noise import joint, unjoin
from ..problems.bilevel import AbstractBilevel, ReducedHypergradient
from ..sde.field import FieldSDE
from ._base import AbstractAlgorithm
from ._bilevel import (
    add_counts,
    check_bilevel,
    check_count,
    check_scalar_step,
    inner_sgd,
    neumann,
    start_y,
    zero_counts,
)


class StocBiOState(NamedTuple):
    """``x``: outer iterate; ``y``: the warm-started inner iterate; ``g``: the last ĝ;
    ``counts``: oracle calls (``_bilevel.COUNT_NAMES``)."""

    x: jnp.ndarray
    y: jnp.ndarray
    g: jnp.ndarray
    counts: jnp.ndarray


def stocbio_parts(problem, D: int, Q: int) -> tuple:
    """The samplers of one StocBiO hypergradient: D lower gradients, one upper call, Q + 1
    Hessian/Jacobian-vector products (when the problem's second derivatives are noisy)."""
    parts = [problem.lower_noise(D), problem.upper_noise]
    h = problem.hessian_noise(Q + 1)
    return tuple(parts) if h is None else (*parts, h)


def stocbio_estimate(problem, x, y, alpha, Q: int, upper, hess=None):
    r"""The Neumann-series hypergradient at a given y: ĝ = ∇ₓF − ∇²ₓᵧG z,
    z = α Σ_{q=0}^{Q} Π_{j≤q}(I − α∇²ᵧG_j) ∇ᵧF (Q HVPs). ``upper``: one upper-oracle draw;
    ``hess``: Q + 1 second-derivative draws (``None``: exact second derivatives). Its mean and
    covariance are ``stocbio_call_moments``."""
    gx, gy = problem.stochastic_upper_grads(x, y, upper)
    if hess is not None:
        z = neumann(lambda u, nz: problem.stochastic_lower_hvp(x, y, u, nz), gy, alpha, Q, hess[:Q])
        return gx - problem.stochastic_lower_cross(x, y, z, hess[Q])
    z = neumann(lambda u, nz: problem.lower_hvp(x, y, u), gy, alpha, Q)
    return gx - problem.lower_cross(x, y, z)


def stocbio_hypergradient(problem, x, y, alpha, D: int, Q: int, draws):
    r"""One stochastic hypergradient from the warm start y: returns (ĝ, y_D, counts added).

        y_D = D SGD steps y ← y − α∇ᵧG(x, y; ζ_t);   ĝ = ``stocbio_estimate`` at (x, y_D).
    """
    lower, upper, *hess = draws
    y = inner_sgd(problem, x, y, alpha, lower)
    g = stocbio_estimate(problem, x, y, alpha, Q, upper, hess[0] if hess else None)
    return g, y, dict(grad_f=1, grad_g=D, jvp=1, hvp=Q)


class StocBiO(AbstractAlgorithm):
    r"""StocBiO:  x_{k+1} = x_k − β ĝ_k,  ĝ_k a Neumann-series stochastic hypergradient.

    Per outer step (digest §3.4): y_k⁰ = y_{k−1}^D (warm start), D SGD steps on y with ∇ᵧG;
    z^Q = α Σ_{q=0}^{Q} Π_j (I − α∇²ᵧG(x, y; B_j)) ∇ᵧF (Q Hessian-vector products);
    ĝ = ∇ₓF − ∇²ₓᵧG z^Q. Noise per step: every oracle draw of the step (``stocbio_parts``).

    Diffusion limit (t = kβ, β → 0 at fixed α, D, Q; ``sde_opt.theory.bilevel``):

        dX = −∇Φ_Q(X) dt + √β Σ_Φ(X)^{1/2} dW,

    with ∇Φ_Q = ∇ₓf − J H_Q⁻¹ ∇ᵧf (H_Q⁻¹ = α Σ_{q≤Q}(I − αH)^q: the finite-Q bias as a drift
    correction) and Σ_Φ the long-run covariance of ĝ from the oracle covariances through the
    implicit function theorem ([`ReducedHypergradient`][sde_opt.problems.ReducedHypergradient]).

    Args:
        problem: a bilevel problem. alpha: inner and Neumann step α ∈ (0, 2/ℓ) (≤ 1/ℓ for the
            Neumann series to converge). beta: outer step β > 0. D: inner SGD steps ≥ 1.
        Q: Neumann terms ≥ 1.
    """

    problem: AbstractBilevel
    alpha: jnp.ndarray
    beta: jnp.ndarray
    D: int = eqx.field(static=True)
    Q: int = eqx.field(static=True)

    def __init__(self, problem, alpha, beta, D=10, Q=10):
        check_bilevel("StocBiO", problem)
        check_scalar_step("StocBiO", "alpha", alpha)
        problem.check_lower_step("StocBiO", alpha)
        check_scalar_step("StocBiO", "beta", beta)
        self.problem = problem
        self.alpha = jnp.asarray(alpha)
        self.beta = jnp.asarray(beta)
        self.D = check_count("StocBiO", "D", D)
        self.Q = check_count("StocBiO", "Q", Q)

    @property
    def dt(self):
        return self.beta

    @property
    def noise(self):
        return joint(*stocbio_parts(self.problem, self.D, self.Q))

    def init(self, x0, y0=None):
        y0 = start_y("StocBiO", self.problem, x0, y0)
        return StocBiOState(x0, y0, jnp.zeros_like(x0), zero_counts())

    def step(self, state, noise):
        x, y, _, counts = state
        draws = unjoin(stocbio_parts(self.problem, self.D, self.Q), noise)
        draws = tuple(d.astype(x.dtype) if jnp.issubdtype(d.dtype, jnp.floating) else d
                      for d in draws)
        g, y, c = stocbio_hypergradient(self.problem, x, y, self.alpha, self.D, self.Q, draws)
        return StocBiOState(x - self.beta.astype(x.dtype) * g, y, g, add_counts(counts, **c))

    def position(self, state):
        return state.x

    def reduced_problem(self) -> ReducedHypergradient:
        return ReducedHypergradient(self.problem, self.alpha, self.D, self.Q)

    def limit(self):
        return FieldSDE(self.reduced_problem(), 1.0, jnp.sqrt(self.beta))

    def ode_limit(self):
        return FieldSDE(self.reduced_problem(), 1.0, 0.0)

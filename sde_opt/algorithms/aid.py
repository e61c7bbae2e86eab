r"""AID with warm start (approximate implicit differentiation; AID-BiO of Ji, Yang & Liang 2021,
the building block of Huang, Chen, Ji, Ma & Lai, JMLR 2025, §3.4 of the paper digest)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp

from ..noise import StandardNormal
from ..problems.bilevel import AbstractBilevel
from ..sde.field import FieldSDE
from ._base import AbstractAlgorithm
from ._bilevel import (
    add_counts,
    cg,
    check_bilevel,
    check_count,
    check_flag,
    check_scalar_step,
    inner_gd,
    start_y,
    zero_counts,
)


class AIDState(NamedTuple):
    """``x``: the outer iterate; ``y``, ``v``: the warm-started inner and CG iterates; ``g``: the
    last hypergradient estimate ĝ; ``counts``: oracle calls (``_bilevel.COUNT_NAMES``)."""

    x: jnp.ndarray
    y: jnp.ndarray
    v: jnp.ndarray
    g: jnp.ndarray
    counts: jnp.ndarray


def aid_hypergradient(problem, x, y, v, alpha, D: int, N: int):
    """One AID hypergradient from the warm starts (y, v): returns (ĝ, y_D, v_N, counts added).

        y_D = D steps of y ← y − α∇ᵧg(x, y);   v_N = N CG steps on ∇²ᵧg(x, y_D) v = ∇ᵧf(x, y_D)
        from v;   ĝ = ∇ₓf(x, y_D) − ∇²ₓᵧg(x, y_D) v_N.
    """
    y = inner_gd(problem, x, y, alpha, D)
    gx, gy = problem.upper_grads(x, y)
    v, n_hvp = cg(problem, x, y, gy, v, N)
    g = gx - problem.lower_cross(x, y, v)
    return g, y, v, dict(grad_f=1, grad_g=D, jvp=1, hvp=n_hvp)


class AID(AbstractAlgorithm):
    r"""Hypergradient descent with AID, warm-started:  x_{k+1} = x_k − β ĝ_k.

    Per outer step k (digest §3.4): y_k⁰ = y_{k−1}^D (warm start), D steps
    y ← y − α∇ᵧg(x_k, y); v_k⁰ = v_{k−1}^N, N conjugate-gradient steps (lineax CG on the operator
    v ↦ ∇²ᵧg(x_k, y_k^D) v, a JVP) on ∇²ᵧg v = ∇ᵧf; ĝ_k = ∇ₓf − ∇²ₓᵧg v_k^N (a VJP).
    ``warm_start=False`` restarts y and v from 0 each step (the contrast of the study).

    Deterministic: the chain consumes one unused normal per step (the engine's contract).
    Time per step t = kβ; limit (β → 0 with warm start, where y_k, v_k track y*(x_k), v*(x_k)):
    the gradient flow dX = −∇Φ(X) dt of the reduced objective (the lag is O(β)).

    Args:
        problem: a bilevel problem ([`AbstractBilevel`][sde_opt.AbstractBilevel]).
        alpha: inner step α ∈ (0, 2/ℓ) (checked where ℓ is known; α ≤ 1/ℓ in the theory).
        beta: outer step β > 0.
        D: inner gradient steps ≥ 1.  N: CG steps ≥ 1.
        warm_start: carry y and v across outer steps (default True).
    """

    problem: AbstractBilevel
    alpha: jnp.ndarray
    beta: jnp.ndarray
    D: int = eqx.field(static=True)
    N: int = eqx.field(static=True)
    warm_start: bool = eqx.field(static=True)

    def __init__(self, problem, alpha, beta, D=10, N=5, warm_start=True):
        check_bilevel("AID", problem)
        check_scalar_step("AID", "alpha", alpha)
        problem.check_lower_step("AID", alpha)
        check_scalar_step("AID", "beta", beta)
        self.problem = problem
        self.alpha = jnp.asarray(alpha)
        self.beta = jnp.asarray(beta)
        self.D = check_count("AID", "D", D)
        self.N = check_count("AID", "N", N)
        self.warm_start = check_flag("AID", "warm_start", warm_start)

    @property
    def dt(self):
        return self.beta

    @property
    def noise(self):
        return StandardNormal((1,))

    def init(self, x0, y0=None):
        y0 = start_y("AID", self.problem, x0, y0)
        return AIDState(x0, y0, jnp.zeros_like(y0), jnp.zeros_like(x0), zero_counts())

    def step(self, state, noise):
        x, y, v, _, counts = state
        if not self.warm_start:
            y, v = jnp.zeros_like(y), jnp.zeros_like(v)
        g, y, v, c = aid_hypergradient(self.problem, x, y, v, self.alpha, self.D, self.N)
        x = x - self.beta.astype(x.dtype) * g
        return AIDState(x, y, v, g, add_counts(counts, **c))

    def position(self, state):
        return state.x

    def limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

    def ode_limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

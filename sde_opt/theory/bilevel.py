r"""Bilevel theory: the reduced SDE of StocBiO, AID's warm-start contraction, saddle escape.

* **Reduced SDE** (stochastic hypergradient descent as one diffusion on x; t = kβ):

      dX = −∇Φ_Q(X) dt + √β Σ_Φ(X)^{1/2} dW,

  ∇Φ_Q = ∇Φ + J (H⁻¹ − H_Q⁻¹) ∇ᵧf the finite-Q drift correction (H_Q⁻¹ the Neumann sum), Σ_Φ the
  long-run covariance of the hypergradient estimator from the oracle covariances through the
  implicit function theorem ([`ReducedHypergradient`][sde_opt.problems.ReducedHypergradient]; the
  warm-started inner error is an AR(1) chain whose long-run covariance enters). At a minimum it
  gives the Lyapunov covariance (``reduced_stationary_covariance``); at a strict saddle the
  exit time of the linear SDE (``reduced_saddle_exit_mean``, Dawson integral).
* **AID warm-start contraction** at a fixed x (``aid_contraction``): the hypergradient error
  of AID with warm start contracts per outer step asymptotically by

      ρ_AID = max{ (1 − αμ)^D ,  c_N },   c_N = 2ϱ^N/(1 + ϱ^{2N}),   ϱ = (√κ − 1)/(√κ + 1),

  the first the exact rate of D gradient steps on the slowest mode of the lower level (attained
  when that mode drives the error), the second the Chebyshev bound of N restarted CG steps in the
  H-norm (an upper bound; CG on a given spectrum is faster). Without warm start the error does
  not contract: it stays at the level of one cold solve.
* **Perturbed AID escape**: ``sde_opt.theory.kicked_escape`` (one implementation, shared with
  perturbed GDmax); ``perturbed_aid_escape_growth`` gives its growth factor 1 + β|λ_min|.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import (
    check_callable,
    check_instance,
    check_integer,
    check_positive,
    check_range,
)
from ..problems.bilevel import (
    AbstractBilevel,
    ReducedHypergradient,
    biased_hypergradient,
    check_point_of,
    inner_error_covariances,
    neumann_inverse,
    stocbio_call_moments,
)
from ..sde.field import FieldSDE
from .lyapunov import lyapunov_covariance
from .saddle_exit import saddle_exit_mean, saddle_exit_mean_em

__all__ = ["ReducedHypergradient", "biased_hypergradient", "inner_error_covariances",
           "neumann_inverse", "stocbio_call_moments", "reduced_sde", "gd_contraction", "cg_contraction_bound",
           "aid_contraction", "reduced_stationary_covariance", "reduced_saddle_exit_mean",
           "reduced_saddle_exit_mean_em", "perturbed_aid_escape_growth", "reduced_linearization",
           "diffusion_exit_mean_1d", "reduced_unstable_noise"]


def reduced_sde(problem, alpha, beta, D: int, Q: int) -> FieldSDE:
    """dX = −∇Φ_Q dt + √β Σ_Φ^{1/2} dW for StocBiO(problem, alpha, beta, D, Q)."""
    owner = "reduced_sde"
    _check_bilevel(owner, problem)
    check_positive(owner, "alpha", alpha, scalar=True)
    check_positive(owner, "beta", beta, scalar=True)
    check_integer(owner, "D", D, low=1)
    check_integer(owner, "Q", Q, low=1)
    return FieldSDE(ReducedHypergradient(problem, alpha, D, Q), 1.0, jnp.sqrt(jnp.asarray(beta)))


def gd_contraction(alpha: float, mu: float, ell: float, D: int) -> float:
    """max_{λ ∈ [μ, ℓ]} |1 − αλ|^D: D gradient steps' contraction on a quadratic lower level."""
    return _gd_contraction("gd_contraction", alpha, mu, ell, D)


def _gd_contraction(owner, alpha, mu, ell, D):
    for name, v in (("alpha", alpha), ("mu", mu), ("ell", ell)):
        check_positive(owner, name, v, scalar=True)
    if ell < mu:
        raise ValueError(f"{owner}: ell (the largest curvature) must be >= mu; got ell={ell!r}, "
                         f"mu={mu!r}")
    D = check_integer(owner, "D", D, low=1)
    return max(abs(1 - alpha * mu), abs(1 - alpha * ell)) ** D


def cg_contraction_bound(kappa: float, N: int) -> float:
    r"""c_N = 2ϱ^N/(1 + ϱ^{2N}) = 1/T_N((κ+1)/(κ−1)), ϱ = (√κ−1)/(√κ+1): N CG steps' H-norm bound."""
    owner = "cg_contraction_bound"
    check_range(owner, "kappa", kappa, 1.0, np.inf, high_closed=False, scalar=True)
    N = check_integer(owner, "N", N, low=1)
    if kappa == 1:
        return 0.0
    rho = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    return 2 * rho**N / (1 + rho ** (2 * N))


def aid_contraction(*, alpha: float, mu: float, ell: float, D: int, N: int) -> dict:
    """The predicted per-outer-step contraction of AID's hypergradient error at a fixed x.

    Returns ``{"gd": (1−αμ)^D-type factor, "cg": c_N, "rate": max of the two, "limited_by":
    "gd" | "cg"}`` (module docstring). "gd" is an exact asymptotic rate, "cg" an upper bound.
    """
    for name, v in (("D", D), ("N", N)):
        check_integer("aid_contraction", name, v, low=1)
    gd = _gd_contraction("aid_contraction", alpha, mu, ell, D)
    cgb = cg_contraction_bound(ell / mu, N)
    return {"gd": gd, "cg": cgb, "rate": max(gd, cgb), "limited_by": "gd" if gd >= cgb else "cg"}


def reduced_linearization(reduced: ReducedHypergradient, x) -> tuple[np.ndarray, np.ndarray]:
    """(A, Σ_Φ) at x: A = −∂∇Φ_Q/∂x (the drift matrix of the linearized reduced SDE), Σ_Φ(x)."""
    _check_reduced("reduced_linearization", reduced, "x", x)
    return _linearization(reduced, x)


def _linearization(reduced, x):
    with jax.enable_x64(True):  # in float64 whatever the caller's setting
        x = jnp.asarray(x, jnp.float64)
        a = -np.asarray(jax.jacfwd(reduced.grad)(x), np.float64)
        return a, np.asarray(reduced.grad_noise_cov(x), np.float64)


def reduced_stationary_covariance(reduced: ReducedHypergradient, x_min, beta: float) -> np.ndarray:
    r"""Stationary covariance of the reduced SDE linearized at a minimum of Φ_Q:
    A S + S Aᵀ + β Σ_Φ = 0 (Lyapunov), A = −∇²Φ_Q(x_min)."""
    _check_reduced("reduced_stationary_covariance", reduced, "x_min", x_min, beta=beta)
    a, sig = _linearization(reduced, x_min)
    return lyapunov_covariance(a, np.linalg.cholesky(beta * sig + 1e-300 * np.eye(len(sig))))


def _check_bilevel(owner, problem):
    check_instance(owner, "problem", problem, AbstractBilevel,
                   "a bilevel problem (an AbstractBilevel)")


def _check_reduced(owner, reduced, point_name, point, **positive):
    """A ReducedHypergradient, a point of its shape, and positive scalars (beta, radius)."""
    check_instance(owner, "reduced", reduced, ReducedHypergradient)
    check_point_of(owner, point_name, point, reduced.shape)
    for name, value in positive.items():
        check_positive(owner, name, value, scalar=True)


def _unstable(reduced, x_saddle, beta):
    a, sig = _linearization(reduced, x_saddle)
    e, v = np.linalg.eigh(0.5 * (a + a.T))
    if not e[-1] > 0:
        raise ValueError("reduced saddle exit: x_saddle is not a strict saddle of Φ_Q (no unstable "
                         f"direction; eigenvalues of −∇²Φ_Q: {e})")
    u = v[:, -1]
    return float(e[-1]), math.sqrt(beta * float(u @ sig @ u))


def reduced_saddle_exit_mean(reduced, x_saddle, beta: float, radius: float) -> float:
    r"""Mean time (in t = kβ) for the reduced SDE started at a strict saddle to reach
    |⟨X − x_s, u⟩| ≥ radius along the unstable eigenvector u: the linear-SDE Dawson formula
    ([`saddle_exit_mean`][sde_opt.theory.saddle_exit_mean]) with λ = |λ_min(∇²Φ_Q)| and σ² = β uᵀΣ_Φu.
    Divide by β for iterations."""
    _check_reduced("reduced_saddle_exit_mean", reduced, "x_saddle", x_saddle, beta=beta,
                   radius=radius)
    lam, sigma = _unstable(reduced, x_saddle, beta)
    return saddle_exit_mean(lam, sigma, radius)


def reduced_saddle_exit_mean_em(reduced, x_saddle, beta: float, radius: float) -> float:
    """The same exit for the Euler–Maruyama chain of step β (the discrete-time correction)."""
    _check_reduced("reduced_saddle_exit_mean_em", reduced, "x_saddle", x_saddle, beta=beta,
                   radius=radius)
    lam, sigma = _unstable(reduced, x_saddle, beta)
    return saddle_exit_mean_em(lam, sigma, radius, beta)


def perturbed_aid_escape_growth(problem, x_saddle, beta: float) -> float:
    """1 + β|λ_min(∇²Φ(x_saddle))|: the per-step growth of the unstable component after a kick
    (exact hypergradient; AID's warm-started error adds a perturbation that decays at
    ``aid_contraction``'s rate)."""
    owner = "perturbed_aid_escape_growth"
    _check_bilevel(owner, problem)
    check_point_of(owner, "x_saddle", x_saddle, problem.shape)
    check_positive(owner, "beta", beta, scalar=True)
    with jax.enable_x64(True):  # the Hessian in float64 (without x64 the cast is to float32)
        h = np.asarray(problem.hessian(jnp.asarray(x_saddle, jnp.float64)), np.float64)
    lam = float(np.linalg.eigvalsh(0.5 * (h + h.T)).min())
    if not lam < 0:
        raise ValueError(f"perturbed_aid_escape_growth: x_saddle is not a strict saddle "
                         f"(λ_min(∇²Φ) = {lam:.4g} >= 0)")
    return 1.0 + beta * abs(lam)


def diffusion_exit_mean_1d(potential, sigma: float, radius: float, n: int = 20001) -> float:
    r"""Exact mean exit time from (−radius, radius) of dX = −U′(X) dt + σ dW started at 0:

        E τ = (2/σ²) ∫_0^R e^{2U(y)/σ²} ∫_0^y e^{−2U(z)/σ²} dz dy       (U even, U(0) = 0),

    by the trapezoid rule on ``n`` points (the solution of (σ²/2)T″ − U′T′ = −1, T(±R) = 0).
    Along the unstable coordinate of [`QuadraticBilevel`][sde_opt.QuadraticBilevel]'s separable
    reduced SDE, U(x) = γ₁x²/2 + ω₁x⁴/4 (+ the finite-Q shift of γ₁): the nonlinear exit time,
    not only its linearization.
    """
    owner = "diffusion_exit_mean_1d"
    check_callable(owner, "potential", potential, "a function U(x) (vectorized over an array)")
    check_positive(owner, "sigma", sigma, scalar=True)
    check_positive(owner, "radius", radius, scalar=True)
    n = check_integer(owner, "n", n, low=2)
    y = np.linspace(0.0, radius, n)
    u = 2.0 * np.asarray(potential(y), np.float64) / sigma**2
    inner = np.concatenate([[0.0], np.cumsum(0.5 * (np.exp(-u[1:]) + np.exp(-u[:-1])) * np.diff(y))])
    outer = np.exp(u) * inner
    return float(2.0 / sigma**2 * np.sum(0.5 * (outer[1:] + outer[:-1]) * np.diff(y)))


def reduced_unstable_noise(reduced, x_saddle, beta: float) -> tuple[float, float]:
    """(λ, σ) of the reduced SDE along the unstable eigenvector at a strict saddle."""
    _check_reduced("reduced_unstable_noise", reduced, "x_saddle", x_saddle, beta=beta)
    return _unstable(reduced, x_saddle, beta)


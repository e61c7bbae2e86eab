r"""Closed forms and exact references for Langevin dynamics and their discretizations.

* Linear chains (any scheme or algorithm on a quadratic with Gaussian noise): the step is affine,
  z' = M z + N ξ + c, so the exact discrete stationary law solves the discrete Lyapunov equation
  P = M P Mᵀ + N Nᵀ and the exact discrete relaxation rate is −log ρ(M)/h. M and N are read off
  the chain itself by automatic differentiation (``chain_linearization``) — one derivation for
  every linear scheme.
* Gibbs moments in 1-D by quadrature; the exact 1-D mean first-passage time (double integral);
  Eyring–Kramers and Kramers–Langer rates (validation-theory §4; ``kramers_rate``); the
  effective temperature of SGLD/SGHMC with a noisy oracle; the underdamped relaxation rate on a
  quadratic (papers.md §2.5).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from scipy.integrate import cumulative_trapezoid, trapezoid

from .._chain import AbstractChain
from .._checks import (
    check_array,
    check_bool,
    check_callable,
    check_instance,
    check_integer,
    check_scalar,
    check_seed,
)
from ..noise import StandardNormal


class Linearization(NamedTuple):
    """state' = M state + N noise + c, on the flattened state (``shape`` its original shape)."""

    M: np.ndarray
    N: np.ndarray
    c: np.ndarray
    shape: tuple


def chain_linearization(chain, x0, *, check: bool = True, seed: int = 0) -> Linearization:
    """M = ∂step/∂state, N = ∂step/∂noise and c = step(0, 0), in float64.

    ``chain.noise`` must be a [`StandardNormal`][sde_opt.StandardNormal]. With ``check`` the step is
    verified to be affine (at random states and noises) and a ``ValueError`` is raised otherwise:
    the result is exact only for linear chains (a scheme on a quadratic with additive noise).
    """
    return _linearization("chain_linearization", chain, x0, check, seed)


def _linearization(owner, chain, x0, check=True, seed=0) -> Linearization:
    check_instance(owner, "chain", chain, AbstractChain,
                   "a chain (a scheme such as BAOAB(sde, dt), or an algorithm)")
    check = check_bool(owner, "check", check)
    seed = check_seed(owner, "seed", seed)
    x0 = check_array(owner, "x0", x0)
    shape = getattr(chain, "point_shape", None)
    if isinstance(shape, tuple) and x0.shape != shape:
        raise ValueError(f"{owner}: x0 must be a point of shape {shape}; got shape {x0.shape}")
    if not isinstance(chain.noise, StandardNormal):
        raise ValueError(f"{owner}: chain's noise must be a StandardNormal; got a chain whose "
                         f"noise is {type(chain.noise).__name__}")
    with jax.enable_x64(True):
        s0 = jnp.asarray(chain.init(jnp.asarray(x0, jnp.float64)), jnp.float64)
        shape = s0.shape
        zshape = chain.noise.shape
        n, m = s0.size, math.prod(zshape)

        def f(s, z):
            return jnp.ravel(chain.step(s.reshape(shape), z.reshape(zshape)))

        s_zero, z_zero = jnp.zeros(n), jnp.zeros(m)
        M = np.asarray(jax.jacfwd(f, 0)(s_zero, z_zero))
        N = np.asarray(jax.jacfwd(f, 1)(s_zero, z_zero))
        c = np.asarray(f(s_zero, z_zero))
        if check:
            rng = np.random.default_rng(seed)
            for _ in range(3):
                s, z = rng.standard_normal(n), rng.standard_normal(m)
                got = np.asarray(f(jnp.asarray(s), jnp.asarray(z)))
                want = M @ s + N @ z + c
                if not np.allclose(got, want, rtol=1e-9, atol=1e-9 * (1 + np.abs(want).max())):
                    raise ValueError(f"{owner}: chain must have a step affine in (state, noise) "
                                     "(the discrete Lyapunov law would not be exact); got a "
                                     "nonlinear step")
    return Linearization(M, N, c, tuple(shape))


def _grid(owner, lo_name, lo, hi_name, hi, n):
    lo = check_scalar(owner, lo_name, lo, low_closed=False, high_closed=False)
    hi = check_scalar(owner, hi_name, hi, lo, math.inf, low_closed=False, high_closed=False)
    n = check_integer(owner, "n", n, low=3)
    return lo, hi, n


def _potential(owner, potential, x):
    """potential(x) on a grid: a callable returning finite values of the grid's shape."""
    check_callable(owner, "potential", potential, "a function V(x) of a NumPy array")
    v = np.asarray(potential(x), dtype=float)
    if v.shape != x.shape or not np.all(np.isfinite(v)):
        bad = "of shape " + str(v.shape) if v.shape != x.shape else "non-finite values"
        raise ValueError(f"{owner}: potential must return finite values of the grid's shape "
                         f"{x.shape}; got {bad}")
    return v


def _hessian(owner, name, h) -> np.ndarray:
    """A Hessian: a scalar (1-D), its eigenvalues (a vector: the diagonal) or a symmetric
    square matrix."""
    h = check_array(owner, name, h, ndim=(0, 1, 2)).astype(float)
    if h.ndim == 1:
        h = np.diag(h)
    h = np.atleast_2d(h)
    if h.shape[0] != h.shape[1] or not np.allclose(h, h.T):
        raise ValueError(f"{owner}: {name} must be a symmetric square matrix (or its eigenvalues); "
                         f"got shape {h.shape}")
    return h


def _hessians(owner, hess_min, hess_saddle):
    """(H_min, H_saddle, λ₁(H_saddle)): H_min positive definite, H_saddle with one negative
    eigenvalue, of the same size."""
    hm = _hessian(owner, "hess_min", hess_min)
    hs = _hessian(owner, "hess_saddle", hess_saddle)
    if hs.shape != hm.shape:
        raise ValueError(f"{owner}: hess_saddle must have the shape of hess_min {hm.shape}; got "
                         f"{hs.shape}")
    low = float(np.linalg.eigvalsh(hm).min())
    if not low > 0:
        raise ValueError(f"{owner}: hess_min must be positive definite (a minimum); got a "
                         f"smallest eigenvalue of {low:.4g}")
    e = np.linalg.eigvalsh(hs)
    if not (e[0] < 0 and (e.size == 1 or e[1] > 0)):
        raise ValueError(f"{owner}: hess_saddle must have exactly one negative eigenvalue (an "
                         f"index-1 saddle); got eigenvalues {np.round(e, 6).tolist()}")
    return hm, hs, float(e[0])


def _barrier_eps(owner, barrier, eps):
    return (check_scalar(owner, "barrier", barrier, 0.0, math.inf, low_closed=False,
                         high_closed=False),
            check_scalar(owner, "eps", eps, 0.0, math.inf, low_closed=False, high_closed=False))


def chain_stationary_covariance(chain, x0):
    """(mean, covariance) of the exact stationary law of a linear chain, on the flattened state.

    Solves P = M P Mᵀ + N Nᵀ (``scipy.linalg.solve_discrete_lyapunov``) and m = (I − M)⁻¹ c;
    raises if the chain is unstable (spectral radius of M ≥ 1).
    """
    lin = _linearization("chain_stationary_covariance", chain, x0)
    rho = float(np.max(np.abs(np.linalg.eigvals(lin.M))))
    if rho >= 1.0:
        raise ValueError(f"chain_stationary_covariance: chain must be stable; got ρ(M) = "
                         f"{rho:.6g}")
    P = scipy.linalg.solve_discrete_lyapunov(lin.M, lin.N @ lin.N.T)
    mean = np.linalg.solve(np.eye(lin.M.shape[0]) - lin.M, lin.c)
    return mean, 0.5 * (P + P.T)


def chain_relaxation_rate(chain, x0) -> float:
    """−log ρ(M) / dt: the exact exponential rate at which a linear chain forgets its start."""
    lin = _linearization("chain_relaxation_rate", chain, x0)
    rho = float(np.max(np.abs(np.linalg.eigvals(lin.M))))
    return -math.log(rho) / float(chain.dt)


def underdamped_quadratic_rate(m, gamma):
    """Slowest decay rate of dX = V dt, dV = −(mX + γV) dt: (γ − Re√(γ² − 4m))/2; √m at γ = 2√m."""
    m = check_array("underdamped_quadratic_rate", "m", m, low=0.0, low_closed=False)
    gamma = check_array("underdamped_quadratic_rate", "gamma", gamma, low=0.0, low_closed=False)
    m, gamma = m.astype(float), gamma.astype(float)
    return 0.5 * (gamma - np.real(np.sqrt((gamma**2 - 4 * m).astype(complex))))


def gibbs_expectations(potential, beta: float, fns: dict, lo: float, hi: float,
                       n: int = 200_001) -> dict:
    """E_π f for π ∝ e^{−βV} on [lo, hi] (1-D), trapezoidal quadrature in float64."""
    owner = "gibbs_expectations"
    beta = check_scalar(owner, "beta", beta, 0.0, math.inf, low_closed=False, high_closed=False)
    lo, hi, n = _grid(owner, "lo", lo, "hi", hi, n)
    check_instance(owner, "fns", fns, dict, "a dict name -> function")
    for name, fn in fns.items():
        check_callable(owner, f"fns[{name!r}]", fn)
    x = np.linspace(lo, hi, n)
    v = _potential(owner, potential, x)
    w = np.exp(-beta * (v - v.min()))
    z = trapezoid(w, x)
    return {name: float(trapezoid(w * fn(x), x) / z) for name, fn in fns.items()}


def mean_first_passage_1d(potential, eps: float, x0: float, b: float, lo: float,
                          n: int = 400_001) -> float:
    r"""Exact mean first-passage time of dX = −V'(X) dt + √(2ε) dW from x0 to b > x0,
    reflecting at ``lo`` (far below): T = (1/ε) ∫_{x0}^{b} e^{V(y)/ε} ∫_{lo}^{y} e^{−V(z)/ε} dz dy.

    Evaluated on one grid (cumulative trapezoid, float64, exponents shifted to avoid overflow);
    the error is O(grid²), below 1e-7 relative for the default grid on the quartic double well.
    """
    owner = "mean_first_passage_1d"
    eps = check_scalar(owner, "eps", eps, 0.0, math.inf, low_closed=False, high_closed=False)
    x0 = check_scalar(owner, "x0", x0, low_closed=False, high_closed=False)
    b = check_scalar(owner, "b", b, x0, math.inf, low_closed=False, high_closed=False)
    lo = check_scalar(owner, "lo", lo, -math.inf, x0, low_closed=False, high_closed=False)
    n = check_integer(owner, "n", n, low=3)
    y = np.linspace(lo, b, n)
    v = _potential(owner, potential, y)
    inner = cumulative_trapezoid(np.exp(-(v - v.min()) / eps), y, initial=0.0)
    with np.errstate(divide="ignore"):
        log_outer = (v - v.min()) / eps + np.log(inner)
    mask = y >= x0
    ys, lo_ = y[mask], log_outer[mask]
    # add the sliver between x0 and the first grid point ≥ x0
    ys = np.concatenate([[x0], ys])
    lo_ = np.concatenate([[np.interp(x0, y, log_outer)], lo_])
    top = lo_.max()
    return float(math.exp(top) * trapezoid(np.exp(lo_ - top), ys) / eps)


def eyring_kramers_time(hess_min, hess_saddle, barrier: float, eps: float) -> float:
    r"""E τ ≈ 2π/|λ₁(z)| · √(|det ∇²V(z)| / det ∇²V(x)) · e^{ΔV/ε} (overdamped; validation-theory
    §4.1)."""
    hm, hs, lam1 = _hessians("eyring_kramers_time", hess_min, hess_saddle)
    barrier, eps = _barrier_eps("eyring_kramers_time", barrier, eps)
    pref = 2 * math.pi / abs(lam1) * math.sqrt(abs(np.linalg.det(hs)) / np.linalg.det(hm))
    return pref * math.exp(barrier / eps)


def kramers_langer_rate(hess_min, hess_saddle, barrier: float, eps: float, gamma: float) -> float:
    r"""k = (λ₊/2π) √(det ∇²U(x)/|det ∇²U(z)|) e^{−ΔU/ε}, λ₊ = −γ/2 + √(γ²/4 + |λ₁(z)|)
    (underdamped, spatial-diffusion regime γ I_b/ε ≫ 1; validation-theory §4.2). Mean time 1/k."""
    hm, hs, lam1 = _hessians("kramers_langer_rate", hess_min, hess_saddle)
    barrier, eps = _barrier_eps("kramers_langer_rate", barrier, eps)
    gamma = check_scalar("kramers_langer_rate", "gamma", gamma, 0.0, math.inf, high_closed=False)
    lam_plus = -gamma / 2 + math.sqrt(gamma**2 / 4 + abs(lam1))
    pref = lam_plus / (2 * math.pi) * math.sqrt(np.linalg.det(hm) / abs(np.linalg.det(hs)))
    return pref * math.exp(-barrier / eps)


def kramers_rate(hess_min, hess_saddle, barrier: float, eps: float, gamma=None) -> float:
    r"""Leading-order (ε → 0) rate of escape from the basin of a minimum x over a saddle z:

    k = (λ/2π) √(det ∇²V(x) / |det ∇²V(z)|) e^{−ΔV/ε},

    with λ = |λ₁(z)| for the overdamped dX = −∇V dt + √(2ε) dW (Eyring–Kramers, ``gamma=None``;
    k = 1/``eyring_kramers_time``) and λ = λ₊(γ) = −γ/2 + √(γ²/4 + |λ₁(z)|) for the
    underdamped dX = V dt, dV = −(∇U + γV) dt + √(2γε) dW (Kramers–Langer,
    ``kramers_langer_rate``). λ₊(γ) ≤ √|λ₁(z)|: the friction only changes the prefactor, the
    Arrhenius exponent ΔV/ε is the same. A two-well system relaxes at k₁₂ + k₂₁ (sum over the
    two minima, the spectral gap to the same order).
    """
    hm, hs, lam1 = _hessians("kramers_rate", hess_min, hess_saddle)
    barrier, eps = _barrier_eps("kramers_rate", barrier, eps)
    if gamma is not None:
        gamma = check_scalar("kramers_rate", "gamma", gamma, 0.0, math.inf, high_closed=False)
    lam = abs(lam1) if gamma is None else float(kramers_langer_lambda_plus(gamma, abs(lam1)))
    return lam / (2 * math.pi) * math.sqrt(np.linalg.det(hm) / abs(np.linalg.det(hs))) \
        * math.exp(-barrier / eps)


def langevin_effective_temperature(beta: float, eta: float, oracle_variance: float,
                                   gamma=None) -> float:
    r"""Temperature of SGLD (``gamma=None``) or SGHMC with a noisy gradient oracle of variance σ²:

    T = 1/β + ησ²/2 (SGLD),  T = 1/β + ησ²/(2γ) (SGHMC, friction γ).

    The oracle's (additive) noise adds to the injected noise, to leading order in η: in SGLD its
    per-step variance η²σ² adds to the injected 2η/β; in SGHMC it enters the momentum, whose
    fluctuation–dissipation balance divides it by the friction γ. Time is t = kη.
    """
    owner = "langevin_effective_temperature"
    beta = check_scalar(owner, "beta", beta, 0.0, math.inf, low_closed=False)
    eta = check_scalar(owner, "eta", eta, 0.0, math.inf, low_closed=False, high_closed=False)
    oracle_variance = check_scalar(owner, "oracle_variance", oracle_variance, 0.0, math.inf,
                                   high_closed=False)
    if gamma is not None:
        gamma = check_scalar(owner, "gamma", gamma, 0.0, math.inf, low_closed=False,
                             high_closed=False)
    return 1 / beta + eta * oracle_variance / (2 * (1.0 if gamma is None else gamma))


def kramers_langer_lambda_plus(gamma, omega_b2: float = 1.0):
    """λ₊(γ) = −γ/2 + √(γ²/4 + ω_b²): the ratio τ(γ₁)/τ(γ₂) → λ₊(γ₂)/λ₊(γ₁)."""
    gamma = check_array("kramers_langer_lambda_plus", "gamma", gamma, low=0.0).astype(float)
    omega_b2 = check_scalar("kramers_langer_lambda_plus", "omega_b2", omega_b2, 0.0, math.inf,
                            low_closed=False, high_closed=False)
    return -gamma / 2 + np.sqrt(gamma**2 / 4 + omega_b2)


def spectral_gap_1d(potential, eps: float, lo: float, hi: float, n: int = 4000) -> float:
    r"""Spectral gap of the overdamped generator L = ε d²/dx² − V' d/dx on [lo, hi] (reflecting):
    the exact exponential rate at which dX = −V' dt + √(2ε) dW relaxes to e^{−V/ε}.

    Reversible finite-volume discretization (rates ε e^{−(V(mid) − V(xᵢ))/ε}/Δ², half cells at
    the walls), symmetrized with the discrete Gibbs weights to a tridiagonal symmetric matrix whose
    second eigenvalue is taken (``scipy.linalg.eigh_tridiagonal``); second-order accurate.
    For a double well it is k₁₂ + k₂₁, the sum of the two Kramers rates, up to e^{−ΔV/ε}-small
    corrections.
    """
    from scipy.linalg import eigh_tridiagonal

    owner = "spectral_gap_1d"
    eps = check_scalar(owner, "eps", eps, 0.0, math.inf, low_closed=False, high_closed=False)
    lo, hi, n = _grid(owner, "lo", lo, "hi", hi, n)
    x = np.linspace(lo, hi, n + 1)
    dx = x[1] - x[0]
    v = _potential(owner, potential, x)
    vm = _potential(owner, potential, 0.5 * (x[:-1] + x[1:]))
    f = np.ones(n + 1)
    f[0] = f[-1] = 0.5
    up = eps / dx**2 * np.exp(-(vm - v[:-1]) / eps) / f[:-1]     # i → i+1
    down = eps / dx**2 * np.exp(-(vm - v[1:]) / eps) / f[1:]     # i+1 → i
    diag = np.zeros(n + 1)
    diag[:-1] += up
    diag[1:] += down
    off = -np.sqrt(up * down)            # symmetrized off-diagonal of −L
    w = eigh_tridiagonal(diag, off, select="i", select_range=(0, 1), eigvals_only=True)
    return float(w[1])

r"""Closed forms for RMSprop and Adam and their SDEs (Malladi, Lyu, Panigrahi & Arora 2022).

* ``rmsprop_stationary_covariance``, ``adam_stationary_covariance`` — the stationary
  covariance of θ for the SDEs on a quadratic f = ½θᵀHθ with additive noise Σ_prob = C: there u
  obeys du = c₂(diag Σ − u)dt, deterministic and free of θ, so after its transient u = u* = diag Σ
  and the SDE *is* linear — RMSprop: dθ = −P⁻¹Hθ dt − σ₀P⁻¹Σ^{1/2}dW; Adam: (θ, m) with
  dθ = −P⁻¹m dt, dm = c₁(Hθ − m)dt + σ₀c₁Σ^{1/2}dW — and its stationary law is Gaussian with the
  covariance of the Lyapunov equation A S + S Aᵀ + BBᵀ = 0 (P = σ₀√u* + ε₀, bias factors → 1).
* ``square_root_scaling``, ``linear_scaling`` — the hyperparameters at batch κB.
* ``regime_numbers`` — the dimensionless numbers that must be small for the SDE at a point.
* ``one_step_excess`` — the first-order one-step terms of the discrete chains that the SDE
  omits by design (derived by hand for a Gaussian oracle; the contract suite's allowance).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla
from jax.flatten_util import ravel_pytree

from .._checks import check_array, check_bool, check_instance, check_positive, check_range


def _lyap(a, bbt):
    s = sla.solve_continuous_lyapunov(a, -bbt)
    return 0.5 * (s + s.T)


def _quadratic_inputs(owner, hessian, noise_cov, sigma, sigma0, eps0):
    h = np.atleast_2d(check_array(owner, "hessian", hessian, ndim=(0, 2)).astype(np.float64))
    c = np.atleast_2d(check_array(owner, "noise_cov", noise_cov, ndim=(0, 2)).astype(np.float64))
    check_positive(owner, "sigma", sigma, scalar=True)
    check_positive(owner, "sigma0", sigma0, scalar=True)
    check_range(owner, "eps0", eps0, 0.0, np.inf, high_closed=False, scalar=True)
    if h.shape != c.shape or h.shape[0] != h.shape[1]:
        raise ValueError(f"{owner}: hessian and noise_cov must be square matrices of one shape; "
                         f"got {h.shape} and {c.shape}")
    return h, c, c / float(sigma) ** 2


def rmsprop_stationary_covariance(hessian, noise_cov, *, sigma, sigma0, eps0) -> np.ndarray:
    r"""Stationary Cov θ of the RMSprop SDE on f = ½θᵀHθ with additive noise C (module docstring):
    A = −P⁻¹H, BBᵀ = σ₀² P⁻¹ Σ P⁻¹, Σ = C/σ², P = σ₀ diag(Σ)^{1/2} + ε₀ (u at u* = diag Σ).
    H must make A stable (a minimum)."""
    h, _, sig = _quadratic_inputs("rmsprop_stationary_covariance", hessian, noise_cov, sigma,
                                  sigma0, eps0)
    pinv = np.diag(1.0 / (float(sigma0) * np.sqrt(np.diag(sig)) + float(eps0)))
    return _lyap(-pinv @ h, float(sigma0) ** 2 * pinv @ sig @ pinv)


def adam_stationary_covariance(hessian, noise_cov, *, sigma, sigma0, eps0, c1,
                               full: bool = False) -> np.ndarray:
    r"""Stationary Cov θ of the Adam SDE on f = ½θᵀHθ with additive noise C (module docstring): on
    (θ, m), A = [[0, −P⁻¹], [c₁H, −c₁I]], BBᵀ = [[0, 0], [0, c₁²σ₀²Σ]], P = σ₀ diag(Σ)^{1/2} + ε₀.
    ``full`` returns the 2d × 2d covariance of (θ, m)."""
    owner = "adam_stationary_covariance"
    h, _, sig = _quadratic_inputs(owner, hessian, noise_cov, sigma, sigma0, eps0)
    check_positive(owner, "c1", c1, scalar=True)
    full = check_bool(owner, "full", full)
    d = h.shape[0]
    c1, s0 = float(c1), float(sigma0)
    pinv = np.diag(1.0 / (s0 * np.sqrt(np.diag(sig)) + float(eps0)))
    a = np.block([[np.zeros((d, d)), -pinv], [c1 * h, -c1 * np.eye(d)]])
    bbt = np.zeros((2 * d, 2 * d))
    bbt[d:, d:] = c1**2 * s0**2 * sig
    s = _lyap(a, bbt)
    return s if full else s[:d, :d]


def _scaled_betas(owner, kappa, betas):
    out = {}
    for name, beta in betas.items():
        check_range(owner, name, beta, 0.0, 1.0, high_closed=False, scalar=True)
        b = 1.0 - kappa * (1.0 - float(beta))
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{owner}: 1 - {name} = {1 - float(beta):.4g} times kappa = {kappa:g} "
                             f"leaves [0, 1) ({name} would be {b:.4g}): this kappa is beyond the "
                             "rule's reach")
        out[name] = b
    return out


def _check_rule(owner, kappa, eta, eps):
    check_positive(owner, "kappa", kappa, scalar=True)
    check_positive(owner, "eta", eta, scalar=True)
    check_range(owner, "eps", eps, 0.0, np.inf, high_closed=False, scalar=True)


def _check_adaptive_chain(owner, alg):
    from ..algorithms.adam import Adam
    from ..algorithms.rmsprop import RMSprop

    check_instance(owner, "alg", alg, (RMSprop, Adam), "an RMSprop or Adam chain")


def _check_point(owner, name, alg, theta):
    shape = alg.problem.shape
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        check_array(owner, name, theta, shape=shape)


def square_root_scaling(kappa, *, eta, eps, **betas) -> dict:
    r"""The square-root scaling rule (Malladi et al. 2022) for batch B → κB: η → √κ η,
    1 − β → κ(1 − β) for each β given, ε → ε/√κ (σ₀, cᵢ, ε₀ and so the SDE are kept; κ times fewer
    steps cover the same time t = kη²)."""
    _check_rule("square_root_scaling", kappa, eta, eps)
    k = float(kappa)
    return {"eta": float(eta) * math.sqrt(k), "eps": float(eps) / math.sqrt(k),
            **_scaled_betas("square_root_scaling", k, betas)}


def linear_scaling(kappa, *, eta, eps, **betas) -> dict:
    r"""The linear rule for the learning rate (η → κη, the rule for SGD), with β and ε mapped as in
    the square-root rule — it differs from ``square_root_scaling`` only in the exponent of η,
    so comparing the two isolates it. Its SDE has σ₀ → √κ σ₀, cᵢ → cᵢ/κ, ε₀ → √κ ε₀: not the same."""
    _check_rule("linear_scaling", kappa, eta, eps)
    k = float(kappa)
    return {"eta": float(eta) * k, "eps": float(eps) / math.sqrt(k),
            **_scaled_betas("linear_scaling", k, betas)}


def regime_numbers(alg, theta) -> dict:
    r"""Dimensionless numbers at a point θ that must be small for the SDE of ``alg`` (RMSprop or
    Adam) to describe it — the terms its derivation drops:

    * ``noise_dominance`` = maxᵢ (∂ᵢf)²/Σ_prob,ii — the u equation drops σ⁻²(∂ᵢf)² against
      diag Σ (relative size exactly this ratio);
    * ``gradient_noise_scale`` = tr Σ_prob/‖∇f‖² — its inverse is the same comparison in trace form
      (the batch size beyond which noise no longer dominates is about B × this);
    * ``c_eta`` = (1 − β)/η for each β — must be ≤ 1 (``check_regime``).
    """
    _check_adaptive_chain("regime_numbers", alg)
    _check_point("regime_numbers", "theta", alg, theta)
    flat, _ = ravel_pytree(theta)
    mu = np.asarray(ravel_pytree(alg.problem.grad(theta))[0], np.float64)
    c = np.asarray(alg.problem.noise_cov(theta), np.float64)
    diag = np.diag(c)
    with np.errstate(divide="ignore"):
        dom = float(np.max(mu**2 / diag)) if np.all(diag > 0) else math.inf
    gns = float(np.trace(c) / max(float(mu @ mu), 1e-300))
    eta = float(alg.eta)
    betas = {k: float(getattr(alg, k)) for k in ("beta", "beta1", "beta2") if hasattr(alg, k)}
    return {"noise_dominance": dom, "gradient_noise_scale": gns,
            "c_eta": {k: (1 - b) / eta for k, b in betas.items()}}


def one_step_excess(alg, state):
    r"""The chain's first-order one-step terms (per unit time) that its SDE omits, for a Gaussian
    oracle g = μ + ζ, ζ ~ N(0, C), at a state with u > 0 — derived by hand from the update rule.

    With s = σ, D = s√u + ε (so P = ηD), b = 1 − β and δu = b(g²/s² − u):

    * RMSprop, state (θ, u) — the update divides by the *new* average, 1/D' ≈ 1/D − sδu/(2√u D²):
      mean θᵢ: s E[gᵢδuᵢ]/(2η√uᵢDᵢ²), E[gᵢδuᵢ] = b((μᵢ³ + 3μᵢCᵢᵢ)/s² − uᵢμᵢ);
      mean uᵢ: bμᵢ²/(s²dt) (the drift drops μ²/s²);
      cov θθ: −[Cov(Xᵢ, Yⱼ) + Cov(Yᵢ, Xⱼ)], X = g/D, Y = g s δu/(2√u D²),
      Cov(gᵢ, gⱼ(gⱼ²/s² − uⱼ)) = 3Cᵢⱼ(Cⱼⱼ + μⱼ²)/s² − uⱼCᵢⱼ (Stein's lemma);
      cov θu: −η b 2μⱼCᵢⱼ/(s²Dᵢ dt);  cov uu: b²(2Cᵢⱼ² + 4μᵢμⱼCᵢⱼ)/(s⁴dt).
    * Adam without bias correction, state (θ, m, u), b₁, b₂ — θ moves with the *new* m and u:
      mean θᵢ: −[b₁(μᵢ − mᵢ)/Dᵢ − s(mᵢEδuᵢ + E[δmᵢδuᵢ])/(2√uᵢDᵢ²)]/η with
      E[δmᵢδuᵢ] = b₁b₂(2μᵢCᵢᵢ/s² + (μᵢ − mᵢ)((Cᵢᵢ + μᵢ²)/s² − uᵢ)); mean uᵢ as RMSprop's;
      cov θθ: b₁²Cᵢⱼ/(DᵢDⱼ); cov θm: −ηb₁²Cᵢⱼ/(Dᵢ dt); cov mu: b₁b₂2μⱼCᵢⱼ/(s²dt);
      cov θu: −ηb₁b₂2μⱼCᵢⱼ/(s²Dᵢdt) + η mᵢ s Cov(δuᵢ, δuⱼ)/(2√uᵢDᵢ² dt); cov uu as RMSprop's
      with b₂.

    Each is O(dt) in the paper's scaling (1 − β = cη², s = σ₀/η, ε = ε₀/η). Returns
    ``(mean, cov)`` in ``ravel_pytree`` order of the limit's state.
    """
    from ..algorithms.adam import Adam, AdamState
    from ..algorithms.rmsprop import RMSprop, RMSpropState

    _check_adaptive_chain("one_step_excess", alg)
    want = AdamState if isinstance(alg, Adam) else RMSpropState
    check_instance("one_step_excess", "state", state, want, f"a {want.__name__} (alg.init(x))")
    theta = state.theta
    th, _ = ravel_pytree(theta)
    d = th.size
    mu = np.asarray(ravel_pytree(alg.problem.grad(theta))[0], np.float64)
    c = np.asarray(alg.problem.noise_cov(theta), np.float64)
    u = np.asarray(ravel_pytree(state.u)[0], np.float64)
    if np.any(u <= 0):
        raise ValueError("one_step_excess: the expansion needs u > 0 (from u = 0 the chain departs "
                         "from its SDE at O(η), not O(dt))")
    s, eta, eps = float(alg.sigma), float(alg.eta), float(alg.eps)
    dt = eta**2
    dd = s * np.sqrt(u) + eps
    cii = np.diag(c)
    mom2 = (cii + mu**2) / s**2 - u                      # E[g²/s² − u]
    uu = lambda b: b**2 * (2 * c**2 + 4 * np.outer(mu, mu) * c) / (s**4 * dt)  # noqa: E731
    if isinstance(alg, RMSprop):
        b = 1.0 - float(alg.beta)
        mean_th = s * b * ((mu**3 + 3 * mu * cii) / s**2 - u * mu) / (2 * eta * np.sqrt(u) * dd**2)
        mean_u = b * mu**2 / (s**2 * dt)
        k = (3 * c * (cii + mu**2)[None, :] / s**2 - u[None, :] * c)      # [i, j]
        cxy = s * b / 2 * k / (np.sqrt(u)[None, :] * dd[:, None] * dd[None, :] ** 2)
        cov = np.zeros((2 * d, 2 * d))
        cov[:d, :d] = -(cxy + cxy.T)
        tu = -eta * b * 2 * mu[None, :] * c / (s**2 * dd[:, None] * dt)
        cov[:d, d:], cov[d:, :d] = tu, tu.T
        cov[d:, d:] = uu(b)
        return np.concatenate([mean_th, mean_u]), cov
    if isinstance(alg, Adam):
        if alg.bias_correction:
            raise ValueError("one_step_excess: Adam with bias correction has a time-dependent "
                             "limit; the expansion is written for bias_correction=False")
        b1, b2 = 1.0 - float(alg.beta1), 1.0 - float(alg.beta2)
        m = np.asarray(ravel_pytree(state.m)[0], np.float64)
        e_du = b2 * mom2
        e_dmdu = b1 * b2 * (2 * mu * cii / s**2 + (mu - m) * mom2)
        mean_th = -(b1 * (mu - m) / dd - s * (m * e_du + e_dmdu) / (2 * np.sqrt(u) * dd**2)) / eta
        mean = np.concatenate([mean_th, np.zeros(d), b2 * mu**2 / (s**2 * dt)])
        cov = np.zeros((3 * d, 3 * d))
        cov[:d, :d] = b1**2 * c / np.outer(dd, dd)
        tm = -eta * b1**2 * c / (dd[:, None] * dt)
        cov[:d, d:2 * d], cov[d:2 * d, :d] = tm, tm.T
        mu_ = b1 * b2 * 2 * mu[None, :] * c / (s**2 * dt)
        cov[d:2 * d, 2 * d:], cov[2 * d:, d:2 * d] = mu_, mu_.T
        cov[2 * d:, 2 * d:] = uu(b2)
        tu = (-eta * b1 * b2 * 2 * mu[None, :] * c / (s**2 * dd[:, None] * dt)
              + eta * (m * s / (2 * np.sqrt(u) * dd**2))[:, None] * uu(b2))
        cov[:d, 2 * d:], cov[2 * d:, :d] = tu, tu.T
        return mean, cov
    raise TypeError(f"one_step_excess: expected RMSprop or Adam; got {type(alg).__name__}")


__all__ = ["rmsprop_stationary_covariance", "adam_stationary_covariance", "square_root_scaling",
           "linear_scaling", "regime_numbers", "one_step_excess"]

r"""Heavy-ball momentum SGD on a quadratic with additive noise: its exact stationary law.

Setting (validation-theory.md §2, [derived]): f(x) = ½ xᵀHx, stochastic gradient g = Hx + ξ with
ξ ~ N(0, C) i.i.d., and sde_opt's [`MomentumSGD`][sde_opt.MomentumSGD] convention

    m_{k+1} = μ m_k − η g_k,    x_{k+1} = x_k + m_{k+1}      (m_k = x_k − x_{k−1}).

With z = (x, m) this is a linear chain z' = M z + G ξ,

    M = [[I − ηH, μI], [−ηH, μI]],   G = [−ηI; −ηI],   P = M P Mᵀ + G C Gᵀ (discrete Lyapunov).

**Conversion from the reference.** validation-theory.md uses PyTorch's form v_{k+1} = μ v_k + g_k,
x_{k+1} = x_k − η v_{k+1}; the two are the same iteration with m_k = −η v_k. Hence
Cov(x, m) = −η Cov(x, v) and Var m = η² Var v; Var x and the autocovariances of x are identical.

**Scalar closed forms** (one eigen-direction, Hessian eigenvalue h, noise variance c along it;
valid when C commutes with H), D = (1 − μ)(2(1 + μ) − ηh):

    Var x = ηc(1 + μ)/(hD),   Cov(x_k, m_k) = η²c/D,   Var m = 2η²c/D,
    Cov(x_{k+1}, x_k) = (1 + μ − ηh)/(1 + μ) · Var x,
    stable iff 0 ≤ μ < 1 and 0 < ηh < 2(1 + μ).

**Reference values it must be told apart from:** the diffusion limit (μ fixed, η → 0),
Var x = ηc/(2h(1 − μ)) (x-block: H Σ + Σ H = ηC/(1 − μ)); and plain SGD at the effective step
η_eff = η/(1 − μ), Var x = η_eff c/(h(2 − η_eff h)). Momentum's discretization bias is smaller by
a factor ≈ (1 − μ)/(1 + μ) than SGD's at the same η_eff.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg as sla

from .._checks import check_array, check_psd, check_scalar


class HeavyBallMoments(NamedTuple):
    """Stationary moments of heavy ball along one eigen-direction (sde_opt's (x, m) convention)."""

    var_x: float
    cov_xm: float
    var_m: float
    lag1_cov_x: float
    var_x_diffusion: float
    var_x_sgd_effective: float

    def as_dict(self) -> dict:
        return {k: float(v) for k, v in self._asdict().items()}


def _step_and_momentum(name: str, eta, mu) -> tuple[float, float]:
    eta = check_scalar(name, "eta", eta, 0.0, np.inf, low_closed=False, high_closed=False)
    mu = check_scalar(name, "mu", mu, 0.0, 1.0, high_closed=False)
    return eta, mu


def _check_stable(name: str, curvatures, eta, mu) -> None:
    eta, mu = _step_and_momentum(name, eta, mu)
    eh = eta * np.atleast_1d(np.asarray(curvatures, dtype=np.float64))
    bound = 2.0 * (1.0 + mu)
    bad = ~((eh > 0) & (eh < bound))
    if bad.any():
        raise ValueError(
            f"{name}: heavy ball has no stationary law: it needs 0 < eta·h < 2(1 + mu) = {bound:g} "
            f"for every Hessian eigenvalue h; got eta·h = {float(eh[bad][0]):.4g} "
            f"(h = {float(eh[bad][0] / eta):.4g}, eta = {eta:g}, mu = {mu:g})"
        )


def heavy_ball_moments(h, c, eta, mu) -> HeavyBallMoments:
    """Closed-form stationary moments of heavy ball along one eigen-direction (module docstring).

    Args:
        h: Hessian eigenvalue (> 0).
        c: gradient-noise variance along that eigenvector.
        eta: step size η.
        mu: momentum μ ∈ [0, 1).

    Returns:
        [`HeavyBallMoments`][sde_opt.theory.HeavyBallMoments]: ``var_x``, ``cov_xm`` (same time), ``var_m``,
        ``lag1_cov_x`` = Cov(x_{k+1}, x_k), and the two reference values ``var_x_diffusion``
        and ``var_x_sgd_effective`` (``inf`` when SGD at η/(1 − μ) is itself unstable,
        η h/(1 − μ) ≥ 2).

    Raises:
        ValueError: outside the stability region 0 < ηh < 2(1 + μ), 0 ≤ μ < 1.
    """
    h = check_scalar("heavy_ball_moments", "h", h, 0.0, np.inf, low_closed=False, high_closed=False)
    c = check_scalar("heavy_ball_moments", "c", c, 0.0, np.inf, high_closed=False)
    _check_stable("heavy_ball_moments", h, eta, mu)
    eta, mu = float(eta), float(mu)
    d = (1.0 - mu) * (2.0 * (1.0 + mu) - eta * h)
    var_x = eta * c * (1.0 + mu) / (h * d)
    eta_eff = eta / (1.0 - mu)
    sgd = eta_eff * c / (h * (2.0 - eta_eff * h)) if eta_eff * h < 2.0 else np.inf
    return HeavyBallMoments(
        var_x=var_x,
        cov_xm=eta**2 * c / d,
        var_m=2.0 * eta**2 * c / d,
        lag1_cov_x=(1.0 + mu - eta * h) / (1.0 + mu) * var_x,
        var_x_diffusion=eta * c / (2.0 * h * (1.0 - mu)),
        var_x_sgd_effective=sgd,
    )


def _as_matrix(name: str, a, d: int | None = None) -> np.ndarray:
    owner, _, pname = name.partition(": ")
    a = check_array(owner, pname, a, ndim=(0, 1, 2)).astype(np.float64)
    if a.ndim == 0:
        return a * np.eye(1 if d is None else d)
    if a.ndim == 1:
        return np.diag(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a scalar, a vector of eigenvalues or a square matrix; "
                         f"got shape {a.shape}")
    return a


def _hessian_and_noise(name: str, hessian, noise_cov):
    H = _as_matrix(f"{name}: hessian", hessian)
    d = H.shape[0]
    C = _as_matrix(f"{name}: noise_cov", noise_cov, d)
    if C.shape != (d, d):
        raise ValueError(f"{name}: noise_cov must be ({d}, {d}) to match the Hessian; "
                         f"got {C.shape}")
    if not np.allclose(H, H.T):
        raise ValueError(f"{name}: hessian must be symmetric; got a largest asymmetry "
                         f"|H - Hᵀ| of {np.abs(H - H.T).max():.3g}")
    check_psd(name, "noise_cov", C)
    return H, C


def heavy_ball_transition(hessian, eta, mu) -> tuple[np.ndarray, np.ndarray]:
    """``(M, G)`` of the linear chain z' = M z + G ξ for z = (x, m) (module docstring)."""
    H = _as_matrix("heavy_ball_transition: hessian", hessian)
    eta, mu = _step_and_momentum("heavy_ball_transition", eta, mu)
    d = H.shape[0]
    eye = np.eye(d)
    M = np.block([[eye - eta * H, mu * eye], [-eta * H, mu * eye]])
    G = np.vstack([-eta * eye, -eta * eye])
    return M, G


def heavy_ball_stationary_covariance(hessian, noise_cov, eta, mu) -> np.ndarray:
    r"""Exact stationary covariance of z = (x, m) for heavy ball on ½ xᵀHx with noise N(0, C).

    Solves P = M P Mᵀ + G C Gᵀ (vector form of validation-theory.md §2, in sde_opt's
    convention; see the module docstring) with ``scipy.linalg.solve_discrete_lyapunov``.
    H and C need not commute. Blocks: ``P[:d, :d]`` = Cov x, ``P[:d, d:]`` = Cov(x_k, m_k),
    ``P[d:, d:]`` = Cov m; the lag-1 autocovariance is Cov(x_{k+1}, x_k) = (M P)[:d, :d].
    Plain SGD at step η is ``mu=0``; SGD at the effective step is
    ``heavy_ball_stationary_covariance(H, C, eta / (1 - mu), 0)[:d, :d]``.

    Args:
        hessian: H, ``(d, d)`` symmetric, or its eigenvalues ``(d,)`` (diagonal), or a scalar.
        noise_cov: C, ``(d, d)``, or a vector (diagonal) or scalar (c I).
        eta: step size η > 0.
        mu: momentum μ ∈ [0, 1).

    Returns:
        ``(2d, 2d)`` covariance of (x, m).

    Raises:
        ValueError: outside the stability region (some Hessian eigenvalue h with ηh ∉ (0, 2(1+μ))).
    """
    name = "heavy_ball_stationary_covariance"
    H, C = _hessian_and_noise(name, hessian, noise_cov)
    _check_stable(name, np.linalg.eigvalsh(H), eta, mu)
    M, G = heavy_ball_transition(H, float(eta), float(mu))
    P = sla.solve_discrete_lyapunov(M, G @ C @ G.T)
    return 0.5 * (P + P.T)


def heavy_ball_diffusion_covariance(hessian, noise_cov, eta, mu) -> np.ndarray:
    r"""Stationary Cov x of heavy ball's diffusion limit: H Σ + Σ H = η C/(1 − μ).

    The limit is dX = −H X/(1 − μ) dt + (√η/(1 − μ)) C^{1/2} dW in time t = kη
    ([`MomentumSGD`][sde_opt.MomentumSGD]`.limit()`); it is the η → 0 limit of the x-block of
    [`heavy_ball_stationary_covariance`][sde_opt.theory.heavy_ball_stationary_covariance]
    (validation-theory.md §2).
    """
    name = "heavy_ball_diffusion_covariance"
    H, C = _hessian_and_noise(name, hessian, noise_cov)
    low = float(np.linalg.eigvalsh(H).min())
    if not low > 0:
        raise ValueError(f"{name}: hessian must be positive definite for a stationary law; "
                         f"got a smallest eigenvalue of {low:.4g}")
    eta, mu = _step_and_momentum(name, eta, mu)
    S = sla.solve_continuous_lyapunov(H, float(eta) * C / (1.0 - mu))
    return 0.5 * (S + S.T)

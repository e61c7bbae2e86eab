r"""What the OU fit converges to on a linear chain: the exact target behind "fit vs theory".

An optimizer near a minimum is (to first order) a *linear* Markov chain z_{k+1} = M z_k + N ξ_k,
ξ_k ~ (0, C) i.i.d., of which a part x = O z is recorded every K steps. Heavy-ball momentum SGD on
a quadratic is exactly such a chain with z = (θ, θ_k − θ_{k−1}). The recorded x is in general
not Markov (momentum makes it AR(2)), yet the OU fit of [`fit_ou`][sde_opt.fit.fit_ou] converges
(n → ∞) to a well-defined limit, computed here exactly:

    P = M P Mᵀ + N C Nᵀ (stationary),  Γ₀ = O P Oᵀ,  Γ_K = O M^K P Oᵀ = E[x_{k+K} x_kᵀ],
    Φ = Γ_K Γ₀⁻¹,  Q = Γ₀ − Φ Γ₀ Φᵀ,  A = log(Φ)/Δ,  D = G(A)⁻¹ Q,  S = Γ₀,   Δ = K·dt.

Comparing a fit with this target tests the estimator (tight); comparing the target with the
diffusion limit (A = −H/(1 − μ), D = η Σ/(1 − μ)² in time t = kη) measures the O(η) discrete
corrections and the AR(2)-versus-OU mismatch, which vanish as η → 0 (validation-theory §2).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from .._checks import check_array, check_integer, check_psd, check_scalar
from ._linear import diffusion_from_innovation, real_logm


def ou_fit_target(M, noise_map, noise_cov, observe, stride: int, dt: float) -> dict:
    """Population limit of the OU fit of x = O z recorded every ``stride`` steps of a linear chain.

    Args:
        M: ``(n, n)`` transition matrix (spectral radius < 1).
        noise_map: N ``(n, m)``.
        noise_cov: C ``(m, m)``.
        observe: O ``(d, n)``.
        stride: K, steps between records.
        dt: continuous time per step (Δ = K·dt).

    Returns:
        dict with ``drift`` (A), ``diffusion`` (D), ``stationary_covariance`` (Γ₀),
        ``transition`` (Φ), ``innovation_cov`` (Q), ``chain_covariance`` (P).
    """
    owner = "ou_fit_target"
    M = check_array(owner, "M", M, ndim=2).astype(np.float64)
    n = M.shape[0]
    if M.shape != (n, n):
        raise ValueError(f"{owner}: M must be a square matrix; got shape {M.shape}")
    N = np.atleast_2d(check_array(owner, "noise_map", noise_map, ndim=(1, 2)).astype(np.float64))
    if N.shape[0] != n:
        raise ValueError(f"{owner}: noise_map must have shape ({n}, m); got {N.shape}")
    m = N.shape[1]
    C = np.atleast_2d(check_array(owner, "noise_cov", noise_cov, ndim=(0, 2)).astype(np.float64))
    if C.shape != (m, m):
        raise ValueError(f"{owner}: noise_cov must have shape ({m}, {m}) (m = {m}, the columns of "
                         f"noise_map); got {C.shape}")
    check_psd(owner, "noise_cov", C)
    O = np.atleast_2d(check_array(owner, "observe", observe, ndim=(1, 2)).astype(np.float64))
    if O.shape[1] != n:
        raise ValueError(f"{owner}: observe must have shape (d, {n}); got {O.shape}")
    if np.linalg.matrix_rank(O) < O.shape[0]:
        raise ValueError(f"{owner}: observe must have full row rank (independent observed "
                         f"coordinates); got rank {np.linalg.matrix_rank(O)} of {O.shape[0]} rows")
    stride = check_integer(owner, "stride", stride, low=1)
    dt = check_scalar(owner, "dt", dt, 0.0, np.inf, low_closed=False, high_closed=False)
    rho = float(np.max(np.abs(np.linalg.eigvals(M))))
    if not rho < 1:
        raise ValueError(f"{owner}: M must be stable (spectral radius < 1); got {rho:.4g}")
    P = linalg.solve_discrete_lyapunov(M, N @ C @ N.T)
    P = 0.5 * (P + P.T)
    g0 = O @ P @ O.T
    gK = O @ np.linalg.matrix_power(M, int(stride)) @ P @ O.T
    phi = gK @ np.linalg.inv(g0)
    Q = g0 - phi @ g0 @ phi.T
    Q = 0.5 * (Q + Q.T)
    delta = int(stride) * float(dt)
    A = real_logm(phi, delta, "ou_fit_target")
    return {"drift": A, "diffusion": diffusion_from_innovation(A, Q, delta),
            "stationary_covariance": g0, "transition": phi, "innovation_cov": Q,
            "chain_covariance": P}


def _square(owner, name, a, d=None):
    """A scalar (times I), a vector (the diagonal) or a square matrix, as a (d, d) array."""
    a = check_array(owner, name, a, ndim=(0, 1, 2)).astype(np.float64)
    if a.ndim == 0:
        a = a * np.eye(1 if d is None else d)
    elif a.ndim == 1:
        a = np.diag(a)
    if a.shape[0] != a.shape[1] or (d is not None and a.shape[0] != d):
        want = "a square matrix" if d is None else f"({d}, {d})"
        raise ValueError(f"{owner}: {name} must be {want} (or a scalar or diagonal); got shape "
                         f"{a.shape}")
    return a


def _heavy_ball_args(owner, hessian, noise_cov, eta, mu):
    H = _square(owner, "hessian", hessian)
    C = _square(owner, "noise_cov", noise_cov, H.shape[0])
    check_psd(owner, "noise_cov", C)
    eta = check_scalar(owner, "eta", eta, 0.0, np.inf, low_closed=False, high_closed=False)
    mu = check_scalar(owner, "mu", mu, 0.0, 1.0, high_closed=False)
    return H, C, eta, mu


def heavy_ball_chain(hessian, noise_cov, eta: float, mu: float):
    """(M, N, C, O) of heavy-ball SGD on f = ½ θᵀHθ with g = Hθ + ξ, ξ ~ (0, C).

    The package's [`MomentumSGD`][sde_opt.MomentumSGD] form: m_{k+1} = μ m_k − η g_k,
    θ_{k+1} = θ_k + m_{k+1}, so z = (θ, m) and

        M = [[I − ηH, μI], [−ηH, μI]],   N = [[−ηI], [−ηI]],   O = [I, 0].
    """
    H, C, eta, mu = _heavy_ball_args("heavy_ball_chain", hessian, noise_cov, eta, mu)
    d = H.shape[0]
    eye = np.eye(d)
    M = np.block([[eye - eta * H, mu * eye], [-eta * H, mu * eye]])
    N = np.vstack([-eta * eye, -eta * eye])
    O = np.hstack([eye, np.zeros((d, d))])
    return M, N, C, O


def heavy_ball_ou_target(hessian, noise_cov, eta: float, mu: float, stride: int) -> dict:
    """[`ou_fit_target`][sde_opt.fit.ou_fit_target] for heavy-ball SGD recorded every ``stride`` steps, time t
    = kη.

    Also returns the diffusion-limit values ``limit_drift`` = −H/(1 − μ) and
    ``limit_diffusion`` = η C/(1 − μ)², and ``limit_stationary_covariance`` (H S + S H =
    η C/(1 − μ)).
    """
    H, C, eta, mu = _heavy_ball_args("heavy_ball_ou_target", hessian, noise_cov, eta, mu)
    stride = check_integer("heavy_ball_ou_target", "stride", stride, low=1)
    M, N, C, O = heavy_ball_chain(H, C, eta, mu)
    out = ou_fit_target(M, N, C, O, stride, eta)
    out["limit_drift"] = -H / (1 - mu)
    out["limit_diffusion"] = eta * C / (1 - mu) ** 2
    out["limit_stationary_covariance"] = linalg.solve_continuous_lyapunov(H, eta * C / (1 - mu))
    return out

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
    M = np.asarray(M, dtype=np.float64)
    N = np.atleast_2d(np.asarray(noise_map, dtype=np.float64))
    C = np.atleast_2d(np.asarray(noise_cov, dtype=np.float64))
    O = np.atleast_2d(np.asarray(observe, dtype=np.float64))
    rho = float(np.max(np.abs(np.linalg.eigvals(M))))
    if not rho < 1:
        raise ValueError(f"ou_fit_target: the chain is not stable (spectral radius {rho:.4g} >= 1)")
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


def heavy_ball_chain(hessian, noise_cov, eta: float, mu: float):
    """(M, N, C, O) of heavy-ball SGD on f = ½ θᵀHθ with g = Hθ + ξ, ξ ~ (0, C).

    The package's [`MomentumSGD`][sde_opt.MomentumSGD] form: m_{k+1} = μ m_k − η g_k,
    θ_{k+1} = θ_k + m_{k+1}, so z = (θ, m) and

        M = [[I − ηH, μI], [−ηH, μI]],   N = [[−ηI], [−ηI]],   O = [I, 0].
    """
    H = np.atleast_2d(np.asarray(hessian, dtype=np.float64))
    C = np.atleast_2d(np.asarray(noise_cov, dtype=np.float64))
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
    H = np.atleast_2d(np.asarray(hessian, dtype=np.float64))
    C = np.atleast_2d(np.asarray(noise_cov, dtype=np.float64))
    M, N, C, O = heavy_ball_chain(H, C, eta, mu)
    out = ou_fit_target(M, N, C, O, stride, eta)
    out["limit_drift"] = -H / (1 - mu)
    out["limit_diffusion"] = eta * C / (1 - mu) ** 2
    out["limit_stationary_covariance"] = linalg.solve_continuous_lyapunov(H, eta * C / (1 - mu))
    return out

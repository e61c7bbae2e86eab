"""Linear algebra of the Ornstein–Uhlenbeck exact discretization, shared by the estimators.

Model (the package's [`LinearSDE`][sde_opt.LinearSDE] convention): dX = A (X − m) dt + B dW with
diffusion matrix D = B Bᵀ. Observed every Δ it is exactly the VAR(1)

    X_{k+1} − m = Φ (X_k − m) + ε_k,   Φ = e^{AΔ},   Cov ε = Q = ∫_0^Δ e^{Au} D e^{Aᵀu} du,

and, when A is stable, Q = S − Φ S Φᵀ with A S + S Aᵀ + D = 0 (validation-theory §1.1). The map
D ↦ Q is linear for every A (stable or not): vec Q = G(A) vec D with
G(A) = ∫_0^Δ e^{(A⊕A)u} du, A⊕A = A⊗I + I⊗A. Vectors use numpy's row-major ``ravel``.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def ou_transition(A, D, dt):
    """(Φ, Q) of the exact discretization, by Van Loan's block exponential."""
    A = np.asarray(A, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    d = A.shape[0]
    M = np.zeros((2 * d, 2 * d))
    M[:d, :d] = -A
    M[:d, d:] = D
    M[d:, d:] = A.T
    F = linalg.expm(M * dt)
    phi = F[d:, d:].T
    Q = phi @ F[:d, d:]
    return phi, 0.5 * (Q + Q.T)


def innovation_operator(A, dt) -> np.ndarray:
    """G(A) with vec Q = G vec D, a ``(d², d²)`` matrix (exact for every A)."""
    A = np.asarray(A, dtype=np.float64)
    d = A.shape[0]
    eye = np.eye(d)
    K = np.kron(A, eye) + np.kron(eye, A)
    n = d * d
    M = np.zeros((2 * n, 2 * n))
    M[:n, :n] = K
    M[:n, n:] = np.eye(n)
    return linalg.expm(M * dt)[:n, n:]


def diffusion_from_innovation(A, Q, dt) -> np.ndarray:
    """D solving Q = ∫_0^Δ e^{Au} D e^{Aᵀu} du (the inverse of the innovation map)."""
    Q = np.asarray(Q, dtype=np.float64)
    d = Q.shape[0]
    D = np.linalg.solve(innovation_operator(A, dt), Q.reshape(-1)).reshape(d, d)
    return 0.5 * (D + D.T)


def stationary_covariance(A, D) -> np.ndarray:
    """S with A S + S Aᵀ + D = 0 (A must be stable)."""
    S = linalg.solve_continuous_lyapunov(np.asarray(A, float), -np.asarray(D, float))
    return 0.5 * (S + S.T)


def real_logm(phi, dt, owner="fit_ou") -> np.ndarray:
    """A = log(Φ)/Δ, the real principal logarithm; raises if Φ has none.

    A real logarithm exists iff no eigenvalue of Φ lies on the closed negative real axis (a
    negative eigenvalue means the sampling interval is too coarse for the drift to be identified,
    or the process is not of OU type at this interval).
    """
    phi = np.asarray(phi, dtype=np.float64)
    ev = np.linalg.eigvals(phi)
    bad = (np.abs(ev.imag) <= 1e-12 * max(1.0, np.max(np.abs(ev)))) & (ev.real <= 0)
    if bad.any():
        raise ValueError(
            f"{owner}: the fitted transition matrix Φ has eigenvalue(s) {ev[bad].real.tolist()} on "
            "the negative real axis, so Φ = exp(AΔ) has no real solution A: the sampling interval "
            "is too coarse, or the trace is not an OU process at this interval (try a smaller "
            "interval, or fit increments with model='qv')"
        )
    L = linalg.logm(phi)
    if np.iscomplexobj(L):
        if np.max(np.abs(L.imag)) > 1e-8 * max(1.0, np.max(np.abs(L.real))):
            raise ValueError(f"{owner}: Φ has no real principal logarithm")
        L = L.real
    return L / dt


def vech_index(d: int):
    """Row/column indices of the upper triangle (i ≤ j), the order of ``vech``."""
    return np.triu_indices(d)


def vech(S) -> np.ndarray:
    d = S.shape[-1]
    i, j = vech_index(d)
    return S[..., i, j]


def unvech(v, d: int) -> np.ndarray:
    i, j = vech_index(d)
    S = np.zeros(v.shape[:-1] + (d, d))
    S[..., i, j] = v
    S[..., j, i] = v
    return S

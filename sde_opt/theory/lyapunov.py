r"""Stationary and transition covariances of linear SDEs and of their Euler–Maruyama chains.

Sign convention of [`sde_opt.sde.LinearSDE`][sde_opt.LinearSDE]: dX = A X dt + B dW, stable when every
eigenvalue of A has negative real part. (validation-theory.md writes dX = −A X dt + B dW; its A
is our −A.)

Sources: validation-theory.md §1.1 (continuous Lyapunov equation, exact discretization) and §1.2
(the h-corrected equation of Euler–Maruyama) [derived]; Van Loan (1978), "Computing integrals
involving the matrix exponential", IEEE TAC 23, for the transition covariance.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .._checks import check_array, check_scalar


def _matrices(name: str, A, B):
    A = np.atleast_2d(check_array(name, "A", A, ndim=(0, 2)).astype(np.float64))
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name}: A must be a square matrix; got shape {A.shape}")
    d = A.shape[0]
    B = check_array(name, "B", B, ndim=(0, 1, 2)).astype(np.float64)
    if B.ndim == 0:
        B = float(B) * np.eye(d)
    if B.ndim == 1 and d == 1:
        B = B[None, :]
    if B.ndim != 2 or B.shape[0] != d:
        raise ValueError(f"{name}: B must have shape ({d}, m) or be a scalar; got {B.shape}")
    return A, B @ B.T


def _symmetrize(s):
    return 0.5 * (s + s.T)


def lyapunov_covariance(A, B) -> np.ndarray:
    r"""Stationary covariance S of dX = A X dt + B dW:  A S + S Aᵀ + B Bᵀ = 0.

    S = ∫_0^∞ e^{At} B Bᵀ e^{Aᵀt} dt; scalar dX = −aX dt + s dW gives S = s²/(2a)
    (validation-theory.md §1.1). Solved with ``scipy.linalg.solve_continuous_lyapunov``.

    Args:
        A: ``(d, d)`` drift matrix, Re spec(A) < 0.
        B: ``(d, m)`` diffusion (or a scalar σ: B = σ I).

    Raises:
        ValueError: if A is not stable (no stationary law).
    """
    A, bbt = _matrices("lyapunov_covariance", A, B)
    top = float(np.max(np.linalg.eigvals(A).real))
    if not top < 0:
        raise ValueError("lyapunov_covariance: A must be stable (every eigenvalue with real part "
                         f"< 0) for a stationary law; its largest real part is {top:.4g}")
    return _symmetrize(sla.solve_continuous_lyapunov(A, -bbt))


def em_stationary_covariance(A, B, dt) -> np.ndarray:
    r"""Stationary covariance S_h of Euler–Maruyama X' = (I + hA) X + B √h Z for dX = AX dt + B dW.

    S_h = (I + hA) S_h (I + hA)ᵀ + h B Bᵀ, equivalently

        A S_h + S_h Aᵀ + h A S_h Aᵀ + B Bᵀ = 0          (validation-theory.md §1.2, [derived]),

    the continuous Lyapunov equation plus an O(h) term: S_h − S = O(h) (scalar: relative bias
    ah/(2 − ah) for dX = −aX dt + s dW). Valid for non-normal A. Solved with
    ``scipy.linalg.solve_discrete_lyapunov``.

    Raises:
        ValueError: if the EM chain is unstable (spectral radius of I + hA ≥ 1; scalar: needs
            0 < ah < 2).
    """
    A, bbt = _matrices("em_stationary_covariance", A, B)
    h = check_scalar("em_stationary_covariance", "dt", dt, 0.0, np.inf, low_closed=False,
                     high_closed=False)
    m = np.eye(A.shape[0]) + h * A
    radius = float(np.max(np.abs(np.linalg.eigvals(m))))
    if not radius < 1:
        raise ValueError("em_stationary_covariance: Euler–Maruyama is unstable at this dt: the "
                         f"spectral radius of I + dt·A must be < 1; got {radius:.4g} (dt={h:g})")
    return _symmetrize(sla.solve_discrete_lyapunov(m, h * bbt))


def exact_transition(A, B, dt) -> tuple[np.ndarray, np.ndarray]:
    r"""The exact one-step law of dX = A X dt + B dW over a time ``dt``: X' = Φ X + ζ, ζ ~ N(0, Q).

        Φ = e^{Ah},    Q = ∫_0^h e^{Au} B Bᵀ e^{Aᵀu} du      (validation-theory.md §1.1),

    computed by Van Loan's block exponential, expm([[−A, BBᵀ], [0, Aᵀ]] h) = [[·, G], [0, Φᵀ]],
    Q = Φ G. This needs no stability (it holds at a saddle, A with a positive eigenvalue); when A
    is stable, Q = S − Φ S Φᵀ with S the [`lyapunov_covariance`][sde_opt.theory.lyapunov_covariance].

    Returns:
        ``(Phi, Q)``, both ``(d, d)``.
    """
    A, bbt = _matrices("exact_transition", A, B)
    h = check_scalar("exact_transition", "dt", dt, 0.0, np.inf, low_closed=False,
                     high_closed=False)
    d = A.shape[0]
    block = np.zeros((2 * d, 2 * d))
    block[:d, :d] = -A
    block[:d, d:] = bbt
    block[d:, d:] = A.T
    e = sla.expm(block * h)
    phi = e[d:, d:].T
    return phi, _symmetrize(phi @ e[:d, d:])

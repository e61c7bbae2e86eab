r"""Realized (quadratic-variation) diffusion matrix.

For dX = a(X) dt + B dW observed every Δ, the realized covariance of the increments

    D̂_QV = Σ_k ΔX_k ΔX_kᵀ / (n Δ)          (n increments, pooled over paths)

estimates the diffusion matrix D = B Bᵀ (the package's convention: the SDE's ``diffusion_matrix``
times its transpose; Kramers–Moyal's D⁽²⁾ is D/2). It is consistent as Δ → 0 at fixed total time
(in-fill asymptotics) and needs no model of the drift — but at a finite Δ it is biased by the drift.

**Exact finite-Δ bias** (validation-theory §7.1). For a stationary OU process dX = −θX dt + σ dW,

    E D̂_QV = σ² (1 − e^{−θΔ}) / (θΔ) = σ² (1 − θΔ/2 + O(Δ²)),

and in d dimensions (dX = A(X − m) dt + B dW, A stable, A S + S Aᵀ + D = 0, Φ = e^{AΔ})

    E D̂_QV = (2S − Φ S − S Φᵀ) / Δ = D − (Δ/2)(A²S + S A²ᵀ) + O(Δ²).

For a general scalar diffusion with constant b at stationarity, E D̂_QV = b² − Δ E[a(X)²] + O(Δ²)
(Itô–Taylor plus E[a'] = −2E[a²]/b²). The bias is deterministic: the plain interval covers
E D̂_QV, not D, and fails once the bias exceeds a few standard errors (long traces, coarse Δ).

**Drift correction.** Given a drift matrix A (and mean m), the increments satisfy exactly
E[ΔX ΔXᵀ | X_k] = (Φ − I)(X_k − m)(X_k − m)ᵀ(Φ − I)ᵀ + Q(A, D) with Q the innovation covariance
of the exact discretization. The corrected estimator subtracts the first term on the data and
inverts the linear map D ↦ Q (no stationarity needed): unbiased for an OU process with that
drift, and it removes the leading O(Δ) bias near a minimum of any smooth drift. With an A fitted on
the same trace ([`fit_ou`][sde_opt.fit.fit_ou]) the correction's own uncertainty, O(Δ·SE(Â)), is
not included in the interval.

**Intervals.** Per entry, value ± z·SE with SE = sd(samples)/√n from the per-increment samples
(robust to non-Gaussian increments). This treats increments as uncorrelated; for an OU process
their squares are correlated at lag k by ρ_k² with Σ ρ_k² ≈ θΔ/8, negligible at small θΔ. For
serially correlated increments (momentum traces sampled every step, epoch-shuffled minibatches)
pass ``blocks=`` for batch-means SEs.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_array, check_integer, check_level, check_psd, check_scalar
from ..stats import Estimate
from ._linear import innovation_operator, ou_transition
from ._result import FitResult
from ._stats import mean_se
from ._trace import as_trace, matrix_arg, vector_arg


def fit_quadratic_variation(x, dt=None, *, drift_matrix=None, mean=None, blocks: int | None = None,
                            level: float = 0.95, t=None) -> FitResult:
    """Realized diffusion matrix D̂ = Σ ΔX ΔXᵀ/(nΔ), optionally drift-corrected.

    Args:
        x: trace, ``(n_steps,)``, ``(n_steps, d)``, ``(n_traces, n_steps, d)`` or a Trace.
        dt: sampling interval Δ (or give ``t``).
        drift_matrix: optional A ``(d, d)`` of dX = A(X − m) dt + B dW for the exact
            OU correction (see the module docstring).
        mean: m for the correction (default: the sample mean of the trace).
        blocks: batch-means SE with this many blocks per path (default: i.i.d. SE).
        level: coverage of the intervals.
        t: sample times (uniform), instead of ``dt``.

    Returns:
        FitResult with estimate ``diffusion`` ``(d, d)``.
    """
    owner = "fit_quadratic_variation"
    level = check_level(owner, level)
    tr = as_trace(x, dt, t=t, min_steps=3, owner=owner, allow_constant=False)
    d, dt = tr.dim, tr.dt
    if drift_matrix is not None:
        drift_matrix = matrix_arg(owner, "drift_matrix", drift_matrix, d)
    if mean is not None:
        mean = vector_arg(owner, "mean", mean, d)
    if blocks is not None:
        blocks = check_integer(owner, "blocks", blocks, low=1, high=tr.n_steps - 1)
        if tr.n_traces * blocks < 2:
            raise ValueError(f"{owner}: blocks must give at least 2 blocks in all "
                             f"(n_traces · blocks >= 2); got blocks={blocks} with "
                             f"{tr.n_traces} trace(s)")
    start, dx = tr.increments()
    prods = dx[:, :, None] * dx[:, None, :] / dt
    info = {"dt": dt, "n_traces": tr.n_traces, "n_steps": tr.n_steps, "dim": d,
            "n_increments": tr.n_increments, "corrected": drift_matrix is not None}
    if drift_matrix is None:
        info["bias"] = ("uncorrected: E D_hat = (2S - Phi S - S Phi^T)/dt for a stationary OU; "
                        "scalar sigma^2 (1 - exp(-theta dt))/(theta dt)")
        method = "realized covariance of increments"
    else:
        A = drift_matrix
        m = tr.x.reshape(-1, d).mean(axis=0) if mean is None else mean
        phi, _ = ou_transition(A, np.zeros((d, d)), dt)
        r = (start - m) @ (phi - np.eye(d)).T
        q = (dx[:, :, None] * dx[:, None, :] - r[:, :, None] * r[:, None, :]).reshape(-1, d * d)
        Ginv = np.linalg.inv(innovation_operator(A, dt))
        prods = (q @ Ginv.T).reshape(-1, d, d)
        info["bias"] = "exact OU correction with the given drift matrix (unbiased for that OU)"
        method = "drift-corrected realized covariance (exact OU inversion)"
    prods = prods.reshape(tr.n_traces, tr.n_steps - 1, d, d)
    value, se, df = mean_se(prods, blocks)
    value = 0.5 * (value + value.T)
    method += "; i.i.d. SE" if blocks is None else f"; batch-means SE ({blocks} blocks per path)"
    est = Estimate.normal("diffusion", value, se, level, method, df=df)
    return FitResult("qv", {"diffusion": est}, info)


def qv_expectation_ou(A, D, dt) -> np.ndarray:
    """E D̂_QV = (2S − ΦS − SΦᵀ)/Δ for a stationary OU with drift matrix A (stable) and diffusion D.

    Scalar case: σ²(1 − e^{−θΔ})/(θΔ) with A = −θ, D = σ² (validation-theory §7.1).
    """
    from ._linear import stationary_covariance

    owner = "qv_expectation_ou"
    A = np.atleast_2d(check_array(owner, "A", A, ndim=(0, 2)).astype(np.float64))
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"{owner}: A must be a square matrix; got shape {A.shape}")
    D = matrix_arg(owner, "D", D, A.shape[0])
    check_psd(owner, "D", D)
    dt = check_scalar(owner, "dt", dt, 0.0, np.inf, low_closed=False, high_closed=False)
    top = float(np.max(np.linalg.eigvals(A).real))
    if not top < 0:
        raise ValueError(f"{owner}: A must be stable (a stationary OU); got an eigenvalue with "
                         f"real part {top:.4g}")
    S = stationary_covariance(A, D)
    phi, _ = ou_transition(A, D, dt)
    return (2 * S - phi @ S - S @ phi.T) / dt

r"""Effective learning rate and temperature from a trace that fluctuates around a minimum.

Near a minimum θ* with Hessian H, SGD with step η and gradient-noise covariance Σ_g is, in its
diffusion limit, an OU process whose stationary covariance S solves the Lyapunov equation
(validation-theory §1.1, §2)

    H S + S H = η_eff Σ_g,      η_eff = η (SGD),   η_eff = η/(1 − μ) (heavy-ball momentum),

with O(η) corrections from the discrete dynamics: for SGD on a quadratic,
H S + S H − η H S H = η Σ_g, and for heavy ball, per eigendirection h,
η_eff = η/(1 − μ) · 1/(1 − ηh/(2(1 + μ))) (the exact stationary variance of §2). Fitting η_eff
from a trace therefore measures the step size that the fluctuations *behave* like, the quantity
that "momentum = SGD with step η/(1 − μ)" statements are about.

**Estimator.** With Ŝ the covariance of the trace about ``center`` (θ*, if known; otherwise the
trace mean) and L(S) = H S + S H, the least-squares fit of L(Ŝ) ≈ η_eff Σ_g in Frobenius norm is

    η̂_eff = ⟨L(Ŝ), Σ_g⟩_F / ⟨Σ_g, Σ_g⟩_F.

The relative residual ‖L(Ŝ) − η̂_eff Σ_g‖_F / ‖L(Ŝ)‖_F (``info["residual"]``) says how well one
scalar explains the fluctuations; a large value means anisotropy that no single learning rate
captures (e.g. a misestimated Σ_g, or non-quadratic directions). Without Σ_g the isotropic
**temperature** T̂ = tr(H Ŝ)/d is the Langevin temperature ε of dX = −∇f dt + √(2ε) dW whose
stationary law (∝ exp(−f/ε) near θ*, S = ε H⁻¹) has the same tr(HS); for SGD with Σ_g = σ² I
it is η σ²/2.

**Intervals.** Both estimates are linear in the second-moment matrix, so batch means apply:
each path is cut into ``blocks`` contiguous blocks, the estimate is computed per block, and the
interval uses the Student-t quantile with (n_traces·blocks − 1) d.o.f. Blocks must be much
longer than the slowest relaxation time of the trace (check ``info["block_length"]`` against
it); the uncertainty of H and Σ_g is not included.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_integer, check_level
from ..stats import Estimate
from ._result import FitResult
from ._stats import mean_se
from ._trace import Trace, as_trace, matrix_arg, vector_arg


def fit_effective_lr(x, hessian, sigma_g=None, *, center=None, blocks: int = 20,
                     level: float = 0.95) -> FitResult:
    """η_eff from H S + S H = η_eff Σ_g, and the temperature tr(HS)/d, with batch-means CIs.

    Args:
        x: trace near the minimum, ``(n_steps, d)`` or ``(n_traces, n_steps, d)`` (or a Trace);
            the sampling interval is irrelevant here. Drop the burn-in first.
        hessian: H ``(d, d)`` at the minimum (in the trace's coordinates).
        sigma_g: Σ_g ``(d, d)``, the covariance of one stochastic gradient in the same
            coordinates (an array, Estimate or the FitResult of
            [`gradient_noise_covariance`][sde_opt.fit.gradient_noise_covariance]); ``None`` fits only the
            temperature.
        center: θ* ``(d,)`` (default: the mean of the trace).
        blocks: batch-means blocks per path.
        level: coverage of the intervals.

    Returns:
        FitResult (model ``"effective-lr"``) with estimates ``eta_eff`` (if Σ_g given),
        ``temperature`` and ``stationary_covariance`` (Ŝ, batch-means SE).
    """
    owner = "fit_effective_lr"
    level = check_level(owner, level)
    tr = x if isinstance(x, Trace) else as_trace(x, 1.0, min_steps=2, owner=owner)
    d = tr.dim
    H = matrix_arg(owner, "hessian", hessian, d)
    if sigma_g is not None:
        if isinstance(sigma_g, FitResult):
            sigma_g = sigma_g["covariance"]
        if isinstance(sigma_g, Estimate):
            sigma_g = sigma_g.value
        sigma_g = matrix_arg(owner, "sigma_g", sigma_g, d)
        if not np.any(sigma_g):
            raise ValueError(f"{owner}: sigma_g must be nonzero; got a zero matrix")
    blocks = check_integer(owner, "blocks", blocks, low=1)
    if tr.n_traces * blocks < 2 or blocks > tr.n_steps:
        raise ValueError(f"{owner}: blocks must lie in [1, {tr.n_steps}] with n_traces·blocks >= "
                         f"2; got {blocks}")
    c = tr.x.reshape(-1, d).mean(axis=0) if center is None else vector_arg(owner, "center",
                                                                           center, d)
    y = tr.x - c
    outer = y[..., :, None] * y[..., None, :]  # (n_traces, n_steps, d, d)
    # Per-sample values of the linear functionals; batch means of them give the SEs.
    L = np.einsum("ij,tkjl->tkil", H, outer)
    L = L + np.swapaxes(L, -1, -2)
    temp = np.einsum("tkii->tk", L) / (2 * d)
    S, se_S, df = mean_se(outer, blocks)
    T, se_T, _ = mean_se(temp, blocks)
    size = tr.n_steps // blocks
    info = {"n_traces": tr.n_traces, "n_steps": tr.n_steps, "dim": d, "blocks": blocks,
            "block_length": size, "center_given": center is not None}
    meth = f"batch means ({tr.n_traces * blocks} blocks)"
    est = {}
    if sigma_g is not None:
        w = sigma_g / np.sum(sigma_g * sigma_g)
        eta = np.einsum("tkij,ij->tk", L, w)
        e, se_e, _ = mean_se(eta, blocks)
        est["eta_eff"] = Estimate.normal("eta_eff", e, se_e, level, meth, df=df)
        Lbar = L.reshape(-1, d, d).mean(axis=0)
        info["residual"] = float(np.linalg.norm(Lbar - e * sigma_g) / np.linalg.norm(Lbar))
    est["temperature"] = Estimate.normal("temperature", T, se_T, level, meth, df=df)
    est["stationary_covariance"] = Estimate.normal("stationary_covariance", S, se_S, level, meth,
                                                   df=df)
    return FitResult("effective-lr", est, info)

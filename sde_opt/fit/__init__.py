"""Drift and diffusion estimation from traces (simulated, or loaded from ``.npz``/``.csv`` files).

Every estimator takes a trace — ``(n_steps,)``, ``(n_steps, d)`` or ``(n_traces, n_steps, d)``
samples at a uniform interval Δ (see ``sde_opt.fit._trace`` for arrays and file layouts) — and
returns a [`FitResult`][sde_opt.fit.FitResult] of [`Estimate`][sde_opt.stats.Estimate] values with confidence
intervals. Diffusion is always the matrix D = B Bᵀ of dX = a dt + B dW (the package's convention;
Kramers–Moyal's D⁽²⁾ is D/2), in the trace's time unit (for an optimizer in time t = kη, Δ = stride·η).

* [`fit_quadratic_variation`][sde_opt.fit.fit_quadratic_variation] — realized diffusion matrix (model-free;
  exact O(Δ) drift bias
  documented, optional exact OU correction);
* [`fit_ou`][sde_opt.fit.fit_ou] — multivariate OU maximum likelihood through the exact discretization;
* [`fit_kramers_moyal`][sde_opt.fit.fit_kramers_moyal] — binned drift and diffusion (d ≤ 3) with finite-Δ
  correction;
* [`gradient_noise_covariance`][sde_opt.fit.gradient_noise_covariance],
  [`predicted_diffusion`][sde_opt.fit.predicted_diffusion] — Σ_g from gradient samples and
  the diffusion η Σ_g/(1 − μ)² that (momentum) SGD's limit predicts;
* [`fit_effective_lr`][sde_opt.fit.fit_effective_lr] — η_eff from H S + S H = η_eff Σ_g, and a temperature;
* [`heavy_ball_ou_target`][sde_opt.fit.heavy_ball_ou_target], [`ou_fit_target`][sde_opt.fit.ou_fit_target] —
  what the OU fit converges to on a
  linear chain (the exact reference for optimizer traces).
"""

from ..stats import Estimate as Estimate
from ._result import FitResult as FitResult
from ._trace import Trace as Trace
from ._trace import as_trace as as_trace
from ._trace import load_trace as load_trace
from ._trace import save_trace as save_trace
from .effective_lr import fit_effective_lr as fit_effective_lr
from .gradient_noise import gradient_noise_covariance as gradient_noise_covariance
from .gradient_noise import predicted_diffusion as predicted_diffusion
from .kramers_moyal import fit_kramers_moyal as fit_kramers_moyal
from .ou_mle import fit_ou as fit_ou
from .realized import fit_quadratic_variation as fit_quadratic_variation
from .realized import qv_expectation_ou as qv_expectation_ou
from .targets import heavy_ball_chain as heavy_ball_chain
from .targets import heavy_ball_ou_target as heavy_ball_ou_target
from .targets import ou_fit_target as ou_fit_target

__all__ = [
    "Estimate", "FitResult", "Trace", "as_trace", "load_trace", "save_trace", "fit_effective_lr",
    "gradient_noise_covariance", "predicted_diffusion", "fit_kramers_moyal", "fit_ou",
    "fit_quadratic_variation", "qv_expectation_ou", "heavy_ball_chain", "heavy_ball_ou_target",
    "ou_fit_target",
]

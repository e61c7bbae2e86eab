"""Closed-form predictions (validation-theory.md): what simulations are measured against.

* saddle exit — [`saddle_exit_mean`][sde_opt.theory.saddle_exit_mean] (exact, Dawson),
  [`saddle_exit_mean_asymptotic`][sde_opt.theory.saddle_exit_mean_asymptotic],
  [`saddle_exit_cdf`][sde_opt.theory.saddle_exit_cdf] /
  [`saddle_exit_quantile`][sde_opt.theory.saddle_exit_quantile] /
  [`saddle_exit_variance`][sde_opt.theory.saddle_exit_variance] (limiting law),
  [`saddle_exit_mean_em`][sde_opt.theory.saddle_exit_mean_em] (Euler–Maruyama),
  [`heavy_ball_exit_iterations`][sde_opt.theory.heavy_ball_exit_iterations] (discrete SGD / heavy ball),
  [`saddle_exit_iterations`][sde_opt.theory.saddle_exit_iterations] (the ML reading, effective step);
* Lyapunov — [`lyapunov_covariance`][sde_opt.theory.lyapunov_covariance],
  [`em_stationary_covariance`][sde_opt.theory.em_stationary_covariance],
  [`exact_transition`][sde_opt.theory.exact_transition] (sign convention of
  [`sde_opt.LinearSDE`][sde_opt.LinearSDE]: dX = AX dt + B dW);
* local SDE at a critical point of any problem — ``local_sde`` ([`LocalSDE`][sde_opt.theory.LocalSDE]: exit
  predictions at a strict saddle, stationary covariance at a minimum);
* momentum SGD on streaming PCA — ``sde_opt.theory.momentum_pca`` ([`pca_escape`][sde_opt.theory.pca_escape],
  [`pca_stationary_error`][sde_opt.theory.pca_stationary_error], the mean error curve, the momentum factor at
  fixed η);
* heavy ball on a quadratic —
  [`heavy_ball_stationary_covariance`][sde_opt.theory.heavy_ball_stationary_covariance],
  [`heavy_ball_moments`][sde_opt.theory.heavy_ball_moments],
  [`heavy_ball_diffusion_covariance`][sde_opt.theory.heavy_ball_diffusion_covariance],
  [`heavy_ball_transition`][sde_opt.theory.heavy_ball_transition].
"""

from . import adaptive as adaptive
from . import bilevel as bilevel
from . import minimax_rates as minimax_rates
from . import modified_equations as modified_equations
from . import momentum_pca as momentum_pca
from . import moreau as moreau
from . import neural_collapse as neural_collapse
from .heavy_ball import HeavyBallMoments as HeavyBallMoments
from .heavy_ball import heavy_ball_diffusion_covariance as heavy_ball_diffusion_covariance
from .heavy_ball import heavy_ball_moments as heavy_ball_moments
from .heavy_ball import heavy_ball_stationary_covariance as heavy_ball_stationary_covariance
from .heavy_ball import heavy_ball_transition as heavy_ball_transition
from .local_sde import LocalSDE as LocalSDE
from .local_sde import local_sde as local_sde
from .lyapunov import em_stationary_covariance as em_stationary_covariance
from .lyapunov import exact_transition as exact_transition
from .lyapunov import lyapunov_covariance as lyapunov_covariance
from .minimax_escape import gda_saddle as gda_saddle
from .minimax_escape import gdmax_kicked_escape as gdmax_kicked_escape
from .minimax_escape import unstable_mode as unstable_mode
from .modified_equations import ModifiedEquation as ModifiedEquation
from .modified_equations import iteration_matrix as iteration_matrix
from .momentum_pca import pca_escape as pca_escape
from .momentum_pca import stationary_error as pca_stationary_error
from .neural_collapse import kicked_subspace_escape_cdf as kicked_subspace_escape_cdf
from .neural_collapse import kicked_subspace_escape_mean as kicked_subspace_escape_mean
from .neural_collapse import saddle_linearization as saddle_linearization
from .neural_collapse import sphere_bm_factor as sphere_bm_factor
from .saddle_exit import heavy_ball_exit_iterations as heavy_ball_exit_iterations
from .saddle_exit import saddle_exit_cdf as saddle_exit_cdf
from .saddle_exit import saddle_exit_iterations as saddle_exit_iterations
from .saddle_exit import saddle_exit_mean as saddle_exit_mean
from .saddle_exit import saddle_exit_mean_asymptotic as saddle_exit_mean_asymptotic
from .saddle_exit import saddle_exit_mean_em as saddle_exit_mean_em
from .saddle_exit import saddle_exit_quantile as saddle_exit_quantile
from .saddle_exit import saddle_exit_variance as saddle_exit_variance

__all__ = [
    "HeavyBallMoments", "heavy_ball_diffusion_covariance", "heavy_ball_moments",
    "heavy_ball_stationary_covariance", "heavy_ball_transition", "em_stationary_covariance",
    "exact_transition", "lyapunov_covariance", "heavy_ball_exit_iterations", "saddle_exit_cdf",
    "saddle_exit_iterations", "saddle_exit_mean", "saddle_exit_mean_asymptotic",
    "saddle_exit_mean_em", "saddle_exit_quantile", "saddle_exit_variance", "LocalSDE", "local_sde",
    "momentum_pca", "pca_escape", "pca_stationary_error", "modified_equations", "ModifiedEquation",
    "iteration_matrix", "gda_saddle", "gdmax_kicked_escape", "unstable_mode", "bilevel",
    "neural_collapse", "saddle_linearization", "kicked_subspace_escape_cdf",
    "kicked_subspace_escape_mean", "sphere_bm_factor", "minimax_rates", "moreau",
]

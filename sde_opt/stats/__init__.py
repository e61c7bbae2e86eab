"""Statistics with honest error bars: arrays (or a SimulationResult) in, estimates with CIs out.

* one type for a number with an error bar — [`Estimate`][sde_opt.stats.Estimate] (value, SE, interval at a
  stated
  ``level``, n, method), combined by the delta method ([`Estimate.ratio`][sde_opt.stats.Estimate.ratio],
  [`Estimate.difference`][sde_opt.stats.Estimate.difference], [`Estimate.log`][sde_opt.stats.Estimate.log]);
  [`normal_quantile`][sde_opt.stats.normal_quantile] instead of a bare
  1.96. The richer results below return their headline numbers as Estimates
  (``ExitTimeSummary.estimate()``, ``SlopeFit.estimate()``, ``RateFit.estimate(level)``);

* exit times — [`exit_time_summary`][sde_opt.stats.exit_time_summary] (mean or restricted mean,
  quantiles, counts of exited / censored / diverged paths),
  [`kaplan_meier`][sde_opt.stats.kaplan_meier], [`quantile_ci`][sde_opt.stats.quantile_ci];
* stationary moments — [`batch_means`][sde_opt.stats.batch_means],
  [`stationary_covariance`][sde_opt.stats.stationary_covariance],
  [`integrated_autocorr_time`][sde_opt.stats.integrated_autocorr_time] (time averages along
  paths), [`iid_mean`][sde_opt.stats.iid_mean], [`iid_covariance`][sde_opt.stats.iid_covariance]
  (one sample per path);
* fits — [`slope_fit`][sde_opt.stats.slope_fit] (weighted least squares with CIs),
  [`loglog_slope`][sde_opt.stats.loglog_slope] (strong orders with a path bootstrap),
  [`exponential_rate`][sde_opt.stats.exponential_rate] (relaxation rates);
* fractions of runs — [`proportion_ci`][sde_opt.stats.proportion_ci] (Clopper–Pearson, always
  within [0, 1]).
"""

from ._estimate import Estimate as Estimate
from ._estimate import normal_quantile as normal_quantile
from .exit_times import ExitTimeSummary as ExitTimeSummary
from .exit_times import exit_time_summary as exit_time_summary
from .fits import SlopeFit as SlopeFit
from .fits import slope_fit as slope_fit
from .moments import iid_covariance as iid_covariance
from .moments import iid_mean as iid_mean
from .proportions import proportion_ci as proportion_ci
from .quantiles import quantile_ci as quantile_ci
from .quantiles import quantile_ci_coverage as quantile_ci_coverage
from .rates import BootstrapSlope as BootstrapSlope
from .rates import RateFit as RateFit
from .rates import exponential_rate as exponential_rate
from .rates import exponential_rate_difference as exponential_rate_difference
from .rates import loglog_slope as loglog_slope
from .stationary import batch_means as batch_means
from .stationary import integrated_autocorr_time as integrated_autocorr_time
from .stationary import stationary_covariance as stationary_covariance
from .survival import KaplanMeier as KaplanMeier
from .survival import kaplan_meier as kaplan_meier

__all__ = [
    "ExitTimeSummary", "exit_time_summary", "SlopeFit", "slope_fit", "Estimate", "iid_covariance",
    "iid_mean", "quantile_ci", "quantile_ci_coverage", "batch_means", "integrated_autocorr_time",
    "stationary_covariance", "KaplanMeier", "kaplan_meier", "normal_quantile", "BootstrapSlope",
    "RateFit", "exponential_rate", "exponential_rate_difference", "loglog_slope", "proportion_ci",
]

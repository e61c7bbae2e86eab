"""Distribution-free confidence intervals for quantiles (order-statistic / binomial method)."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from .._checks import check_array, check_integer, check_level, check_scalar


def quantile_ci(values, q: float, *, level: float = 0.95, n: int | None = None,
                horizon: float | None = None):
    r"""(estimate, low, high) for the q-quantile ξ_q of a continuous law, from order statistics.

    With X_(1) ≤ … ≤ X_(n) a sample of size n, the number of X_i ≤ ξ_q is Binomial(n, q), so

        P(X_(l) ≤ ξ_q ≤ X_(u)) = B(u − 1) − B(l − 1),    B the Binomial(n, q) CDF,

    whatever the law. We take l = B⁻¹(α/2) and u = B⁻¹(1 − α/2) + 1 (α = 1 − level), which
    guarantees coverage ≥ level (exact, not asymptotic); the estimate is X_(⌈nq⌉), the inverse of
    the empirical CDF. An end beyond the sample is ±inf.

    Censoring at a common horizon (type I — every unobserved value is known to exceed all observed
    ones, as for paths still running at the end of a simulation) is allowed: pass only the
    observed values and the total sample size ``n``. Order statistics beyond the observed ones are
    then unknown: the estimate and upper end become +inf ("not reached"), and a lower end beyond
    the observed ones becomes ``horizon`` (they are known to exceed it; +inf if not given). The
    coverage statement is unchanged.

    Args:
        values: the observed values (any order).
        q: the quantile level in (0, 1).
        level: confidence level.
        n: total sample size (default ``len(values)``); must be ≥ ``len(values)``.
        horizon: the common censoring value (with ``n > len(values)``).
    """
    owner = "quantile_ci"
    x = np.sort(check_array(owner, "values", values, nonempty=False).astype(float).ravel())
    n_obs = x.size
    n = n_obs if n is None else check_integer(owner, "n", n, low=1)
    q = check_scalar(owner, "q", q, 0.0, 1.0, low_closed=False, high_closed=False)
    level = check_level(owner, level)
    if horizon is not None:
        horizon = check_scalar(owner, "horizon", horizon, low_closed=False, high_closed=False)
    if n < max(n_obs, 1):
        raise ValueError(f"quantile_ci: n must be >= the number of values ({n_obs}); got {n}")
    alpha = 1.0 - level
    lo_idx = int(sps.binom.ppf(alpha / 2.0, n, q))  # 1-based l; 0 means −inf
    hi_idx = int(sps.binom.ppf(1.0 - alpha / 2.0, n, q)) + 1  # 1-based u; > n means +inf
    est_idx = max(1, int(np.ceil(n * q - 1e-12)))

    def order_stat(k: int, beyond: float = np.inf) -> float:
        if k < 1:
            return -np.inf
        return float(x[k - 1]) if k <= n_obs else beyond

    low_beyond = np.inf if horizon is None else float(horizon)
    return order_stat(est_idx), order_stat(lo_idx, low_beyond), order_stat(hi_idx)


def quantile_ci_coverage(n: int, q: float, *, level: float = 0.95) -> float:
    """The exact coverage B(u − 1) − B(l − 1) of [`quantile_ci`][sde_opt.stats.quantile_ci] for
    sample size ``n``."""
    owner = "quantile_ci_coverage"
    n = check_integer(owner, "n", n, low=1)
    q = check_scalar(owner, "q", q, 0.0, 1.0, low_closed=False, high_closed=False)
    level = check_level(owner, level)
    alpha = 1.0 - level
    lo_idx = int(sps.binom.ppf(alpha / 2.0, n, q))
    hi_idx = int(sps.binom.ppf(1.0 - alpha / 2.0, n, q)) + 1
    return float(sps.binom.cdf(hi_idx - 1, n, q) - sps.binom.cdf(lo_idx - 1, n, q))

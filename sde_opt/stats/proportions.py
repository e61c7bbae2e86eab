"""Intervals for a fraction of runs: how many of n independent runs did something."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from .._checks import check_integer, check_level
from ._estimate import Estimate


def proportion_ci(successes, n, *, level: float = 0.95) -> Estimate:
    r"""The fraction k/n of successes with its Clopper–Pearson (exact binomial) interval.

    With K ~ Binomial(n, p), the interval [p_lo, p_hi] solves P(K ≥ k; p_lo) = α/2 and
    P(K ≤ k; p_hi) = α/2, i.e. p_lo = B⁻¹(α/2; k, n − k + 1) and p_hi = B⁻¹(1 − α/2; k + 1, n − k)
    (Beta quantiles), with p_lo = 0 at k = 0 and p_hi = 1 at k = n. Its coverage is at least
    ``level`` for every p, and it always lies in [0, 1] (a normal interval k/n ± z·se does not).
    A claim about *every* run (p = 1) lies in the interval exactly when k = n.

    Args:
        successes: k, an integer in [0, n].
        n: number of independent runs, n ≥ 1.
        level: coverage in (0, 1).

    Returns:
        An [`Estimate`][sde_opt.stats.Estimate] with value k/n, se = √(p̂(1 − p̂)/n) (0 at
        k ∈ {0, n}) and the exact interval.
    """
    n = check_integer("proportion_ci", "n", n, low=1)
    k = check_integer("proportion_ci", "successes", successes, low=0, high=n)
    level = check_level("proportion_ci", level)
    alpha = 1.0 - level
    lo = 0.0 if k == 0 else float(sps.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - alpha / 2, k + 1, n - k))
    p = k / n
    return Estimate("fraction", np.asarray(p), np.asarray(np.sqrt(p * (1 - p) / n)), np.asarray(lo),
                    np.asarray(hi), level, "Clopper–Pearson (exact binomial)", n)


__all__ = ["proportion_ci"]

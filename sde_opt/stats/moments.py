"""Moments of i.i.d. samples (one value per independent path) with standard errors."""

from __future__ import annotations

import numpy as np

from .._checks import check_array, check_bool, check_level
from ._estimate import Estimate


def _finite_rows(name: str, x, level) -> np.ndarray:
    check_level(name, level)
    x = check_array(name, "x", x, finite=False).astype(np.float64)
    if x.ndim < 1 or x.shape[0] < 2:
        raise ValueError(f"{name}: x must have at least 2 samples along axis 0; got shape {x.shape}")
    bad = ~np.all(np.isfinite(x.reshape(x.shape[0], -1)), axis=1)
    if bad.any():
        raise ValueError(f"{name}: x must hold finite samples; got {int(bad.sum())} of "
                         f"{x.shape[0]} samples not finite (stopped or diverged paths); they are "
                         "not dropped silently — select the paths to use explicitly")
    return x


def iid_mean(x, *, level: float = 0.95) -> Estimate:
    """Mean over axis 0 of i.i.d. samples ``(N, …)``, with SE = sd/√N."""
    x = _finite_rows("iid_mean", x, level)
    n = x.shape[0]
    return Estimate.normal("mean", x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(n), level,
                           "i.i.d. samples: sd/√N", n=n)


def iid_covariance(x, *, gaussian: bool = True, level: float = 0.95) -> Estimate:
    r"""Sample covariance of i.i.d. vectors ``x`` of shape ``(N, d)``, with entrywise SEs.

    ``gaussian=True`` uses the rule for Gaussian samples (validation-theory.md §0),
    SE(S_ij) = √((S_ii S_jj + S_ij²)/N). ``gaussian=False`` uses the empirical variance of the
    centred products, SE(S_ij) = sd((x_i − x̄_i)(x_j − x̄_j))/√N, valid for any law with fourth
    moments.
    """
    x = _finite_rows("iid_covariance", x, level)
    gaussian = check_bool("iid_covariance", "gaussian", gaussian)
    if x.ndim != 2:
        raise ValueError(f"iid_covariance: x must have shape (N, d); got {x.shape}")
    n = x.shape[0]
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / (n - 1)
    if gaussian:
        diag = np.diag(s)
        se = np.sqrt((np.outer(diag, diag) + s**2) / n)
    else:
        prod = xc[:, :, None] * xc[:, None, :]
        se = prod.std(axis=0, ddof=1) / np.sqrt(n)
    return Estimate.normal("covariance", s, se, level,
                           "i.i.d. samples" + (" (Gaussian SE rule)" if gaussian else " (empirical SE)"), n=n)

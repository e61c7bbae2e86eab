"""Straight-line fits with confidence intervals: convergence orders and rates on log-log axes."""

from __future__ import annotations

import dataclasses

import numpy as np

from .._checks import check_array, check_bool, check_level
from ._estimate import Estimate, normal_quantile, t_quantile


@dataclasses.dataclass(frozen=True)
class SlopeFit:
    """y ≈ intercept + slope·x (on log-log axes when fitted with ``log=True``).

    Attributes:
        slope, slope_se, slope_low, slope_high: the slope and its CI (as an Estimate:
            ``estimate``).
        intercept, intercept_se: the intercept (of log y at log x = 0 for a log-log fit).
        level: confidence level.
        method: ``"ols"`` (residual-based t interval, n − 2 dof) or ``"wls"`` (known SEs of y,
            normal interval).
        dof: residual degrees of freedom n − 2.
        chi2: for ``"wls"``, Σ ((y − fit)/se)², which should be ≈ dof if the straight line and
            the SEs are right (a goodness-of-fit check); for ``"ols"`` the residual sum of squares.
        log: whether x and y were log-transformed.
    """

    slope: float
    slope_se: float
    slope_low: float
    slope_high: float
    intercept: float
    intercept_se: float
    level: float
    method: str
    dof: int
    chi2: float
    log: bool

    def estimate(self) -> Estimate:
        """The slope as an [`Estimate`][sde_opt.stats.Estimate] (its interval as fitted: t with
        n − 2 dof for OLS, normal for WLS; n = number of points)."""
        return Estimate("slope", np.float64(self.slope), np.float64(self.slope_se),
                        np.float64(self.slope_low), np.float64(self.slope_high), self.level,
                        self.method, self.dof + 2)

    def predict(self, x):
        """The fitted y at ``x`` (back-transformed for a log-log fit)."""
        x = np.asarray(x, dtype=float)
        if self.log:
            return np.exp(self.intercept + self.slope * np.log(x))
        return self.intercept + self.slope * x

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:
        return (f"SlopeFit(slope={self.slope:.4g} [{self.slope_low:.4g}, {self.slope_high:.4g}] "
                f"({100 * self.level:g}%, {self.method}, dof={self.dof}), "
                f"intercept={self.intercept:.4g})")


def slope_fit(x, y, *, y_se=None, log: bool = True, level: float = 0.95) -> SlopeFit:
    r"""Least-squares slope of y against x, by default on log-log axes (an order or a rate).

    Without ``y_se``: ordinary least squares; the slope's SE comes from the residuals and the
    interval uses Student's t with n − 2 degrees of freedom (n ≥ 3 points needed).
    With ``y_se`` (Monte-Carlo SEs of the y values): weighted least squares with weights 1/se²
    (on log axes se(log y) = se/y by the delta method); the SE of the slope is
    √((XᵀWX)⁻¹)₁₁ from the known SEs and the interval is normal (n ≥ 2). ``chi2`` reports the
    goodness of fit; a χ²/dof far above 1 means the line or the SEs are wrong, and the interval
    should not be trusted.

    Typical use: strong order of a scheme, ``slope_fit(h, mean_abs_error, y_se=se)``.
    """
    owner = "slope_fit"
    log = check_bool(owner, "log", log)
    level = check_level(owner, level)
    x = check_array(owner, "x", x, ndim=1).astype(float)
    y = check_array(owner, "y", y, ndim=1).astype(float)
    for name, a in (("x", x), ("y", y)):
        if log and np.any(a <= 0):
            raise ValueError(f"slope_fit: {name} must be > 0 for a log-log fit (log=True needs "
                             f"x > 0 and y > 0); got {name} = {a[a <= 0][0]!r}")
    if x.shape != y.shape:
        raise ValueError(f"slope_fit: y must have the shape of x {x.shape}; got {y.shape}")
    if log:
        u, w = np.log(x), np.log(y)
    else:
        u, w = x, y
    n = u.size
    design = np.stack([np.ones(n), u], axis=1)
    if y_se is None:
        if n < 3:
            raise ValueError(f"slope_fit: ordinary least squares needs >= 3 points; got {n}")
        coef, *_ = np.linalg.lstsq(design, w, rcond=None)
        resid = w - design @ coef
        rss = float(resid @ resid)
        cov = np.linalg.inv(design.T @ design) * rss / (n - 2)
        q = t_quantile(level, n - 2)
        method, chi2 = "ols", rss
    else:
        se = check_array(owner, "y_se", y_se, ndim=1, low=0.0, low_closed=False).astype(float)
        if se.shape != y.shape:
            raise ValueError(f"slope_fit: y_se must have the shape of y {y.shape}; got "
                             f"{se.shape}")
        if n < 2:
            raise ValueError(f"slope_fit: a weighted fit needs >= 2 points; got {n}")
        s = se / y if log else se
        wts = 1.0 / s**2
        cov = np.linalg.inv(design.T @ (design * wts[:, None]))
        coef = cov @ (design.T @ (wts * w))
        resid = w - design @ coef
        chi2 = float(np.sum(wts * resid**2))
        q = normal_quantile(level)
        method = "wls"
    slope_se = float(np.sqrt(cov[1, 1]))
    slope = float(coef[1])
    return SlopeFit(slope=slope, slope_se=slope_se, slope_low=slope - q * slope_se,
                    slope_high=slope + q * slope_se, intercept=float(coef[0]),
                    intercept_se=float(np.sqrt(cov[0, 0])), level=float(level), method=method,
                    dof=n - 2, chi2=chi2, log=bool(log))

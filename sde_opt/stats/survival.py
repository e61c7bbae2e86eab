"""Kaplan–Meier estimate of a survival function from right-censored times, with Greenwood CIs.

For exit times, "survival" is S(t) = P(τ > t): the probability that a path is still near the
saddle at time t. A path that hits the horizon (or is treated as censored for another reason) only
tells us τ > its time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._checks import check_array, check_level, check_mask
from ._estimate import normal_quantile


@dataclasses.dataclass(frozen=True)
class KaplanMeier:
    r"""The Kaplan–Meier step function Ŝ(t) = Π_{t_j ≤ t} (1 − d_j/n_j) and its pointwise CI.

    Attributes:
        times: ``(J,)`` distinct times t_j at which at least one event was observed, increasing.
        at_risk: ``(J,)`` n_j, paths with time ≥ t_j.
        events: ``(J,)`` d_j, events observed at t_j.
        survival: ``(J,)`` Ŝ(t_j) (the value on [t_j, t_{j+1})); Ŝ = 1 before ``times[0]``.
        variance: ``(J,)`` Greenwood's variance Ŝ(t)² Σ_{t_j ≤ t} d_j/(n_j(n_j − d_j)).
        ci_low, ci_high: ``(J,)`` pointwise CI from the log(−log) transform of Greenwood's
            formula (Kalbfleisch–Prentice): Ŝ^{exp(±z·se)} with
            se² = Σ d_j/(n_j(n_j − d_j)) / (log Ŝ)². It stays inside [0, 1] and covers better
            than Ŝ ± z·√variance in the tails.
        n: number of paths.
        horizon: the largest time observed (event or censoring); Ŝ is not identified beyond it.
        level: confidence level of the CI.
    """

    times: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    survival: np.ndarray
    variance: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n: int
    horizon: float
    level: float

    def _at(self, values, t, before: float):
        """The step function with ``values`` on [t_j, t_{j+1}) and ``before`` before t_1."""
        padded = np.concatenate([[before], values])
        return padded[np.searchsorted(self.times, np.asarray(t, dtype=float), side="right")]

    def __call__(self, t):
        """Ŝ(t) (right-continuous step function)."""
        return self._at(self.survival, t, 1.0)

    def ci(self, t):
        """(low, high) pointwise CI of S(t)."""
        return self._at(self.ci_low, t, 1.0), self._at(self.ci_high, t, 1.0)

    def quantile(self, q: float):
        """(estimate, low, high) of the q-quantile of τ: inf{t : Ŝ(t) ≤ 1 − q}.

        The interval inverts the pointwise band (Brookmeyer–Crowley style): the lower end is where
        the lower band first reaches 1 − q, the upper end where the upper band does. ``inf`` means
        "not reached before the horizon"; a lower end not reached is the horizon itself (the
        quantile is then known, at the confidence level, to exceed it).
        """
        if not 0.0 < q < 1.0:
            raise ValueError(f"KaplanMeier.quantile: q must lie in (0, 1); got {q!r}")

        def first(curve):
            hit = np.flatnonzero(curve <= 1.0 - q + 1e-12)
            return float(self.times[hit[0]]) if hit.size else np.inf

        return first(self.survival), min(first(self.ci_low), self.horizon), first(self.ci_high)

    def restricted_mean(self, tau: float | None = None):
        r"""(μ, se) of the restricted mean E min(τ, T) = ∫_0^T Ŝ(t) dt (default T = horizon).

        Its variance is the Greenwood-type sum Σ_j A_j² d_j/(n_j(n_j − d_j)) with
        A_j = ∫_{t_j}^{τ_max} Ŝ(t) dt (Klein & Moeschberger §4.5). Times are assumed ≥ 0.
        It is ≤ E τ: a lower bound on the mean exit time whenever paths are censored.
        """
        tau = self.horizon if tau is None else float(tau)
        keep = self.times <= tau
        t = np.concatenate([[0.0], self.times[keep], [tau]])
        s = np.concatenate([[1.0], self.survival[keep]])
        pieces = s * np.diff(t)  # ∫ over [t_j, t_{j+1}) of the step function
        mean = float(np.sum(pieces))
        tail = np.cumsum(pieces[::-1])[::-1][1:]  # A_j = ∫_{t_j}^{tau} Ŝ, j = 1..J
        n, d = self.at_risk[keep].astype(float), self.events[keep].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(n > d, d / (n * (n - d)), 0.0)
        var = float(np.sum(tail**2 * w))
        return mean, float(np.sqrt(var))

    def as_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in dataclasses.asdict(self).items()}

    def __repr__(self) -> str:
        return (f"KaplanMeier(n={self.n}, events={int(self.events.sum())}, "
                f"censored={self.n - int(self.events.sum())}, horizon={self.horizon:g}, "
                f"S(horizon)={float(self(self.horizon)):.4g})")


def kaplan_meier(times, observed=None, *, level: float = 0.95) -> KaplanMeier:
    """Kaplan–Meier estimate of S(t) = P(τ > t) from right-censored times.

    Args:
        times: ``(n,)`` event or censoring times.
        observed: ``(n,)`` bool, True where the event was observed (default: all observed).
        level: confidence level of the pointwise CI.

    At tied times, events are counted before censorings (the usual convention: a path censored
    at t was at risk at t).
    """
    owner = "kaplan_meier"
    level = check_level(owner, level)
    times = check_array(owner, "times", times, ndim=1, low=0.0).astype(float)
    observed = (np.ones(times.shape, bool) if observed is None
                else check_mask(owner, "observed", observed, times.shape))
    z = normal_quantile(level)

    order = np.argsort(times, kind="stable")
    t_sorted, obs_sorted = times[order], observed[order]
    uniq = np.unique(t_sorted[obs_sorted])
    n_total = times.size
    at_risk = n_total - np.searchsorted(t_sorted, uniq, side="left")
    event_times = t_sorted[obs_sorted]
    events = (np.searchsorted(event_times, uniq, side="right")
              - np.searchsorted(event_times, uniq, side="left")).astype(np.int64)
    n = at_risk.astype(float)
    d = events.astype(float)
    survival = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.cumsum(np.where(n > d, d / (n * (n - d)), np.inf))
        variance = np.where(survival > 0, survival**2 * gw, 0.0)
        log_s = np.log(survival)
        se_ll = np.sqrt(gw) / np.abs(log_s)
        low = np.where((survival > 0) & (survival < 1), survival ** np.exp(z * se_ll), survival)
        high = np.where((survival > 0) & (survival < 1), survival ** np.exp(-z * se_ll), survival)
    return KaplanMeier(times=uniq, at_risk=at_risk.astype(np.int64), events=events,
                       survival=survival, variance=variance, ci_low=low, ci_high=high,
                       n=int(n_total), horizon=float(times.max()), level=float(level))

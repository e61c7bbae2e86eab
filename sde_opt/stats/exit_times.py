"""Exit-time summaries: mean, median and quantiles with CIs, honest about censoring and divergence.

Rules (what a summary reports and why):

* **Nothing censored** — the mean is the sample mean with a normal CI, mean ± z·sd/√n (exit times
  have all moments; n is in the thousands). Quantiles use the distribution-free order-statistic
  interval ([`quantile_ci`][sde_opt.stats.quantile_ci]), whose coverage is exact, not asymptotic.
* **Some paths censored** — the mean exit time is not identified beyond the horizon. The summary
  reports the *restricted mean* μ_T = E min(τ, T) = ∫_0^T S(t) dt from the Kaplan–Meier curve, with
  its Greenwood-type CI, labelled as such: μ_T ≤ E τ, a lower bound on the mean
  (``mean_kind == "restricted mean"``, ``restricted_to == T``). Quantiles below the horizon are
  still estimable. If every censored time is at or beyond every exit time (type-I censoring at
  the horizon, the engine's case), the order-statistic interval stays exact, with the unobserved
  order statistics set to +inf; otherwise the interval inverts the Kaplan–Meier log(−log)
  Greenwood band.
* **Diverged paths** (state became non-finite) are counted and reported, never dropped. By default
  they enter the estimates as *censored at their divergence time*: the path is known not to have
  exited before it blew up, and nothing is assumed about it afterwards (the cause-specific
  reading, which assumes divergence is unrelated to the exit time). This usually makes the
  censoring random rather than type I, so the Kaplan–Meier intervals are used.
  ``diverged_as="exited"`` instead counts a divergence as an exit at that time (right when
  blowing up means having left the region, e.g. an unstable step size at a saddle).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._checks import check_array, check_choice, check_level, check_mask
from ._estimate import Estimate
from .quantiles import quantile_ci
from .survival import kaplan_meier, normal_quantile

_DIVERGED_AS = ("censored", "exited")


@dataclasses.dataclass(frozen=True)
class ExitTimeSummary:
    """Exit-time statistics of a batch of paths (see the module docstring for the rules).

    Attributes:
        n, exited, censored, diverged: path counts (exited + censored + diverged = n).
        unit: ``"time"`` (continuous time), ``"steps"`` (iterations), or ``""`` for raw arrays.
        level: confidence level of every interval.
        mean, mean_se, mean_low, mean_high: the mean (or restricted mean) and its CI (the same
            number as an [`Estimate`][sde_opt.stats.Estimate]: ``estimate``).
        mean_kind: ``"mean"`` or ``"restricted mean"`` (a lower bound on the mean).
        restricted_to: the horizon T of the restricted mean (None for a plain mean).
        quantiles: tuple of ``(q, estimate, low, high)``; +inf = not reached before the horizon
            (one as an Estimate: ``quantile_estimate``).
        quantile_method: ``"order statistics"`` or ``"Kaplan-Meier band"``.
        diverged_as: how diverged paths entered the estimates (``"censored"`` or ``"exited"``).
    """

    n: int
    exited: int
    censored: int
    diverged: int
    unit: str
    level: float
    mean: float
    mean_se: float
    mean_low: float
    mean_high: float
    mean_kind: str
    restricted_to: float | None
    quantiles: tuple
    quantile_method: str
    diverged_as: str

    def estimate(self) -> Estimate:
        """The mean (or restricted mean) as an [`Estimate`][sde_opt.stats.Estimate] (n = paths;
        ``method`` names the kind, e.g. ``"restricted mean up to T"``)."""
        kind = (self.mean_kind if self.restricted_to is None
                else f"{self.mean_kind} up to {self.restricted_to:.6g}")
        return Estimate("mean exit " + (self.unit or "time"), np.float64(self.mean),
                        np.float64(self.mean_se), np.float64(self.mean_low),
                        np.float64(self.mean_high), self.level, kind, self.n)

    def quantile_estimate(self, q: float) -> Estimate:
        """The q-quantile with its (distribution-free, possibly infinite) interval; se is NaN."""
        e, lo, hi = self.quantile(q)
        return Estimate(f"q{q:g}", np.float64(e), np.float64(np.nan), np.float64(lo),
                        np.float64(hi), self.level, self.quantile_method, self.n)

    def quantile(self, q: float):
        """(estimate, low, high) of the q-quantile, if it was requested."""
        for qq, est, lo, hi in self.quantiles:
            if np.isclose(qq, q):
                return est, lo, hi
        raise KeyError(f"quantile {q} was not computed; have {[qq for qq, *_ in self.quantiles]}")

    @property
    def median(self) -> float:
        return self.quantile(0.5)[0]

    @property
    def median_ci(self) -> tuple[float, float]:
        return self.quantile(0.5)[1:]

    def as_dict(self) -> dict:
        """A JSON-ready dict (infinite quantile ends stay ``inf``; studies' writers encode them)."""
        d = dataclasses.asdict(self)
        d["quantiles"] = [{"q": q, "estimate": e, "low": lo, "high": hi}
                          for q, e, lo, hi in self.quantiles]
        return d

    def __repr__(self) -> str:
        pct = f"{100 * self.level:g}%"
        u = f" {self.unit}" if self.unit else ""
        head = (f"ExitTimeSummary(n={self.n}: {self.exited} exited, {self.censored} censored, "
                f"{self.diverged} diverged (as {self.diverged_as})")
        if self.mean_kind == "mean":
            mean = f"mean{u}: {self.mean:.5g} [{self.mean_low:.5g}, {self.mean_high:.5g}] ({pct})"
        else:
            mean = (f"restricted mean{u} up to {self.restricted_to:.5g}: {self.mean:.5g} "
                    f"[{self.mean_low:.5g}, {self.mean_high:.5g}] ({pct}; a lower bound on the "
                    "mean)")
        qs = "; ".join(f"q{q:g}: {e:.5g} [{lo:.5g}, {hi:.5g}]" for q, e, lo, hi in self.quantiles)
        return f"{head}\n  {mean}\n  quantiles ({self.quantile_method}): {qs})"


def exit_time_summary(
    result_or_times,
    observed=None,
    *,
    diverged=None,
    unit: str = "time",
    quantiles=(0.1, 0.25, 0.5, 0.75, 0.9),
    level: float = 0.95,
    diverged_as: str = "censored",
) -> ExitTimeSummary:
    """Summarize exit times from a [`SimulationResult`][sde_opt.SimulationResult] or from arrays.

    Args:
        result_or_times: a ``SimulationResult`` or an ``(n,)`` array of stopping times.
        observed: with arrays, ``(n,)`` bool: True where the exit was observed (default: all).
        diverged: with arrays, ``(n,)`` bool: True where the path diverged (must not overlap
            ``observed``; default: none).
        unit: with a ``SimulationResult``, ``"time"`` (``result.times``) or ``"steps"``
            (``result.steps``, i.e. iterations). Ignored (recorded as ``""``) for arrays.
        quantiles: quantile levels to report (0.5 is always included).
        level: confidence level.
        diverged_as: ``"censored"`` (default) or ``"exited"`` — see the module docstring.
    """
    owner = "exit_time_summary"
    check_choice(owner, "diverged_as", diverged_as, _DIVERGED_AS)
    check_choice(owner, "unit", unit, ("time", "steps"))
    level = check_level(owner, level)
    quantiles = check_array(owner, "quantiles", quantiles, ndim=1, nonempty=False, low=0.0,
                            high=1.0, low_closed=False, high_closed=False)
    times, exited, div, unit = _unpack(result_or_times, observed, diverged, unit)
    n = times.size
    n_exit, n_div = int(exited.sum()), int(div.sum())
    event = exited | div if diverged_as == "exited" else exited
    z = normal_quantile(level)

    km = None if event.all() else kaplan_meier(times, event, level=level)
    if km is None:
        mean = float(times.mean())
        se = float(times.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        mean_kind, restricted_to = "mean", None
    else:
        mean, se = km.restricted_mean()
        mean_kind, restricted_to = "restricted mean", km.horizon

    qs = sorted(set(float(q) for q in quantiles) | {0.5})
    last_exit = times[event].max() if event.any() else -np.inf
    type_one = event.all() or times[~event].min() >= last_exit
    if type_one:
        rows = tuple((q, *quantile_ci(times[event], q, level=level, n=n, horizon=times.max()))
                     for q in qs)
        if times.min() >= 0:  # exit times are ≥ 0: an order statistic X_(0) = −inf is just 0
            rows = tuple((q, e, max(lo, 0.0), hi) for q, e, lo, hi in rows)
        method = "order statistics"
    else:
        rows = tuple((q, *km.quantile(q)) for q in qs)
        method = "Kaplan-Meier band"

    return ExitTimeSummary(
        n=n, exited=n_exit, censored=n - n_exit - n_div, diverged=n_div, unit=unit,
        level=float(level), mean=mean, mean_se=se, mean_low=mean - z * se, mean_high=mean + z * se,
        mean_kind=mean_kind, restricted_to=restricted_to, quantiles=rows, quantile_method=method,
        diverged_as=diverged_as,
    )


def _unpack(obj, observed, diverged, unit):
    if hasattr(obj, "status") and hasattr(obj, "steps"):
        if observed is not None or diverged is not None:
            raise ValueError("exit_time_summary: observed/diverged must be None with a "
                             "SimulationResult (they come from it); got "
                             f"observed={type(observed).__name__}, "
                             f"diverged={type(diverged).__name__}")
        times = np.asarray(obj.times if unit == "time" else obj.steps, dtype=float)
        return times, np.asarray(obj.exited), np.asarray(obj.diverged), unit
    owner = "exit_time_summary"
    if not hasattr(obj, "dtype") and not isinstance(obj, (list, tuple)):
        raise TypeError(f"{owner}: result_or_times must be a SimulationResult or an array of "
                        f"times; got {type(obj).__name__}")
    times = check_array(owner, "result_or_times", obj, ndim=1, low=0.0).astype(float)
    exited = (np.ones(times.size, bool) if observed is None
              else check_mask(owner, "observed", observed, times.shape))
    div = (np.zeros(times.size, bool) if diverged is None
           else check_mask(owner, "diverged", diverged, times.shape))
    if np.any(exited & div):
        raise ValueError("exit_time_summary: diverged must not overlap observed (a path cannot "
                         f"be both observed (exited) and diverged); got {int(np.sum(exited & div))} "
                         "paths in both")
    return times, exited, div, ""

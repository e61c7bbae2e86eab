"""The one estimate type: a value (scalar or array) with its standard error and interval."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats


def normal_quantile(level: float) -> float:
    """z with P(|Z| ≤ z) = level: 1.96 for ``level = 0.95``."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1); got {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def t_quantile(level: float, df: int) -> float:
    """Two-sided Student-t quantile with ``df`` degrees of freedom."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1); got {level!r}")
    return float(stats.t.ppf(0.5 + level / 2.0, df))


def _fmt(v) -> str:
    v = float(v)
    return "nan" if math.isnan(v) else f"{v:.5g}"


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A point estimate (scalar or array) with standard error and a two-sided interval.

    ``ci_low``/``ci_high`` have the shape of ``value``; ``level`` is their nominal coverage and
    ``method`` says how they were obtained (e.g. ``"delta method"``, ``"bootstrap (basic)"``).
    """

    name: str
    value: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    level: float = 0.95
    method: str = ""

    @classmethod
    def normal(cls, name, value, se, level=0.95, method="", *, df=None) -> Estimate:
        """value ± q·se with q the normal (or Student-t with ``df``) quantile."""
        value = np.asarray(value, dtype=np.float64)
        se = np.asarray(se, dtype=np.float64)
        q = normal_quantile(level) if df is None else t_quantile(level, df)
        return cls(name, value, se, value - q * se, value + q * se, level, method)

    def covers(self, truth) -> np.ndarray:
        """Whether the interval contains ``truth`` (element-wise)."""
        truth = np.asarray(truth, dtype=np.float64)
        hit = (self.ci_low <= truth) & (truth <= self.ci_high)
        if hit.shape != np.shape(self.value):
            raise ValueError(f"Estimate.covers: truth of shape {truth.shape} does not broadcast to "
                             f"the estimate's shape {np.shape(self.value)}")
        return hit

    def scaled(self, factor, name=None) -> Estimate:
        """The estimate of ``factor · value`` (a positive scalar factor)."""
        f = float(factor)
        if f < 0:
            raise ValueError(f"Estimate.scaled: factor must be >= 0; got {f}")
        return Estimate(name or self.name, self.value * f, self.se * f, self.ci_low * f,
                        self.ci_high * f, self.level, self.method)

    def as_dict(self) -> dict:
        """JSON-ready (NaN, e.g. an empty bin, becomes ``None``)."""
        return {"name": self.name, "value": _plain(self.value), "se": _plain(self.se),
                "ci_low": _plain(self.ci_low), "ci_high": _plain(self.ci_high),
                "level": self.level, "method": self.method}

    def lines(self) -> list[str]:
        """Human-readable lines: ``name[i,j] = v ± se  [lo, hi]`` (at most 40 entries shown)."""
        v = np.asarray(self.value)
        pct = f"{100 * self.level:g}%"
        if v.ndim == 0:
            return [f"{self.name} = {_fmt(v)} ± {_fmt(self.se)}  {pct} CI [{_fmt(self.ci_low)}, "
                    f"{_fmt(self.ci_high)}]"]
        out = []
        for n, idx in enumerate(np.ndindex(v.shape)):
            if n == 40:
                out.append(f"{self.name}: … ({v.size - 40} more entries)")
                break
            i = ",".join(map(str, idx))
            out.append(f"{self.name}[{i}] = {_fmt(v[idx])} ± {_fmt(self.se[idx])}  {pct} CI "
                       f"[{_fmt(self.ci_low[idx])}, {_fmt(self.ci_high[idx])}]")
        return out

    def __repr__(self) -> str:
        v = np.asarray(self.value)
        if v.ndim == 0:
            return f"Estimate({self.lines()[0]})"
        return f"Estimate({self.name}, shape={v.shape}, level={self.level:g})"



def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist()) if obj.dtype.kind == "f" else obj.tolist()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj

"""The one estimate type: a value (scalar or array) with its standard error and interval."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats

from .._checks import check_integer, check_level


def normal_quantile(level: float) -> float:
    """z with P(|Z| ≤ z) = level: 1.96 for ``level = 0.95``."""
    level = check_level("normal_quantile", level)
    return float(stats.norm.ppf(0.5 + level / 2.0))


def t_quantile(level: float, df: int) -> float:
    """Two-sided Student-t quantile with ``df`` degrees of freedom."""
    level = check_level("t_quantile", level)
    df = check_integer("t_quantile", "df", df, low=1)
    return float(stats.t.ppf(0.5 + level / 2.0, df))


def _fmt(v) -> str:
    v = float(v)
    return "nan" if math.isnan(v) else f"{v:.5g}"


def _hypot(a, b) -> np.ndarray:
    """Element-wise √(a² + b²) without overflow, rounded as ``math.hypot`` (for every shape)."""
    return np.asarray(np.vectorize(math.hypot, otypes=[float])(a, b), dtype=np.float64)


def _number(x) -> bool:
    return isinstance(x, (int, float, np.number)) or (isinstance(x, np.ndarray) and x.ndim == 0)


@dataclasses.dataclass(frozen=True)
class Estimate:
    r"""A point estimate (scalar or array) with standard error and a two-sided interval.

    The one type for "a number with an error bar": means, rates, slopes, ratios, differences.
    ``ci_low``/``ci_high`` have the shape of ``value``; ``level`` is their nominal coverage,
    ``method`` says how they were obtained (e.g. ``"delta method"``, ``"bootstrap (basic)"``) and
    ``n`` is the number of independent samples behind the estimate (paths, batches; ``None`` when
    it does not apply).

    Intervals are always at a stated level: ``normal`` builds value ± z·se with
    z = [`normal_quantile`][sde_opt.stats.normal_quantile] (level) (or Student's t with ``df``), ``at_level``
    re-states a normal interval at another level.

    Combining estimates (first-order delta method):

    * ``a.ratio(b)``: r = a/b, se(r) = |r| √((σ_a/a)² + (σ_b/b)² − 2 c/(a b)),
    * ``a.difference(b)``: a − b, se = √(σ_a² + σ_b² − 2c),
    * ``a.log()``: log a, se = σ_a/|a|,

    with c = Cov(â, b̂) (``cov=``; 0 for independent estimates). Their intervals are normal at
    ``a``'s level. With a plain number (known exactly), ``a / x``, ``a * x``, ``a − x``, ``a + x``
    transform value, se and interval exactly.
    """

    name: str
    value: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    level: float = 0.95
    method: str = ""
    n: int | None = None

    @classmethod
    def normal(cls, name, value, se, level=0.95, method="", *, df=None, n=None) -> Estimate:
        """value ± q·se with q the normal (or Student-t with ``df``) quantile at ``level``."""
        value = np.asarray(value, dtype=np.float64)
        se = np.asarray(se, dtype=np.float64)
        q = normal_quantile(level) if df is None else t_quantile(level, df)
        return cls(name, value, se, value - q * se, value + q * se, level, method,
                   None if n is None else int(n))

    def at_level(self, level: float) -> Estimate:
        """The normal interval value ± z(level)·se (the point estimate and SE unchanged)."""
        return Estimate.normal(self.name, self.value, self.se, level, self.method, n=self.n)

    @property
    def ci(self):
        """(ci_low, ci_high) — floats for a scalar estimate."""
        if np.ndim(self.value) == 0:
            return (float(self.ci_low), float(self.ci_high))
        return (self.ci_low, self.ci_high)

    def ratio(self, other, *, cov=0.0, name=None) -> Estimate:
        """self / other by the delta method (class docstring); ``other`` an Estimate."""
        a, b = np.asarray(self.value, np.float64), np.asarray(other.value, np.float64)
        r = a / b
        ra, rb = self.se / a, other.se / b
        if np.all(np.asarray(cov) == 0):
            rel = _hypot(ra, rb)
        else:
            rel = np.sqrt(ra**2 + rb**2 - 2 * np.asarray(cov, np.float64) / (a * b))
        return Estimate.normal(name or f"{self.name}/{other.name}", r,
                               np.abs(r) * rel, self.level, "delta method")

    def difference(self, other, *, cov=0.0, name=None) -> Estimate:
        """self − other by the delta method (class docstring); ``other`` an Estimate."""
        d = np.asarray(self.value, np.float64) - np.asarray(other.value, np.float64)
        if np.all(np.asarray(cov) == 0):
            se = _hypot(self.se, other.se)
        else:
            se = np.sqrt(self.se**2 + other.se**2 - 2 * np.asarray(cov, np.float64))
        return Estimate.normal(name or f"{self.name}-{other.name}", d, se, self.level,
                               "delta method")

    def log(self, name=None) -> Estimate:
        """log(value) by the delta method: se(log θ̂) = se/|θ̂| (for θ > 0), normal interval."""
        v = np.asarray(self.value, np.float64)
        if np.any(v <= 0):
            raise ValueError(f"Estimate.log: {self.name} must be positive; got {v}")
        lv = np.asarray(np.vectorize(math.log, otypes=[float])(v), np.float64)
        return Estimate.normal(name or f"log {self.name}", lv, self.se / np.abs(v), self.level,
                               "delta method", n=self.n)

    def _affine(self, scale, shift) -> Estimate:
        lo, hi = self.ci_low * scale + shift, self.ci_high * scale + shift
        if scale < 0:
            lo, hi = hi, lo
        return Estimate(self.name, self.value * scale + shift, self.se * abs(scale), lo, hi,
                        self.level, self.method, self.n)

    def __truediv__(self, x) -> Estimate:
        if isinstance(x, Estimate):
            return self.ratio(x)
        if not _number(x):
            return NotImplemented
        x = float(x)
        lo, hi = self.ci_low / x, self.ci_high / x
        if x < 0:
            lo, hi = hi, lo
        return Estimate(self.name, self.value / x, self.se / abs(x), lo, hi, self.level,
                        self.method, self.n)

    def __mul__(self, x) -> Estimate:
        return self._affine(float(x), 0.0) if _number(x) else NotImplemented

    __rmul__ = __mul__

    def __sub__(self, x) -> Estimate:
        if isinstance(x, Estimate):
            return self.difference(x)
        return self._affine(1.0, -float(x)) if _number(x) else NotImplemented

    def __add__(self, x) -> Estimate:
        return self._affine(1.0, float(x)) if _number(x) else NotImplemented

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
                        self.ci_high * f, self.level, self.method, self.n)

    def as_dict(self) -> dict:
        """JSON-ready (NaN, e.g. an empty bin, becomes ``None``; ``n`` only when known)."""
        d = {"name": self.name, "value": _plain(self.value), "se": _plain(self.se),
             "ci_low": _plain(self.ci_low), "ci_high": _plain(self.ci_high),
             "level": self.level, "method": self.method}
        if self.n is not None:
            d["n"] = int(self.n)
        return d

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

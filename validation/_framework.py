"""One check per theoretical claim: predicted vs measured ± interval, and a verdict.

A check is a function registered with :func:`check`; it returns one :class:`Verdict` or a list.
:func:`compare` builds the verdict from a Monte-Carlo estimate and its standard error: the
acceptance interval is ``measured ± (z·SE + bias)`` (z = 4 by default, a false-alarm rate of about
6e-5 per check; ``bias`` is a known bound on the discretization bias), and the claim passes when the
prediction lies inside it. Checks use fixed seeds, so a verdict is reproducible.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

Z_DEFAULT = 4.0


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One claim's outcome. ``ci_low``/``ci_high`` is the acceptance interval around ``measured``."""

    claim: str
    predicted: float
    measured: float
    ci_low: float
    ci_high: float
    verdict: str
    note: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def compare(claim: str, predicted: float, measured: float, se: float, *, bias: float = 0.0,
            z: float = Z_DEFAULT, note: str = "") -> Verdict:
    """Pass when |measured − predicted| ≤ z·se + bias."""
    half = z * float(se) + abs(float(bias))
    lo, hi = float(measured) - half, float(measured) + half
    ok = math.isfinite(measured) and lo <= float(predicted) <= hi
    return Verdict(claim, float(predicted), float(measured), lo, hi, "pass" if ok else "fail", note)


def compare_interval(claim: str, predicted: float, measured: float, ci_low: float, ci_high: float,
                     *, note: str = "") -> Verdict:
    """Pass when ``predicted`` lies in the given interval (e.g. a fitted slope's band)."""
    ok = ci_low <= predicted <= ci_high
    return Verdict(claim, float(predicted), float(measured), float(ci_low), float(ci_high),
                   "pass" if ok else "fail", note)


_REGISTRY: dict[str, Callable] = {}


def check(name: str):
    """Register a check under ``name`` (a function of no arguments returning Verdict(s))."""

    def deco(fn):
        if name in _REGISTRY:
            raise ValueError(f"validation check {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def registry() -> dict[str, Callable]:
    return dict(_REGISTRY)


def run_checks(select: str | None = None, progress: bool = False) -> list[tuple[str, Verdict, float]]:
    """Run every registered check whose name contains ``select``; returns (name, verdict, seconds)."""
    out = []
    names = [n for n in sorted(_REGISTRY) if select is None or select in n]
    if not names:
        raise ValueError(f"no validation check matches {select!r}; known: {sorted(_REGISTRY)}")
    for name in names:
        t = time.perf_counter()
        if progress:
            print(f"… {name}", flush=True)
        res = _REGISTRY[name]()
        dt = time.perf_counter() - t
        for v in res if isinstance(res, (list, tuple)) else [res]:
            out.append((name, v, dt))
    return out

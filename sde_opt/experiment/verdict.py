"""The verdict rule shared by studies and validation: predicted vs measured ± interval.

:func:`compare` builds the verdict from a Monte-Carlo estimate and its standard error: the
acceptance interval is ``measured ± (z·SE + bias)`` (z = 4 by default, a false-alarm rate of about
6e-5 per check; ``bias`` is a known bound on the discretization bias), and the claim passes when the
prediction lies inside it. Checks use fixed seeds, so a verdict is reproducible.
"""

from __future__ import annotations

import dataclasses
import math

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

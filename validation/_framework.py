"""One check per theoretical claim: predicted vs measured ± interval, and a verdict.

A check is a function registered with ``check``; it returns one [`Verdict`][sde_opt.experiment.Verdict] or a
list. The verdict rule itself ([`compare`][sde_opt.experiment.compare],
[`compare_interval`][sde_opt.experiment.compare_interval]) lives in ``sde_opt.experiment.verdict``, shared
with the studies.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from sde_opt.experiment.verdict import Z_DEFAULT, Verdict, compare, compare_interval

__all__ = ["Z_DEFAULT", "Verdict", "compare", "compare_interval", "check", "registry", "run_checks"]

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
            print(f"… {name}", file=sys.stderr, flush=True)  # stdout is for the table
        res = _REGISTRY[name]()
        dt = time.perf_counter() - t
        for v in res if isinstance(res, (list, tuple)) else [res]:
            out.append((name, v, dt))
    return out

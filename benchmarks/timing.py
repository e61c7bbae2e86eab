"""Timing rules: the first call (tracing, compilation, warm-up) is reported on its own; then the
implementations are run in interleaved rounds (so that a burst of load on a shared machine hits
all of them alike) and each keeps its best round. JAX results are ``block_until_ready``-ed and
copied to NumPy inside each run, so a run's wall time is the whole simulation."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence


@dataclasses.dataclass
class Timed:
    """The timings of one implementation."""

    first_s: float
    runs_s: list[float]
    outcome: object

    @property
    def best_s(self) -> float:
        return min(self.runs_s)


def timed_call(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure_interleaved(runs: Sequence[Callable[[], object]], repeats: int,
                        on_progress: Callable[[str], None] | None = None) -> list[Timed]:
    """First call of each ``run``, then ``repeats`` interleaved rounds; the last outcome is kept."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    results = []
    for i, run in enumerate(runs):
        first, out = timed_call(run)
        results.append(Timed(first, [], out))
        if on_progress:
            on_progress(f"warm-up {i + 1}/{len(runs)}: {first:.2f} s")
    for r in range(repeats):
        for i, run in enumerate(runs):
            dt, out = timed_call(run)
            results[i].runs_s.append(dt)
            results[i].outcome = out
            if on_progress:
                on_progress(f"round {r + 1}/{repeats}, {i + 1}/{len(runs)}: {dt:.2f} s")
    return results

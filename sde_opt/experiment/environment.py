"""What a result was computed with: library versions and the processor.

Recorded in every study's ``config.json`` and in ``benchmarks/RESULTS.md``. XLA's CPU code depends
on the processor (vector width, FMA contraction), so a float result is reproducible bit for bit only
on the same CPU model with the same versions; exit steps and statuses do not depend on either.
"""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

LIBRARIES = ("jax", "jaxlib", "equinox", "diffrax", "optax", "lineax", "optimistix", "numpy", "scipy")


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict:
    """Python's and each library's version (``"not installed"`` for a missing one) and the CPU."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["cpu"] = cpu_model()
    return out

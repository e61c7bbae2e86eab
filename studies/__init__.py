"""Study scripts: one module per study, each reproducing a paper's claims (``sde-opt study``)."""

from __future__ import annotations

import importlib
import pkgutil


def registry() -> dict:
    """Map study name → module, for every module in this package that defines ``NAME``."""
    out = {}
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_"):
            continue
        m = importlib.import_module(f"{__name__}.{mod.name}")
        name = getattr(m, "NAME", None)
        if name:
            out[name] = m
    return out

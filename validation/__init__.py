"""Validation: one check per theoretical claim (``sde-opt validate``).

Every module in this package is imported on first use; modules register their checks with
``validation._framework.check``, so adding a claim is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._framework import Verdict, check, compare, compare_interval, registry, run_checks

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    _loaded = True


__all__ = ["Verdict", "check", "compare", "compare_interval", "registry", "run_checks", "load_all"]

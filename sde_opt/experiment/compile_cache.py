"""A persistent XLA compilation cache for ``sde-opt study`` and ``sde-opt validate``.

A study compiles dozens of programs (one per algorithm, problem shape and observable set); a second
run of the same study — a resumed one, the same study in a new folder — compiles them again.
(The full run after the quick one compiles other programs: other numbers of paths and grid
points.) JAX can keep compiled programs on disk (its persistent compilation cache, keyed by the
program's StableHLO, the jaxlib version, the XLA flags and the compile options); a program loaded
from it is the same machine code as a fresh compilation, so results are unchanged bit for bit.

What JAX's key leaves out is the processor: XLA's CPU code is compiled for the host's instruction
set (vector width, FMA), and a cache folder shared between machines (a home directory on NFS)
could hand an AVX-512 program to a CPU without it. The folder is therefore one per processor
model, instruction-set flags and JAX version: ``<root>/<jax version>-<cpu signature>``.

The root is ``$SDE_OPT_COMPILE_CACHE`` if set (``off`` switches the cache off), else
``$XDG_CACHE_HOME/sde_opt/xla`` or ``~/.cache/sde_opt/xla``. The library itself never switches the
cache on; the command line does, before anything is compiled.
"""

from __future__ import annotations

import hashlib
import os
import platform
import warnings
from pathlib import Path

from .environment import cpu_model

OFF = ("off", "0", "no", "false", "none")


def cpu_signature() -> str:
    """Twelve hex digits naming the processor: model name, machine type and instruction-set flags
    (``/proc/cpuinfo``'s first ``flags`` line where there is one)."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
                break
    except OSError:
        pass
    text = "|".join((platform.machine(), cpu_model(), flags))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_root() -> Path | None:
    """The cache's root folder, or None where ``SDE_OPT_COMPILE_CACHE`` switches it off."""
    given = os.environ.get("SDE_OPT_COMPILE_CACHE")
    if given is not None:
        return None if given.strip().lower() in OFF or not given.strip() else Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sde_opt" / "xla"


def enable_compile_cache(root: Path | str | None = None, min_compile_seconds: float = 0.0):
    """Point JAX's persistent compilation cache at ``root`` (default :func:`cache_root`), in the
    sub-folder of this JAX version and processor; programs that took at least
    ``min_compile_seconds`` to compile are stored (default: every program — a study's many
    small ones add up: a second ``bilevel-escape --quick`` took 71 s with every program stored,
    105 s with only those over 0.1 s, same summary). Returns the folder, or None when the cache is
    switched off or the folder cannot be made (a warning says why; the run goes on uncached).
    Call it before the first compilation."""
    import jax

    root = cache_root() if root is None else Path(root)
    if root is None:
        return None
    folder = root / f"jax-{jax.__version__}-{cpu_signature()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        warnings.warn(f"compilation cache: cannot use {folder} ({e}); compiling without it",
                      stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    return folder

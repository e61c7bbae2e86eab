"""What every study shares: a results folder written atomically, and resumable grid points.

A study module defines ``NAME`` (the CLI name, e.g. ``"msgd-escape"``), a one-line ``DESCRIPTION``
and ``run(out: ResultsDir, quick: bool, progress: bool) -> dict`` returning the summary (every
headline number with its CI and the theory's prediction). The CLI writes ``config.json`` before
and ``summary.json`` after, with the wall time.

Resuming: wrap each expensive grid point in ``out.point(key, fn)``. Its arrays are written to
``points/<key>.npz`` atomically when done; a rerun loads finished points instead of recomputing,
so an interrupted study resumes and never loses a finished point.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _atomic_write(path: Path, write: Callable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _savez(path, arrays) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None if np.isnan(f) else ("inf" if f > 0 else "-inf")
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


class ResultsDir:
    """``results/NAME/``: JSON, arrays and figures, each written atomically."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.resumed: list[str] = []
        self.computed: list[str] = []

    def write_json(self, name: str, obj) -> Path:
        p = self.path / name
        text = json.dumps(_jsonable(obj), indent=2, sort_keys=False)
        _atomic_write(p, lambda t: Path(t).write_text(text + "\n"))
        return p

    def write_text(self, name: str, text: str) -> Path:
        p = self.path / name
        _atomic_write(p, lambda t: Path(t).write_text(text))
        return p

    def save_npz(self, name: str, **arrays) -> Path:
        p = self.path / name
        _atomic_write(p, lambda t: _savez(t, arrays))
        return p

    def savefig(self, fig, name: str) -> Path:
        p = self.path / name
        _atomic_write(p, lambda t: fig.savefig(t, dpi=130, bbox_inches="tight", format="png"))
        import matplotlib.pyplot as plt

        plt.close(fig)
        return p

    def point(self, key: str, compute: Callable[[], dict]) -> dict:
        """Arrays of one grid point: loaded if finished earlier, else computed and saved."""
        safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)
        p = self.path / "points" / f"{safe}.npz"
        if p.exists():
            with np.load(p, allow_pickle=False) as f:
                self.resumed.append(key)
                return {k: f[k] for k in f.files}
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        _atomic_write(p, lambda t: _savez(t, arrays))
        self.computed.append(key)
        return arrays

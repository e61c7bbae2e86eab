"""The results folder of a study: ``results/NAME/`` written atomically, with resumable points.

A study module defines ``NAME`` (the CLI name, e.g. ``"msgd-escape"``), a one-line ``DESCRIPTION``
and ``run(out: ResultsDir, quick: bool, progress: bool) -> dict`` returning the summary (every
headline number with its CI and the theory's prediction). :func:`~sde_opt.experiment.run_study`
writes ``config.json`` before and ``summary.json`` after, with the wall time.

* **Atomic writes.** Every file is written to a temporary ``.NAME.<random>.tmp`` beside it and
  renamed over it (``os.replace``), so a reader never sees half a file and an interrupted run
  leaves the previous version intact. Files get the usual permissions (``0666 & ~umask``, i.e.
  0644 under umask 022) — readable by others, unlike the 0600 of a bare ``mkstemp``.
* **Interrupted writes are cleaned up.** Opening a :class:`ResultsDir` removes the temporary
  files (``.*.tmp``) that a killed run left in the folder and in ``points/``. (Two processes must
  therefore not write the same folder at once.)
* **Resumable points.** Wrap each expensive grid point in :meth:`ResultsDir.point`: its arrays are
  written to ``points/<key>.npz`` when done; a rerun loads finished points instead of recomputing,
  so an interrupted study resumes and never loses a finished point. :attr:`ResultsDir.computed`
  and :attr:`ResultsDir.resumed` list the keys of this run. A point file that cannot be read is
  moved aside to ``<name>.corrupt`` with a warning naming it, and recomputed
  (:attr:`ResultsDir.corrupt_moved`).
* **Configuration.** :meth:`ResultsDir.record_config` merges fields into ``config.json`` (the
  layer writes the study's name and mode, a study adds its ``parameters``); what was recorded is
  kept in memory, never read back from disk.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _file_mode() -> int:
    """0666 & ~umask: the mode ``open()`` would give a new file (umask read without changing it
    for longer than two system calls)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic_write(path: Path, write: Callable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _remove_stale_temporaries(folder: Path) -> list[Path]:
    removed = []
    for sub in (folder, folder / "points"):
        if sub.is_dir():
            for p in sub.glob(".*.tmp"):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def _savez(path, arrays) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _jsonable(obj):
    if hasattr(obj, "as_dict") and callable(obj.as_dict):
        return _jsonable(obj.as_dict())
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
    """``results/NAME/``: JSON, arrays and figures, each written atomically (module docstring)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.stale_removed: list[Path] = _remove_stale_temporaries(self.path)
        self.resumed: list[str] = []
        self.computed: list[str] = []
        self.corrupt_moved: list[Path] = []
        self._config: dict = {}

    def record_config(self, **fields) -> Path:
        """Merge ``fields`` into ``config.json`` (later calls add to or replace earlier fields)."""
        self._config.update(fields)
        return self.write_json("config.json", self._config)

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

    def _load_point(self, p: Path) -> dict | None:
        """The arrays of a finished point, or ``None`` after moving an unreadable file aside.

        A point file that cannot be read back whole (truncated by a full disk, overwritten by
        hand, not a zip) is renamed to ``<name>.corrupt`` (numbered if one exists already), a
        warning names both paths, and the point is recomputed — nothing is deleted.
        """
        try:
            with np.load(p, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except Exception as e:  # BadZipFile, EOFError, ValueError (pickled data), OSError, ...
            aside = p.with_name(p.name + ".corrupt")
            n = 1
            while aside.exists():
                aside, n = p.with_name(f"{p.name}.corrupt{n}"), n + 1
            os.replace(p, aside)
            self.corrupt_moved.append(aside)
            warnings.warn(f"point file {p} could not be read ({type(e).__name__}: {e}); moved it "
                          f"to {aside} and recomputing the point", RuntimeWarning, stacklevel=3)
            return None

    def point(self, key: str, compute: Callable[[], dict]) -> dict:
        """Arrays of one grid point: loaded if finished earlier, else computed and saved."""
        safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)
        p = self.path / "points" / f"{safe}.npz"
        if p.exists():
            loaded = self._load_point(p)
            if loaded is not None:
                self.resumed.append(key)
                return loaded
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        _atomic_write(p, lambda t: _savez(t, arrays))
        self.computed.append(key)
        return arrays

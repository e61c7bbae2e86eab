"""The results folder of a study: ``results/NAME/`` written atomically, with resumable points.

A study module defines ``NAME`` (the CLI name, e.g. ``"msgd-escape"``), a one-line ``DESCRIPTION``
and ``run(out: ResultsDir, quick: bool, progress: bool) -> dict`` returning the summary (every
headline number with its CI and the theory's prediction). [`run_study`][sde_opt.experiment.run_study]
writes ``config.json`` before and ``summary.json`` after, with the wall time.

* **Atomic writes.** Every file is written to a temporary ``.NAME.<random>.tmp`` beside it and
  renamed over it (``os.replace``), so a reader never sees half a file and an interrupted run
  leaves the previous version intact. Files get the usual permissions (``0666 & ~umask``, i.e.
  0644 under umask 022) — readable by others, unlike the 0600 of a bare ``mkstemp``.
* **Interrupted writes are cleaned up.** Opening a [`ResultsDir`][sde_opt.experiment.ResultsDir] removes the
  temporary
  files (``.*.tmp``) that a killed run left in the folder and in ``points/``. (Two processes must
  therefore not write the same folder at once.)
* **Resumable points.** Wrap each expensive grid point in
  [`ResultsDir.point`][sde_opt.experiment.ResultsDir.point]: its arrays are
  written to ``points/<key>.npz`` when done; a rerun loads finished points instead of recomputing,
  so an interrupted study resumes and never loses a finished point. ``ResultsDir.computed``
  and ``ResultsDir.resumed`` list the keys of this run. A point file that cannot be read is
  moved aside to ``<name>.corrupt`` with a warning naming it, and recomputed
  (``ResultsDir.corrupt_moved``).
* **Points spread over processes.** ``ResultsDir(path, share=Share(i, n))`` (``sde-opt study NAME
  --share i/n``) is one of ``n`` processes running the same study into the same folder (on one
  machine or several that share the file system). Each point belongs to one process, chosen by a
  hash of its key ([`Share.owner`][sde_opt.experiment.Share.owner]); a process computes the points it owns and
  waits for the others' files, so every process goes through the whole study and ends with every point. A grid
  given as one batch to [`ResultsDir.points`][sde_opt.experiment.ResultsDir.points] runs in parallel: each
  process first computes its own points of the batch, then collects the rest. A lone
  [`ResultsDir.point`][sde_opt.experiment.ResultsDir.point] owned elsewhere makes the other processes wait for
  it. Only process 0 writes the folder's other files (``config.json``, ``summary.json``, figures), and no
  process removes temporaries (another one may be writing them); the point files are the same whichever
  process computed them, so the summary equals that of one process.
* **Configuration.** [`ResultsDir.record_config`][sde_opt.experiment.ResultsDir.record_config] merges fields
  into ``config.json`` (the
  layer writes the study's name, mode, package and library versions and the CPU; a study adds its
  ``parameters``).
* **A folder never mixes configurations.** The points of a run live in a points folder of their
  own (``points/quick/`` and ``points/full/`` for a study, so the two modes never share a point),
  beside a ``config.json`` of the fields that decide a point's value (``RESULT_FIELDS``:
  study, mode, package version, parameters). A run whose fields differ from those of the points
  already there is refused with [`ConfigMismatch`][sde_opt.experiment.ConfigMismatch], naming each differing
  field and how to start afresh (``sde-opt study NAME --fresh`` moves the old folder aside; nothing is
  deleted). Each point file carries its own key; a file under a point's name that holds another key (or
  none: written by hand, or by an older version) is moved aside to ``<name>.corrupt`` and the point
  recomputed, like an unreadable one. Each point records the seconds it took to compute, so the
  compute time of a run that was killed before it finished is still counted
  ([`ResultsDir.compute_seconds`][sde_opt.experiment.ResultsDir.compute_seconds]).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
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
    """Remove the temporaries (``.*.tmp``) an interrupted write left in ``folder`` and the point
    folders below it."""
    removed = []
    subs = [folder, *(p for p in (folder / "points").glob("**/") if p.is_dir())] if folder.is_dir() else []
    for sub in subs:
        for p in sub.glob(".*.tmp"):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


# the config.json fields that decide a point's value: a folder never mixes points of runs that
# differ in one of them
RESULT_FIELDS = ("study", "quick", "sde_opt_version", "parameters")
POINT_KEY = "__point_key__"
POINT_SECONDS = "__compute_seconds__"


class ConfigMismatch(ValueError):
    """A run would reuse the points of a run with another configuration (see the module doc)."""


def _short(value, width: int = 60) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two configs (recursing into dicts)."""
    out = []
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {_short(a)} there, {_short(b)} now")
    return out


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


@dataclasses.dataclass(frozen=True)
class Share:
    """Process ``index`` of ``count`` running one study into one folder (module docstring).

    ``poll`` is the seconds between two looks for a point another process computes, ``timeout``
    the seconds to wait for one before giving up with an error naming the missing process
    (default one hour; ``None``: wait as long as it takes).
    """

    index: int
    count: int
    poll: float = 0.5
    timeout: float | None = 3600.0

    def __post_init__(self):
        from .._checks import check_integer, check_scalar

        check_integer("Share", "count", self.count, low=1)
        check_integer("Share", "index", self.index)
        if not 0 <= self.index < self.count:
            raise ValueError(f"Share: index must be in 0 … count − 1 = {self.count - 1}; got "
                             f"{self.index}")
        check_scalar("Share", "poll", self.poll, 0.0, float("inf"), low_closed=False,
                     high_closed=False)
        if self.timeout is not None:
            check_scalar("Share", "timeout", self.timeout, 0.0, float("inf"), low_closed=False,
                         high_closed=False)

    @classmethod
    def parse(cls, text: str) -> Share:
        """``"i/n"`` (e.g. ``"$SLURM_PROCID/$SLURM_NTASKS"``) → ``Share(i, n)``."""
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if not m:
            raise ValueError(f"share must be INDEX/COUNT with 0 <= INDEX < COUNT (e.g. 0/4); got "
                             f"{text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    def owner(self, key: str) -> int:
        """The process that computes the point ``key`` (CRC-32 of the key, modulo ``count``: the
        same in every process and every Python session)."""
        return zlib.crc32(key.encode()) % self.count

    def owns(self, key: str) -> bool:
        return self.owner(key) == self.index


class ResultsDir:
    """``results/NAME/``: JSON, arrays and figures, each written atomically (module docstring).

    ``share``: this process's [`Share`][sde_opt.experiment.Share] of the study's points, or ``None`` (one
    process).
    """

    def __init__(self, path, share: Share | None = None, points: str = "points"):
        from .._checks import check_path

        if share is not None and not isinstance(share, Share):
            raise TypeError(f"ResultsDir: share must be a Share or None; got {share!r}")
        check_path("ResultsDir", "path", path)
        if not str(path).strip():
            raise ValueError(f"ResultsDir: path must name a folder; got {str(path)!r}")
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OSError(f"ResultsDir: cannot create the results folder {self.path} "
                          f"({e.strerror or e})") from None
        self.use_points_folder(points)
        self.share = share
        # with several processes in the folder a temporary may be another one's write in progress
        self.stale_removed: list[Path] = [] if share else _remove_stale_temporaries(self.path)
        self.resumed: list[str] = []
        self.computed: list[str] = []
        self.waited: list[str] = []
        self.corrupt_moved: list[Path] = []
        self._config: dict = {}
        self._seconds: dict[str, float] = {}

    @property
    def writes_files(self) -> bool:
        """Whether this process writes the folder's files other than points (process 0 only)."""
        return self.share is None or self.share.index == 0

    def finish(self) -> None:
        """After the last point: process 0 of a shared run removes temporaries that killed
        processes left in the points folder (every point is written by now, so none is another
        process's write in progress). A one-process run removed them when it opened the folder."""
        if self.share is not None and self.writes_files:
            self.stale_removed += _remove_stale_temporaries(self.path)

    def use_points_folder(self, name: str) -> None:
        """Keep this run's points in ``name`` (relative to the folder), e.g. ``points/quick``."""
        if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"ResultsDir: points must be a relative folder name inside the "
                             f"results folder; got {name!r}")
        self.points_folder = self.path / name

    def record_config(self, **fields) -> Path:
        """Merge ``fields`` into ``config.json`` (later calls add to or replace earlier fields).

        Raises [`ConfigMismatch`][sde_opt.experiment.ConfigMismatch] when a field of ``RESULT_FIELDS`` differs
        from the one
        the points already in the points folder were computed with (module docstring).
        """
        self._config.update(fields)
        self._check_points_config()
        return self.write_json("config.json", self._config)

    def _check_points_config(self) -> None:
        mine = {k: _jsonable(self._config[k]) for k in RESULT_FIELDS if k in self._config}
        marker = self.points_folder / "config.json"
        try:
            there = json.loads(marker.read_text())
        except (OSError, ValueError):
            there = None
        if isinstance(there, dict):
            differ = _differences({k: there[k] for k in mine if k in there},
                                  {k: mine[k] for k in mine if k in there})
            if differ and any(self.points_folder.glob("*.npz")):
                n = len(list(self.points_folder.glob("*.npz")))
                raise ConfigMismatch(
                    f"{self.path}: its {n} point files in {self.points_folder} were computed with "
                    f"another configuration ({'; '.join(differ)}); reusing them would mix results. "
                    f"Start afresh with `sde-opt study NAME --fresh` (moves {self.path} aside, "
                    f"nothing is deleted) or give another --out.")
            mine = {**there, **mine}
        if self.writes_files:
            text = json.dumps(mine, indent=2)
            _atomic_write(marker, lambda t: Path(t).write_text(text + "\n"))

    def _write(self, name: str, write: Callable[[str], object]) -> Path:
        """Write ``name`` atomically with ``write(temporary_path)`` (process 0 only, see
        ``writes_files``); returns its path either way."""
        p = self.path / name
        if self.writes_files:
            _atomic_write(p, write)
        return p

    def write_json(self, name: str, obj) -> Path:
        text = json.dumps(_jsonable(obj), indent=2, sort_keys=False)
        return self._write(name, lambda t: Path(t).write_text(text + "\n"))

    def write_text(self, name: str, text: str) -> Path:
        return self._write(name, lambda t: Path(t).write_text(text))

    def save_npz(self, name: str, **arrays) -> Path:
        return self._write(name, lambda t: _savez(t, arrays))

    def savefig(self, fig, name: str) -> Path:
        p = self._write(name, lambda t: fig.savefig(t, dpi=130, bbox_inches="tight", format="png"))
        import matplotlib.pyplot as plt

        plt.close(fig)
        return p

    def _load_point(self, p: Path, key: str) -> dict | None:
        """The arrays of a finished point, or ``None`` after moving an unreadable file aside.

        A point file that cannot be read back whole (truncated by a full disk, overwritten by
        hand, not a zip) is renamed to ``<name>.corrupt`` (numbered if one exists already), a
        warning names both paths, and the point is recomputed — nothing is deleted.
        """
        try:
            with np.load(p, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except Exception as e:  # BadZipFile, EOFError, ValueError (pickled data), OSError, ...
            return self._move_aside(p, f"could not be read ({type(e).__name__}: {e})")
        held = arrays.pop(POINT_KEY, None)
        if held is None or held.shape != () or str(held) != key:
            found = "no key" if held is None else f"the key {str(held)!r}"
            return self._move_aside(p, f"holds {found}, not the point {key!r}")
        self._seconds[key] = float(arrays.pop(POINT_SECONDS, np.nan))
        return arrays

    def _move_aside(self, p: Path, why: str) -> None:
        aside = p.with_name(p.name + ".corrupt")
        n = 1
        while aside.exists():
            aside, n = p.with_name(f"{p.name}.corrupt{n}"), n + 1
        os.replace(p, aside)
        self.corrupt_moved.append(aside)
        warnings.warn(f"point file {p} {why}; moved it to {aside} and recomputing the point",
                      RuntimeWarning, stacklevel=4)
        return None

    def compute_seconds(self) -> float:
        """Seconds spent computing the points this run used, by whichever run computed them (a run
        killed before its summary still counts)."""
        return float(np.nansum(list(self._seconds.values()))) if self._seconds else 0.0

    def _point_path(self, key: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)
        if name != key:  # keys that sanitize alike ("a b", "a_b") must not share a file
            name += f"-{zlib.crc32(key.encode()):08x}"
        return self.points_folder / f"{name}.npz"

    def _finished(self, key: str) -> dict | None:
        p = self._point_path(key)
        if p.exists():
            loaded = self._load_point(p, key)
            if loaded is not None:
                self.resumed.append(key)
                return loaded
        return None

    def _compute(self, key: str, compute: Callable[[], dict]) -> dict:
        t0 = time.perf_counter()
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        seconds = time.perf_counter() - t0
        reserved = {POINT_KEY, POINT_SECONDS} & set(arrays)
        if reserved:
            raise ValueError(f"point {key!r}: array names {sorted(reserved)} are reserved")
        stored = {**arrays, POINT_KEY: np.asarray(key), POINT_SECONDS: np.asarray(seconds)}
        _atomic_write(self._point_path(key), lambda t: _savez(t, stored))
        self._seconds[key] = seconds
        self.computed.append(key)
        return arrays

    def _wait_for(self, key: str) -> dict:
        """The arrays of a point another process computes, once its file is there."""
        share, p = self.share, self._point_path(key)
        t0, told = time.monotonic(), False
        while True:
            if p.exists():
                loaded = self._load_point(p, key)
                if loaded is not None:
                    self.waited.append(key)
                    return loaded
            waited = time.monotonic() - t0
            if share.timeout is not None and waited > share.timeout:
                raise TimeoutError(f"point {key!r}: process {share.owner(key)} of {share.count} "
                                   f"has not written {p} after {waited:.0f} s; is it running "
                                   f"(sde-opt study ... --share {share.owner(key)}/{share.count})?")
            if not told and waited > 10 * share.poll:
                print(f"sde-opt: process {share.index}/{share.count} waits for point {key!r} "
                      f"(process {share.owner(key)})", file=sys.stderr, flush=True)
                told = True
            time.sleep(share.poll)

    def point(self, key: str, compute: Callable[[], dict]) -> dict:
        """Arrays of one grid point: loaded if finished earlier, else computed and saved (with a
        [`Share`][sde_opt.experiment.Share]: computed if this process owns it, else waited for)."""
        return self.points([(key, compute)])[0]

    def points(self, items: Sequence[tuple[str, Callable[[], dict]]]) -> list[dict]:
        """Arrays of a batch of points ``[(key, compute), …]``, in order.

        The same as ``[self.point(k, c) for k, c in items]`` for one process; with a
        [`Share`][sde_opt.experiment.Share], each process computes its own points of the batch first, then
        collects
        the others', so the batch runs in parallel over the processes.
        """
        items = list(items)
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"points: every key must be distinct; repeated: {dup[:5]}")
        out: dict[str, dict] = {}
        for key, compute in items:
            done = self._finished(key)
            if done is not None:
                out[key] = done
            elif self.share is None or self.share.owns(key):
                out[key] = self._compute(key, compute)
        for key, _ in items:
            if key not in out:
                out[key] = self._wait_for(key)
        return [out[k] for k in keys]

"""Traces: the input of every estimator, from arrays or files, checked once.

A trace is one or several independent, uniformly sampled paths of a d-dimensional process:

* ``x`` of shape ``(n_steps,)`` — one path of a scalar process;
* ``(n_steps, d)`` — one path in ℝᵈ;
* ``(n_traces, n_steps, d)`` — ``n_traces`` independent paths of equal length.

The sampling interval Δ (``dt``) is the continuous time between two rows (for an optimizer trace
saved every ``stride`` steps with the package's time t = kη: Δ = stride·η). Increments are taken
within each path only, never across two paths.

File layouts ([`load_trace`][sde_opt.fit.load_trace]):

* ``.npz`` — key ``x`` with one of the shapes above (required); optionally ``dt`` (a scalar) or
  ``t`` (the sample times, ``(n_steps,)`` shared by all paths or ``(n_traces, n_steps)``), which
  must be uniformly spaced.
* ``.csv`` — a header row, then one row per sample. Columns: ``t`` (optional, the time),
  ``trace`` (optional, an integer path id; rows of one path are contiguous and in time order) and
  the coordinates, all other columns in header order (e.g. ``x0,x1,…``). Without ``t`` the
  interval comes from ``dt=`` (``--dt`` on the command line).
"""

from __future__ import annotations

import csv
import dataclasses
import zipfile
from pathlib import Path

import numpy as np

from .._checks import check_array, check_bool, check_integer, check_path, check_real, check_scalar, check_text

#: relative tolerance on the spacing of sample times
UNIFORM_RTOL = 1e-6


@dataclasses.dataclass(frozen=True)
class Trace:
    """A checked trace: ``x`` is ``(n_traces, n_steps, d)`` float64, ``dt`` > 0 the interval."""

    x: np.ndarray
    dt: float

    def __post_init__(self):
        x = check_array("Trace", "x", self.x, ndim=3)
        if 0 in x.shape:
            raise ValueError(f"Trace: x must be (n_traces, n_steps, d) with no empty axis; got "
                             f"shape {x.shape}")
        dt = check_scalar("Trace", "dt", self.dt, 0.0, np.inf, low_closed=False,
                          high_closed=False)
        object.__setattr__(self, "x", x.astype(np.float64))
        object.__setattr__(self, "dt", dt)

    @property
    def n_traces(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.x.shape[1])

    @property
    def dim(self) -> int:
        return int(self.x.shape[2])

    @property
    def n_increments(self) -> int:
        return self.n_traces * (self.n_steps - 1)

    @property
    def duration(self) -> float:
        """Total observed time, summed over paths: n_increments · Δ."""
        return self.n_increments * self.dt

    def increments(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x_k, x_{k+1} − x_k)`` for every transition, each ``(n_increments, d)``."""
        start = self.x[:, :-1].reshape(-1, self.dim)
        dx = np.diff(self.x, axis=1).reshape(-1, self.dim)
        return start, dx

    def __repr__(self) -> str:
        return (f"Trace(n_traces={self.n_traces}, n_steps={self.n_steps}, dim={self.dim}, "
                f"dt={self.dt:g})")


def _dt_from_times(t: np.ndarray, owner: str) -> float:
    t = np.asarray(t, dtype=np.float64)
    if t.ndim == 1:
        t = t[None]
    if t.shape[-1] < 2:
        raise ValueError(f"{owner}: t must hold at least 2 sample times to infer dt; got "
                         f"{t.shape[-1]}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{owner}: t must be finite; got NaN or inf sample times")
    steps = np.diff(t, axis=-1)
    dt = float(np.mean(steps))
    if not dt > 0:
        raise ValueError(f"{owner}: t must increase; got a mean spacing of {dt:g}")
    dev = float(np.max(np.abs(steps - dt))) / dt
    if dev > UNIFORM_RTOL:
        i = np.unravel_index(np.argmax(np.abs(steps - dt)), steps.shape)
        raise ValueError(
            f"{owner}: non-uniform sampling: the spacing of t deviates from its mean {dt:g} by a "
            f"relative {dev:.3g} (at step {i[-1]}); these estimators need a constant interval — "
            "resample the trace on a uniform grid first"
        )
    return dt


def as_trace(x, dt=None, *, t=None, min_steps: int = 3, owner: str = "trace",
             allow_constant: bool = True) -> Trace:
    """Check and normalize an array (or a [`Trace`][sde_opt.fit.Trace]) into a [`Trace`][sde_opt.fit.Trace].

    Args:
        x: ``(n_steps,)``, ``(n_steps, d)`` or ``(n_traces, n_steps, d)`` samples, or a Trace.
        dt: the sampling interval Δ > 0 (required unless ``t`` is given or ``x`` is a Trace).
        t: sample times (uniformly spaced), an alternative to ``dt``.
        min_steps: the fewest samples per path the calling estimator needs.
        owner: the name used in error messages.
        allow_constant: accept a coordinate that never moves; the estimators pass ``False``
            (no diffusion to estimate, and the drift is not identifiable).

    Raises:
        ValueError: on NaN/inf samples, a path shorter than ``min_steps``, a coordinate that is
            constant in every path, a missing, non-scalar or non-positive ``dt``, ``t`` whose
            length differs from the number of samples, non-uniform ``t``, or ``dt`` and ``t``
            that disagree.
    """
    check_text("as_trace", "owner", owner)
    min_steps = check_integer(owner, "min_steps", min_steps, low=1)
    allow_constant = check_bool(owner, "allow_constant", allow_constant)
    if dt is not None:
        if np.ndim(dt) != 0:
            raise ValueError(f"{owner}: dt must be one number (the sampling interval); got an "
                             f"array of shape {np.shape(dt)} — for per-sample times give t instead")
        dt = check_scalar(owner, "dt", dt, 0, np.inf, low_closed=False, high_closed=False)
    if isinstance(x, Trace):
        if dt is not None and not np.isclose(float(dt), x.dt, rtol=UNIFORM_RTOL):
            raise ValueError(f"{owner}: dt disagrees with the trace's dt={x.dt!r}; got {dt!r}")
        dt, x = x.dt, x.x
    x = check_real(owner, "x", x).astype(np.float64)
    if x.ndim == 1:
        x = x[None, :, None]
    elif x.ndim == 2:
        x = x[None]
    elif x.ndim != 3:
        raise ValueError(
            f"{owner}: x must have shape (n_steps,), (n_steps, d) or (n_traces, n_steps, d); "
            f"got {x.shape}"
        )
    if x.shape[0] < 1 or x.shape[2] < 1:
        raise ValueError(f"{owner}: x must not be empty; got shape {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        i = np.argwhere(bad)[0]
        raise ValueError(
            f"{owner}: x must be finite; got {int(bad.sum())} NaN/inf values (first at trace "
            f"{i[0]}, step {i[1]}, coordinate {i[2]}); drop or split diverged paths before "
            "fitting"
        )
    if x.shape[1] < min_steps:
        raise ValueError(
            f"{owner}: x must have at least {min_steps} samples per path (the trace is too "
            f"short); got {x.shape[1]} samples"
        )
    if not allow_constant and x.shape[1] >= 2:
        still = np.all(np.diff(x, axis=1) == 0, axis=(0, 1))
        if still.any():
            which = np.flatnonzero(still).tolist()
            raise ValueError(
                f"{owner}: x must move in every coordinate; got a degenerate trace: "
                f"coordinate(s) {which} never move (every "
                f"increment is 0, e.g. the constant value {x[0, 0, which[0]]:g}), so there is no "
                "diffusion to estimate and the drift is not identifiable; drop those coordinates "
                "or check how the trace was recorded"
            )
    if t is not None:
        t = check_array(owner, "t", t)
        if t.ndim not in (1, 2) or t.shape[-1] != x.shape[1] or (
                t.ndim == 2 and t.shape[0] not in (1, x.shape[0])):
            raise ValueError(
                f"{owner}: t must have one time per sample: shape ({x.shape[1]},) or "
                f"({x.shape[0]}, {x.shape[1]}) for x of shape {x.shape} (n_traces, n_steps, d); "
                f"got t of shape {t.shape}"
            )
        dt_t = _dt_from_times(t, owner)
        if dt is not None and not np.isclose(float(dt), dt_t, rtol=1e-6):
            raise ValueError(f"{owner}: dt disagrees with the spacing {dt_t:g} of t; got "
                             f"dt={float(dt):g}")
        dt = dt_t
    if dt is None:
        raise ValueError(f"{owner}: dt is required (the sampling interval: give dt= or t=); got "
                         "dt=None")
    return Trace(x, float(dt))


def _read_csv(path: Path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"load_trace: path must hold a header row and data rows; got an empty "
                         f"file {path}")
    header = [h.strip() for h in rows[0]]
    try:
        [float(h) for h in header]
        numeric_header = True
    except ValueError:
        numeric_header = False
    if numeric_header:
        raise ValueError(
            f"load_trace: {path} has no header row; the first row must name the columns "
            "(t, trace, x0, x1, … — t and trace optional)"
        )
    body = rows[1:]
    if not body:
        raise ValueError(f"load_trace: path must hold data rows after the header; got only the "
                         f"header ({','.join(header)}) in {path}")
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise ValueError(
                f"load_trace: {path}: ragged rows: line {i + 2} has {len(r)} fields but the header "
                f"has {len(header)} ({','.join(header)})"
            )
    try:
        data = np.array([[float(c) for c in r] for r in body], dtype=np.float64)
    except ValueError as e:
        raise ValueError(f"load_trace: {path}: non-numeric value ({e})") from None
    if data.ndim != 2 or data.shape[1] != len(header):
        raise ValueError(f"load_trace: {path}: every row must have {len(header)} columns")
    return header, data


def load_trace(path, dt=None) -> Trace:
    """Read a trace from ``.npz`` or ``.csv`` (layouts in the module docstring).

    Args:
        path: the file.
        dt: the sampling interval, if the file has neither ``dt`` nor ``t``; if it has, the two
            must agree.
    """
    path = Path(check_path("load_trace", "path", path))
    if dt is not None:
        dt = check_scalar("load_trace", "dt", dt, 0, np.inf, low_closed=False,
                          high_closed=False)
    if not path.exists():
        raise FileNotFoundError(f"load_trace: no such file: {path}")
    suffix = path.suffix.lower()
    owner = f"load_trace({path.name})"
    if suffix == ".npz":
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{owner}: {path} is not a .npz archive (a zip file, as written by "
                             "numpy.savez); it may be truncated, or a .npy/pickle file renamed")
        try:
            with np.load(path, allow_pickle=False) as f:
                if "x" not in f.files:
                    raise ValueError(f"{owner}: the .npz file needs a key 'x'; found {f.files}")
                x, t, file_dt = (_npz_key(f, k, owner, path) for k in ("x", "t", "dt"))
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ValueError(f"{owner}: cannot read {path} as a .npz archive: {e}") from None
        if file_dt is not None:
            if file_dt.size != 1 or not np.issubdtype(file_dt.dtype, np.number):
                raise ValueError(
                    f"{owner}: the file's dt must be one number (the sampling interval); got an "
                    f"array of shape {file_dt.shape} and dtype {file_dt.dtype} — store the sample "
                    "times under the key 't' instead"
                )
            file_dt = float(file_dt.reshape(()))
        if file_dt is not None and dt is not None and not np.isclose(file_dt, float(dt)):
            raise ValueError(f"{owner}: dt disagrees with the file's dt={file_dt:g}; got "
                             f"dt={float(dt):g}")
        dt = file_dt if file_dt is not None else dt
        return as_trace(x, dt, t=t, owner=owner)
    if suffix == ".csv":
        header, data = _read_csv(path)
        cols = {h: i for i, h in enumerate(header)}
        t = data[:, cols["t"]] if "t" in cols else None
        ids = data[:, cols["trace"]] if "trace" in cols else np.zeros(len(data))
        xcols = [i for h, i in cols.items() if h not in ("t", "trace")]
        if not xcols:
            raise ValueError(f"{owner}: no coordinate columns besides t/trace in {header}")
        x = data[:, xcols]
        change = np.flatnonzero(np.diff(ids) != 0) + 1
        starts = np.concatenate([[0], change])
        if len(np.unique(ids)) != len(starts):
            raise ValueError(f"{owner}: the rows of each trace id must be contiguous")
        parts = np.split(x, change)
        lengths = {len(p) for p in parts}
        if len(lengths) != 1:
            raise ValueError(f"{owner}: all traces must have the same length; got {sorted(lengths)}")
        xs = np.stack(parts)
        if t is not None:
            t = np.stack(np.split(t, change))
        return as_trace(xs, dt, t=t, owner=owner)
    raise ValueError(f"load_trace: unsupported file type {suffix!r}: path must end in .npz or "
                     f".csv; got {str(path)!r}")


def _npz_key(f, key, owner, path):
    """``f[key]`` (None when absent); a pickled object array is named with its file and key."""
    if key not in f.files:
        return None
    try:
        return f[key]
    except ValueError as e:
        raise ValueError(f"{owner}: key {key!r} of {path} must hold a numeric array; got an "
                         f"object array that needs pickle ({e}); save plain numbers "
                         "(numpy.savez with float arrays)") from None


def save_trace(path, x, dt) -> Path:
    """Write a trace in the layout [`load_trace`][sde_opt.fit.load_trace] reads (``.npz`` or ``.csv``)."""
    path = Path(check_path("save_trace", "path", path))
    if path.suffix.lower() not in (".npz", ".csv"):
        raise ValueError(f"save_trace: unsupported file type {path.suffix!r}: path must end in "
                         f".npz or .csv; got {str(path)!r}")
    if dt is None:
        raise TypeError("save_trace: dt must be the sampling interval (a number > 0); got None")
    tr = as_trace(x, dt, min_steps=1, owner="save_trace")
    if path.suffix.lower() == ".npz":
        np.savez(path, x=tr.x if tr.n_traces > 1 else tr.x[0], dt=tr.dt)
    elif path.suffix.lower() == ".csv":
        t = np.arange(tr.n_steps) * tr.dt
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t", "trace"] + [f"x{i}" for i in range(tr.dim)])
            for j in range(tr.n_traces):
                for k in range(tr.n_steps):
                    w.writerow([repr(float(t[k])), j] + [repr(float(v)) for v in tr.x[j, k]])
    else:
        raise ValueError(f"save_trace: unsupported file type {path.suffix!r} (use .npz or .csv)")
    return path


def matrix_arg(owner: str, name: str, a, d: int) -> np.ndarray:
    """A finite ``(d, d)`` matrix argument (a scalar when d = 1), as float64."""
    m = check_array(owner, name, a, ndim=(0, 2)).astype(np.float64)
    if m.ndim == 0 and d == 1:
        m = m.reshape(1, 1)
    if m.shape != (d, d):
        raise ValueError(f"{owner}: {name} must have shape ({d}, {d}) (d = {d}, the dimension of "
                         f"the trace x); got {m.shape}")
    return m


def vector_arg(owner: str, name: str, v, d: int) -> np.ndarray:
    """A finite ``(d,)`` vector argument (a scalar when d = 1), as float64."""
    a = check_array(owner, name, v, ndim=(0, 1)).astype(np.float64)
    if a.ndim == 0 and d == 1:
        a = a.reshape(1)
    if a.shape != (d,):
        raise ValueError(f"{owner}: {name} must have shape ({d},) (d = {d}, the dimension of the "
                         f"trace x); got {a.shape}")
    return a

"""Running a study: ``config.json`` before, ``summary.json`` (with timing) after.

[`run_study`][sde_opt.experiment.run_study] is everything ``sde-opt study NAME`` does besides parsing its
arguments:

1. open ``OUT/NAME/`` as a [`ResultsDir`][sde_opt.experiment.ResultsDir] (removing temporaries of an
   interrupted write),
2. record ``config.json``: study, mode, package version, description, the versions of the
   libraries and the CPU model (``versions``); the study adds
   its ``parameters`` with [`record_config`][sde_opt.experiment.ResultsDir.record_config]. The points of a
   mode live in ``points/quick/`` or ``points/full/``; a run whose study, mode, package version or
   parameters differ from those its points folder was computed with is refused
   ([`ConfigMismatch`][sde_opt.experiment.ConfigMismatch]), never mixed,
3. call ``module.run(out, quick=..., progress=...)``,
4. write ``summary.json`` = the study's summary plus ``timing``: for each mode ("quick", "full")
   the wall time and the number of points computed and resumed. Timing accumulates across runs:
   the other mode's entry is kept from the previous ``summary.json``, and a run that only
   reloaded finished points keeps the time of the run that computed them (adding its own as
   ``last_resumed_run``), so a resumed run never reports the few seconds of reloading as the
   study's cost. ``points_compute_seconds`` adds up the compute time stored in every point the
   run used, including points of runs killed before they wrote a summary.

   When the module defines ``headline_claims(summary) -> list[dict]``, its rows (see
   ``sde_opt.experiment.table``) are stored as ``summary["headline_claims"]``. The function is
   given the summary exactly as ``summary.json`` holds it (NaN as null, ±inf as "inf"/"-inf"), so
   the table shows the same numbers as the file.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from types import ModuleType

from .._checks import check_bool, check_instance, check_path
from .environment import versions
from .results import ResultsDir, Share, _jsonable

MODES = ("quick", "full")


@dataclasses.dataclass(frozen=True)
class StudyRun:
    """What [`run_study`][sde_opt.experiment.run_study] did: the folder, the summary written, the wall time,
    the points."""

    out: ResultsDir
    summary: dict
    wall_seconds: float

    @property
    def claims(self) -> list | None:
        """The study's headline-claim rows (``None`` when the module defines none)."""
        return self.summary.get("headline_claims")

    def message(self) -> str:
        done = (f"{self.wall_seconds:.1f} s; {len(self.out.computed)} points computed, "
                f"{len(self.out.resumed)} resumed")
        share = self.out.share
        if share is None:
            return f"wrote {self.out.path} ({done})"
        done += f", {len(self.out.waited)} from the other processes"
        if self.out.writes_files:
            return f"wrote {self.out.path} as process 0 of {share.count} ({done})"
        return (f"process {share.index} of {share.count}: points written to {self.out.path / 'points'}"
                f" ({done}); process 0 writes the summary")


def _previous_timing(path: Path) -> dict:
    try:
        timing = json.loads(path.read_text()).get("timing", {})
        return {k: v for k, v in dict(timing).items() if k in MODES}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def merge_timing(previous: dict, mode: str, this_run: dict, computed: bool) -> dict:
    """The ``timing`` block: ``previous`` (per mode) updated with this run (see module doc)."""
    timing = dict(previous)
    if computed or not isinstance(timing.get(mode), dict):
        timing[mode] = this_run
    else:
        timing[mode] = {**timing[mode], "last_resumed_run": this_run}
    return timing


def run_study(module: ModuleType, out, *, quick: bool = False, progress: bool = True,
              share: Share | None = None) -> StudyRun:
    """Run a study module into ``out`` (a folder path or a ResultsDir; see the module docstring).

    ``share``: this process's [`Share`][sde_opt.experiment.Share] when several processes
    run the study into one folder (each computes its own points; process 0 writes the summary).
    """
    from .. import __version__

    owner = "run_study"
    if not (hasattr(module, "NAME") and callable(getattr(module, "run", None))):
        raise TypeError(f"{owner}: module must be a study module (with NAME and run(out, quick, "
                        f"progress)); got {type(module).__name__}")
    quick = check_bool(owner, "quick", quick)
    progress = check_bool(owner, "progress", progress)
    if share is not None:
        check_instance(owner, "share", share, Share, "a Share or None")
        _check_share_against_runtime(share)
    if not isinstance(out, ResultsDir):
        check_path(owner, "out", out)
    if isinstance(out, ResultsDir):
        if share is not None and out.share != share:
            raise ValueError(f"run_study: share={share} but the ResultsDir has share={out.share}")
    else:
        out = ResultsDir(out, share=share)
    mode = "quick" if quick else "full"
    out.use_points_folder(f"points/{mode}")
    out.record_config(study=module.NAME, quick=bool(quick), sde_opt_version=__version__,
                      description=getattr(module, "DESCRIPTION", ""), environment=versions())
    t0 = time.perf_counter()
    summary = dict(module.run(out, quick=bool(quick), progress=bool(progress)))
    wall = time.perf_counter() - t0
    this_run = {"wall_seconds": wall, "points_resumed": len(out.resumed),
                "points_computed": len(out.computed),
                "points_compute_seconds": out.compute_seconds(), **summary.pop("timing", {})}
    if out.share is not None:
        this_run |= {"processes": out.share.count, "points_from_other_processes": len(out.waited)}
    summary["timing"] = merge_timing(_previous_timing(out.path / "summary.json"), mode, this_run,
                                     bool(out.computed))
    claims = headline_claims(module, summary)
    if claims is not None:
        summary["headline_claims"] = claims
    out.write_json("summary.json", summary)
    out.finish()
    return StudyRun(out, summary, wall)


def _check_share_against_runtime(share: Share) -> None:
    """Under ``jax.distributed`` a share must be this process's place in the runtime."""
    import jax

    n, i = jax.process_count(), jax.process_index()
    if n > 1 and (share.count, share.index) != (n, i):
        raise ValueError(f"run_study: share {share.index}/{share.count} disagrees with the "
                         f"jax.distributed runtime, where this is process {i} of {n}; give "
                         f"--share {i}/{n}")


def headline_claims(module: ModuleType, summary: dict) -> list | None:
    """``module.headline_claims`` applied to ``summary`` as JSON would store it (``None`` when the
    module has no such function). A failing function costs the table, not the study's results:
    the error is reported on stderr and ``None`` returned."""
    fn = getattr(module, "headline_claims", None)
    if not callable(fn):
        return None
    try:
        return [dict(r) for r in fn(json.loads(json.dumps(_jsonable(summary))))]
    except Exception as e:  # the summary must still be written
        name = getattr(module, "NAME", None) or getattr(module, "__name__", "study")
        print(f"sde-opt: {name}: no headline table "
              f"({type(e).__name__}: {e})", file=sys.stderr)
        return None

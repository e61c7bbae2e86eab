"""``sde-opt``: run studies, validation checks and diffusion fits from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _study(args) -> int:
    from . import studies
    from .experiment import ResultsDir

    reg = studies.registry()
    if args.name not in reg:
        print(f"sde-opt: unknown study {args.name!r}; available: {', '.join(sorted(reg))}",
              file=sys.stderr)
        return 2
    mod = reg[args.name]
    out = ResultsDir(Path(args.out) / args.name)
    from . import __version__

    config = {"study": args.name, "quick": bool(args.quick), "sde_opt_version": __version__,
              "description": getattr(mod, "DESCRIPTION", "")}
    out.write_json("config.json", config)
    t0 = time.perf_counter()
    summary = mod.run(out, quick=bool(args.quick), progress=not args.no_progress)
    wall = time.perf_counter() - t0
    summary = dict(summary)
    # keep the wall time of the other mode (quick/full) from an earlier run, so both are reported
    mode = "quick" if args.quick else "full"
    timing = {}
    previous = out.path / "summary.json"
    if previous.exists():
        try:
            timing = dict(json.loads(previous.read_text()).get("timing", {}))
        except (ValueError, AttributeError):
            timing = {}
    timing = {k: v for k, v in timing.items() if k in ("quick", "full")}
    this_run = {"wall_seconds": wall, "points_resumed": len(out.resumed),
                "points_computed": len(out.computed), **summary.pop("timing", {})}
    if out.computed or not isinstance(timing.get(mode), dict):
        timing[mode] = this_run
    else:  # a run that only reloaded finished points: keep the time of the run that computed them
        timing[mode] = {**timing[mode], "last_resumed_run": this_run}
    summary["timing"] = timing
    out.write_json("summary.json", summary)
    print(f"wrote {out.path} ({wall:.1f} s; {len(out.computed)} points computed, "
          f"{len(out.resumed)} resumed)")
    return 0


def _validate(args) -> int:
    from . import validation

    validation.load_all()
    try:
        rows = validation.run_checks(args.select, progress=not args.json and not args.quiet)
    except ValueError as e:
        print(f"sde-opt: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([dict(v.as_dict(), check=name, seconds=round(dt, 2))
                          for name, v, dt in rows], indent=2))
    else:
        _print_table(rows)
    return 0 if all(v.verdict == "pass" for _, v, _ in rows) else 1


def _print_table(rows) -> None:
    def fmt(x):
        return f"{x:.5g}"

    head = ("claim", "predicted", "measured", "interval", "verdict")
    table = [(v.claim, fmt(v.predicted), fmt(v.measured), f"[{fmt(v.ci_low)}, {fmt(v.ci_high)}]",
              v.verdict.upper()) for _, v, _ in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print(line)
    print("-" * len(line))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    n_pass = sum(v.verdict == "pass" for _, v, _ in rows)
    print(f"\n{n_pass}/{len(rows)} claims pass")
    for _, v, _ in rows:
        if v.note and v.verdict != "pass":
            print(f"  note ({v.claim}): {v.note}")


def _fit(args) -> int:
    from .fit.cli import run_fit

    return run_fit(args)


def _study_lines() -> str:
    """One line per study: name, quick/full run times (when the module records them) and its
    one-line DESCRIPTION (first sentence, from the study module)."""
    from . import studies

    lines = ["studies:"]
    reg = studies.registry()
    width = max((len(n) for n in reg), default=0)
    for name in sorted(reg):
        mod = reg[name]
        desc = " ".join(str(getattr(mod, "DESCRIPTION", "")).split())
        times = getattr(mod, "RUN_TIMES", None)
        if isinstance(times, dict) and times:
            shown = ", ".join(f"{k} {_duration(v)}" for k, v in times.items())
            desc = f"[{shown}] {desc}"
        import textwrap

        lines.extend(textwrap.wrap(desc, 100, initial_indent=f"  {name.ljust(width)}  ",
                                   subsequent_indent=" " * (width + 4)))
    lines.append("\n--quick runs a small version of a study; results resume after an interruption.")
    return "\n".join(lines)


def _duration(v) -> str:
    if isinstance(v, (int, float)):
        return f"{v:.0f} s" if v < 120 else f"{v / 60:.0f} min"
    return str(v)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="sde-opt", description=__doc__)
    p.add_argument("--version", action="version", version=f"sde-opt {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("study", help="run a study and write results/NAME/",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run a study: simulate, compare with theory, write "
                                   "OUT/NAME/ (summary.json, figures).")
    s.add_argument("name", help="study name (listed below)")
    s.add_argument("--quick", action="store_true", help="small version (under 2 minutes)")
    s.add_argument("--out", default="results", help="parent folder of the results (default: results)")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.set_defaults(func=_study)
    base_help = s.format_help
    # the study list is read from the study modules only when help is shown (imports are slow)
    s.format_help = lambda: base_help() + "\n" + _study_lines() + "\n"

    v = sub.add_parser("validate", help="run every validation check: predicted vs measured")
    v.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    v.add_argument("--select", default=None, help="only checks whose name contains this string")
    v.add_argument("--quiet", action="store_true", help="no progress lines")
    v.set_defaults(func=_validate)

    f = sub.add_parser("fit", help="estimate drift and diffusion from a trace file (.npz, .csv)")
    f.add_argument("trace", help="trace file")
    f.add_argument("--model", choices=["qv", "ou", "km"], default="ou")
    f.add_argument("--dt", type=float, default=None, help="sampling interval (if not in the file)")
    f.add_argument("--out", default=None, help="folder for fit.json and the figure")
    f.add_argument("--bins", type=int, default=30, help="bins per axis for --model km")
    f.add_argument("--correction", choices=["ou", "variance", "none"], default="ou",
                   help="finite-interval correction for --model km (default: exact OU inversion)")
    f.add_argument("--ci", choices=["asymptotic", "bootstrap"], default="asymptotic",
                   help="intervals for --model ou")
    f.add_argument("--level", type=float, default=0.95, help="coverage of the intervals, in (0, 1)")
    f.set_defaults(func=_fit)
    return p


def _check_study_out(out: str) -> str | None:
    """Why ``study --out`` cannot be used (``None`` if it can): it must be a writable folder."""
    path = Path(out)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                return (f"--out {out}: {p} is a file, not a folder; give a folder for the "
                        f"results (default: results)")
            import os

            if not os.access(p, os.W_OK | os.X_OK):
                return f"--out {out}: the folder {p} is not writable"
            return None
    return None


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "study":
        problem = _check_study_out(args.out)
        if problem:
            print(f"sde-opt study: error: {problem}", file=sys.stderr)
            return 2
    from .engine import use_cpu_cores

    use_cpu_cores()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("sde-opt: interrupted (finished points are kept; rerun to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

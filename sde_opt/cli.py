"""``sde-opt``: run studies, validation checks and diffusion fits from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _study(args) -> int:
    from . import studies
    from .experiment import run_study

    reg = studies.registry()
    if args.name not in reg:
        print(f"sde-opt: unknown study {args.name!r}; available: {', '.join(sorted(reg))}",
              file=sys.stderr)
        return 2
    done = run_study(reg[args.name], Path(args.out) / args.name, quick=args.quick,
                     progress=not args.no_progress)
    print(done.message())
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sde-opt", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("study", help="run a study and write results/NAME/")
    s.add_argument("name", help="study name, e.g. msgd-escape")
    s.add_argument("--quick", action="store_true", help="small version (under 2 minutes)")
    s.add_argument("--out", default="results", help="parent folder of the results (default: results)")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.set_defaults(func=_study)

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
    f.add_argument("--level", type=float, default=0.95, help="coverage of the intervals")
    f.set_defaults(func=_fit)
    return p


def main(argv=None) -> int:
    from .engine import use_cpu_cores

    use_cpu_cores()
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

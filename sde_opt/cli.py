"""``sde-opt``: run studies, validation checks and diffusion fits from the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def _study(args) -> int:
    from .experiment.compile_cache import enable_compile_cache

    enable_compile_cache()  # before anything compiles (SDE_OPT_COMPILE_CACHE=off switches it off)
    from . import studies
    from .experiment import ConfigMismatch, run_study

    reg = studies.registry()
    if args.name not in reg:
        print(f"sde-opt: unknown study {args.name!r}; available: {', '.join(sorted(reg))}",
              file=sys.stderr)
        return 2
    folder = Path(args.out) / args.name
    if args.fresh and folder.exists():
        if args.share is not None:
            print("sde-opt study: error: --fresh cannot be combined with --share (the other "
                  "processes would keep writing into the folder); move it aside once, then start "
                  "every process", file=sys.stderr)
            return 2
        aside = _move_aside(folder)
        print(f"sde-opt: moved the previous results to {aside}", file=sys.stderr)
    share = args.share
    if share is not None and args.share_timeout is not None:
        import dataclasses

        share = dataclasses.replace(share, timeout=args.share_timeout or None)
    try:
        done = run_study(reg[args.name], folder, quick=args.quick, progress=not args.no_progress,
                         share=share)
    except (ConfigMismatch, OSError) as e:
        print(f"sde-opt study: error: {e}", file=sys.stderr)
        return 2
    if not done.out.writes_files:  # another process writes the summary and prints the table
        print(done.message())
        return 0
    if done.claims:  # results on stdout; progress went to stderr
        from .experiment import format_claims

        mode = "quick" if args.quick else "full"
        print(format_claims(done.claims, title=f"{args.name} ({mode}): headline claims "
                                               f"(the same numbers as summary.json)"))
        print()
    print(done.message())
    return 0


def _move_aside(folder: Path) -> Path:
    """Rename ``folder`` to ``folder.<date-time>`` (numbered if taken); nothing is deleted."""
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside, n = folder.with_name(f"{folder.name}.{stamp}"), 1
    while aside.exists():
        aside, n = folder.with_name(f"{folder.name}.{stamp}-{n}"), n + 1
    folder.rename(aside)
    return aside


def _validate(args) -> int:
    from . import validation
    from .experiment.compile_cache import enable_compile_cache
    from .experiment.verdict import counts, exit_status

    enable_compile_cache()
    validation.load_all()
    try:
        rows = validation.run_checks(args.select, progress=not args.json and not args.quiet)
    except ValueError as e:
        print(f"sde-opt: {e}", file=sys.stderr)
        return 2
    verdicts = [v for _, v, _ in rows]
    if args.json:
        def finite(d):  # NaN/inf (e.g. no SE for a deterministic check) → null: strict JSON
            return {k: (None if isinstance(x, float) and x != x or x in (math.inf, -math.inf)
                        else x) for k, x in d.items()}

        print(json.dumps({"verdicts": [finite(dict(v.as_dict(), check=name,
                                                   seconds=round(dt, 2)))
                                       for name, v, dt in rows],
                          "counts": counts(verdicts)}, indent=2))
    else:
        _print_table(rows)
    return exit_status(verdicts)


def _print_table(rows, width: int = 120) -> None:
    """Claims (then engine checks): one line of numbers each, the reference on a second line;
    notes for non-passing verdicts; a counts line at the end. Lines are at most ``width``."""
    import textwrap

    from .experiment.verdict import counts

    def fmt(x):
        return f"{x:.5g}"

    head = ("verdict", "predicted", "measured", "±(z·SE+bias)", "z")
    for kind, title in (("claim", "claims"), ("engine", "engine self-consistency checks "
                                                         "(not counted among the claims)")):
        sel = [v for _, v, _ in rows if v.kind == kind]
        if not sel:
            continue
        print(f"== {title} ==")
        cells = []
        for v in sel:
            if v.se == v.se:  # an se was given: z·SE + bias
                tol = f"{fmt(v.z * v.se)}+{fmt(v.bias)}" if v.bias else fmt(v.z * v.se)
            else:
                tol = fmt(0.5 * (v.ci_high - v.ci_low))
            zs = v.z_score
            cells.append((v.verdict.upper(), fmt(v.predicted), fmt(v.measured), tol,
                          f"{zs:+.1f}" if zs == zs else "-"))
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
        lead = sum(widths) + 2 * len(widths)
        claim_w = max(30, width - lead)
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  claim")
        print("-" * width)
        for v, c in zip(sel, cells):
            text = textwrap.wrap(v.claim, claim_w) or [""]
            print("  ".join(x.ljust(w) for x, w in zip(c, widths)) + "  " + text[0])
            for line in text[1:]:
                print(" " * lead + line)
            ref = "reference: " + (v.reference or "(none stated)")
            if v.bias:
                ref += f" | bias {fmt(v.bias)}: {v.bias_source}"
            for line in textwrap.wrap(ref, width - 6):
                print("      " + line)
        print()
    for _, v, _ in rows:
        if v.verdict != "pass":
            text = f"{v.verdict} ({v.claim}): "
            if v.deviation:
                text += v.deviation + ("; " if v.note else "")
            text += v.note
            for i, line in enumerate(textwrap.wrap(text, width - 4)):
                print(("  " if i == 0 else "    ") + line)
    c = counts([v for _, v, _ in rows])
    cl, en = c["claims"], c["engine"]
    print(f"\n{cl['total']} claims: {cl['pass']} pass, {cl['deviation']} deviation, "
          f"{cl['fail']} fail; {en['total']} engine checks: {en['pass']} pass, {en['fail']} fail")


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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0; got {text!r}")
    return value


def _share(text: str):
    from .experiment import Share

    try:
        return Share.parse(text)
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_STUDY_OPTIONS_HELP: list = [None]  # the study subcommand's own help, without the list of studies


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
    s.add_argument("--quick", action="store_true",
                   help="a small version of the study (`sde-opt study NAME --help` says what it "
                        "changes and how long each mode takes)")
    s.add_argument("--out", default="results", help="parent folder of the results (default: results)")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.add_argument("--share", type=_share, default=None, metavar="INDEX/COUNT",
                   help="one of COUNT processes running the study into the same --out (e.g. "
                        "$SLURM_PROCID/$SLURM_NTASKS): each computes its share of the grid points "
                        "and waits for the others'; process 0 writes the summary")
    s.add_argument("--share-timeout", type=_seconds, default=None, metavar="SECONDS",
                   help="with --share: how long to wait for a point another process computes "
                        "before stopping with an error naming it (default 3600; 0: no limit)")
    s.add_argument("--fresh", action="store_true",
                   help="move an existing OUT/NAME aside (to OUT/NAME.<date-time>) and start "
                        "afresh; needed when the folder holds points of another configuration")
    s.set_defaults(func=_study)
    base_help = s.format_help
    _STUDY_OPTIONS_HELP[:] = [base_help]
    # the study list is read from the study modules only when help is shown (imports are slow)
    s.format_help = lambda: base_help() + "\n" + _study_lines() + "\n"

    v = sub.add_parser("validate", help="run every validation check: predicted vs measured")
    v.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    v.add_argument("--select", default=None, help="only checks whose name contains this string")
    v.add_argument("--quiet", action="store_true", help="no progress lines")
    v.set_defaults(func=_validate)

    f = sub.add_parser("fit", help="estimate drift and diffusion from a trace file (.npz, .csv)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Estimate the drift and diffusion of dX = b(X) dt + B dW from one "
                                   "trace sampled every dt, with confidence intervals; writes "
                                   "fit.json and fit.png.",
                       epilog="models (--model):\n"
                              "  ou  (default) Ornstein–Uhlenbeck maximum likelihood: linear drift "
                              "A(x − m),\n      constant diffusion BBᵀ, and the stationary "
                              "covariance; exact for any dt\n"
                              "  qv  realized quadratic variation: the diffusion D = BBᵀ alone, "
                              "Σ ΔX ΔXᵀ / T\n      (no drift model; biased by O(dt) where the "
                              "drift is strong)\n"
                              "  km  Kramers–Moyal: binned conditional moments, drift "
                              "E[ΔX | x]/dt and diffusion\n      D(x) = E[ΔX ΔXᵀ | x]/dt per "
                              "state bin (d ≤ 3), with a finite-dt correction\n"
                              "      (--correction; the kramersmoyal package's D⁽²⁾ is D/2)\n\n"
                              "trace files: .npz with key x (n_steps, d) and dt or t; .csv with a "
                              "header,\noptional t and trace columns.")
    f.add_argument("trace", help="trace file (.npz with key x and dt or t; .csv with a header)")
    f.add_argument("--model", choices=["qv", "ou", "km"], default="ou",
                   help="estimator: ou (default), qv or km — see below")
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
    if not out.strip():
        return "--out must name a folder (default: results); got an empty string"
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


def _study_help(name: str) -> str | None:
    """``sde-opt study NAME --help``: the study's parts, run times and what ``--quick`` changes
    (from its module docstring and ``RUN_TIMES``), then the options; ``None`` for an unknown name."""
    import inspect
    import re

    from . import studies

    mod = studies.registry().get(name)
    if mod is None:
        return None
    doc = inspect.cleandoc(mod.__doc__ or "")
    doc = re.sub(r":(?:class|func|mod|meth|attr):`~?(?:[\w.]*\.)?([\w]+)`", r"\1", doc)  # Sphinx roles
    doc = re.sub(r"\[`([^`]+)`\]\[[\w.]+\]", r"\1", doc)  # mkdocstrings cross-references
    first, _, rest = doc.partition("\n")
    parts = rest[rest.find("Parts:"):] if "Parts:" in rest else rest
    lines = [f"sde-opt study {name}: {first.strip()}", ""]
    times = getattr(mod, "RUN_TIMES", None)
    if isinstance(times, dict) and times:
        lines += ["run times: " + "; ".join(f"{k} {_duration(v)}" for k, v in times.items()), ""]
    lines += [parts.strip(), ""]
    if "--quick" not in parts:
        lines += ["--quick runs a small version of the study.", ""]
    build_parser()
    return "\n".join(lines) + "\n" + _STUDY_OPTIONS_HELP[0]()


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["study"] and {"-h", "--help"} & set(argv):
        names = [a for a in argv[1:] if not a.startswith("-")]
        text = _study_help(names[0]) if names else None
        if text is not None:
            print(text)
            return 0
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

"""Time to an answer: each study's wall time, CPU time and compilation share, one study per process.

    python benchmarks/study_times.py [--quick] [--studies msgd-escape,fit-traces] [--out DIR]
                                     [--compile-cache DIR]

Runs ``sde-opt study NAME`` (full by default) in a fresh process per study, into a fresh folder
under ``--out`` (default: a temporary folder), with the persistent compilation cache switched off
(``SDE_OPT_COMPILE_CACHE=off``), so that every program is compiled as on a user's first run; with
``--compile-cache DIR`` the studies use the CLI's persistent cache in ``DIR`` instead (run twice
with the same empty ``DIR``: the first run fills it, the second is a user's second run). Each
process sums the XLA compilation time JAX reports (the ``/jax/core/compile/backend_compile_duration``
event: compiling, not tracing) and its own CPU time, and the table gives, per study: wall seconds,
CPU seconds, compilation seconds and their share of the wall time, and the headline claims' verdicts
of the summary (so a faster run that changed an answer shows). Run it on an idle machine; it prints a
Markdown table and, with ``--json``, the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("msgd-escape", "sghmc-vs-sgld", "fit-traces", "minimax-rates", "minimax-escape",
           "bilevel-escape", "neural-collapse", "adaptive-sde")

_CHILD = r"""
import json, resource, sys, time
import jax
compile_s = [0.0]
def _listen(event, duration, **kw):
    if event == "/jax/core/compile/backend_compile_duration":
        compile_s[0] += duration
jax.monitoring.register_event_duration_secs_listener(_listen)
from sde_opt.cli import main
t0 = time.perf_counter()
rc = main(sys.argv[1:])
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print("STUDY_TIMES " + json.dumps({"rc": rc, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
                                   "compile_s": compile_s[0]}))
"""


def _verdicts(folder: Path) -> dict:
    """Counts of the headline claims' verdicts in the study's ``summary.json``."""
    counts: dict = {}
    for summary in folder.rglob("summary.json"):
        for claim in json.loads(summary.read_text()).get("headline_claims", []):
            counts[claim["verdict"]] = counts.get(claim["verdict"], 0) + 1
    return counts


def run_study(name: str, out: Path, quick: bool, cache: str = "off") -> dict:
    env = dict(os.environ, SDE_OPT_COMPILE_CACHE=cache,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    argv = ["study", name, "--out", str(out)] + (["--quick"] if quick else [])
    proc = subprocess.run([sys.executable, "-c", _CHILD, *argv], env=env, capture_output=True,
                          text=True, cwd=str(ROOT))
    line = [x for x in proc.stdout.splitlines() if x.startswith("STUDY_TIMES ")]
    if not line:
        raise RuntimeError(f"study {name} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    row = json.loads(line[-1][len("STUDY_TIMES "):])
    row["study"] = name
    row["verdicts"] = _verdicts(out)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", default=",".join(STUDIES))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--compile-cache", default="off", metavar="DIR",
                    help="the persistent compilation cache's folder (default: off)")
    args = ap.parse_args(argv)
    names = [s for s in args.studies.split(",") if s]
    unknown = sorted(set(names) - set(STUDIES))
    if unknown:
        ap.error(f"--studies: unknown {unknown}; expected names from {list(STUDIES)}")
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="study_times_"))
    rows = []
    for name in names:
        rows.append(run_study(name, base / name, args.quick, args.compile_cache))
        r = rows[-1]
        print(f"[study_times] {name}: {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} s CPU, "
              f"{r['compile_s']:.0f} s compiling", file=sys.stderr)
    if args.json:
        print(json.dumps({"load_average_end": os.getloadavg(), "rows": rows}, indent=2))
        return 0
    mode = "quick" if args.quick else "full"
    print(f"| study ({mode}) | wall (s) | CPU (s) | compiling (s) | compile share of wall | verdicts |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        v = ", ".join(f"{k} {n}" for k, n in sorted(r["verdicts"].items()))
        print(f"| `{r['study']}` | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['compile_s']:.0f} | "
              f"{r['compile_s'] / r['wall_s']:.0%} | {v} |")
    total = sum(r["wall_s"] for r in rows)
    print(f"| **all** | **{total:.0f}** ({total / 60:.1f} min) | "
          f"{sum(r['cpu_s'] for r in rows):.0f} | {sum(r['compile_s'] for r in rows):.0f} | | |")
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The engine before and after a change, side by side in one run (interleaved rounds).

    python benchmarks/engine_before_after.py --old 820e207

exports the old commit's tree (``git archive``) into a temporary folder and alternates rounds of
``benchmarks/run.py --json --only sde_opt,sde_opt_events`` run with the old and the new package on
``PYTHONPATH``, so that both see the same machine load. Prints the median path-steps/s of each and
their ratio (new/old) for the fixed-horizon and exit-time workloads, and the first call (tracing and
compilation included) of each in a fresh process. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _export(ref: str, dest: Path) -> Path:
    tar = dest / "old.tar"
    with open(tar, "wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=f, check=True)
    with tarfile.open(tar) as t:
        t.extractall(dest / "old", filter="data")
    return dest / "old"


def _round(tree: Path, only: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, str(tree / "benchmarks" / "run.py"), "--json", "--repeats", "3",
                          "--only", only], env=env, capture_output=True, text=True, check=True,
                         cwd=str(tree))
    data = json.loads(out.stdout[out.stdout.index("{"):])
    return {k: v for wl in data.values() for k, v in wl.items()}


_FIRST_CALL = """
import json, sys, time
sys.path.insert(0, ".")
import sde_opt
sde_opt.use_cpu_cores()
from benchmarks import peers
from benchmarks.workloads import EXIT, FIXED
out = {}
for key, w in (("sde_opt", FIXED), ("sde_opt_events", EXIT)):
    run = peers.prepare_sde_opt(w)
    t = time.perf_counter()
    run()
    out[key + " first call (s)"] = time.perf_counter() - t
print(json.dumps(out))
"""


def _first_call(tree: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True,
                         text=True, check=True, cwd=str(tree))
    return json.loads(out.stdout[out.stdout.index("{"):])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", required=True, help="git revision of the engine before the change")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="sde_opt,sde_opt_events")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        old = _export(args.old, Path(tmp))
        runs = {"old": [], "new": []}
        for i in range(args.rounds):
            for label, tree in (("old", old), ("new", ROOT)) if i % 2 == 0 else (("new", ROOT), ("old", old)):
                runs[label].append(_round(tree, args.only) | _first_call(tree))
                print(f"round {i + 1} {label}: {runs[label][-1]}", file=sys.stderr, flush=True)
    keys = sorted(runs["old"][0])
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"| workload | old ({args.old}) | new | new/old | old runs | new runs |")
    print("|---|---|---|---|---|---|")
    for k in keys:
        o = [r[k] for r in runs["old"]]
        n = [r[k] for r in runs["new"]]
        seconds = k.endswith("(s)")
        fmt = (lambda v: f"{v:.2f} s") if seconds else (lambda v: f"{v / 1e6:.2f} M")
        each = (lambda v: f"{v:.2f}") if seconds else (lambda v: f"{v / 1e6:.1f}")
        print(f"| {k} | {fmt(statistics.median(o))} | {fmt(statistics.median(n))} | "
              f"{statistics.median(n) / statistics.median(o):.3f} | "
              f"{', '.join(each(v) for v in o)} | {', '.join(each(v) for v in n)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

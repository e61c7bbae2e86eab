"""Peak memory of a streamed exit-time run against the number of paths (one subprocess per size).

    python benchmarks/memory.py 1e6 1e7 1e8

Workload: Euler–Maruyama at the benchmark's quadratic saddle (d = 10, h = 0.01, σ = 0.1, one
unstable direction) with ``LeaveBall(0, 0.1)`` and a horizon of 10⁴ steps, run by
``so.simulate_streamed`` in chunks of 2¹⁶ paths. Prints a markdown table of peak RSS (the
process's ``ru_maxrss``), wall time and the mean exit step with its SE.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import sde_opt as so
so.use_cpu_cores()
import jax.numpy as jnp
import numpy as np
n = int(float(sys.argv[1]))
lam = -np.ones(10); lam[0] = 1.0
chain = so.EulerMaruyama(so.LinearSDE(np.diag(lam), 0.1), 0.01)
t = time.perf_counter()
s = so.simulate_streamed(chain, jnp.zeros(10), 0, n_paths=n, n_steps=10_000,
                         events=[so.LeaveBall(jnp.zeros(10), 0.1)])
wall = time.perf_counter() - t
m = s.exit_steps_mean()
print("RESULT" + json.dumps({"n": n, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                             "wall_s": wall, "mean": float(m.value), "se": float(m.se),
                             "counts": s.counts()}))
"""


def main(argv=None) -> int:
    sizes = (argv if argv is not None else sys.argv[1:]) or ["1e5", "1e6"]
    rows = []
    for n in sizes:
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, n], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.split("RESULT", 1)[1]))
        print(f"{n}: {rows[-1]} ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    print("| paths | peak RSS | wall | mean exit step ± SE | exited / censored / diverged |")
    print("|---|---|---|---|---|")
    for r in rows:
        c = r["counts"]
        print(f"| {r['n']:.0e} | {r['rss_mb']:.0f} MB | {r['wall_s']:.0f} s "
              f"| {r['mean']:.3f} ± {r['se']:.3f} "
              f"| {c['exited']} / {c['censored']} / {c['diverged']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

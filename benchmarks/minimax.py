"""Minimax workload: many paths of stochastic GDA and extragradient escaping the saddle of an NC-SC
game, sde_opt against a hand-written PyTorch loop, reported as a throughput ratio in one run.

    python benchmarks/minimax.py                 # 10,000 paths, horizon 4,000 iterations
    python benchmarks/minimax.py --paths 2000 --json

Workload: the quadratic NC-SC game f = ½xᵀAx + xᵀBy − ½yᵀCy with A = diag(−1, ½), B = 0.4 I,
C = I (Φ = ½xᵀdiag(−0.84, 0.66)x, a strict saddle at 0), additive Gaussian oracle σ = 0.1 on both
players, η_x = 0.01, η_y = 0.08 (ratio 8), float32, every path from z = 0 stopped when
|⟨w, z⟩| ≥ 0.5 (w the unit left unstable eigenvector of GDA's iteration matrix). Both
implementations draw their own normals. Cross-check: GDA's mean exit iteration against the exact
AR(1) prediction of :func:`sde_opt.theory.minimax_escape.gda_saddle` (EG's against the measured
value of the other implementation). The PyTorch loop masks exited paths until all have exited
(the natural hand-written form; it keeps computing on exited rows).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sde_opt as so  # noqa: E402

N_CPU_DEVICES = so.use_cpu_cores()

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.timing import measure_interleaved  # noqa: E402
from sde_opt.theory import minimax_escape as mx  # noqa: E402

ETA_X, RATIO, SIGMA, RADIUS = 0.01, 8.0, 0.1, 0.5


def game():
    return so.QuadraticGame(np.diag([-1.0, 0.5]), 0.4 * np.eye(2), np.eye(2), sigma_x=SIGMA,
                            sigma_y=SIGMA)


def _w():
    return mx.gda_saddle(game(), ETA_X, RATIO * ETA_X).w


class Coordinate:
    def __init__(self, w):
        self.w = jnp.asarray(w, jnp.float32)

    def __call__(self, z):
        return jnp.abs(jnp.concatenate(z) @ self.w) >= RADIUS


def sde_opt_run(method, n_paths, horizon, seed):
    g = game()
    alg = (so.GDA if method == "gda" else so.Extragradient)(g, ETA_X, RATIO * ETA_X)
    ev = Coordinate(_w())

    def run():
        res = so.simulate(alg, (jnp.zeros(2), jnp.zeros(2)), seed, n_paths=n_paths,
                          n_steps=horizon, events=[ev])
        return res.steps, res.status

    return run


def torch_run(method, n_paths, horizon, seed, device="cpu"):
    import torch

    g = game()
    a = torch.tensor(np.asarray(g.A), dtype=torch.float32, device=device)
    b = torch.tensor(np.asarray(g.B), dtype=torch.float32, device=device)
    c = torch.tensor(np.asarray(g.C), dtype=torch.float32, device=device)
    w = torch.tensor(_w(), dtype=torch.float32, device=device)
    ex, ey = ETA_X, RATIO * ETA_X

    def field(x, y, nx, ny):
        vx = x @ a.T + y @ b.T + SIGMA * nx
        vy = y @ c.T - x @ b + SIGMA * ny
        return vx, vy

    def run():
        gen = torch.Generator(device=device).manual_seed(seed)
        x = torch.zeros(n_paths, 2, device=device)
        y = torch.zeros(n_paths, 2, device=device)
        alive = torch.ones(n_paths, dtype=torch.bool, device=device)
        steps = torch.full((n_paths,), horizon, dtype=torch.int64, device=device)
        calls = 1 if method == "gda" else 2
        with torch.no_grad():
            for k in range(horizon):
                noise = torch.randn(calls, 2, n_paths, 2, generator=gen, device=device)
                vx, vy = field(x, y, noise[0, 0], noise[0, 1])
                if method == "gda":
                    nx, ny = x - ex * vx, y - ey * vy
                else:
                    hx, hy = field(x - ex * vx, y - ey * vy, noise[1, 0], noise[1, 1])
                    nx, ny = x - ex * hx, y - ey * hy
                m = alive[:, None]
                x = torch.where(m, nx, x)
                y = torch.where(m, ny, y)
                hit = alive & ((torch.cat([x, y], 1) @ w).abs() >= RADIUS)
                steps = torch.where(hit, k + 1, steps)
                alive = alive & ~hit
                if not bool(alive.any()):
                    break
        return steps.cpu().numpy(), np.where(alive.cpu().numpy(), 3, 1)

    return run


def summary(steps, status):
    s = np.asarray(steps, float)
    return {"mean_exit_iteration": float(s.mean()), "se": float(s.std(ddof=1) / math.sqrt(s.size)),
            "censored": int(np.sum(status == 3)), "useful_path_steps": int(s.sum())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, default=10_000)
    p.add_argument("--horizon", type=int, default=4_000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    s = mx.gda_saddle(game(), ETA_X, RATIO * ETA_X)
    report = {"workload": {"paths": args.paths, "horizon": args.horizon, "eta_x": ETA_X,
                           "ratio": RATIO, "sigma": SIGMA, "radius": RADIUS,
                           "cpu_devices": N_CPU_DEVICES},
              "gda_ar1_prediction": s.mean_iterations_discrete(RADIUS)}
    for method in ("gda", "eg"):
        runs = [sde_opt_run(method, args.paths, args.horizon, 1),
                torch_run(method, args.paths, args.horizon, 1)]
        timed = measure_interleaved(runs, args.repeats)
        rows = {}
        for name, t in zip(("sde_opt", "torch_loop"), timed):
            steps, status = t.outcome
            sm = summary(steps, status)
            rows[name] = {"first_s": t.first_s, "best_s": t.best_s,
                          "useful_path_steps_per_s": sm["useful_path_steps"] / t.best_s, **sm}
        rows["ratio_sde_opt_over_torch"] = (rows["sde_opt"]["useful_path_steps_per_s"]
                                            / rows["torch_loop"]["useful_path_steps_per_s"])
        report[method] = rows
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"minimax workload: {args.paths:,} paths, horizon {args.horizon:,}, "
              f"exit |<w, z>| >= {RADIUS}; GDA AR(1) prediction "
              f"{report['gda_ar1_prediction']:.1f} iterations")
        for method in ("gda", "eg"):
            r = report[method]
            for name in ("sde_opt", "torch_loop"):
                x = r[name]
                print(f"  {method:3s} {name:10s} {x['useful_path_steps_per_s']:.3e} path-steps/s "
                      f"(first call {x['first_s']:.2f} s, best {x['best_s']:.2f} s); mean exit "
                      f"{x['mean_exit_iteration']:.1f} ± {x['se']:.1f}, censored {x['censored']}")
            print(f"  {method:3s} ratio sde_opt / torch loop: {r['ratio_sde_opt_over_torch']:.2f}")
    return report


if __name__ == "__main__":
    main()

r"""Bilevel workload: many paths of StocBiO on the quadratic bilevel problem, sde_opt vs a
hand-written PyTorch loop, reported as one throughput ratio from one run.

Workload: :class:`~sde_opt.QuadraticBilevel` (κ = 10, d_x = 2, d_y = 20, σ_f = 0.1, σ_g = 1),
StocBiO with α = 1/ℓ, β = 0.01, D = 5 inner SGD steps, Q = 10 Neumann terms, from the saddle
(x, y) = (0, 0), float32, 4,000 paths × 200 outer steps (one outer step = 5 ∇ᵧG, 1 upper call,
10 HVPs, 1 cross JVP). sde_opt: ``simulate(StocBiO(...))`` (HVPs by autodiff through the problem's
oracles); PyTorch: the same recursion with the problem's matrices (Q, B, P) as batched matmuls,
noise from ``torch.randn`` — what a competent user would write by hand.

Cross-check: both must give the same law of x after 200 steps; the z-score of E x₁² between the
two is reported. Timing: the first call is reported on its own, then 3 interleaved rounds, best
kept (``timing.py``).

    python benchmarks/bilevel.py [--paths N] [--steps K] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.timing import measure_interleaved  # noqa: E402

KAPPA, D_Y, SIGMA_F, SIGMA_G, BETA, D, Q = 10.0, 20, 0.1, 1.0, 0.01, 5, 10


def _problem():
    import sde_opt as so

    return so.QuadraticBilevel(kappa=KAPPA, d_y=D_Y, sigma_f=SIGMA_F, sigma_g=SIGMA_G)


def sde_opt_run(n_paths, n_steps):
    import jax.numpy as jnp

    import sde_opt as so

    p = _problem()
    alg = so.StocBiO(p, alpha=1.0 / p.lower_smoothness, beta=BETA, D=D, Q=Q)

    def run():
        res = so.simulate(alg, jnp.zeros(2), 0, n_paths=n_paths, n_steps=n_steps)
        return np.asarray(res.final)

    return run


def torch_run(n_paths, n_steps, device="cpu"):
    import torch

    p = _problem()
    f32 = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=device)  # noqa: E731
    qm, bm = f32(p.q_matrix(np.float64)), f32(p.b_matrix(np.float64))
    v, w = f32(np.asarray(p.u)[:, :2]), f32(p.w)
    pm = torch.eye(D_Y, device=device) + float(p.spread) * (w @ v.T + v @ w.T)
    omega, s = f32(p.omega), f32(p.s)
    alpha = 1.0 / p.lower_smoothness
    gen = torch.Generator(device=device).manual_seed(0)

    def run():
        with torch.no_grad():
            x = torch.zeros(n_paths, 2, device=device)
            y = torch.zeros(n_paths, D_Y, device=device)
            for _ in range(n_steps):
                zeta = torch.randn(D, n_paths, D_Y, generator=gen, device=device)
                xi = torch.randn(n_paths, 2 + D_Y, generator=gen, device=device)
                bx = x @ bm.T
                for t in range(D):
                    y = y - alpha * (y @ qm - bx + SIGMA_G * zeta[t])
                gx = omega * x**3 - s * x + SIGMA_F * xi[:, :2]
                gy = y @ pm + SIGMA_F * xi[:, 2:]
                term = gy
                z = alpha * gy
                for _ in range(Q):
                    term = term - alpha * (term @ qm)
                    z = z + alpha * term
                x = x - BETA * (gx + z @ bm)
            return x.cpu().numpy()

    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=4000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import sde_opt as so

    so.use_cpu_cores()
    timed = measure_interleaved([sde_opt_run(args.paths, args.steps), torch_run(args.paths, args.steps)],
                                args.repeats)
    ps = args.paths * args.steps
    out = {}
    for name, t in zip(("sde_opt", "torch_loop"), timed):
        x1sq = t.outcome[:, 0].astype(np.float64) ** 2
        out[name] = {"first_s": t.first_s, "best_s": t.best_s, "path_steps_per_s": ps / t.best_s,
                     "E_x1sq": float(x1sq.mean()), "se": float(x1sq.std(ddof=1) / math.sqrt(x1sq.size))}
    a, b = out["sde_opt"], out["torch_loop"]
    out["ratio_sde_opt_over_torch"] = a["path_steps_per_s"] / b["path_steps_per_s"]
    out["cross_check_z"] = (a["E_x1sq"] - b["E_x1sq"]) / math.hypot(a["se"], b["se"])
    out["load_average"] = os.getloadavg()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"StocBiO on QuadraticBilevel: {args.paths:,} paths × {args.steps} outer steps "
              f"(D={D}, Q={Q}, d_y={D_Y}), float32; load {os.getloadavg()[0]:.1f}")
        for name in ("sde_opt", "torch_loop"):
            r = out[name]
            print(f"  {name:10s} first {r['first_s']:7.2f} s  best {r['best_s']:7.2f} s  "
                  f"{r['path_steps_per_s']:12.4g} path-steps/s  E x1² = {r['E_x1sq']:.4g} ± {r['se']:.2g}")
        print(f"  ratio sde_opt / torch = {out['ratio_sde_opt_over_torch']:.3g}; "
              f"cross-check z = {out['cross_check_z']:.2f}")
    return out


if __name__ == "__main__":
    main()

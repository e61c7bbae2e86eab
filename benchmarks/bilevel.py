r"""Bilevel workloads: many paths of StocBiO, AID and perturbed AID on the quadratic bilevel
problem, sde_opt vs hand-written PyTorch loops, each reported as one throughput ratio from one run.

Problem: :class:`~sde_opt.QuadraticBilevel` (κ = 10, d_x = 2, d_y = 20, σ_f = 0.1, σ_g = 1),
α = 1/ℓ, β = 0.01, float32, 4,000 paths × 200 outer steps. Workloads:

* ``stocbio``: StocBiO with D = 5 inner SGD steps, Q = 10 Neumann terms, from the saddle
  (x, y) = (0, 0); one outer step = 5 ∇ᵧG, 1 upper call, 10 HVPs, 1 cross JVP and 122 normals.
* ``aid``: AID (deterministic) with D = 5 inner GD steps and N = 5 conjugate-gradient steps on
  ∇²ᵧg v = ∇ᵧf inside the step (warm-started y and v), from per-path starts x₀ uniform in
  [−1, 1]² (a fixed NumPy seed; from the saddle every path would stay there).
* ``perturbed_aid``: perturbed AID (D = 5, N = 5; kick radius r = 1, threshold ‖ĝ‖ ≤ 0.1,
  interval T = 20, no termination rule) from the saddle: a kick x − βξ, ξ uniform in B(0, r),
  whenever the hypergradient is small and T steps passed since the last kick.

sde_opt: ``simulate(Algorithm(...))`` (the problem's own oracles: products with its constant
Hessian). PyTorch: the same recursions with the problem's matrices (Q, B, P) as batched matmuls,
noise from ``torch.randn`` — what a competent user would write by hand.

Cross-checks: StocBiO and perturbed AID must give the same law of x after 200 steps (the z-score
of E x₁² between the two implementations); AID is deterministic, so its final points are compared
path by path (the largest difference, float32 rounding). Timing: the first call is reported on its
own, then interleaved rounds (``timing.py``); the ratio is the median over rounds of the ratio
within a round.

    python benchmarks/bilevel.py [--workloads stocbio,aid,perturbed_aid] [--paths N] [--steps K] [--json]
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

KAPPA, D_Y, SIGMA_F, SIGMA_G, BETA, D, Q, N = 10.0, 20, 0.1, 1.0, 0.01, 5, 10, 5
RADIUS, THRESHOLD, INTERVAL = 1.0, 0.1, 20
WORKLOADS = ("stocbio", "aid", "perturbed_aid")


def _problem():
    import sde_opt as so

    return so.QuadraticBilevel(kappa=KAPPA, d_y=D_Y, sigma_f=SIGMA_F, sigma_g=SIGMA_G)


def _starts(workload, n_paths):
    """x₀ per path: the saddle, except AID's uniform starts in [−1, 1]² (seed 0)."""
    if workload == "aid":
        return np.random.default_rng(0).uniform(-1.0, 1.0, (n_paths, 2)).astype(np.float32)
    return np.zeros((n_paths, 2), np.float32)


def _algorithm(workload):
    import sde_opt as so

    p = _problem()
    alpha = 1.0 / p.lower_smoothness
    if workload == "stocbio":
        return so.StocBiO(p, alpha=alpha, beta=BETA, D=D, Q=Q)
    if workload == "aid":
        return so.AID(p, alpha=alpha, beta=BETA, D=D, N=N)
    if workload == "perturbed_aid":
        return so.PerturbedAID(p, alpha=alpha, beta=BETA, radius=RADIUS, threshold=THRESHOLD,
                               interval=INTERVAL, D=D, N=N)
    raise ValueError(f"bilevel benchmark: workload must be one of {WORKLOADS}; got {workload!r}")


def sde_opt_run(n_paths, n_steps, workload="stocbio", seed=0):
    import jax.numpy as jnp

    import sde_opt as so

    alg = _algorithm(workload)
    x0 = _starts(workload, n_paths)
    x0 = jnp.asarray(x0) if workload == "aid" else jnp.zeros(2)

    def run():
        res = so.simulate(alg, x0, seed, n_paths=n_paths, n_steps=n_steps)
        return np.asarray(res.final)

    return run


def _torch_matrices(device):
    import torch

    p = _problem()
    f32 = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=device)  # noqa: E731
    qm, bm = f32(p.q_matrix(np.float64)), f32(p.b_matrix(np.float64))
    v, w = f32(np.asarray(p.u)[:, :2]), f32(p.w)
    pm = torch.eye(D_Y, device=device) + float(p.spread) * (w @ v.T + v @ w.T)
    return qm, bm, pm, f32(p.omega), f32(p.s), 1.0 / p.lower_smoothness


def torch_run(n_paths, n_steps, device="cpu", workload="stocbio", seed=0):
    """The hand-written batched PyTorch loop of ``workload`` (rows are paths)."""
    if workload == "stocbio":
        return _torch_stocbio(n_paths, n_steps, device, seed)
    if workload in ("aid", "perturbed_aid"):
        return _torch_aid(n_paths, n_steps, device, seed, perturbed=workload == "perturbed_aid")
    raise ValueError(f"bilevel benchmark: workload must be one of {WORKLOADS}; got {workload!r}")


def _torch_stocbio(n_paths, n_steps, device, seed):
    import torch

    qm, bm, pm, omega, s, alpha = _torch_matrices(device)
    gen = torch.Generator(device=device).manual_seed(seed)

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


def _torch_aid(n_paths, n_steps, device, seed, perturbed):
    """AID with warm-started y and v: D GD steps, N CG steps from v (on the problem scaled by
    ‖b‖ + ‖v‖, with a zero step once a residual vanishes, as ``sde_opt``'s CG), then x − βĝ; with
    ``perturbed`` the kick rule of perturbed AID (uniform ξ in B(0, r) from 3 normals)."""
    import torch

    qm, bm, pm, omega, s, alpha = _torch_matrices(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    x_start = torch.as_tensor(_starts("perturbed_aid" if perturbed else "aid", n_paths),
                              device=device)

    def dot(a, b):
        return (a * b).sum(1, keepdim=True)

    def safe_div(num, den):
        pos = den > 0
        return torch.where(pos, num / torch.where(pos, den, torch.ones_like(den)), 0.0)

    def run():
        with torch.no_grad():
            x = x_start.clone()
            y = torch.zeros(n_paths, D_Y, device=device)
            v = torch.zeros(n_paths, D_Y, device=device)
            since = torch.full((n_paths, 1), INTERVAL + 1, device=device)
            for _ in range(n_steps):
                bx = x @ bm.T
                for _ in range(D):
                    y = y - alpha * (y @ qm - bx)
                gx = omega * x**3 - s * x
                b = y @ pm
                scale = b.norm(dim=1, keepdim=True) + v.norm(dim=1, keepdim=True)
                scale = torch.where(scale > 0, scale, torch.ones_like(scale))
                v = v / scale
                r = b / scale - v @ qm
                p, rr = r, dot(r, r)
                for _ in range(N):
                    hp = p @ qm
                    a = safe_div(rr, dot(p, hp))
                    v, r = v + a * p, r - a * hp
                    rr_new = dot(r, r)
                    p, rr = r + safe_div(rr_new, rr) * p, rr_new
                v = v * scale
                g = gx + v @ bm
                if not perturbed:
                    x = x - BETA * g
                    continue
                nz = torch.randn(n_paths, 3, generator=gen, device=device)
                xi = (RADIUS * torch.special.ndtr(nz[:, 2:]) ** 0.5 * nz[:, :2]
                      / nz[:, :2].norm(dim=1, keepdim=True))
                kick = (g.norm(dim=1, keepdim=True) <= THRESHOLD) & (since > INTERVAL)
                x = torch.where(kick, x - BETA * xi, x - BETA * g)
                since = torch.where(kick, 0.0, torch.clamp(since + 1, max=INTERVAL + 1))
            return x.cpu().numpy()

    return run


def _moments(x):
    x1sq = x[:, 0].astype(np.float64) ** 2
    return float(x1sq.mean()), float(x1sq.std(ddof=1) / math.sqrt(x1sq.size))


def run_workload(workload, n_paths, n_steps, repeats):
    """One workload, both implementations interleaved: a report dict."""
    timed = measure_interleaved([sde_opt_run(n_paths, n_steps, workload),
                                 torch_run(n_paths, n_steps, workload=workload)], repeats)
    ps = n_paths * n_steps
    out = {}
    for name, t in zip(("sde_opt", "torch_loop"), timed):
        m, se = _moments(t.outcome)
        out[name] = {"first_s": t.first_s, "best_s": t.best_s, "path_steps_per_s": ps / t.best_s,
                     "rounds_s": t.runs_s, "E_x1sq": m, "se": se}
    a, b = out["sde_opt"], out["torch_loop"]
    out["ratio_sde_opt_over_torch"] = a["path_steps_per_s"] / b["path_steps_per_s"]
    out["median_ratio_of_rounds"] = float(np.median(np.asarray(b["rounds_s"]) / np.asarray(a["rounds_s"])))
    if workload == "aid":
        out["max_abs_diff_final"] = float(np.max(np.abs(timed[0].outcome.astype(np.float64)
                                                        - timed[1].outcome)))
    else:
        out["cross_check_z"] = (a["E_x1sq"] - b["E_x1sq"]) / math.hypot(a["se"], b["se"])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--paths", type=int, default=4000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import sde_opt as so

    so.use_cpu_cores()
    load_before = os.getloadavg()
    report = {}
    for workload in args.workloads.split(","):
        report[workload] = run_workload(workload, args.paths, args.steps, args.repeats)
    report["load_average_before_after"] = [load_before, os.getloadavg()]
    if args.json:
        print(json.dumps(report, indent=2))
        return report
    print(f"bilevel workloads on QuadraticBilevel: {args.paths:,} paths × {args.steps} outer steps "
          f"(d_y={D_Y}, D={D}, Q={Q}, N={N}), float32; load {load_before[0]:.1f} → "
          f"{os.getloadavg()[0]:.1f}")
    for workload in args.workloads.split(","):
        r = report[workload]
        for name in ("sde_opt", "torch_loop"):
            x = r[name]
            print(f"  {workload:14s} {name:10s} first {x['first_s']:7.2f} s  best {x['best_s']:7.2f} s"
                  f"  {x['path_steps_per_s']:12.4g} path-steps/s  E x1² = {x['E_x1sq']:.4g} ± {x['se']:.2g}")
        check = (f"max |Δx| path by path {r['max_abs_diff_final']:.2g}" if workload == "aid"
                 else f"cross-check z = {r['cross_check_z']:.2f}")
        print(f"  {workload:14s} ratio sde_opt / torch = {r['ratio_sde_opt_over_torch']:.3g} "
              f"(median of rounds {r['median_ratio_of_rounds']:.3g}); {check}")
    return report


if __name__ == "__main__":
    main()

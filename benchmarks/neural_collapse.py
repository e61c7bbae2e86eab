"""Benchmark workload: many Riemannian-SGD runs on the spherical UFM in one engine call vs a
hand-written PyTorch loop of the same algorithm, reported as one throughput ratio in one run.

Workload: NormalizedUFM(K=10, d=16, n=10, τ=2) (N = 100 features on S¹⁵, 10 classifiers),
Riemannian SGD with minibatches of 10 samples drawn with replacement, η = 0.5, 256 independent
runs (one uniform random start each), 400 steps, float32.

* sde_opt: ``simulate(RiemannianSGD(problem, η), x0, key, n_paths=256, n_steps=400)`` — the natural
  user path (the engine vmaps the runs and streams nothing but the final point).
* PyTorch: the same update on batched tensors (R, d, K) and (R, d, N), written as a competent
  user would — ``torch.bmm``, ``softmax``, in-place retraction, ``inference_mode``, closed-form
  minibatch gradient ∇_W = (τ/b) H diag(c) (P − Y)ᵀ, ∇_H = (τ/b) W (P − Y) diag(c) from the
  index counts c (one ``randint`` per step for all runs).

Correctness cross-check: the mean final loss of both against each other (different random
streams, same law: a z-score) and against f*. Timing follows ``timing.py`` (the first call with
compilation reported apart, then interleaved rounds, best kept).

    python benchmarks/neural_collapse.py [--runs 256] [--steps 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import measure_interleaved  # noqa: E402

K, D, N_PER, TAU, BATCH, ETA = 10, 16, 10, 2.0, 10, 0.5


def _problem():
    import sde_opt as so

    return so.NormalizedUFM(K, D, N_PER, TAU, batch_size=BATCH)


def _starts(runs, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((runs, D, K)).astype(np.float32)
    h = rng.standard_normal((runs, D, K * N_PER)).astype(np.float32)
    return {"W": w / np.linalg.norm(w, axis=1, keepdims=True),
            "H": h / np.linalg.norm(h, axis=1, keepdims=True)}


def prepare_sde_opt(runs, steps, seed=0):
    import jax

    import sde_opt as so

    p = _problem()
    alg = so.RiemannianSGD(p, ETA)
    x0 = _starts(runs, seed)
    loss = jax.jit(jax.vmap(p.objective))

    def run():
        res = so.simulate(alg, x0, seed, n_paths=runs, n_steps=steps)
        final = {k: np.asarray(v) for k, v in res.final.items()}
        return np.asarray(loss(final))

    return run


def prepare_torch(runs, steps, seed=0, device="cpu"):
    import torch

    n = K * N_PER
    y = torch.arange(K, device=device).repeat_interleave(N_PER)
    onehot = torch.nn.functional.one_hot(y, K).T.float()  # K×N
    x0 = _starts(runs, seed)

    def loss_of(w, h):
        z = TAU * torch.bmm(w.transpose(1, 2), h)  # R×K×N
        return (torch.logsumexp(z, 1) - z[:, y, torch.arange(n, device=device)]).mean(1)

    def run():
        gen = torch.Generator(device=device).manual_seed(seed)
        with torch.inference_mode():
            w = torch.tensor(x0["W"], device=device)
            h = torch.tensor(x0["H"], device=device)
            for _ in range(steps):
                idx = torch.randint(0, n, (runs, BATCH), generator=gen, device=device)
                c = torch.zeros(runs, n, device=device).scatter_add_(
                    1, idx, torch.ones(runs, BATCH, device=device))
                g = torch.softmax(TAU * torch.bmm(w.transpose(1, 2), h), 1) - onehot  # R×K×N
                gc = g * c[:, None, :]
                gw = (TAU / BATCH) * torch.bmm(h, gc.transpose(1, 2))
                gh = (TAU / BATCH) * torch.bmm(w, gc)
                gw -= w * (w * gw).sum(1, keepdim=True)  # tangent projection, column-wise
                gh -= h * (h * gh).sum(1, keepdim=True)
                w.sub_(gw, alpha=ETA)
                h.sub_(gh, alpha=ETA)
                w.div_(w.norm(dim=1, keepdim=True))  # retraction
                h.div_(h.norm(dim=1, keepdim=True))
            return loss_of(w, h).cpu().numpy()

    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=256)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import sde_opt as so

    so.use_cpu_cores()
    names = ["sde_opt", "torch_loop"]
    timed = measure_interleaved([prepare_sde_opt(args.runs, args.steps),
                                 prepare_torch(args.runs, args.steps)], args.repeats)
    steps = args.runs * args.steps
    rates = {nm: steps / t.best_s for nm, t in zip(names, timed, strict=True)}
    la, lb = (np.asarray(t.outcome, np.float64) for t in timed)
    z = (la.mean() - lb.mean()) / math.sqrt(la.var(ddof=1) / la.size + lb.var(ddof=1) / lb.size)
    report = {
        "workload": f"RSGD on NormalizedUFM(K={K}, d={D}, n={N_PER}, tau={TAU:g}), batch {BATCH}, "
                    f"eta {ETA:g}, {args.runs} runs x {args.steps} steps, float32",
        "run_steps_per_second": rates,
        "first_call_seconds": {nm: t.first_s for nm, t in zip(names, timed, strict=True)},
        "ratio_sde_opt_over_torch": rates["sde_opt"] / rates["torch_loop"],
        "cross_check": {"mean_final_loss": {"sde_opt": float(la.mean()), "torch_loop": float(lb.mean())},
                        "z_difference": float(z), "f_star": _problem().optimal_value()},
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(report["workload"])
        for nm in names:
            first = report["first_call_seconds"][nm]
            print(f"  {nm:11s} {rates[nm]:12.4g} run-steps/s  (first call {first:.2f} s)")
        print(f"  ratio sde_opt / torch = {report['ratio_sde_opt_over_torch']:.3g}")
        print(f"  mean final loss: sde_opt {la.mean():.5f}, torch {lb.mean():.5f} (z = {z:.2f}); "
              f"f* = {report['cross_check']['f_star']:.5f}")
        print(f"  load average {report['load_average']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

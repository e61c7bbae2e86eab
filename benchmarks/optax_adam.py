"""Benchmark workload: many paths of ``OptaxChain(problem, optax.adam(...))`` on a minibatch problem
in one engine call against a vmapped, jit-compiled hand-written optax loop, as one ratio in one run
(goal ≥ 1: the engine adds no cost to the optimizer it runs).

Workload: logistic regression on synthetic data (n = 512 examples, d = 20 features, a pytree of
parameters {w (20,), b ()}), minibatches of 32 drawn with replacement, ``optax.adam(1e-2)``,
2,048 paths from one start, 500 steps, float32.

* sde_opt: ``simulate(OptaxChain(FiniteSum(...), optax.adam(1e-2)), params, key, n_paths, n_steps)``
  — the natural user path (the final point only).
* hand-written: the loop a competent JAX user writes — one ``jax.jit`` of ``jax.vmap`` over paths
  of a ``lax.fori_loop`` whose body draws the batch indices with ``jax.random.randint`` on a
  ``fold_in`` key, takes the mean per-example gradient and applies ``tx.update``.

Cross-check: the mean final training loss of both (different random streams, the same law: a
z-score). Timing follows ``timing.py`` (first call with compilation reported apart, then
interleaved rounds, best kept; the median ratio of rounds is reported too).

    python benchmarks/optax_adam.py [--paths 2048] [--steps 500] [--repeats 3] [--json]
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

N, D, BATCH, LR = 512, 20, 32, 1e-2


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)).astype(np.float32)
    w = rng.standard_normal(D).astype(np.float32) / math.sqrt(D)
    y = (rng.random(N) < 1 / (1 + np.exp(-3 * x @ w))).astype(np.float32)
    return x, y


def _loss(p, ex):
    import jax.numpy as jnp

    z = ex["x"] @ p["w"] + p["b"]
    return jnp.logaddexp(0.0, z) - ex["y"] * z


def _params():
    import jax.numpy as jnp

    return {"w": jnp.zeros(D), "b": jnp.zeros(())}


def _train_loss(x, y):
    import jax
    import jax.numpy as jnp

    return jax.jit(jax.vmap(lambda w, b: jnp.mean(jnp.logaddexp(0.0, x @ w + b) - y * (x @ w + b))))


def prepare_sde_opt(paths, steps, seed=0):
    import optax

    import sde_opt as so

    x, y = _data()
    problem = so.FiniteSum(_loss, {"x": x, "y": y}, _params(), batch_size=BATCH)
    chain = so.OptaxChain(problem, optax.adam(LR))
    loss = _train_loss(x, y)

    def run():
        r = so.simulate(chain, _params(), seed, n_paths=paths, n_steps=steps)
        return np.asarray(loss(r.final["w"], r.final["b"]))

    return run


def prepare_hand_loop(paths, steps, seed=0):
    import jax
    import jax.numpy as jnp
    import optax

    x, y = _data()
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    tx = optax.adam(LR)
    grad = jax.grad(lambda p, xb, yb: jnp.mean(jax.vmap(lambda xi, yi: _loss(
        p, {"x": xi, "y": yi}))(xb, yb)))

    def one_path(key):
        p = _params()
        s = tx.init(p)

        def body(k, carry):
            p, s = carry
            idx = jax.random.randint(jax.random.fold_in(key, k), (BATCH,), 0, N)
            upd, s = tx.update(grad(p, xj[idx], yj[idx]), s, p)
            return optax.apply_updates(p, upd), s

        p, _ = jax.lax.fori_loop(0, steps, body, (p, s))
        return p

    many = jax.jit(jax.vmap(one_path))
    keys = jax.random.split(jax.random.key(seed + 1), paths)
    loss = _train_loss(x, y)

    def run():
        p = many(keys)
        return np.asarray(loss(p["w"], p["b"]))

    return run


def run_benchmark(paths, steps, repeats):
    names = ["sde_opt", "hand_loop"]
    timed = measure_interleaved([prepare_sde_opt(paths, steps), prepare_hand_loop(paths, steps)],
                                repeats)
    work = paths * steps
    rates = {nm: work / t.best_s for nm, t in zip(names, timed, strict=True)}
    rounds = np.asarray(timed[1].runs_s) / np.asarray(timed[0].runs_s)
    la, lb = (np.asarray(t.outcome, np.float64) for t in timed)
    z = (la.mean() - lb.mean()) / math.sqrt(la.var(ddof=1) / la.size + lb.var(ddof=1) / lb.size)
    return {
        "workload": f"OptaxChain(adam {LR:g}) on FiniteSum logistic regression (n={N}, d={D}), "
                    f"batch {BATCH}, {paths} paths x {steps} steps, float32",
        "path_steps_per_second": rates,
        "first_call_seconds": {nm: t.first_s for nm, t in zip(names, timed, strict=True)},
        "ratio_sde_opt_over_hand_loop": rates["sde_opt"] / rates["hand_loop"],
        "median_ratio_of_rounds": float(np.median(rounds)),
        "cross_check": {"mean_final_loss": {"sde_opt": float(la.mean()),
                                            "hand_loop": float(lb.mean())},
                        "z_difference": float(z)},
        "load_average": os.getloadavg(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import sde_opt as so

    so.use_cpu_cores()
    report = run_benchmark(args.paths, args.steps, args.repeats)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(report["workload"])
    for nm, rate in report["path_steps_per_second"].items():
        print(f"  {nm:10s} {rate:12.4g} path-steps/s  (first call "
              f"{report['first_call_seconds'][nm]:.2f} s)")
    print(f"  ratio sde_opt / hand loop = {report['ratio_sde_opt_over_hand_loop']:.3g} "
          f"(median of rounds {report['median_ratio_of_rounds']:.3g}; goal >= 1)")
    cc = report["cross_check"]
    print(f"  mean final loss: sde_opt {cc['mean_final_loss']['sde_opt']:.5f}, hand loop "
          f"{cc['mean_final_loss']['hand_loop']:.5f} (z = {cc['z_difference']:.2f})")
    print(f"  load average {report['load_average']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

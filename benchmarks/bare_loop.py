"""The fixed-horizon engine against its bound: the bare generator-plus-step loop (issue 24).

The bare loop is ``shard_map`` + ``lax.scan`` of the engine's own normals (``standard_normals``
with the segment's epoch window) and the same ``EulerMaruyama`` step, in segments of 500 steps
like the engine, with no status, masks or finiteness checks. Both must give bit-identical final
points (checked first); then the engine, the bare loop and the PyTorch loop run in interleaved
rounds in one process and the per-round ratios are printed.

    python benchmarks/bare_loop.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sde_opt as so  # noqa: E402

so.use_cpu_cores()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import peers  # noqa: E402
from benchmarks.workloads import FIXED  # noqa: E402
from sde_opt.engine._rng import epoch_window, standard_normals  # noqa: E402

SEGMENT = 500


def prepare_bare(w=FIXED, seed=0):
    chain = peers.sde_opt_chain(w)
    key = jax.random.key(seed)
    mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()), ("p",))
    spec = jax.sharding.PartitionSpec("p")

    @jax.jit
    def bare(x, ids):
        def local(x, ids):
            def segment(x, k0):
                window = epoch_window(key, k0, SEGMENT, (w.d,), jnp.float32)

                def body(x, j):
                    z = standard_normals(key, ids, k0 + j, (w.d,), jnp.float32, window)
                    return jax.vmap(chain.step)(x, z), None

                return jax.lax.scan(body, x, jnp.arange(SEGMENT, dtype=jnp.int32))[0], None

            starts = jnp.arange(0, w.n_steps, SEGMENT, dtype=jnp.int32)
            return jax.lax.scan(segment, x, starts)[0]

        return jax.shard_map(local, mesh=mesh, in_specs=(spec, spec), out_specs=spec,
                             check_vma=False)(x, ids)

    sharding = jax.sharding.NamedSharding(mesh, spec)
    x0 = jax.device_put(jnp.zeros((w.n_paths, w.d)), sharding)
    ids = jax.device_put(jnp.arange(w.n_paths, dtype=jnp.uint32), sharding)
    return lambda: np.asarray(bare(x0, ids))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    w = FIXED
    if w.n_steps % SEGMENT:
        raise ValueError(f"bare_loop: the horizon must be a multiple of {SEGMENT}")
    engine, torch_loop = peers.prepare_sde_opt(w, events=False), peers.prepare_torch_loop(w)
    arms = {"bare": prepare_bare(w), "engine": lambda: engine().final,
            "torch": lambda: torch_loop().final}
    same = np.array_equal(arms["bare"](), arms["engine"]())
    print(f"bare loop and engine give bit-identical final points: {same}")
    arms["torch"]()
    times = {k: [] for k in arms}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for k, f in arms.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    ps = w.n_paths * w.n_steps
    for k, v in times.items():
        print(f"{k:7s} median {ps / np.median(v) / 1e6:6.2f} M path-steps/s; rounds "
              + ", ".join(f"{ps / x / 1e6:.2f}" for x in v))
    for other in ("bare", "torch"):
        print(f"engine ÷ {other} per round: "
              + ", ".join(f"{b / a:.2f}" for a, b in zip(times["engine"], times[other])))
    print(f"load average before/after: {load:.2f} / {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Where the fixed-horizon time goes on a CPU: the engine's normal generator, fused or split.

The engine draws path i's normals at step k as Threefry-2x32 of (i, k) mapped by
√2·erfinv(2u − 1) (``sde_opt.engine._rng.standard_normals``). XLA's CPU compiler fuses the hash and
the erfinv into one loop. This script times, on one device, 10,000 paths × d = 10 normals per step
for 100 steps in a ``lax.scan``:

- ``fused``: the engine's formulation (hash and erfinv in one step);
- ``barrier_*``: the same with ``lax.optimization_barrier`` after the hash, the bits or u;
- ``pipelined``: the step's uniforms u carried to the next iteration, where erfinv maps them (the
  hash of step k and the erfinv of step k − 1 are independent, so XLA emits two loops). It draws
  the same numbers (the final sums are compared after the rounds).
- ``pipelined_pairs``: the engine's current stages (``_rng.standard_uniforms`` and
  ``_rng.normals_from_uniforms``): pipelined as above, but each Threefry pair written once, its
  two words leaving in two arrays that are joined (behind a barrier) before the erfinv, where the
  ``pipelined`` layout hashes a pair in every element that selects a word of it. (XLA's compiled
  code evaluates the pair in two loops anyway, one per word: the gain is the layout's.)

On the 2-core AMD EPYC (AVX2, no AVX-512) of 2026-12-07, loaded by one other process, the
pipelined loop ran 2.2–2.9× faster than the fused one (fused 3.3–4.4 M path-steps/s, pipelined
8.3–11.2 M), the barriers changed nothing measurable. Hash alone ≈ 22 M, erfinv alone ≈ 23–37 M.
The engine now draws this way (``sde_opt.engine._simulate._segment_local``: the uniforms of
step k + 1 are carried through the segment loop), with every result bit for bit. Later the same
day, the two-array layout (``pipelined_pairs``, the engine's current stages) gave 17.7 M against
9.2 M for ``pipelined`` in one interleaved run (hash stage alone 25–35 M against 12.8 M), the same
numbers.

    python benchmarks/generator_fusion.py [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

from sde_opt.engine import _rng  # noqa: E402

PATHS, D, STEPS = 10_000, 10, 100
VARIANTS = ("fused", "barrier_hash", "barrier_bits", "barrier_u", "pipelined", "pipelined_pairs")


def _uniforms(key, ids, k, variant):
    """The engine's float32 uniforms u ∈ (−1, 1) of step ``k`` (``standard_normals`` up to erfinv)."""
    pairs = (D + 1) // 2
    kd, offset = _rng._epoch_key(key, k, pairs)
    j = jnp.arange(D, dtype=jnp.uint32)
    second = j >= pairs
    counter = offset + jnp.where(second, j - pairs, j)
    x0 = jnp.broadcast_to(ids[:, None], (ids.shape[0], D))
    x1 = jnp.broadcast_to(counter[None, :], (ids.shape[0], D))
    h0, h1 = _rng.threefry2x32(kd, x0, x1)
    if variant == "barrier_hash":
        h0, h1 = lax.optimization_barrier((h0, h1))
    bits = jnp.where(second[None, :], h1, h0)
    if variant == "barrier_bits":
        bits = lax.optimization_barrier(bits)
    one = lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    u = (one - 1.5) * 2.0 + jnp.finfo(jnp.float32).eps
    return lax.optimization_barrier(u) if variant == "barrier_u" else u


def _normal(u):
    return jnp.sqrt(jnp.float32(2.0)) * _rng.erfinv_f32(u)


def make(variant):
    key = jax.random.key(0)

    @jax.jit
    def run(ids):
        zeros = jnp.zeros((ids.shape[0], D), jnp.float32)
        if variant == "pipelined_pairs":  # the engine's stages: one hash per pair of normals
            def body(carry, k):
                total, u_prev = carry
                z = _rng.normals_from_uniforms(u_prev, (D,), jnp.float32)
                return (total + z, _rng.standard_uniforms(key, ids, k + 1, (D,), jnp.float32)), None

            start = (zeros, _rng.standard_uniforms(key, ids, jnp.int32(0), (D,), jnp.float32))
            return lax.scan(body, start, jnp.arange(STEPS))[0][0]
        if variant == "pipelined":
            def body(carry, k):
                total, u_prev = carry
                return (total + _normal(u_prev), _uniforms(key, ids, k + 1, variant)), None

            start = (zeros, _uniforms(key, ids, jnp.int32(0), variant))
            return lax.scan(body, start, jnp.arange(STEPS))[0][0]

        def body(total, k):
            return total + _normal(_uniforms(key, ids, k, variant)), None

        return lax.scan(body, zeros, jnp.arange(STEPS))[0]

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    ids = jnp.arange(PATHS, dtype=jnp.uint32)
    runs = {v: make(v) for v in VARIANTS}
    sums = {v: np.asarray(f(ids)) for v, f in runs.items()}  # compile, and the numbers drawn
    times = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):  # interleaved, so that load hits every variant alike
        for v, f in runs.items():
            t = time.perf_counter()
            f(ids).block_until_ready()
            times[v].append(time.perf_counter() - t)
    print(f"{PATHS} paths × d = {D} normals × {STEPS} steps, one device; load {os.getloadavg()[0]:.2f}")
    for v in VARIANTS:
        same = np.array_equal(sums[v], sums["fused"])
        rate = PATHS * STEPS / np.median(times[v]) / 1e6
        print(f"{v:14s} {rate:6.2f} M path-steps/s (median of {args.rounds})  "
              f"same numbers as fused: {same}")


if __name__ == "__main__":
    main()

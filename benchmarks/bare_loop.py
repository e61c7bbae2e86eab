"""The fixed-horizon engine against its bounds: bare generator-plus-step loops in two layouts (issue 24).

Every arm computes the fixed-horizon workload (10⁴ paths × 10³ steps of Euler–Maruyama at the
quadratic saddle, d = 10, float32) with the engine's own random stream, in ``shard_map`` +
``lax.fori_loop`` segments of 500 steps over all CPU devices:

* ``engine``: ``sde_opt.simulate`` (this chain is elementwise, so the engine runs it path-last,
  like ``minor_checked``: ``sde_opt/engine/_layout.py``).
* ``bare``: the engine's pipelined generator (the hash of step k + 1 beside the erfinv of step k)
  and the step, nothing else: the bound of the engine's layout.
* ``checked``: ``bare`` plus what the engine does per step for a fixed horizon (the per-path
  finiteness test of the new state, the select that freezes a diverged path, steps and status):
  the engine's path-first layout, which every chain whose step reduces still runs in.
* ``minor``: ``bare`` with the path axis last (states ``(d, paths)``, hashes ``(pairs, paths)``):
  XLA's CPU compiler vectorizes across paths instead of along a path's 10 coordinates (8 + 2
  masked lanes).
* ``minor_checked``: ``minor`` plus the engine's per-step checks, with the step's normals drawn
  one iteration ahead and carried (a three-stage pipeline: hash of k + 2, erfinv of k + 1, step of
  k), so that the finiteness test and the select do not each recompute the erfinv.
* ``torch``: the hand-written PyTorch loop of ``benchmarks/run.py``.

Each arm's final points are compared with the engine's bit for bit, then the arms run in
interleaved rounds in one process. ``--reductions`` instead checks, for vmapped sums, norms,
dot products, matrix–vector products and softmaxes of a path's coordinates, whether the two
layouts give the same float32 bits (they do not: XLA sums a row and a column in different
orders), which is why the engine lays paths last only for elementwise chains
(``benchmarks/RESULTS.md``).

    python benchmarks/bare_loop.py [--rounds 3] [--only engine,bare,minor_checked]
    python benchmarks/bare_loop.py --reductions
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
from jax import lax  # noqa: E402

from benchmarks import peers  # noqa: E402
from benchmarks.workloads import FIXED  # noqa: E402
from sde_opt.engine._rng import (  # noqa: E402
    epoch_window,
    normals_from_uniforms,
    standard_uniforms,
)

SEGMENT = 500
ARMS = ("engine", "bare", "checked", "minor", "minor_checked", "torch")
_RUNNING, _DIVERGED = 0, 2


def _checked_update(x, new, status, steps, k, n_steps, axis):
    """The engine's per-step bookkeeping for a fixed horizon: freeze a path whose new state is
    not finite (status diverged), count the steps of the running ones."""
    alive = (status == _RUNNING) & (k < n_steps)
    finite = jnp.all(jnp.isfinite(new), axis=axis)
    moved = alive & finite
    x = jnp.where(moved[None, :] if axis == 0 else moved[:, None], new, x)
    steps = jnp.where(alive, k + 1, steps)
    status = jnp.where(alive & ~finite, _DIVERGED, status)
    return x, status, steps


def _segment_loop(arm, chain, key, d, x, ids, k0, seg_len, n_steps):
    shape, f32 = (d,), jnp.float32
    window = epoch_window(key, k0, SEGMENT, shape, f32)
    b = ids.shape[0]
    status, steps = jnp.zeros(b, jnp.int32), jnp.zeros(b, jnp.int32)
    loop = lambda body, carry: lax.fori_loop(jnp.int32(0), seg_len, body, carry)
    if arm in ("bare", "checked"):
        def body(j, c):
            x, status, steps, u = c
            k = k0 + j
            z = normals_from_uniforms(u, shape, f32)
            u = standard_uniforms(key, ids, k + 1, shape, f32, window)
            new = jax.vmap(chain.step)(x, z)
            if arm == "bare":
                return new, status, steps, u
            return (*_checked_update(x, new, status, steps, k, n_steps, axis=1), u)

        u0 = standard_uniforms(key, ids, k0, shape, f32, window)
        return loop(body, (x, status, steps, u0))[0]
    uniforms_minor = lambda k: standard_uniforms(key, ids, k, shape, f32, window, path_last=True)
    normals_minor = lambda u: normals_from_uniforms(u, shape, f32, path_last=True)
    step_minor = jax.vmap(chain.step, in_axes=1, out_axes=1)
    if arm == "minor":
        def body(j, c):
            xt, u = c
            z = normals_minor(u)
            u = uniforms_minor(k0 + j + 1)
            return step_minor(xt, z), u

        return loop(body, (x.T, uniforms_minor(k0)))[0].T

    def body(j, c):  # minor_checked: hash of k + 2, erfinv of k + 1, step of k
        xt, status, steps, u, z = c
        k = k0 + j
        z_next = normals_minor(u)
        u = uniforms_minor(k + 2)
        new = step_minor(xt, z)
        return (*_checked_update(xt, new, status, steps, k, n_steps, axis=0), u, z_next)

    z0 = normals_minor(uniforms_minor(k0))
    u1 = uniforms_minor(k0 + 1)
    return loop(body, (x.T, status, steps, u1, z0))[0].T


def prepare_bare(arm: str, w=FIXED, seed=0):
    """A no-argument callable running ``arm`` on the workload ``w``, returning the final points."""
    chain = peers.sde_opt_chain(w)
    key = jax.random.key(seed)
    mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()), ("p",))
    spec = jax.sharding.PartitionSpec("p")

    @jax.jit
    def run(x, ids, seg_len, n_steps):
        def local(x, ids):
            def segment(x, k0):
                return _segment_loop(arm, chain, key, w.d, x, ids, k0, seg_len, n_steps), None

            starts = jnp.arange(0, w.n_steps, SEGMENT, dtype=jnp.int32)
            return lax.scan(segment, x, starts)[0]

        return jax.shard_map(local, mesh=mesh, in_specs=(spec, spec), out_specs=spec,
                             check_vma=False)(x, ids)

    sharding = jax.sharding.NamedSharding(mesh, spec)
    x0 = jax.device_put(jnp.zeros((w.n_paths, w.d), jnp.float32), sharding)
    ids = jax.device_put(jnp.arange(w.n_paths, dtype=jnp.uint32), sharding)
    seg_len, n_steps = jnp.int32(SEGMENT), jnp.int32(w.n_steps)
    return lambda: np.asarray(run(x0, ids, seg_len, n_steps))


def reduction_bits(d_values=(2, 3, 10, 20, 50), n=4000, seed=0) -> dict:
    """For each vmapped reduction of a path's coordinates: are its float32 results identical with
    the path axis first (the engine's layout) and last?"""
    rng = np.random.default_rng(seed)
    out = {}
    for d in d_values:
        x = jnp.asarray(rng.standard_normal((n, d)), jnp.float32)
        h = jnp.asarray(rng.standard_normal((d, d)), jnp.float32)
        fns = {"sum": jnp.sum, "norm": jnp.linalg.norm, "dot": lambda v: jnp.dot(v, v),
               "matvec": lambda v: h @ v, "softmax": jax.nn.softmax}
        for name, f in fns.items():
            major = np.asarray(jax.jit(jax.vmap(f))(x))
            minor = np.asarray(jax.jit(jax.vmap(f, in_axes=1, out_axes=-1))(x.T))
            out[(d, name)] = bool(np.array_equal(major, np.moveaxis(minor, -1, 0)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(ARMS),
                    help=f"comma-separated arms among {', '.join(ARMS)} (engine always runs)")
    ap.add_argument("--reductions", action="store_true",
                    help="only check whether vmapped reductions give the same bits in both layouts")
    args = ap.parse_args(argv)
    if args.reductions:
        res = reduction_bits()
        for (d, name), same in res.items():
            print(f"d = {d:3d}  {name:8s} identical bits path-first vs path-last: {same}")
        print(f"{sum(res.values())} of {len(res)} identical")
        return
    names = [a.strip() for a in args.only.split(",") if a.strip()]
    unknown = sorted(set(names) - set(ARMS))
    if unknown:
        raise ValueError(f"bare_loop: --only expects arms among {', '.join(ARMS)}; got {unknown}")
    w = FIXED
    if w.n_steps % SEGMENT:
        raise ValueError(f"bare_loop: the horizon must be a multiple of {SEGMENT}")
    engine = peers.prepare_sde_opt(w, events=False)
    arms = {"engine": lambda: np.asarray(engine().final)}
    for name in names:
        if name == "torch":
            torch_loop = peers.prepare_torch_loop(w)
            arms["torch"] = lambda: torch_loop().final
        elif name != "engine":
            arms[name] = prepare_bare(name, w)
    reference = arms["engine"]()
    for name, f in arms.items():
        out = f()
        if name not in ("engine", "torch"):
            print(f"{name:14s} final points bit-identical to the engine's: "
                  f"{np.array_equal(np.asarray(out), reference)}")
    times = {k: [] for k in arms}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for k, f in arms.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    ps = w.n_paths * w.n_steps
    for k, v in times.items():
        print(f"{k:14s} median {ps / np.median(v) / 1e6:6.2f} M path-steps/s; rounds "
              + ", ".join(f"{ps / x / 1e6:.2f}" for x in v))
    for other in (k for k in arms if k != "engine"):
        print(f"{other} ÷ engine per round: "
              + ", ".join(f"{e / o:.2f}" for o, e in zip(times[other], times["engine"])))
    print(f"load average before/after: {load:.2f} / {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""The engine: simulate batches of paths of any chain, stop each at its own event, stream observables.

One function, [`simulate`][sde_opt.simulate], serves discrete optimizers and discretized SDEs alike. Design:

* **Per-path randomness.** Path i's noise at step k depends only on (key, i, k)
  (``sde_opt.engine._rng``), so results do not change with ``chunk_size``, compaction or the
  number of devices, and two chains with the same noise structure share noise under the same key.
* **Work follows the live paths.** Paths advance in segments of a few hundred steps inside one
  compiled loop, without a test before each step (``_segment_local``); between segments the
  host counts the live paths, stops a chunk when none is left, and compacts the survivors into a
  smaller batch once they fit in a quarter of it (power-of-two buckets, so each bucket size
  compiles once).
* **Nothing is lost.** A path whose state turns non-finite is frozen at its last finite state and
  flagged ``DIVERGED``; so is a path whose observable turns non-finite at a save step while its
  state is still finite (an overflow such as ‖x‖² at |x| ≈ 2e19 in float32): it stops there, and
  its observables are NaN from that save on, so no inf ever reaches a mean. Paths alive at the
  horizon are ``CENSORED``. Every path ends with exactly one status, and
  [`SimulationResult`][sde_opt.SimulationResult] counts them. Integer and boolean observables are saved as
  floats of the position's dtype (NaN marks the saves after a path stopped).
* **Bounded memory.** Paths run in chunks sized to ``memory_limit``; observables are saved every
  ``stride`` steps (never the full trajectory unless ``stride=1``).
* **Devices.** The path axis is sharded over all local devices (several GPUs, or several CPU
  devices after [`sde_opt.use_cpu_cores`][sde_opt.use_cpu_cores]).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import lax

from .._chain import AbstractChain
from .._checks import check_integer, check_positive
from ..noise import StandardNormal
from ._layout import paths_last
from ._rng import (
    epoch_of,
    epoch_window,
    normals_from_uniforms,
    path_step_keys,
    standard_normals,
    standard_uniforms,
)
from .events import OnState


def _arg(fn, state, x):
    """What ``fn`` is called with: the chain's state for an [`OnState`][sde_opt.OnState] function,
    else the position."""
    return state if isinstance(fn, OnState) else x

RUNNING = 0
EXITED = 1
"""``SimulationResult.status`` of a path that an event stopped (its step is the exit step)."""
DIVERGED = 2
"""``SimulationResult.status`` of a path whose state turned non-finite (frozen at its last finite
state, never dropped)."""
CENSORED = 3
"""``SimulationResult.status`` of a path still running at the horizon."""
_PADDING = 4
STATUS_NAMES = {EXITED: "exited", DIVERGED: "diverged", CENSORED: "censored"}

_MIN_BUCKET = 512  # compaction below this size saves less than a recompilation costs
# The host compacts a chunk between segments once its running paths fit a power-of-two bucket
# at most 1/_COMPACT_FACTOR of its size. Halving (2) cut the exit-time benchmark's steady state by
# ≈ 20 %, but each extra bucket size is one more compiled segment: a first run of the full
# minimax-escape took 161 → 184 s (compiling 70 → 87 s) in a same-session A/B and msgd-escape
# 199 → 206 s (benchmarks/RESULTS.md), so 4 stays.
_COMPACT_FACTOR = 4


@dataclasses.dataclass(frozen=True)
class SimulationResult:
    """What happened to every path.

    Attributes:
        steps: ``(n,)`` steps taken: the exit step for exited paths, the step that produced a
            non-finite state for diverged ones, the horizon for censored ones.
        status: ``(n,)`` one of ``EXITED``, ``DIVERGED``, ``CENSORED``.
        event: ``(n,)`` index of the event that stopped the path (−1 if none).
        final: ``(n, *shape)`` final position (the exit point for exited paths, the last finite
            point for diverged ones).
        observables: name → ``(n, n_saves, …)`` values at ``save_steps``; NaN after a path stopped.
        save_steps: ``(n_saves,)`` the steps at which observables were saved (0 is the start).
        dt: continuous time per step.
        n_steps: the horizon.
        final_state: the chain's final *state* per path (a pytree with a leading ``n`` axis, e.g.
            ``MomentumState(x, m)``), when asked for with ``simulate(..., final_state=True)``;
            else ``None``. Not stored by ``to_arrays``.
    """

    steps: np.ndarray
    status: np.ndarray
    event: np.ndarray
    final: np.ndarray
    observables: dict
    save_steps: np.ndarray
    dt: float
    n_steps: int
    final_state: object = None

    @property
    def n_paths(self) -> int:
        return int(self.steps.shape[0])

    @property
    def times(self) -> np.ndarray:
        """Stopping times in continuous time, ``steps * dt``."""
        return self.steps * self.dt

    @property
    def save_times(self) -> np.ndarray:
        return self.save_steps * self.dt

    @property
    def exited(self) -> np.ndarray:
        return self.status == EXITED

    @property
    def diverged(self) -> np.ndarray:
        return self.status == DIVERGED

    @property
    def censored(self) -> np.ndarray:
        return self.status == CENSORED

    def counts(self) -> dict:
        """``{"exited": …, "censored": …, "diverged": …}`` — they add up to ``n_paths``."""
        return {name: int(np.sum(self.status == code)) for code, name in STATUS_NAMES.items()}

    def to_arrays(self, prefix: str = "") -> dict:
        """Flat ``{name: array}`` for ``np.savez`` (observables as ``obs:NAME``). A pytree ``final``
        (dicts, lists and tuples of arrays, e.g. the ``{"W", "H"}`` point of a UFM) is stored leaf
        by leaf as ``final/d:KEY/s:INDEX…``, so the file holds no object array and loads with
        ``allow_pickle=False``."""
        out = {"steps": self.steps, "status": self.status, "event": self.event,
               "save_steps": self.save_steps,
               "dt": np.asarray(self.dt), "n_steps": np.asarray(self.n_steps)}
        out.update(_flat_final(self.final))
        out.update({f"obs:{k}": v for k, v in self.observables.items()})
        return {prefix + k: v for k, v in out.items()}

    @classmethod
    def from_arrays(cls, arrays: Mapping, prefix: str = "") -> SimulationResult:
        """Inverse of ``to_arrays``."""
        get = lambda k: np.asarray(arrays[prefix + k])
        obs = {k[len(prefix) + 4:]: np.asarray(v) for k, v in arrays.items()
               if k.startswith(prefix + "obs:")}
        if prefix + "final" in arrays:
            final = get("final")
        else:
            final = _unflat_final({k[len(prefix) + 6:]: np.asarray(v) for k, v in arrays.items()
                                   if k.startswith(prefix + "final/")})
        return cls(steps=get("steps"), status=get("status"), event=get("event"),
                   final=final, observables=obs, save_steps=get("save_steps"),
                   dt=float(get("dt")), n_steps=int(get("n_steps")))

    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"SimulationResult(n_paths={self.n_paths}, n_steps={self.n_steps}, dt={self.dt:g}, "
            f"exited={c['exited']}, censored={c['censored']}, diverged={c['diverged']}, "
            f"observables={sorted(self.observables)})"
        )


def _flat_final(final) -> dict:
    """``{"final": array}``, or one entry per leaf of a dict/list/tuple pytree, named by its path
    (``final/d:W``, ``final/s:0``); any other container is refused by name (it could not be
    rebuilt from the file)."""
    if not isinstance(final, (dict, list, tuple)):
        return {"final": np.asarray(final)}
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(final)[0]:
        parts = []
        for k in path:
            if isinstance(k, jax.tree_util.DictKey) and isinstance(k.key, str) and "/" not in k.key:
                parts.append(f"d:{k.key}")
            elif isinstance(k, jax.tree_util.SequenceKey):
                parts.append(f"s:{k.idx}")
            else:
                raise TypeError(f"SimulationResult.to_arrays: final must be an array or nested "
                                f"dicts (string keys without '/'), lists and tuples of arrays; got "
                                f"a {type(final).__name__} with path entry {k!r}")
        out["final/" + "/".join(parts)] = np.asarray(leaf)
    return out


def _unflat_final(leaves: dict):
    """Inverse of :func:`_flat_final` for a pytree ``final`` (sequences come back as tuples)."""
    def build(items):
        if list(items) == [()]:
            return items[()]
        heads = {}
        for path, v in items.items():
            heads.setdefault(path[0], {})[path[1:]] = v
        if all(h.startswith("s:") for h in heads):
            return tuple(build(heads[h]) for h in sorted(heads, key=lambda h: int(h[2:])))
        return {h[2:]: build(v) for h, v in heads.items()}

    return build({tuple(k.split("/")): v for k, v in leaves.items()})


def use_cpu_cores(n: int | None = None) -> int:
    """Expose ``n`` CPU devices (default: all cores) so that [`simulate`][sde_opt.simulate] runs on all of
    them.

    Must be called before JAX creates its CPU backend (before the first computation). Returns the
    number of devices then available.
    """
    if n is not None:
        n = check_integer("use_cpu_cores", "n", n, low=1)
    n = n or len(os.sched_getaffinity(0))
    try:
        jax.config.update("jax_num_cpu_devices", int(n))
    except RuntimeError:
        pass  # backend already initialized: keep what exists
    return len(jax.local_devices())


def _as_key(key, owner: str = "simulate"):
    """A single ``jax.random`` key from a key or an integer seed (see
    ``sde_opt._checks.check_key``)."""
    from .._checks import check_key

    return check_key(owner, "key", key)


def _bcast(mask, leaf):
    return mask.reshape(mask.shape + (1,) * (leaf.ndim - mask.ndim))


# --- LAPACK on CPU: per-path work is vmapped in sub-batches small enough to stay sequential ------
#
# jaxlib 0.10.0 to 0.11.x (fixed upstream by jax-ml/jax@859992407d, "Don't try to parallelize LAPACK
# kernels in opensource builds") splits a batched LAPACK call (eigh, cholesky, solve, svd, …: the
# ``lapack_*_ffi`` custom calls) into chunks that it schedules on XLA's CPU intra-op thread pool, and
# then blocks the calling thread in ``absl::BlockingCounter::Wait`` until they are done
# (``jax::ParallelBatchMap``). The calling thread is itself often a worker of that pool: the compiled
# segment of each CPU device runs on it after its first asynchronous thunk. When every worker of the
# pool (one per core) is such a blocked caller, as when ``use_cpu_cores()`` exposes one device per
# core and each device's ``vmap`` of the step batches an eigendecomposition over its paths, nobody is
# left to run the chunks: a deadlock at 0 % CPU. jaxlib goes parallel only when the call's batch
# times its FLOP estimate reaches ``_LAPACK_MIN_PARALLEL_WORK`` (and never for a batch of one), so
# the engine vmaps per-path functions whose lowering holds a LAPACK call in a loop over sub-batches
# that stay below it (``_vmap``): the calls run inline, on any number of devices. Workloads
# without LAPACK calls are compiled exactly as before.
_LAPACK_MIN_PARALLEL_WORK = 200_000  # kMinWorkPerTask in jaxlib/cpu/lapack_kernels.cc
_LAPACK_COST_BOUND = 30  # its FLOP estimates are ≤ 30·s³ (s: largest matrix dimension)
_LAPACK_CALL = re.compile(r"custom_call @(lapack_\w+)\(.* : \((.*?)\) ->")
_TENSOR_DIMS = re.compile(r"tensor<((?:\d+x)*)[a-z]")


def _jaxlib_version_string() -> str:
    import jaxlib

    return jaxlib.__version__


def _jaxlib_lapack_parallel() -> bool:
    """True for the jaxlib releases whose batched CPU LAPACK kernels can deadlock (see above)."""
    version = tuple(int(v) for v in re.findall(r"\d+", _jaxlib_version_string())[:3])
    return (0, 10, 0) <= version < (0, 11, 2)


def _lapack_sub_batch(fns) -> int:
    """Largest safe sub-batch for vmapping the per-path functions ``fns`` (0: no limit).

    ``fns`` are ``(name, fn, example_args)`` with ``example_args`` per-path shapes; each is lowered
    once and its ``lapack_*`` custom calls read off the StableHLO text.
    """
    if jax.local_devices()[0].platform != "cpu" or not _jaxlib_lapack_parallel():
        return 0
    every = lambda *a: [fn(*args) for (_, fn, _), args in zip(fns, a, strict=True)]
    if "@lapack_" not in jax.jit(every).lower(*(args for _, _, args in fns)).as_text():
        return 0  # one lowering for the common case
    limit = 0
    for name, fn, args in fns:
        text = jax.jit(lambda *a, fn=fn: fn(*a)).lower(*args).as_text()
        calls = _LAPACK_CALL.findall(text)
        if len(calls) < text.count("custom_call @lapack_"):
            limit = 1  # a call this parser cannot read: one path at a time is always safe
        for target, operands in calls:
            dims = [[int(v) for v in m.split("x") if v] for m in _TENSOR_DIMS.findall(operands)]
            per_path = max((math.prod(d[:-2]) for d in dims), default=1)  # matrices per path
            size = max((max(d[-2:], default=1) for d in dims), default=1)
            cost = _LAPACK_COST_BOUND * size ** 3
            b = (_LAPACK_MIN_PARALLEL_WORK - 1) // (per_path * cost)
            if per_path > 1 and b < 1:
                raise ValueError(
                    f"simulate: {name} calls {target} on {per_path} matrices of size {size} per "
                    f"path; on CPU, jaxlib {_jaxlib_version_string()} splits such a batched LAPACK "
                    "call over its intra-op thread pool and then waits on that pool, which can "
                    "deadlock (jax-ml/jax@859992407d). Call it on one matrix at a time (a Python "
                    "loop or lax.map inside the function), or use jaxlib >= 0.11.2."
                )
            limit = max(b, 1) if not limit else min(limit, max(b, 1))
    # whole SIMD vectors of paths (XLA's default 256-bit vectors: 8 float32 lanes): every path
    # then takes the same code path whatever its place in the batch, so results stay bit-identical
    # across device counts, chunk sizes and compaction
    return limit - limit % 8 if limit >= 8 else 1 << (limit.bit_length() - 1) if limit else 0


_SUB_BATCHES: dict = {}


def _sub_batches(fns) -> tuple[int, int]:
    """``(init, loop)`` sub-batches: ``chain.init`` with the limit of every function (as it
    always was), the functions of the step loop with their own limit only. A LAPACK call in
    ``init`` alone (the bilevel algorithms' curvature check at the start) no longer serializes
    every step of the run over paths (issue 24: StocBiO ran one path at a time)."""
    loop = [f for f in fns if f[0] != "chain.init"]
    return _lapack_sub_batch(fns), _lapack_sub_batch(loop)


def _structure_key(tree, point):
    """What a compiled segment depends on: ``tree``'s structure, array shapes, dtypes and weak
    types (a weakly typed float32 leaf times a bfloat16 start stays bfloat16, a strongly typed one
    promotes it), static leaves with their types (``1 == 1.0 == True`` as dictionary keys, but
    a function may treat them differently), the structure of a start ``point``, and the JAX
    settings that change dtypes (64-bit mode, the promotion rules). Static fields inside the tree
    structure still compare with ``==`` alone, as in ``equinox.filter_jit``'s own cache."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return (treedef, tuple((np.shape(x), str(x.dtype), bool(getattr(x, "weak_type", False)))
                           if eqx.is_array(x) else (type(x), x) for x in leaves),
            jax.tree_util.tree_structure(point),
            tuple((a.shape, str(a.dtype)) for a in jax.tree_util.tree_leaves(point)),
            bool(jax.config.jax_enable_x64), str(jax.config.jax_numpy_dtype_promotion))


def _memoized(cache: dict, key, compute):
    """``cache[key]``, computed by ``compute()`` on a miss (no memo for an unhashable key)."""
    try:
        return cache[key]
    except TypeError:  # an unhashable leaf: no memo
        return compute()
    except KeyError:
        pass
    if len(cache) >= 256:
        cache.clear()
    value = cache[key] = compute()
    return value


def _cached_sub_batch(chain, events, observables, point) -> tuple[int, int]:
    """``_sub_batches`` of everything [`simulate`][sde_opt.simulate] vmaps, memoized on what a
    compiled segment depends on (``_structure_key``)."""
    if jax.local_devices()[0].platform != "cpu" or not _jaxlib_lapack_parallel():
        return 0, 0
    return _memoized(_SUB_BATCHES, _structure_key((chain, events, observables), point),
                     lambda: _sub_batches(_per_path_functions(chain, events, observables, point)))


_PATHS_LAST: dict = {}


def _cached_paths_last(chain, point) -> bool:
    """``_layout.paths_last`` memoized like ``_cached_sub_batch`` (it traces the step: ≈ 3–6 ms a
    call, which a study's many short runs would pay each time)."""
    return _memoized(_PATHS_LAST, _structure_key(chain, point), lambda: paths_last(chain, point))


def _vmap(fn, sub_batch, *args):
    """``jax.vmap(fn)(*args)``, or with ``sub_batch`` > 0 a loop over sub-batches of that many paths.

    The batch is padded (with copies of its first path) to at least two full sub-batches, so that
    every path is computed by the same loop body whatever the batch size, the device count or the
    path's place in the batch: XLA compiles a LAPACK call inside a loop body slightly differently
    (last-bit differences) from one outside, and a one-trip loop or a remainder would be inlined.
    """
    if not sub_batch:
        return jax.vmap(fn)(*args)
    n = jax.tree_util.tree_leaves(args)[0].shape[0]
    m = max(2, -(-n // sub_batch))
    pad = m * sub_batch - n

    def split(a):
        if pad:
            a = jnp.concatenate([a, jnp.broadcast_to(a[:1], (pad, *a.shape[1:]))])
        return a.reshape(m, sub_batch, *a.shape[1:])

    out = lax.map(lambda a: jax.vmap(fn)(*a), jax.tree_util.tree_map(split, args))
    return jax.tree_util.tree_map(lambda o: o.reshape(m * sub_batch, *o.shape[2:])[:n], out)


@eqx.filter_jit
def _start_retraction_check(geometry, x0):
    """Per-path starts on a geometry, in one compiled call (op by op, each check compiled a
    handful of tiny programs per start shape): the largest entry of |R(x0) − x0| over paths and
    leaves, whether each leaf of x0 is finite, and per path whether its retraction is finite."""
    back = jax.vmap(geometry.retract)(x0)
    pairs = zip(jax.tree_util.tree_leaves(x0), jax.tree_util.tree_leaves(back), strict=True)
    off = jnp.max(jnp.stack([jnp.max(jnp.abs(b - a)) for a, b in pairs]))
    finite = jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(x0)])
    return off, finite, jax.vmap(_all_finite)(back)


def _all_finite(tree):
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    ok = jnp.ones((), bool)
    for leaf in leaves:
        ok = ok & jnp.all(jnp.isfinite(leaf))
    return ok


def _draw(chain, key, path_ids, k, dtype, sub_batch=0, window=None):
    sampler = chain.noise
    if isinstance(sampler, StandardNormal):
        return standard_normals(key, path_ids, k, sampler.shape, dtype, window)
    keys = path_step_keys(key, path_ids, k)
    return _vmap(lambda kk: sampler.sample(kk, dtype), sub_batch, keys)


@eqx.filter_jit
def _segment(chain, events, observables, key, state, path_ids, status, steps, event, k0, n_steps,
             seg_len, stride, n_slots, sharded=False, sub_batch=0, window=None, path_last=False):
    """Advance every running path by up to ``seg_len`` steps, starting at global step ``k0``.

    ``k0``, ``n_steps``, ``seg_len`` are traced int32 scalars and ``stride`` is one too unless it
    is the Python int 1 (a save every step, no branch): one compiled program serves every
    horizon and every save stride of a chain, so a grid over step sizes, whose horizons differ,
    compiles its segment once per chain structure rather than once per grid point. ``n_slots``
    (static) is the save buffer's length, ``_save_slots``.
    ``window``: the segment's epoch keys for the standard normals (``_segment_window``).

    With ``sharded``, the path axis is split over all devices with ``shard_map``: each device
    loops over its own paths with no communication (no cross-device reduction for the "any path
    alive?" test), so a device whose paths are all done skips the segment.
    ``sub_batch`` (from ``_lapack_sub_batch``) bounds the paths per vmapped call.
    ``path_last`` (from ``_layout.paths_last``): hold the states path-last inside the loop.
    """
    args = (state, path_ids, status, steps, event)
    body = lambda *a: _segment_local(chain, events, observables, key, *a, k0, n_steps, seg_len,
                                     stride, n_slots, sub_batch, window, path_last)
    if not sharded:
        return body(*args)
    paths = jax.sharding.PartitionSpec("paths")
    mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()), ("paths",))
    buf_spec = {name: jax.sharding.PartitionSpec(None, "paths") for name in observables}
    return jax.shard_map(body, mesh=mesh, in_specs=(paths,) * len(args),
                         out_specs=(paths, paths, paths, paths, buf_spec, paths),
                         check_vma=False)(*args)


_SEG_EVENTS, _SEG_FIXED = 128, 512  # steps per segment with and without events
_SEG_FEW, _FEW_PATHS = 4096, 256  # steps per segment for a few paths (at most _FEW_PATHS)
_FEW_BUFFER_BYTES = 1 << 24  # the most a few paths' save buffer may take for _SEG_FEW steps
_WINDOW = jax.jit(epoch_window, static_argnums=(2, 3, 4))


def _longest_segment(n_paths: int, events, obs_bytes: int, stride: int) -> int:
    """Steps per segment at most, for ``n_paths`` paths (one chunk's ``bucket`` at most).

    With events, ``_SEG_EVENTS`` where the host may compact the stopped paths away between
    segments (only a chunk of at least ``_MIN_BUCKET · _COMPACT_FACTOR`` paths ever is), else
    ``_SEG_FIXED``. For a few paths a step costs microseconds and a segment's launch and host
    round trip about a millisecond, so segments are ``_SEG_FEW`` steps long unless the save
    buffer would pass ``_FEW_BUFFER_BYTES``. The values computed are the same for every segment
    length (``tests/test_engine.py``): only the launches and the steps run past the last path's
    stop differ."""
    compacts = bool(events) and n_paths >= _MIN_BUCKET * _COMPACT_FACTOR
    longest = _SEG_EVENTS if compacts else _SEG_FIXED
    if n_paths <= _FEW_PATHS and n_paths * (_SEG_FEW // stride + 1) * obs_bytes <= _FEW_BUFFER_BYTES:
        longest = _SEG_FEW
    return longest


def _segment_window(chain, key, k0: int, seg_len: int, dtype, cache: dict):
    """The epoch keys of a segment's standard normals, computed outside the compiled segment (in
    it, the two ``fold_in`` s cost more compilation than the steps they save), or ``None``.

    The window is asked for at least ``_SEG_FIXED`` steps whatever ``seg_len`` is, so that it
    compiles once per noise shape rather than once per horizon; it holds the same two epoch keys
    either way (``None`` only where one step's normals need more than 2³² / ``_SEG_FEW`` words).
    It depends on ``k0`` only through its epoch, so ``cache`` (one dict per chunk) keeps it per
    epoch: one call per chunk rather than one per segment."""
    sampler = chain.noise
    if not isinstance(sampler, StandardNormal):
        return None
    n = max(seg_len, _SEG_FIXED)
    at = (epoch_of(k0, sampler.shape, dtype), n)
    if at not in cache:
        cache[at] = _WINDOW(key, jnp.asarray(k0, jnp.int32), n, sampler.shape, jnp.dtype(dtype))
    return cache[at]


def _segment_length(longest: int, n_steps: int) -> int:
    """Steps per segment: at most ``longest``, the horizon cut into equal segments (so the last
    one is not mostly past the horizon: 1,000 steps run as 2 × 500, not 512 + 488 of 512)."""
    n_segments = -(-max(1, n_steps) // longest)
    return -(-max(1, n_steps) // n_segments)


def _save_slots(seg_len: int, stride: int, longest: int) -> int:
    """Length of a segment's save buffer: the saves it can hold (``seg_len // stride + 1``)
    rounded up to a power of two, and at most ``longest + 1``, so that horizons and strides of
    one chain share a few compiled segments (the buffer is at most twice what is used)."""
    need = seg_len // stride + 1
    return min(1 << (need - 1).bit_length(), longest + 1)


def _segment_local(chain, events, observables, key, state, path_ids, status, steps, event, k0,
                   n_steps, seg_len, stride, n_slots, sub_batch=0, window=None, path_last=False):
    """One device's paths for up to ``seg_len`` steps, skipped whole when none of them is running.

    Every step is computed for every path and applied only where the path is alive (a ``where``),
    so the paths that stop inside a segment cost until its end; the host compacts them away
    between segments. There is no test before each step: on CPU a data-dependent branch in the
    loop costs about as much as several steps (``benchmarks/RESULTS.md``), and the values are the
    same either way.

    With ``path_last`` (an elementwise chain reading its standard normals behind a barrier,
    ``_layout.paths_last``) the loop holds every state leaf as ``(*leaf_shape, paths)`` and draws
    its normals in that layout, one more iteration ahead (the hash of step k + 2, the erfinv of
    step k + 1, the step of step k), so that the per-path finiteness test and the select that
    freeze a diverged path do not each recompute the erfinv; events and observables see path-first
    copies, so their reductions sum as before. Same numbers bit for bit; ≈ 1.8–1.9× the path-steps
    per second of the fixed-horizon and exit-time workloads on a 2-core CPU
    (``benchmarks/RESULTS.md``).
    """
    dtype = jax.tree_util.tree_leaves(jax.vmap(chain.position)(state))[0].dtype
    first_slot = k0 // stride + 1
    every_step = isinstance(stride, int) and stride == 1
    pos0 = jax.vmap(chain.position)(state)
    shapes = {name: jax.eval_shape(jax.vmap(fn), _arg(fn, state, pos0))
              for name, fn in observables.items()}
    buf = {name: jnp.full((n_slots, *o.shape), jnp.nan, o.dtype) for name, o in shapes.items()}

    # Standard normals are drawn in stages one iteration apart: the uniforms of step k + 1
    # (the hash) beside the erfinv of step k, the same numbers as drawing them in the step
    # (``standard_normals``), 2–3× faster on a CPU, where XLA runs the fused stages slowly.
    pipelined = isinstance(chain.noise, StandardNormal)
    path_last = path_last and pipelined and not sub_batch
    if path_last:
        per_path = lambda fn, *a: jax.vmap(fn, in_axes=-1, out_axes=-1)(*a)
        position_of = lambda s_: per_path(chain.position, s_)
        keep = lambda moved, n, o: jnp.where(moved, n, o)
        finite_of = lambda new: jax.vmap(_all_finite, in_axes=-1)(new)
    else:
        per_path = lambda fn, *a: _vmap(fn, sub_batch, *a)
        position_of = jax.vmap(chain.position)  # a selection: never sub-batched
        keep = lambda moved, n, o: jnp.where(_bcast(moved, n), n, o)
        finite_of = lambda new: jax.vmap(_all_finite)(new)
    first = lambda tree: jax.tree_util.tree_map(lambda a: jnp.moveaxis(a, -1, 0), tree)
    last = lambda tree: jax.tree_util.tree_map(lambda a: jnp.moveaxis(a, 0, -1), tree)

    def draw_ahead(k):
        """The pipeline's contents before step ``k``."""
        shape = chain.noise.shape
        if not path_last:
            return standard_uniforms(key, path_ids, k, shape, dtype, window)
        noise = normals_from_uniforms(
            standard_uniforms(key, path_ids, k, shape, dtype, window, path_last=True), shape,
            dtype, path_last=True)
        return standard_uniforms(key, path_ids, k + 1, shape, dtype, window, path_last=True), noise

    def one_step(carry, j):
        (state, status, steps, event, buf), ahead = carry
        k = k0 + j
        alive = (status == RUNNING) & (k < n_steps)
        if path_last:
            shape = chain.noise.shape
            u, noise = ahead
            ahead = (standard_uniforms(key, path_ids, k + 2, shape, dtype, window, path_last=True),
                     normals_from_uniforms(u, shape, dtype, path_last=True))
        elif pipelined:
            shape = chain.noise.shape
            noise = normals_from_uniforms(ahead, shape, dtype)
            ahead = standard_uniforms(key, path_ids, k + 1, shape, dtype, window)
        else:
            noise = _draw(chain, key, path_ids, k, dtype, sub_batch, window)
        new = per_path(chain.step, state, noise)
        finite = finite_of(new)
        moved = alive & finite
        state = jax.tree_util.tree_map(lambda n, o: keep(moved, n, o), new, state)
        steps = jnp.where(alive, k + 1, steps)
        x = position_of(state)
        # events and observables see path-first copies (their reductions sum as they always
        # did), of the state only where one of them reads it and of the position likewise
        seen_state, seen_x = state, x
        if path_last and (events or observables):
            fns = [*events, *observables.values()]
            on_state = any(isinstance(fn, OnState) for fn in fns)
            on_x = not all(isinstance(fn, OnState) for fn in fns)
            seen_state, seen_x = lax.optimization_barrier(
                (first(state) if on_state else None, first(x) if on_x else None))
        if events:
            fired = jnp.stack([_vmap(ev, sub_batch, _arg(ev, seen_state, seen_x))
                               for ev in events], axis=-1)
            hit = moved & jnp.any(fired, axis=-1)
            event = jnp.where(hit, jnp.argmax(fired, axis=-1).astype(event.dtype), event)
        else:
            hit = jnp.zeros_like(moved)
        status = jnp.where(alive & ~finite, DIVERGED, jnp.where(hit, EXITED, status))
        if observables:

            def save(buf):
                slot = (k + 1) // stride - first_slot
                values = {name: _vmap(fn, sub_batch, _arg(fn, seen_state, seen_x))
                          for name, fn in observables.items()}
                # an observable that overflows while the state is finite diverges the path too
                ok = moved
                for v in values.values():
                    ok = ok & jnp.all(jnp.isfinite(v).reshape(v.shape[0], -1), axis=1)
                out = {name: lax.dynamic_update_index_in_dim(
                    buf[name], jnp.where(_bcast(ok, v), v, jnp.nan), slot, 0)
                    for name, v in values.items()}
                return out, moved & ~ok

            # a save where no path moved writes the NaNs the buffer starts with
            no_overflow = lambda b: (b, jnp.zeros_like(moved))
            buf, overflow = save(buf) if every_step else lax.cond((k + 1) % stride == 0, save,
                                                                  no_overflow, buf)
            status = jnp.where(overflow, DIVERGED, status)
            event = jnp.where(overflow, -1, event)
        return ((state, status, steps, event.astype(jnp.int32), buf), ahead), None

    def all_steps(carry):
        ahead = draw_ahead(k0) if pipelined else None
        if path_last:
            carry = (last(carry[0]), *carry[1:])
        # a loop of seg_len (traced) iterations: the same step body as a scan over
        # arange(seg_len), one program for every segment length
        carry = lax.fori_loop(jnp.int32(0), seg_len, lambda j, c: one_step(c, j)[0],
                              (carry, ahead))[0]
        return (first(carry[0]), *carry[1:]) if path_last else carry

    carry = (state, status, steps, event, buf)
    running = jnp.any(status == RUNNING) & (k0 < n_steps)
    carry = lax.cond(running, all_steps, lambda c: c, carry)
    return (*carry, jax.vmap(chain.position)(carry[0]))


@eqx.filter_jit
def _init_states(chain, x0, sub_batch=0):
    return _vmap(chain.init, sub_batch, x0)


@eqx.filter_jit
def _observe(observables, chain, state, sub_batch=0):
    x = jax.vmap(chain.position)(state)
    return {name: _vmap(fn, sub_batch, _arg(fn, state, x)) for name, fn in observables.items()}


def _sharding(n: int):
    devs = jax.local_devices()
    if len(devs) == 1 or n % len(devs):
        return None
    mesh = jax.sharding.Mesh(np.asarray(devs), ("paths",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("paths"))


def _put(tree, n):
    sh = _sharding(n)
    if sh is None:
        return jax.tree_util.tree_map(jnp.asarray, tree)
    return jax.device_put(tree, sh)


def _round_bucket(n: int) -> int:
    ndev = len(jax.local_devices())
    b = max(_MIN_BUCKET, 1 << max(0, math.ceil(math.log2(max(n, 1)))))
    return int(math.ceil(b / ndev) * ndev)


def _compacted_bucket(n_alive: int, size: int) -> int | None:
    """The bucket a chunk of ``size`` slots with ``n_alive`` running paths is compacted into
    between segments, or ``None`` to keep it: the power-of-two bucket of the running paths
    (``_round_bucket``) once it is at most ``size / _COMPACT_FACTOR``."""
    bucket = _round_bucket(n_alive)
    return bucket if bucket * _COMPACT_FACTOR <= size else None


def _observable_bytes(state, x, observables) -> int:
    """Bytes of one path's saved row (every observable at one save), for the chain's abstract
    ``state`` at a start shaped like ``x``."""
    return sum(math.prod(o.shape) * o.dtype.itemsize
               for o in (jax.eval_shape(fn, _arg(fn, state, x)) for fn in observables.values()))


def _bytes_per_path(state, x, observables, n_slots) -> int:
    state_bytes = sum(math.prod(a.shape) * a.dtype.itemsize for a in jax.tree_util.tree_leaves(state))
    # state, proposal, noise and temporaries, plus the save buffer (and one saved row)
    return 8 * state_bytes + (n_slots + 1) * _observable_bytes(state, x, observables) + 64


def _is_shape(s) -> bool:
    return isinstance(s, tuple) and all(isinstance(i, (int, np.integer)) for i in s)


def _prepare_x0(chain, x0, n_paths, owner="simulate"):
    """Validate ``x0`` against the chain's point shape and geometry.

    Returns ``(x0 as a pytree of device arrays, the point's (pytree of) shape(s), per_path)``.
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(x0)
    if not flat:
        raise ValueError(f"{owner}: x0 must be an array or a pytree of arrays; got {x0!r}")
    leaves = []
    for path, leaf in flat:
        name = "x0" + jax.tree_util.keystr(path)
        a = jnp.asarray(leaf)
        if jnp.issubdtype(a.dtype, jnp.complexfloating):
            raise TypeError(f"{owner}: {name} must be real; got dtype {a.dtype}")
        if not jnp.issubdtype(a.dtype, jnp.floating):
            a = a.astype(jnp.float32)
        leaves.append((name, a))
    dtypes = {a.dtype for _, a in leaves}
    if len(dtypes) > 1:
        raise TypeError(f"{owner}: every leaf of x0 must have one floating dtype; got "
                        f"{ {n: str(a.dtype) for n, a in leaves} }")
    want = chain.point_shape
    if want is None:  # the chain does not know its point shape: a leading n_paths axis is per path
        a = leaves[0][1]
        if a.ndim == 0:
            raise ValueError(f"{owner}: x0 must be an array of shape (*shape) or (n_paths, *shape)")
        per_path = a.ndim > 1 and a.shape[0] == n_paths
        shapes = [tuple(b.shape[1:]) if per_path else tuple(b.shape) for _, b in leaves]
    else:
        want_def = jax.tree_util.tree_structure(want, is_leaf=_is_shape)
        if want_def != treedef:
            raise ValueError(f"{owner}: x0 must be a pytree with the structure of the chain's point "
                             f"{want_def} (shapes {want}); got {treedef}")
        wants = [tuple(w) for w in jax.tree_util.tree_leaves(want, is_leaf=_is_shape)]
        kinds, shapes = set(), []
        for (name, a), w in zip(leaves, wants, strict=True):
            if a.shape == w:
                kinds.add(False)
            elif a.shape == (n_paths, *w):
                kinds.add(True)
            else:
                raise ValueError(f"{owner}: {name} must have shape {w} (one start shared by all "
                                 f"paths) or {(n_paths, *w)} (one start per path, n_paths={n_paths}); "
                                 f"got {tuple(a.shape)}")
            shapes.append(w)
        if len(kinds) > 1:
            raise ValueError(f"{owner}: either every leaf of x0 has a leading n_paths axis (one "
                             "start per path) or none has")
        per_path = kinds.pop()
    x0 = jax.tree_util.tree_unflatten(treedef, [a for _, a in leaves])
    geometry = getattr(chain, "geometry", None)
    if geometry is not None:
        if per_path:
            off, finite, _ = _start_retraction_check(geometry, x0)
            off = float(off)
            for (name, _a), ok in zip(leaves, np.asarray(finite), strict=True):
                if not ok:
                    raise ValueError(f"{owner}: {name} must be finite; got non-finite entries")
            if off > 1e-4:
                raise ValueError(f"{owner}: every start in x0 must lie on the chain's geometry "
                                 f"({type(geometry).__name__}); the largest distance to it is "
                                 f"{off:.3g}. Map the starts onto it first (geometry.retract).")
        else:
            geometry.check_point(x0, "x0", owner)
    shape = jax.tree_util.tree_unflatten(treedef, shapes)
    return x0, shape, per_path


_MAX_STEPS = 2**31 - 1 - 4096  # the int32 step counter, with room for the last segment
_MAX_PATH_ID = 2**32  # path ids are uint32 in the counter-based generator


def _check_scale(n_paths, n_steps, first_path, memory_limit, owner="simulate") -> None:
    """Refuse, before any work, a horizon the step counter cannot hold, path ids the generator
    cannot address, and a memory limit that is not a positive number of bytes."""
    if n_steps > _MAX_STEPS:
        raise ValueError(f"{owner}: n_steps must be <= {_MAX_STEPS} (the engine's int32 step "
                         f"counter); got {n_steps}")
    first_path = check_integer(owner, "first_path", first_path, low=0)
    if int(first_path) + n_paths > _MAX_PATH_ID:
        raise ValueError(f"{owner}: first_path + n_paths must be <= 2**32 (path ids are uint32); "
                         f"got {int(first_path) + n_paths}")
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, float, np.integer,
                                                                       np.floating)) \
            or not math.isfinite(memory_limit) or memory_limit <= 0:
        raise ValueError(f"{owner}: memory_limit must be a positive finite number of bytes; got "
                         f"{memory_limit!r}")


def _check_geometries(chain, owner="simulate") -> None:
    """A chain, its SDE and their problem must agree on where points live."""
    owners = [("chain", chain)]
    sde = getattr(chain, "sde", None)
    if sde is not None:
        owners.append(("chain.sde", sde))
    seen = []
    for label, obj in owners:
        g = getattr(obj, "geometry", None)
        if g is not None:
            seen.append((label, g))
        problem = getattr(obj, "problem", None)
        if problem is not None and getattr(problem, "geometry", None) is not None:
            seen.append((f"{label}.problem", problem.geometry))
    for (la, ga), (lb, gb) in zip(seen, seen[1:], strict=False):
        if ga != gb:
            raise ValueError(f"{owner}: the geometries disagree: {la} lives on {ga!r} but {lb} on "
                             f"{gb!r}; build the chain from the problem's geometry")


def _check_callbacks(events, observables, point, state=None, owner="simulate") -> None:
    """Events must return a boolean scalar and observables one array, for a position ``point``
    (for the chain's abstract ``state`` where the function is an ``OnState``)."""
    def given(fn):
        if isinstance(fn, OnState):
            return state, "a chain state of structure " + str(
                jax.tree_util.tree_map(lambda a: a.shape, state))
        return point, "a position of shape " + str(jax.tree_util.tree_map(lambda a: a.shape, point))

    for i, ev in enumerate(events):
        label = f"events[{i}] ({type(ev).__name__})"
        if not callable(ev):
            raise TypeError(f"{owner}: {label} must be a function position -> bool; got {ev!r}")
        arg, what = given(ev)
        try:
            out = jax.eval_shape(ev, arg)
        except Exception as e:  # noqa: BLE001 - re-raised with the event's name
            raise TypeError(f"{owner}: {label} failed on {what}: "
                            f"{type(e).__name__}: {e}") from e
        if not (isinstance(out, jax.ShapeDtypeStruct) and out.shape == () and out.dtype == jnp.bool_):
            got = (f"{out.dtype}{list(out.shape)}" if isinstance(out, jax.ShapeDtypeStruct)
                   else type(out).__name__)
            raise TypeError(f"{owner}: {label} must return a boolean scalar (e.g. "
                            f"jnp.linalg.norm(x) >= r); got {got}")
    for name, fn in observables.items():
        if not callable(fn):
            raise TypeError(f"{owner}: observables[{name!r}] must be a function position -> array; "
                            f"got {fn!r}")
        arg, what = given(fn)
        try:
            out = jax.eval_shape(fn, arg)
        except Exception as e:  # noqa: BLE001
            raise TypeError(f"{owner}: observables[{name!r}] failed on {what}: "
                            f"{type(e).__name__}: {e}") from e
        if not isinstance(out, jax.ShapeDtypeStruct):
            raise TypeError(f"{owner}: observables[{name!r}] must return one array; got "
                            f"{jax.tree_util.tree_structure(out)}")


@dataclasses.dataclass(frozen=True)
class _FloatObservable:
    """An integer or boolean observable saved as floats (NaN marks a stopped path); hashable by the
    wrapped function, so a repeated ``simulate`` call compiles nothing new."""

    fn: Callable
    dtype: Any

    def __call__(self, x):
        return jnp.asarray(self.fn(x)).astype(self.dtype)


def _as_float(fn, point, state, dtype):
    out = jax.eval_shape(fn, _arg(fn, state, point))
    if jnp.issubdtype(out.dtype, jnp.inexact):
        return fn
    if isinstance(fn, OnState):
        return OnState(_FloatObservable(fn.fn, jnp.dtype(dtype)))
    return _FloatObservable(fn, jnp.dtype(dtype))


def _check_arguments(owner, chain, x0, key, n_paths, n_steps, events, observables, stride,
                     memory_limit, progress, first_path):
    """The checks [`simulate`][sde_opt.simulate] and [`simulate_streamed`][sde_opt.simulate_streamed]
    share, with the caller's name in the messages; returns the arguments normalized, the point's
    shape and the chain's abstract state."""
    n_paths = check_integer(owner, "n_paths", n_paths, low=1)
    n_steps = check_integer(owner, "n_steps", n_steps, low=0)
    stride = check_integer(owner, "stride", stride, low=1)
    if stride > max(n_steps, 1):
        raise ValueError(f"{owner}: stride must be <= n_steps (observables are saved every stride "
                         f"steps); got stride={stride} with n_steps={n_steps}")
    check_positive(owner, "memory_limit", memory_limit, scalar=True)
    if progress is not None and not isinstance(progress, (bool, np.bool_, str)):
        raise TypeError(f"{owner}: progress must be True/False/None or a label string; got "
                        f"{progress!r} ({type(progress).__name__})")
    if not isinstance(chain, AbstractChain):
        raise TypeError(f"{owner}: chain must be an AbstractChain (an algorithm, or a scheme such "
                        f"as EulerMaruyama(sde, dt)); got {type(chain).__name__}")
    if callable(events) or isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
        raise TypeError(f"{owner}: events must be a list of functions position -> bool; got "
                        f"{type(events).__name__} (wrap a single event in a list: events=[ev])")
    if observables is not None and not isinstance(observables, Mapping):
        raise TypeError(f"{owner}: observables must be a dict name -> function; got "
                        f"{type(observables).__name__}")
    for path, leaf in jax.tree_util.tree_flatten_with_path(x0)[0]:
        if isinstance(leaf, (str, bytes, bool, np.bool_)) or not (
                hasattr(leaf, "dtype") or isinstance(leaf, (int, float, complex))):
            raise TypeError(f"{owner}: x0{jax.tree_util.keystr(path)} must be a real array; got "
                            f"{leaf!r} ({type(leaf).__name__})")
    observables = dict(observables or {})
    events = tuple(events)
    key = _as_key(key, owner)

    _check_scale(n_paths, n_steps, first_path, memory_limit, owner)
    _check_geometries(chain, owner)
    x0, shape, per_path = _prepare_x0(chain, x0, n_paths, owner)
    chain.check_start(x0, per_path=per_path)  # e.g. a game's y outside a bounded Y
    if per_path and getattr(chain, "geometry", None) is not None:
        # a start with no projection onto the geometry (the zero vector on a sphere) retracts to NaN
        bad = ~np.asarray(_start_retraction_check(chain.geometry, x0)[2])
        if bool(np.any(bad)):
            raise ValueError(f"{owner}: every start in x0 must lie on the chain's geometry "
                             f"({type(chain.geometry).__name__}); start(s) "
                             f"{np.flatnonzero(np.asarray(bad))[:5].tolist()} cannot be mapped onto "
                             f"it (e.g. the zero vector on a sphere); got x0 of shape "
                             f"{np.shape(jax.tree_util.tree_leaves(x0)[0])}")
    dtype = jax.tree_util.tree_leaves(x0)[0].dtype
    point = jax.tree_util.tree_map(lambda s_: jax.ShapeDtypeStruct(s_, dtype), shape, is_leaf=_is_shape)
    # traced once per call here and handed on (the memory plan, the buffers, the noise dtype):
    # simulate traced init five to seven times a call before (≈ 3 ms each for a bilevel chain's
    # curvature check). Not memoized across calls: init may check its chain's values when they
    # are concrete, as here, and its abstract state may depend on what no cache key holds.
    abstract_state = jax.eval_shape(chain.init, point)
    position = jax.eval_shape(chain.position, abstract_state)
    shapes_of = lambda tree: jax.tree_util.tree_map(lambda a: tuple(a.shape), tree)
    if (jax.tree_util.tree_structure(position) != jax.tree_util.tree_structure(point)
            or shapes_of(position) != shapes_of(point)):
        # events, observables and the final positions are laid out like x0
        raise ValueError(f"{owner}: chain.position(chain.init(x0)) must have the structure and "
                         f"shapes of x0 ({shapes_of(point)}); {type(chain).__name__} gives "
                         f"{shapes_of(position)}")
    _check_callbacks(events, observables, point, abstract_state, owner)
    observables = {name: _as_float(fn, point, abstract_state, dtype)
                   for name, fn in observables.items()}
    return (n_paths, n_steps, stride, events, observables, key, x0, shape, per_path, point,
            abstract_state)


def simulate(
    chain: AbstractChain,
    x0,
    key,
    *,
    n_paths: int,
    n_steps: int,
    events: Sequence[Callable] = (),
    observables: Mapping[str, Callable] | None = None,
    stride: int = 1,
    chunk_size: int | None = None,
    memory_limit: float = 2**30,
    progress: bool | str | None = None,
    first_path: int = 0,
    final_state: bool = False,
) -> SimulationResult:
    """Simulate ``n_paths`` independent paths of ``chain`` for at most ``n_steps`` steps.

    Args:
        chain: any [`AbstractChain`][sde_opt.AbstractChain] (an algorithm, or a scheme applied to an SDE).
        x0: start: one point (shared by all paths) or ``(n_paths, *shape)`` — an array whose first
            axis has length ``n_paths`` and that has more than one axis is taken per path.
        key: a ``jax.random`` key (or an int seed).
        n_paths: number of paths.
        n_steps: horizon in steps (continuous horizon ``n_steps * chain.dt``).
        events: functions ``position -> bool``; a path stops at the first step where any fires
            ([`LeaveBall`][sde_opt.LeaveBall], [`EnterBall`][sde_opt.EnterBall],
            [`Threshold`][sde_opt.Threshold] or any function). Without events, every path runs to
            the horizon. Wrap a function in [`OnState`][sde_opt.OnState] to give it the chain's
            full state instead (e.g. the momentum of ``MomentumSGD``).
        observables: name → function ``position -> array``, saved at steps 0, stride, 2·stride, …
            (or ``OnState(state -> array)``, as for events).
        stride: save every ``stride`` steps.
        chunk_size: paths per compiled batch (default: as many as ``memory_limit`` allows).
        memory_limit: bytes of device memory a chunk may use (approximate).
        progress: show a progress bar (``True``, or a string used as its label); ``False`` never.
            Default (``None``): on an interactive terminal (stderr is a TTY), a bar appears once
            the run has taken more than ``AUTO_PROGRESS_DELAY`` (10 s) — long runs show their
            progress, short ones and logs stay quiet.
        first_path: the global id of the first path: this call simulates paths ``first_path …
            first_path + n_paths − 1`` (path i's noise depends on (key, i) only), so a large run
            can be cut into slices ([`simulate_streamed`][sde_opt.simulate_streamed], several processes) whose
            paths are exactly those of one call.
        final_state: also return each path's final chain *state* (``result.final_state``), not
            only its position (``result.final``).

    Returns:
        A [`SimulationResult`][sde_opt.SimulationResult] with per-path steps, status, event, final position
        and the saved observables.
    """
    n_paths, n_steps, stride, events, observables, key, x0, shape, per_path, point, abstract_state = \
        _check_arguments("simulate", chain, x0, key, n_paths, n_steps, events, observables, stride,
                         memory_limit, progress, first_path)
    if not isinstance(final_state, (bool, np.bool_)):
        raise TypeError(f"simulate: final_state must be True or False; got {final_state!r}")
    if chunk_size is not None:
        chunk_size = check_integer("simulate", "chunk_size", chunk_size, low=1)
    x0_all = x0 if per_path else None
    dtype = jax.tree_util.tree_leaves(x0)[0].dtype

    longest = _longest_segment(n_paths if chunk_size is None else min(n_paths, chunk_size),
                               events, _observable_bytes(abstract_state, point, observables), stride)
    seg_len = _segment_length(longest, n_steps)
    n_slots = _save_slots(seg_len, stride, longest)
    if chunk_size is None:
        per_path_bytes = _bytes_per_path(abstract_state, point, observables, n_slots)
        smallest = min(256, n_paths) * per_path_bytes
        if memory_limit < smallest:
            raise ValueError(f"simulate: memory_limit must be at least {smallest:.0f} bytes (one chunk "
                             f"of {min(256, n_paths)} paths of this chain at {per_path_bytes} bytes "
                             f"each); got {memory_limit!r}")
        chunk_size = max(256, int(memory_limit // per_path_bytes))
    chunk_size = int(min(chunk_size, n_paths))
    if chunk_size < 1:
        raise ValueError(f"simulate: chunk_size must be >= 1; got {chunk_size}")

    sub_batch = _cached_sub_batch(chain, events, observables, point)  # (init, loop)
    path_last = not sub_batch[1] and _cached_paths_last(chain, point)
    noise_dtype = jax.tree_util.tree_leaves(jax.eval_shape(chain.position, abstract_state))[0].dtype

    # no observables, nothing saved: no per-save array either (its size grows with the horizon)
    save_steps = np.arange(0, n_steps + 1, stride) if observables else np.zeros(0, np.int64)
    n_saves = save_steps.size
    out_obs = {}
    for name, fn in observables.items():
        o = jax.eval_shape(fn, _arg(fn, abstract_state, point))
        out_obs[name] = np.full((n_paths, n_saves, *o.shape), np.nan, dtype=o.dtype)
    out_steps = np.zeros(n_paths, np.int64)
    out_status = np.zeros(n_paths, np.int8)
    out_event = np.full(n_paths, -1, np.int16)
    out_final = jax.tree_util.tree_map(lambda s_: np.zeros((n_paths, *s_), dtype), shape,
                                       is_leaf=_is_shape)
    out_state = None
    if final_state:
        out_state = jax.tree_util.tree_map(lambda a: np.zeros((n_paths, *a.shape), a.dtype),
                                           abstract_state)

    bar = _progress_bar(progress, math.ceil(n_paths / chunk_size) * n_steps)
    n_steps_arr = jnp.asarray(n_steps, jnp.int32)
    try:
        for start in range(0, n_paths, chunk_size):
            ids = np.arange(first_path + start, first_path + min(start + chunk_size, n_paths))
            _run_chunk(chain, events, observables, key, ids, x0, x0_all, shape, n_steps,
                       n_steps_arr, stride, seg_len, n_slots, out_steps, out_status, out_event, out_final,
                       out_obs, bar, sub_batch, offset=first_path, noise_dtype=noise_dtype,
                       out_state=out_state, path_last=path_last)
    finally:
        if bar is not None:
            bar.close()

    return SimulationResult(
        steps=out_steps,
        status=out_status,
        event=out_event,
        final=out_final,
        observables=out_obs,
        save_steps=save_steps,
        dt=float(chain.dt),
        n_steps=n_steps,
        final_state=out_state,
    )


def _per_path_functions(chain, events, observables, point):
    """``(name, fn, per-path example args)`` for every function the engine vmaps over paths."""
    x = point
    state = jax.eval_shape(chain.init, x)
    pos_dtype = jax.tree_util.tree_leaves(jax.eval_shape(chain.position, state))[0].dtype
    sampler = chain.noise
    key = jax.eval_shape(lambda: jr.key(0))
    noise = jax.eval_shape(lambda kk: sampler.sample(kk, pos_dtype), key)
    fns = [("chain.init", chain.init, (x,)), ("chain.step", chain.step, (state, noise)),
           ("chain.noise.sample", lambda kk: sampler.sample(kk, pos_dtype), (key,))]
    fns += [(f"events[{i}]", ev, (_arg(ev, state, x),)) for i, ev in enumerate(events)]
    fns += [(f"observables[{name!r}]", fn, (_arg(fn, state, x),)) for name, fn in observables.items()]
    return fns


AUTO_PROGRESS_DELAY = 10.0  # seconds before simulate(progress=None) shows its bar on a terminal


def _progress_bar(progress, total):
    if progress is None:
        import sys

        isatty = getattr(sys.stderr, "isatty", None)
        return _Progress("simulate", total, delay=AUTO_PROGRESS_DELAY) if isatty and isatty() else None
    if not progress:
        return None
    label = progress if isinstance(progress, str) else "simulate"
    return _Progress(label, total)


class _Progress:
    """A tqdm bar in steps whose ETA ignores compilation.

    Until the first segment returns, the bar is labelled "compiling" (tracing and XLA compilation
    take most of a short call); then its clock restarts, so the rate and the ETA come only from
    steps run after compilation. One unit = one step of the horizon for a chunk of paths; a chunk
    whose paths have all stopped jumps to its end, and the postfix shows how many paths are still
    running. (A later compaction to a new bucket size compiles once more, inside a segment.)
    """

    def __init__(self, label, total, delay=0.0):
        from tqdm.auto import tqdm

        self.label = label
        self.compiled = False
        self.bar = tqdm(total=total, desc=f"{label} (compiling)", unit="step", unit_scale=True,
                        leave=False, delay=delay)

    def update(self, n):
        if self.compiled:
            self.bar.update(n)
            return
        self.compiled = True
        done = self.bar.n + n
        self.bar.reset(total=self.bar.total)  # restarts the clock: the ETA excludes compilation
        self.bar.set_description(self.label, refresh=False)
        self.bar.n = self.bar.last_print_n = self.bar.initial = done
        self.bar.refresh()

    def set_postfix(self, **kw):
        self.bar.set_postfix(**kw)

    def close(self):
        self.bar.close()


def _run_chunk(chain, events, observables, key, ids, x0, x0_all, shape, n_steps, n_steps_arr,
               stride, seg_len, n_slots, out_steps, out_status, out_event, out_final, out_obs,
               bar, sub_batch=(0, 0), offset=0, noise_dtype=None, out_state=None,
               path_last=False):
    """Simulate the paths ``ids`` (global path ids; results go to index ``id − offset``);
    ``noise_dtype``: the dtype of a position, which the standard normals are drawn in;
    ``sub_batch``: ``(init, loop)`` from ``_cached_sub_batch``; ``path_last``: the segment
    layout (``_layout.paths_last``)."""
    init_sub_batch, sub_batch = sub_batch
    n = ids.size
    bucket = int(math.ceil(n / len(jax.local_devices())) * len(jax.local_devices()))
    pad = bucket - n
    slot_ids = np.concatenate([ids, np.full(pad, -1)]).astype(np.int64)
    if x0_all is None:
        x_start = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n, *a.shape)), x0)
    else:
        x_start = jax.tree_util.tree_map(lambda a: a[ids[0] - offset:ids[-1] + 1 - offset], x0_all)
    if pad:
        x_start = jax.tree_util.tree_map(
            lambda a: jnp.concatenate([a, jnp.broadcast_to(a[:1], (pad, *a.shape[1:]))]), x_start)
    state = _init_states(chain, x_start, init_sub_batch)
    status = np.where(slot_ids >= 0, RUNNING, _PADDING).astype(np.int32)
    steps = np.zeros(bucket, np.int32)
    event = np.full(bucket, -1, np.int32)

    if observables:
        first = {name: np.asarray(v)[:n] for name, v in
                 _observe(observables, chain, state, sub_batch).items()}
        overflow = np.zeros(n, bool)
        for v in first.values():
            overflow |= ~np.all(np.isfinite(v.reshape(n, -1)), axis=1)
        for name, v in first.items():
            out_obs[name][ids - offset, 0] = np.where(overflow.reshape((n,) + (1,) * (v.ndim - 1)),
                                                      np.nan, v)
        status[:n][overflow] = DIVERGED  # an observable non-finite at the start: diverged at step 0

    def put(*arrays):
        return _put(arrays, slot_ids.size)

    path_ids = np.where(slot_ids >= 0, slot_ids, 0).astype(np.uint32)
    state, path_ids_d, status_d, steps_d, event_d = put(state, path_ids, status, steps, event)
    seg_len_arr = jnp.asarray(seg_len, jnp.int32)
    stride_arg = 1 if stride == 1 else jnp.asarray(stride, jnp.int32)
    k0, windows = 0, {}
    while k0 < n_steps:
        state, status_d, steps_d, event_d, buf, pos = _segment(
            chain, events, observables, key, state, path_ids_d, status_d, steps_d, event_d,
            jnp.asarray(k0, jnp.int32), n_steps_arr, seg_len_arr, stride_arg, n_slots,
            sharded=_sharding(status.size) is not None, sub_batch=sub_batch,
            window=_segment_window(chain, key, k0, seg_len, noise_dtype, windows),
            path_last=path_last)
        if observables:
            lo = k0 // stride + 1
            hi = min((k0 + seg_len) // stride, n_steps // stride)
            if hi >= lo:
                live = slot_ids >= 0
                for name, b in buf.items():
                    vals = np.moveaxis(np.asarray(b)[: hi - lo + 1], 0, 1)
                    out_obs[name][slot_ids[live] - offset, lo:hi + 1] = vals[live]
        k0 += seg_len
        status_h = np.asarray(status_d)
        if bar is not None:
            live = int(np.sum(status_h == RUNNING))
            bar.update(min(seg_len, n_steps - (k0 - seg_len)))
            bar.set_postfix(running=f"{live}/{n}", refresh=False)
            if live == 0 and k0 < n_steps:
                bar.update(n_steps - k0)
        if not events:
            continue
        running = status_h == RUNNING
        n_alive = int(running.sum())
        if n_alive == 0 or k0 >= n_steps:
            break  # (no compaction after the last segment: the final write-out reads its positions)
        new_bucket = _compacted_bucket(n_alive, status_h.size)
        if new_bucket is not None:
            _write_out(pos, slot_ids, status_h, np.asarray(steps_d), np.asarray(event_d),
                       out_steps, out_status, out_event, out_final, ~running, offset,
                       state, out_state)
            keep = np.flatnonzero(running)
            fill = np.full(new_bucket - keep.size, keep[0])
            take = np.concatenate([keep, fill])
            host_state = jax.tree_util.tree_map(lambda a: np.asarray(a)[take], state)
            slot_ids = np.concatenate([slot_ids[keep], np.full(fill.size, -1)])
            status = np.where(slot_ids >= 0, RUNNING, _PADDING).astype(np.int32)
            steps = np.asarray(steps_d)[take]
            event = np.asarray(event_d)[take]
            path_ids = np.where(slot_ids >= 0, slot_ids, 0).astype(np.uint32)
            state, path_ids_d, status_d, steps_d, event_d = put(host_state, path_ids, status, steps, event)

    if n_steps == 0:
        pos = _observe({"x": lambda x: x}, chain, state)["x"]
    status_h = np.asarray(status_d)
    _write_out(pos, slot_ids, status_h, np.asarray(steps_d), np.asarray(event_d),
               out_steps, out_status, out_event, out_final, np.ones(status_h.size, bool), offset,
               state, out_state)


def _write_out(pos, slot_ids, status, steps, event, out_steps, out_status, out_event,
               out_final, which, offset=0, state=None, out_state=None):
    sel = which & (slot_ids >= 0)
    if not sel.any():
        return
    ids = slot_ids[sel] - offset
    st = status[sel]
    out_status[ids] = np.where(st == RUNNING, CENSORED, st)
    out_steps[ids] = steps[sel]
    out_event[ids] = event[sel]
    jax.tree_util.tree_map(lambda o, p: o.__setitem__(ids, np.asarray(p)[sel]), out_final, pos)
    if out_state is not None:
        jax.tree_util.tree_map(lambda o, p: o.__setitem__(ids, np.asarray(p)[sel]), out_state, state)

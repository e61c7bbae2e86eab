r"""Streamed results: summaries reduced chunk by chunk, in memory independent of the number of paths.

[`simulate_streamed`][sde_opt.simulate_streamed] runs the same paths as [`simulate`][sde_opt.simulate] (path
i's noise is a function of (key, i, k) alone) in fixed chunks of path ids, reduces each chunk to a
[`StreamedSummary`][sde_opt.StreamedSummary] and discards its per-path arrays. A summary holds

* the counts per status (exited, censored at the horizon, diverged);
* histograms of the exit steps and of the divergence steps in bins of ``bin_width`` steps, from
  which the Kaplan–Meier survival curve (divergence = censoring at its step) and quantiles follow
  — exactly for ``bin_width = 1``, otherwise bracketed to within one bin: a quantile q̂ lies in
  [lo, hi] with hi − lo = ``bin_width`` steps;
* the exact sum of exit steps (int64) and the sum of their squares (float64), so the mean and SE;
* the sums and sums of squares of the exit points (per coordinate, each leaf of the position);
* per save step of every observable: the number of paths still running, the sum and the sum of
  squares.

Counts, histograms and the exit-step sum are exact integers, so combining summaries is exact; the
float sums are combined in chunk order, so a run is bit for bit the same whatever the number of
processes that computed its chunks.

**Several processes and hosts** (``jax.distributed``): when ``jax.process_count() > 1`` the chunks
run in rounds, chunk ``r·P + p`` on process ``p`` in round ``r``, each on its process's local
devices; after each round the round's summaries are exchanged as raw 32-bit words
(``multihost_utils.process_allgather``) and folded in chunk order — the result equals a one-process
run bit for bit.

**Memory.** Every process keeps a single running summary (the left fold that ``combine`` itself
computes, so the result is the same bit for bit) plus, with P processes, the P summaries of one
round: peak memory is one chunk's simulation plus P + 1 summaries, whatever the number of paths.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import TYPE_CHECKING

import jax
import numpy as np

from .._checks import check_integer
from ._simulate import (
    AUTO_PROGRESS_DELAY,
    CENSORED,
    DIVERGED,
    EXITED,
    SimulationResult,
    _check_arguments,
    simulate,
)

if TYPE_CHECKING:
    from ..stats import Estimate

_MAX_BINS = 1 << 16


@dataclasses.dataclass(frozen=True)
class StreamedSummary:
    """Reduced results of a run (see the module docstring). Combine with ``combine``."""

    n_paths: int
    n_steps: int
    dt: float
    bin_width: int
    n_exited: int
    n_censored: int
    n_diverged: int
    exit_hist: np.ndarray       # (n_bins,) exits with steps in ((b) w, (b + 1) w]
    diverged_hist: np.ndarray   # (n_bins,) divergences, same bins
    exit_steps_sum: int         # exact
    exit_steps_sumsq: float
    final_sum: object           # pytree like a position: Σ of exit points (exited paths)
    final_sumsq: object
    obs_count: dict             # name → (n_saves,) paths running at each save step
    obs_sum: dict               # name → (n_saves, *shape)
    obs_sumsq: dict
    save_steps: np.ndarray

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_result(cls, r: SimulationResult, bin_width: int = 1) -> StreamedSummary:
        """The summary of per-path results (what [`simulate_streamed`][sde_opt.simulate_streamed] computes per
        chunk)."""
        w = int(bin_width)
        n_bins = _n_bins(r.n_steps, w)
        ex, dv = r.status == EXITED, r.status == DIVERGED
        steps = r.steps.astype(np.int64)
        exited_steps = steps[ex]

        def hist(s):
            idx = np.clip((s - 1) // w, 0, n_bins - 1)
            return np.bincount(idx, minlength=n_bins).astype(np.int64)

        fin = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64)[ex], r.final)
        obs_count, obs_sum, obs_sumsq = {}, {}, {}
        for name, v in r.observables.items():
            v = np.asarray(v, np.float64)
            ok = ~np.isnan(v)
            obs_count[name] = ok.reshape(ok.shape[0], ok.shape[1], -1)[:, :, 0].sum(0).astype(np.int64)
            z = np.where(ok, v, 0.0)
            obs_sum[name] = z.sum(0)
            obs_sumsq[name] = (z * z).sum(0)
        return cls(
            n_paths=r.n_paths, n_steps=r.n_steps, dt=r.dt, bin_width=w,
            n_exited=int(ex.sum()), n_censored=int((r.status == CENSORED).sum()),
            n_diverged=int(dv.sum()), exit_hist=hist(exited_steps), diverged_hist=hist(steps[dv]),
            exit_steps_sum=int(exited_steps.sum()),
            exit_steps_sumsq=float(np.sum(exited_steps.astype(np.float64) ** 2)),
            final_sum=jax.tree_util.tree_map(lambda a: a.sum(0), fin),
            final_sumsq=jax.tree_util.tree_map(lambda a: (a * a).sum(0), fin),
            obs_count=obs_count, obs_sum=obs_sum, obs_sumsq=obs_sumsq, save_steps=r.save_steps)

    @staticmethod
    def combine(parts) -> StreamedSummary:
        """The summary of the union of disjoint runs, combined in the given order."""
        parts = list(parts)
        first = parts[0]
        for p in parts[1:]:
            if (p.n_steps, p.bin_width, p.dt) != (first.n_steps, first.bin_width, first.dt):
                raise ValueError("StreamedSummary.combine: parts differ in n_steps, bin_width or dt")

        def total(get):
            acc = get(first)
            for p in parts[1:]:
                acc = jax.tree_util.tree_map(lambda a, b: a + b, acc, get(p))
            return acc

        return dataclasses.replace(
            first, n_paths=sum(p.n_paths for p in parts), n_exited=sum(p.n_exited for p in parts),
            n_censored=sum(p.n_censored for p in parts), n_diverged=sum(p.n_diverged for p in parts),
            exit_hist=total(lambda p: p.exit_hist), diverged_hist=total(lambda p: p.diverged_hist),
            exit_steps_sum=sum(p.exit_steps_sum for p in parts),
            exit_steps_sumsq=total(lambda p: p.exit_steps_sumsq),
            final_sum=total(lambda p: p.final_sum), final_sumsq=total(lambda p: p.final_sumsq),
            obs_count=total(lambda p: p.obs_count), obs_sum=total(lambda p: p.obs_sum),
            obs_sumsq=total(lambda p: p.obs_sumsq))

    # -- what it tells ------------------------------------------------------------------------

    def counts(self) -> dict:
        return {"exited": self.n_exited, "censored": self.n_censored, "diverged": self.n_diverged}

    def exit_steps_mean(self, level: float = 0.95) -> Estimate:
        """Mean exit step among exited paths, with its SE (conditional on exit if any path was
        censored or diverged — use ``survival`` then)."""
        from ..stats import Estimate  # stats sits above the engine

        n = self.n_exited
        if n < 2:
            raise ValueError(f"StreamedSummary: need at least 2 exited paths for a mean; got {n}")
        m = self.exit_steps_sum / n
        var = max(self.exit_steps_sumsq / n - m * m, 0.0) * n / (n - 1)
        return Estimate.normal("exit steps (mean, exited paths)", m, math.sqrt(var / n), level,
                               "CLT, streamed sums")

    def exit_point_mean(self):
        """Mean exit point (a pytree like a position) over the exited paths."""
        return jax.tree_util.tree_map(lambda s: s / self.n_exited, self.final_sum)

    def survival(self):
        """Kaplan–Meier survival at the bin ends ``(steps, S)``; divergence is censoring at its
        step, paths alive at the horizon are censored there. Exact for ``bin_width = 1``."""
        at_risk = self.n_paths - np.concatenate(
            [[0], np.cumsum(self.exit_hist + self.diverged_hist)[:-1]])
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(at_risk > 0, 1.0 - self.exit_hist / np.maximum(at_risk, 1), 1.0)
        ends = np.minimum((np.arange(self.exit_hist.size) + 1) * self.bin_width, self.n_steps)
        return ends, np.cumprod(factor)

    def exit_steps_quantile(self, p: float) -> tuple[int, int]:
        """A bracket [lo, hi] (steps) of the Kaplan–Meier p-quantile of the exit step, of width
        ``bin_width`` (lo = hi − w + 1 … hi; exact for w = 1). Raises if it lies past the horizon."""
        if not 0.0 < p < 1.0:
            raise ValueError(f"exit_steps_quantile: p must lie in (0, 1); got {p!r}")
        ends, s = self.survival()
        hit = np.flatnonzero(1.0 - s >= p - 1e-12)
        if hit.size == 0:
            raise ValueError(f"exit_steps_quantile: fewer than a fraction {p} of the paths exit by "
                             f"the horizon ({self.n_steps} steps)")
        hi = int(ends[hit[0]])
        return max(hi - self.bin_width + 1, 1), hi

    def observable_mean(self, name: str):
        """``(save_steps, mean, se)`` of an observable over the paths running at each save step."""
        if name not in self.obs_sum:
            raise KeyError(f"StreamedSummary: observable {name!r} was not streamed; streamed: "
                           f"{sorted(self.obs_sum)}")
        n = self.obs_count[name].reshape(-1, *([1] * (self.obs_sum[name].ndim - 1))).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.obs_sum[name] / n
            var = (self.obs_sumsq[name] / n - mean ** 2) * n / (n - 1)
            se = np.sqrt(np.maximum(var, 0.0) / n)
        return self.save_steps, mean, se

    # -- transport ----------------------------------------------------------------------------

    def _arrays(self) -> dict:
        out = {"counts": np.array([self.n_paths, self.n_exited, self.n_censored, self.n_diverged,
                                   self.exit_steps_sum], np.int64),
               "exit_hist": self.exit_hist, "diverged_hist": self.diverged_hist,
               "sumsq": np.array([self.exit_steps_sumsq])}
        for tag, tree in (("fs", self.final_sum), ("fq", self.final_sumsq)):
            for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
                out[f"{tag}{i}"] = np.asarray(leaf)
        for name in self.obs_sum:
            out[f"oc:{name}"] = self.obs_count[name]
            out[f"os:{name}"] = self.obs_sum[name]
            out[f"oq:{name}"] = self.obs_sumsq[name]
        return out

    def _from_arrays(self, a: dict) -> StreamedSummary:
        treedef = jax.tree_util.tree_structure(self.final_sum)
        n_leaves = treedef.num_leaves
        c = a["counts"]
        return dataclasses.replace(
            self, n_paths=int(c[0]), n_exited=int(c[1]), n_censored=int(c[2]), n_diverged=int(c[3]),
            exit_steps_sum=int(c[4]), exit_hist=a["exit_hist"], diverged_hist=a["diverged_hist"],
            exit_steps_sumsq=float(a["sumsq"][0]),
            final_sum=jax.tree_util.tree_unflatten(treedef, [a[f"fs{i}"] for i in range(n_leaves)]),
            final_sumsq=jax.tree_util.tree_unflatten(treedef, [a[f"fq{i}"] for i in range(n_leaves)]),
            obs_count={k: a[f"oc:{k}"] for k in self.obs_sum},
            obs_sum={k: a[f"os:{k}"] for k in self.obs_sum},
            obs_sumsq={k: a[f"oq:{k}"] for k in self.obs_sum})


def _n_bins(n_steps: int, w: int) -> int:
    return max(1, math.ceil(max(n_steps, 1) / w))


def simulate_streamed(chain, x0, key, *, n_paths: int, n_steps: int, events=(), observables=None,
                      stride: int = 1, chunk_paths: int = 1 << 16, bin_width: int | None = None,
                      memory_limit: float = 2**30, progress: bool | None = None) -> StreamedSummary:
    """Simulate like [`simulate`][sde_opt.simulate] and return only a
    [`StreamedSummary`][sde_opt.StreamedSummary].

    Memory is bounded by ``chunk_paths`` (and ``memory_limit`` inside a chunk), not by
    ``n_paths``; the histograms have at most 65,536 bins (``bin_width`` defaults to the smallest
    width that fits the horizon). ``x0`` is one start shared by all paths. Under
    ``jax.distributed`` (``jax.process_count() > 1``) the chunks are spread over the processes
    and the result, identical on every process, equals a one-process run bit for bit.
    """
    owner = "simulate_streamed"
    n_paths, n_steps, *_, per_path, _, _ = _check_arguments(
        owner, chain, x0, key, n_paths, n_steps, events, observables, stride, memory_limit,
        progress, 0)
    if per_path:
        raise ValueError(f"{owner}: x0 must be one start shared by all paths (use simulate for "
                         f"one start per path); got x0 with a leading axis of n_paths={n_paths}")
    chunk_paths = check_integer(owner, "chunk_paths", chunk_paths, low=1)
    if bin_width is not None:
        bin_width = check_integer(owner, "bin_width", bin_width, low=1)
    w = bin_width if bin_width is not None else max(1, math.ceil(max(n_steps, 1) / _MAX_BINS))
    if _n_bins(n_steps, int(w)) > _MAX_BINS:
        raise ValueError(f"simulate_streamed: bin_width={w} gives more than {_MAX_BINS} bins for "
                         f"{n_steps} steps; use bin_width >= {math.ceil(n_steps / _MAX_BINS)}")
    n_chunks = math.ceil(n_paths / chunk_paths)
    n_proc, me = jax.process_count(), jax.process_index()
    if n_chunks < n_proc:
        raise ValueError(f"simulate_streamed: {n_chunks} chunk(s) of {chunk_paths} paths for {n_proc} "
                         "processes; use a smaller chunk_paths so that every process has a chunk")
    n_rounds = math.ceil(n_chunks / n_proc)
    acc = None  # a running fold in chunk order (combine's own order, so bit for bit)
    bar = None
    auto = progress is None and getattr(sys.stderr, "isatty", lambda: False)()
    if progress or auto:  # None: on a terminal, once the run has taken AUTO_PROGRESS_DELAY
        from tqdm.auto import tqdm

        bar = tqdm(total=len(range(me, n_chunks, n_proc)), desc="simulate_streamed", unit="chunk",
                   leave=False, delay=AUTO_PROGRESS_DELAY if auto else 0.0)
    template = None
    for rnd in range(n_rounds):  # round rnd: chunk rnd·n_proc + p on process p
        c = rnd * n_proc + me
        part = None
        if c < n_chunks:
            start = c * chunk_paths
            size = min(chunk_paths, n_paths - start)
            r = simulate(chain, x0, key, n_paths=size, n_steps=n_steps, events=events,
                         observables=observables, stride=stride, memory_limit=memory_limit,
                         first_path=start, progress=False)
            part = StreamedSummary.from_result(r, int(w))
            if template is None:  # every process has a chunk in round 0
                template = part
            if bar is not None:
                bar.update(1)
        parts = [part] if n_proc == 1 else _exchange(part, template)
        for q, p in enumerate(parts):
            if rnd * n_proc + q < n_chunks:
                acc = p if acc is None else StreamedSummary.combine([acc, p])
    if bar is not None:
        bar.close()
    return acc


def _exchange(part, template) -> list:
    """Every process's summary of this round, by process (``None`` where a process had no chunk).

    Transported as raw 32-bit words (JAX would round float64/int64 to 32 bits without x64); one
    round's summaries are the only ones held, so memory does not grow with the number of chunks.
    """
    from jax.experimental import multihost_utils

    protos = {k: np.asarray(v) for k, v in template._arrays().items()}
    have = part is not None
    own = part._arrays() if have else protos
    words = {k: np.ascontiguousarray(np.asarray(own[k], v.dtype).astype(v.dtype.newbyteorder("=")))
             .reshape(-1).view(np.uint32) for k, v in protos.items()}
    words["have"] = np.array([int(have)], np.uint32)
    gathered = multihost_utils.process_allgather(words)  # each: (n_proc, words)
    out = []
    for q in range(jax.process_count()):
        if not int(np.asarray(gathered["have"])[q, 0]):
            out.append(None)
            continue
        arrays = {k: np.asarray(gathered[k])[q].astype(np.uint32).view(v.dtype).reshape(v.shape)
                  for k, v in protos.items()}
        out.append(template._from_arrays(arrays))
    return out

"""Means with standard errors: i.i.d. samples, or batch means for serially correlated ones."""

from __future__ import annotations

import numpy as np


def mean_se(samples: np.ndarray, blocks: int | None = None):
    """Mean over the first two axes of ``(n_traces, n, ...)`` samples, its SE and the t d.o.f.

    ``blocks=None``: the samples are treated as independent (SE = sd/√N, normal quantile, the
    returned d.o.f. is ``None``). ``blocks=b``: each trace is cut into ``b`` contiguous blocks and
    the SE is that of the mean of the ``n_traces·b`` block means (batch means; valid when a
    block is much longer than the autocorrelation time), with ``n_traces·b − 1`` d.o.f.
    """
    samples = np.asarray(samples, dtype=np.float64)
    n_tr, n = samples.shape[:2]
    if blocks is None:
        flat = samples.reshape(n_tr * n, *samples.shape[2:])
        m = flat.mean(axis=0)
        if flat.shape[0] < 2:
            return m, np.full_like(m, np.nan), None
        return m, flat.std(axis=0, ddof=1) / np.sqrt(flat.shape[0]), None
    blocks = int(blocks)
    if blocks < 1 or blocks > n:
        raise ValueError(f"blocks must lie in [1, {n}]; got {blocks}")
    size = n // blocks
    if n_tr * blocks < 2:
        raise ValueError("batch means need at least 2 blocks in all (n_traces · blocks >= 2)")
    used = samples[:, : size * blocks].reshape(n_tr, blocks, size, *samples.shape[2:])
    bm = used.mean(axis=2).reshape(n_tr * blocks, *samples.shape[2:])
    m = samples.reshape(n_tr * n, *samples.shape[2:]).mean(axis=0)
    return m, bm.std(axis=0, ddof=1) / np.sqrt(bm.shape[0]), bm.shape[0] - 1


def single_threaded_blas():
    """A context that limits BLAS to one thread (if threadpoolctl is installed).

    The estimators do many operations on tiny matrices; a multi-threaded BLAS spends far longer
    waking its threads than computing (10× slower on a busy 2-core machine).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn/scipy setups
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)

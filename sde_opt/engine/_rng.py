"""Counter-based randomness: path i's noise at step k is a pure function of (key, i, k).

Standard normals are drawn with Threefry-2x32 (the hash behind ``jax.random``) applied to the
64-bit counter (path id, position in the step) under a key folded with the step's epoch, then
mapped to N(0, 1) by √2·erfinv(2u − 1). Because the draw is elementwise in the path id it fuses
into the step and never depends on how paths are chunked, compacted or sharded.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jax import lax
from jax.extend.random import threefry2x32_p

_STREAM_NORMAL = 0
_STREAM_KEYS = 1


def _threefry(key_data, x0, x1):
    k0 = jnp.broadcast_to(key_data[0], x0.shape)
    k1 = jnp.broadcast_to(key_data[1], x0.shape)
    return threefry2x32_p.bind(k0, k1, x0, x1)


def _epoch_key(key, step, words_per_step: int):
    """Key for the epoch holding ``step`` and the step's offset within the 32-bit counter."""
    per_epoch = min(2**31 - 1, max(1, (2**32 - 1) // words_per_step))  # int32-safe
    epoch = step // per_epoch
    k = jr.key_data(jr.fold_in(jr.fold_in(key, _STREAM_NORMAL), epoch))
    offset = (step % per_epoch).astype(jnp.uint32) * jnp.uint32(words_per_step)
    return k, offset


def standard_normals(key, path_ids, step, shape: tuple[int, ...], dtype):
    """N(0, I) draws of ``shape`` for every path in ``path_ids`` (uint32, ``(B,)``) at ``step``."""
    size = math.prod(shape)
    b = path_ids.shape[0]
    wide = jnp.dtype(dtype).itemsize == 8
    pairs = size if wide else (size + 1) // 2
    kd, offset = _epoch_key(key, step, pairs)
    x0 = jnp.broadcast_to(path_ids[:, None], (b, pairs))
    x1 = jnp.broadcast_to(offset + jnp.arange(pairs, dtype=jnp.uint32)[None, :], (b, pairs))
    h0, h1 = _threefry(kd, x0, x1)
    if wide:
        bits = (h0.astype(jnp.uint64) << 32) | h1.astype(jnp.uint64)
        one = lax.bitcast_convert_type((bits >> 12) | jnp.uint64(0x3FF0000000000000), jnp.float64)
    else:
        bits = jnp.concatenate([h0, h1], axis=1)[:, :size]
        one = lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    # one ∈ [1, 2)  →  u ∈ (−1, 1) symmetric, avoiding ±1 exactly.
    eps = jnp.finfo(one.dtype).eps
    u = (one - 1.5) * 2.0 + eps
    z = jnp.sqrt(jnp.asarray(2.0, one.dtype)) * lax.erf_inv(u)
    return z.astype(dtype).reshape((b, *shape))


def path_step_keys(key, path_ids, step):
    """A ``jax.random`` key per path for ``step`` (for samplers other than standard normal)."""
    kd = jr.key_data(jr.fold_in(jr.fold_in(key, _STREAM_KEYS), step))
    x1 = jnp.zeros_like(path_ids)
    h0, h1 = _threefry(kd, path_ids, x1)
    data = jnp.stack([h0, h1], axis=-1)
    return jax.vmap(lambda d: jr.wrap_key_data(d, impl="threefry2x32"))(data)

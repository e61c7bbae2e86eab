"""Counter-based randomness: path i's noise at step k is a pure function of (key, i, k).

Standard normals are drawn with Threefry-2x32 (the hash behind ``jax.random``) applied to the
64-bit counter (path id, position in the step) under a key folded with the step's epoch, then
mapped to N(0, 1) by √2·erfinv(2u − 1). Because the draw is elementwise in the path id it fuses
into the step and never depends on how paths are chunked, compacted or sharded.

Speed (this is the inner loop of every simulation): the hash is written out round by round in
``jnp`` (``threefry2x32``, bit-identical to ``jax.random``'s primitive, whose CPU lowering is a
rolled loop that XLA cannot fuse), float32 uses Giles' single-precision erfinv (``erfinv_f32``,
vectorizable; XLA's CPU ``erf_inv`` is about 10× slower and less accurate), and the engine runs
the hash (``standard_uniforms``) and the transform (``normals_from_uniforms``) one loop iteration
apart, each hash written once with its two words leaving in two arrays
(``benchmarks/generator_fusion.py`` measures the layouts: fused, pipelined with every element
hashing its pair, pipelined with the words in two arrays). XLA's CPU compiler still evaluates
the hash in two loops, one per word (it has no multi-output loop fusion here): the gain of the
two-array layout is the layout's, not fewer hash evaluations (``benchmarks/RESULTS.md``, "Where
a fixed-horizon step goes").
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jax import lax

_STREAM_NORMAL = 0
_STREAM_KEYS = 1


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotl(x, r: int):
    return (x << jnp.uint32(r)) | (x >> jnp.uint32(32 - r))


def threefry2x32(key_data, x0, x1):
    """Threefry-2x32 with 20 rounds (Salmon et al. 2011), written out so that XLA fuses it.

    Bit-identical to ``jax.extend.random.threefry2x32_p`` (tested); ``x0``, ``x1`` uint32 arrays
    of one shape, ``key_data`` the two uint32 key words.
    """
    k0, k1 = key_data[0], key_data[1]
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = x0 ^ _rotl(x1, r)
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + jnp.uint32(i + 1)
    return x0, x1


# Giles, "Approximating the erfinv function", GPU Computing Gems Jade (2011): single precision,
# central branch for w = −log(1 − x²) < 5, tail branch otherwise; relative error < 4e-7.
_ERFINV_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                   2.1858087e-04, -1.25372503e-03, -4.17768164e-03, 2.46640727e-01, 1.50140941)
_ERFINV_TAIL = (-2.00214257e-04, 1.00950558e-04, 1.34934322e-03, -3.67342844e-03,
                5.73950773e-03, -7.6224613e-03, 9.43887047e-03, 1.00167406, 2.83297682)


def _horner(coefs, w):
    p = jnp.full_like(w, coefs[0])
    for c in coefs[1:]:
        p = c + p * w
    return p


def erfinv_f32(x):
    """erfinv(x) for float32 ``x`` in (−1, 1) (Giles 2011; both branches, one select)."""
    w = -jnp.log((1.0 - x) * (1.0 + x))
    central = _horner(_ERFINV_CENTRAL, w - 2.5)
    tail = _horner(_ERFINV_TAIL, jnp.sqrt(w) - 3.0)
    return jnp.where(w < 5.0, central, tail) * x


def _steps_per_epoch(words_per_step: int) -> int:
    # the counter offset must fit in uint32 and the epoch index in int32
    return max(1, min(2**31 - 1, (2**32 - 1) // words_per_step))


def _hashes_per_step(shape: tuple[int, ...], dtype) -> int:
    """Threefry hashes behind one step's normals of ``shape``: one per normal in float64 (64 bits
    each), one per two normals in float32 (its two 32-bit words)."""
    size = math.prod(shape)
    return size if jnp.dtype(dtype).itemsize == 8 else (size + 1) // 2


def epoch_of(step: int, shape: tuple[int, ...], dtype) -> int:
    """The epoch (a run of steps sharing one folded key) that ``step``'s normals of ``shape`` are
    drawn in: ``epoch_window`` depends on its first step only through this."""
    return step // _steps_per_epoch(_hashes_per_step(shape, dtype))


def _epoch_data(key, epoch):
    return jr.key_data(jr.fold_in(jr.fold_in(key, _STREAM_NORMAL), epoch))


def _epoch_key(key, step, words_per_step: int, window=None):
    """Key for the epoch holding ``step`` and the step's offset within the 32-bit counter.

    ``window`` (from ``epoch_window``) holds the keys of the two epochs a run of steps can
    touch, so that each step only selects one instead of hashing two ``fold_in`` s.
    """
    per_epoch = _steps_per_epoch(words_per_step)
    epoch = step // per_epoch
    if window is None:
        k = _epoch_data(key, epoch)
    else:
        first, k_first, k_next = window
        k = jnp.where(epoch == first, k_first, k_next)
    offset = (step % per_epoch).astype(jnp.uint32) * jnp.uint32(words_per_step)
    return k, offset


def epoch_window(key, first_step, n_steps: int, shape: tuple[int, ...], dtype):
    """The epoch keys that the normals of ``shape`` at steps ``first_step … first_step + n_steps − 1``
    use, computed once for the run of steps (``None`` if the run can span more than two epochs).

    Passed to ``standard_normals`` as ``window``; the draws are bit-identical without it.
    """
    per_epoch = _steps_per_epoch(_hashes_per_step(shape, dtype))
    if n_steps > per_epoch:
        return None
    first = epoch_of(first_step, shape, dtype)
    return first, _epoch_data(key, first), _epoch_data(key, first + 1)


def _uniforms_from_bits(bits):
    """uint32 or uint64 random bits → symmetric uniforms u ∈ (−1, 1) of the same width."""
    if bits.dtype == jnp.uint64:
        one = lax.bitcast_convert_type((bits >> 12) | jnp.uint64(0x3FF0000000000000), jnp.float64)
    else:
        one = lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    # one ∈ [1, 2)  →  u ∈ (−1, 1) symmetric, avoiding ±1 exactly.
    return (one - 1.5) * 2.0 + jnp.finfo(one.dtype).eps


def standard_uniforms(key, path_ids, step, shape: tuple[int, ...], dtype, window=None,
                      path_last: bool = False):
    """The first stage of ``standard_normals``: the symmetric uniforms u ∈ (−1, 1) behind the
    normals of ``shape`` for every path in ``path_ids`` at ``step``, as a tuple of ``(B, pairs)``
    arrays: ``(u,)`` in float64 (one normal per 64-bit hash), ``(u_first, u_second)`` in float32,
    the two 32-bit words of each hash (normal j < pairs is word 0 of pair j, normal j ≥ pairs
    word 1 of pair j − pairs; the last one is dropped when the size is odd). With ``path_last``
    the float32 words come joined in one ``(2 · pairs, B)`` array, ``(u,)``. The numbers do not
    depend on the layout: the hash is integer arithmetic.

    Path-first, each hash is written once and its two words leave in two arrays: XLA's CPU
    compiler runs that about 2× faster than one array with every element selecting its word, and
    faster than a ``complex64`` array holding both words. (The compiled code still evaluates
    each hash twice, once in the loop of each word; packing both words in one ``uint64`` makes
    it once, with the same numbers, but was not faster on every noise shape.) Path-last, where
    a word fills whole rows, one joined array is faster: the engine's loop then carries one
    array, with no separate concatenation and fewer copies per step (``benchmarks/RESULTS.md``,
    eighth session).
    """
    b = path_ids.shape[0]
    wide = jnp.dtype(dtype).itemsize == 8
    pairs = _hashes_per_step(shape, dtype)
    kd, offset = _epoch_key(key, step, pairs, window)
    counters = offset + jnp.arange(pairs, dtype=jnp.uint32)
    if path_last:
        x0 = jnp.broadcast_to(path_ids[None, :], (pairs, b))
        x1 = jnp.broadcast_to(counters[:, None], (pairs, b))
    else:
        x0 = jnp.broadcast_to(path_ids[:, None], (b, pairs))
        x1 = jnp.broadcast_to(counters[None, :], (b, pairs))
    h0, h1 = threefry2x32(kd, x0, x1)
    if wide:
        return (_uniforms_from_bits((h0.astype(jnp.uint64) << 32) | h1.astype(jnp.uint64)),)
    if path_last:
        return (jnp.concatenate([_uniforms_from_bits(h0), _uniforms_from_bits(h1)], axis=0),)
    return _uniforms_from_bits(h0), _uniforms_from_bits(h1)


def normals_from_uniforms(u, shape: tuple[int, ...], dtype, path_last: bool = False):
    """The second stage of ``standard_normals``: √2·erfinv(u) of the tuple from
    ``standard_uniforms``, laid out and shaped ``(B, *shape)`` (``(*shape, B)`` with
    ``path_last``, from uniforms drawn with ``path_last``)."""
    def normal(v):
        erfinv = lax.erf_inv if v.dtype.itemsize == 8 else erfinv_f32
        return jnp.sqrt(jnp.asarray(2.0, v.dtype)) * erfinv(v)

    axis = 0 if path_last else 1
    if len(u) > 1:
        # The two words' uniforms are joined before the erfinv, behind a barrier: otherwise XLA
        # fuses the concatenate into the transform and the step, where it runs per element
        # (≈ 2.5× slower), and the transform on the half-width arrays vectorizes poorly.
        u = (jnp.concatenate(lax.optimization_barrier(u), axis=axis),)
    n = math.prod(shape)
    if path_last:
        z = normal(u[0][:n])
        return z.astype(dtype).reshape((*shape, z.shape[1]))
    z = normal(u[0][:, :n])
    return z.astype(dtype).reshape((z.shape[0], *shape))


def standard_normals(key, path_ids, step, shape: tuple[int, ...], dtype, window=None):
    """N(0, I) draws of ``shape`` for every path in ``path_ids`` (uint32, ``(B,)``) at ``step``.

    The composition of ``standard_uniforms`` and ``normals_from_uniforms``; the engine runs the two
    stages one loop iteration apart (the hash of step k + 1 beside the erfinv of step k), because
    XLA's CPU compiler runs them fused 2–3× slower than split (benchmarks/generator_fusion.py).
    """
    u = standard_uniforms(key, path_ids, step, shape, dtype, window)
    return normals_from_uniforms(u, shape, dtype)


def path_step_keys(key, path_ids, step):
    """A ``jax.random`` key per path for ``step`` (for samplers other than standard normal)."""
    kd = jr.key_data(jr.fold_in(jr.fold_in(key, _STREAM_KEYS), step))
    x1 = jnp.zeros_like(path_ids)
    h0, h1 = threefry2x32(kd, path_ids, x1)
    data = jnp.stack([h0, h1], axis=-1)
    return jax.vmap(lambda d: jr.wrap_key_data(d, impl="threefry2x32"))(data)

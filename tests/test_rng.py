"""The engine's counter-based normals: exact hash, accurate erfinv, right law, any noise shape."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.extend.random import threefry2x32_p
from scipy import special, stats

import sde_opt as so
from sde_opt.engine._rng import (
    _epoch_key,
    epoch_window,
    erfinv_f32,
    standard_normals,
    threefry2x32,
)


@pytest.mark.slow
def test_threefry_matches_jax_primitive_bit_for_bit():
    rng = np.random.default_rng(0)
    x0, x1 = (jnp.asarray(rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32))
              for _ in range(2))
    for seed in (0, 1, 2**31 + 5):
        kd = jax.random.key_data(jax.random.key(seed))
        ref = threefry2x32_p.bind(jnp.broadcast_to(kd[0], x0.shape),
                                  jnp.broadcast_to(kd[1], x0.shape), x0, x1)
        ours = jax.jit(threefry2x32)(kd, x0, x1)
        np.testing.assert_array_equal(np.asarray(ours[0]), np.asarray(ref[0]))
        np.testing.assert_array_equal(np.asarray(ours[1]), np.asarray(ref[1]))


def test_erfinv_f32_relative_error():
    x = np.concatenate([np.linspace(-0.999999, 0.999999, 400_001),
                        1.0 - np.logspace(-7, -1, 2001), -1.0 + np.logspace(-7, -1, 2001)])
    x = x.astype(np.float32)
    ours = np.asarray(jax.jit(erfinv_f32)(jnp.asarray(x)), dtype=np.float64)
    exact = special.erfinv(x.astype(np.float64))
    rel = np.abs(ours - exact) / np.maximum(np.abs(exact), 1e-30)
    assert rel.max() < 1e-6  # Giles' bound is < 4e-7 plus float32 rounding


def _reference_normals(key, ids, step, shape):
    """concatenate([h0, h1]) of jax's own threefry primitive, then √2·erfinv(2u − 1)."""
    size = int(np.prod(shape))
    pairs = (size + 1) // 2
    kd, offset = _epoch_key(key, step, pairs)
    x0 = jnp.broadcast_to(ids[:, None], (ids.size, pairs))
    x1 = jnp.broadcast_to(offset + jnp.arange(pairs, dtype=jnp.uint32), (ids.size, pairs))
    h0, h1 = threefry2x32_p.bind(jnp.broadcast_to(kd[0], x0.shape),
                                 jnp.broadcast_to(kd[1], x0.shape), x0, x1)
    bits = jnp.concatenate([h0, h1], axis=1)[:, :size]
    one = lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    u = (one - 1.5) * 2.0 + jnp.finfo(jnp.float32).eps
    return (jnp.sqrt(jnp.float32(2.0)) * erfinv_f32(u)).reshape((ids.size, *shape))


@pytest.mark.parametrize("shape", [(1,), (3,), (10,), (2, 3)])
@pytest.mark.slow
def test_layout_is_concatenated_pairs(shape):
    """Element j < pairs is word 0 of pair j, element j ≥ pairs word 1 of pair j − pairs."""
    key = jax.random.key(4)
    ids = jnp.arange(257, dtype=jnp.uint32) * 3
    ref_fn = jax.jit(_reference_normals, static_argnums=3)
    got_fn = jax.jit(standard_normals, static_argnums=(3, 4))
    for step in (0, 7, 123_456):
        ref = ref_fn(key, ids, jnp.int32(step), shape)
        got = got_fn(key, ids, jnp.int32(step), shape, jnp.float32)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))


@pytest.mark.slow
def test_normals_have_the_standard_normal_law():
    key = jax.random.key(11)
    ids = jnp.arange(20_000, dtype=jnp.uint32)
    z = np.concatenate([np.asarray(standard_normals(key, ids, jnp.int32(k), (10,), jnp.float32))
                        for k in range(5)]).ravel().astype(np.float64)
    n = z.size  # 1e6
    assert abs(z.mean()) <= 4 / np.sqrt(n)
    assert abs(z.var() - 1) <= 4 * np.sqrt(2 / n)
    assert abs(np.mean(z**4) - 3) <= 4 * np.sqrt(96 / n)  # Var z⁴ = 105 − 9
    assert stats.kstest(z[:200_000], "norm").pvalue > 1e-4
    # consecutive steps and neighbouring paths are uncorrelated
    a = np.asarray(standard_normals(key, ids, jnp.int32(0), (10,), jnp.float32))
    b = np.asarray(standard_normals(key, ids, jnp.int32(1), (10,), jnp.float32))
    assert abs(np.mean(a * b)) <= 4 / np.sqrt(a.size)
    assert abs(np.mean(a[1:] * a[:-1])) <= 4 / np.sqrt(a.size)


@pytest.mark.slow
def test_one_dimensional_noise_in_float32():
    """A 1-d state draws one word per step (this overflowed the epoch arithmetic before)."""
    chain = so.EulerMaruyama(so.LinearSDE([[-1.0]], 0.5), 0.01)
    r = so.simulate(chain, jnp.zeros(1), 0, n_paths=4000, n_steps=200)
    var = 0.25 * 0.01 * sum(0.99 ** (2 * k) for k in range(200))
    x = r.final[:, 0].astype(np.float64)
    assert abs(x.var() - var) <= 4 * var * np.sqrt(2 / x.size)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_epoch_window_gives_the_keys_of_each_step_across_an_epoch_boundary(dtype):
    """The engine computes a segment's epoch keys once (``epoch_window``); each step's key and
    counter offset must be those of the per-step computation, on both sides of a boundary."""
    shape = (10,)
    pairs = 10 if jnp.dtype(dtype).itemsize == 8 else 5
    per_epoch = (2**32 - 1) // pairs
    key = jax.random.key(9)
    with jax.enable_x64(jnp.dtype(dtype).itemsize == 8):
        for first in (0, per_epoch - 3, 2 * per_epoch - 1):
            window = epoch_window(key, jnp.int32(first), 8, shape, dtype)
            for step in range(first, first + 8):
                s = jnp.int32(step)
                want = _epoch_key(key, s, pairs)
                got = _epoch_key(key, s, pairs, window)
                np.testing.assert_array_equal(np.asarray(got[0]), np.asarray(want[0]))
                assert int(got[1]) == int(want[1])
        # a run longer than an epoch cannot be served by two keys
        assert epoch_window(key, jnp.int32(0), per_epoch + 1, shape, dtype) is None


def test_engine_draws_step_k_normals_at_step_k_across_segments():
    """The engine pipelines its normals (the uniforms of step k + 1 drawn during step k): a driftless
    unit-noise Euler–Maruyama path is x₀ + Σ_k z_k with z_k = ``standard_normals(key, i, k)``, over
    two segments (600 steps run as 2 × 300). A step drawn one iteration early or late, or a segment
    restarting the wrong counter, moves the sum by O(1); float64 summation order allows ≈ 1e-12."""
    with jax.enable_x64(True):
        chain = so.EulerMaruyama(so.LinearSDE(np.zeros(2), 1.0), 1.0)
        n, steps = 5, 600
        got = np.asarray(so.simulate(chain, jnp.zeros(2, jnp.float64), 3, n_paths=n,
                                     n_steps=steps).final)
        key = so._checks.check_key("test", "key", 3)
        ids = jnp.arange(n, dtype=jnp.uint32)
        z = jax.jit(jax.vmap(lambda k: standard_normals(key, ids, k, (2,), jnp.float64)))(
            jnp.arange(steps, dtype=jnp.int32))
        want = np.cumsum(np.asarray(z), axis=0)[-1]
        after = np.asarray(standard_normals(key, ids, jnp.int32(steps), (2,), jnp.float64))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # power: the sum of steps 1 … 600 (every draw one step late) is far from it
    assert np.max(np.abs(got - (want - np.asarray(z[0]) + after))) > 1e-3

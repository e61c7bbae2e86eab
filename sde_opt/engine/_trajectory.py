"""Run chains on supplied noise: pathwise comparisons and strong-order tests."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax


@eqx.filter_jit
def trajectory(chain, x0, noise, *, stride: int = 1):
    """Positions of ``chain`` driven by the given noise, for a batch of paths.

    Args:
        chain: any chain whose noise is an array (e.g. standard normals).
        x0: ``(n_paths, *shape)`` starts.
        noise: ``(n_paths, n_steps, *noise_shape)`` — the noise of every step.
        stride: keep every ``stride``-th position.

    Returns:
        ``(n_paths, n_steps // stride + 1, *shape)`` positions, starting with ``x0`` (for a pytree
        position, a pytree of such arrays).
    """

    def one_path(x, zs):
        def body(state, z):
            state = chain.step(state, z)
            return state, chain.position(state)

        state = chain.init(x)
        _, xs = lax.scan(body, state, zs)
        return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b], axis=0)[::stride],
                                      chain.position(state), xs)

    return jax.vmap(one_path)(x0, noise)


def coarsen_normals(z, factor: int):
    """Standard normals for a step ``factor`` times larger that share the same Brownian path.

    ``z`` has shape ``(n_paths, n_steps, *noise_shape)`` with ``n_steps`` divisible by
    ``factor``; returns ``(n_paths, n_steps // factor, *noise_shape)`` with
    z_coarse = Σ (factor consecutive z) / √factor (so √(kh) z_coarse = Σ √h z).
    """
    n, k = z.shape[:2]
    if k % factor:
        raise ValueError(f"coarsen_normals: {k} steps are not divisible by factor {factor}")
    z = z.reshape(n, k // factor, factor, *z.shape[2:])
    return z.sum(axis=2) / jnp.sqrt(jnp.asarray(factor, z.dtype))

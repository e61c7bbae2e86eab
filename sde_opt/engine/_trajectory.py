"""Run chains on supplied noise: pathwise comparisons and strong-order tests."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._chain import AbstractChain
from .._checks import check_array, check_instance, check_integer


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
    owner = "trajectory"
    check_instance(owner, "chain", chain, AbstractChain, "a chain (an algorithm, or a scheme "
                   "such as EulerMaruyama(sde, dt))")
    stride = check_integer(owner, "stride", stride, low=1)
    # x0: an array or a pytree of arrays (a pytree point), each with a leading n_paths axis
    leaves, treedef = jax.tree_util.tree_flatten_with_path(x0)
    if not leaves:
        raise TypeError(f"{owner}: x0 must be an array (n_paths, *shape) or a pytree of them; got "
                        f"{x0!r:.60}")
    arrays = [check_array(owner, "x0" + jax.tree_util.keystr(p), a) for p, a in leaves]
    noise = check_array(owner, "noise", noise)
    if any(a.ndim < 1 for a in arrays) or noise.ndim < 2:
        raise ValueError(f"{owner}: x0 must be (n_paths, *shape) and noise (n_paths, n_steps, "
                         f"*noise_shape); got x0 of shape {[a.shape for a in arrays]} and noise of "
                         f"shape {noise.shape}")
    n_paths = {a.shape[0] for a in arrays}
    if len(n_paths) != 1 or noise.shape[0] not in n_paths:
        raise ValueError(f"{owner}: x0 and noise must have one row per path (the same leading "
                         f"axis); got x0 {[a.shape for a in arrays]} and noise {noise.shape}")
    shape = getattr(chain, "point_shape", None)
    if shape is not None and _is_shape(shape) and len(arrays) == 1 \
            and tuple(arrays[0].shape[1:]) != tuple(shape):
        raise ValueError(f"{owner}: x0 must have shape (n_paths, *{tuple(shape)}) for this chain; "
                         f"got {arrays[0].shape}")
    want = _noise_shape(chain)
    if want is not None and tuple(noise.shape[2:]) != tuple(want):
        raise ValueError(f"{owner}: noise must have shape (n_paths, n_steps, *{tuple(want)}) for "
                         f"this chain; got {noise.shape}")
    x0 = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(x0),
                                      [jnp.asarray(a) for a in arrays])
    return _trajectory(chain, x0, jnp.asarray(noise), stride)


def _is_shape(s) -> bool:
    return isinstance(s, tuple) and all(isinstance(i, (int, np.integer)) for i in s)


def _noise_shape(chain):
    sampler = getattr(chain, "noise", None)
    shape = getattr(sampler, "shape", None)
    return tuple(shape) if _is_shape(shape) else None


@eqx.filter_jit
def _trajectory(chain, x0, noise, stride: int):

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
    owner = "coarsen_normals"
    factor = check_integer(owner, "factor", factor, low=1)
    z = jnp.asarray(check_array(owner, "z", z, ndim=tuple(range(2, 10))))
    n, k = z.shape[:2]
    if k % factor:
        raise ValueError(f"{owner}: factor must divide the number of steps ({k}, the second axis "
                         f"of z); got factor={factor}")
    z = z.reshape(n, k // factor, factor, *z.shape[2:])
    return z.sum(axis=2) / jnp.sqrt(jnp.asarray(factor, z.dtype))

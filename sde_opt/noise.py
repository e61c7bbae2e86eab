"""Noise samplers: the randomness one step of a chain consumes.

A sampler draws the noise of *one* step from a key: ``sampler.sample(key, dtype)``. Most chains
consume standard normals ([`StandardNormal`][sde_opt.StandardNormal]); the engine recognizes that case and
draws them with a fast counter-based generator keyed by (key, path, step), fused into the step. Other samplers
(non-Gaussian data, minibatch indices) are called with a per-path, per-step key.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ._checks import check_integer


class StandardNormal(eqx.Module):
    """z ~ N(0, I) of a fixed shape."""

    shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, shape):
        ok = isinstance(shape, tuple) and all(
            isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)) and i >= 0
            for i in shape)
        if not ok:
            raise TypeError(f"StandardNormal: shape must be a tuple of integers >= 0; got "
                            f"{shape!r} ({type(shape).__name__})")
        self.shape = tuple(int(i) for i in shape)

    def sample(self, key, dtype=jnp.float32):
        return jr.normal(key, self.shape, dtype)


class MinibatchIndices(eqx.Module):
    """``batch_size`` indices drawn uniformly from {0, …, n − 1} with replacement."""

    n: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)

    def __init__(self, n, batch_size):
        self.n = check_integer("MinibatchIndices", "n", n, low=1)
        self.batch_size = check_integer("MinibatchIndices", "batch_size", batch_size, low=1)

    def sample(self, key, dtype=None):
        return jr.randint(key, (self.batch_size,), 0, self.n)


class Joint(eqx.Module):
    """Independent noises of one step drawn together; a draw is a tuple, one entry per part.

    Build it with ``joint``, which fuses parts that are all standard normals into one flat
    [`StandardNormal`][sde_opt.StandardNormal] instead (so the engine's fast generator draws them); ``unjoin``
    recovers the parts from either kind of draw.
    """

    parts: tuple

    def sample(self, key, dtype=jnp.float32):
        keys = jr.split(key, len(self.parts))
        return tuple(p.sample(k, dtype) for p, k in zip(self.parts, keys, strict=True))


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def joint(*parts):
    """One sampler for several independent noises of one step.

    If every part is a [`StandardNormal`][sde_opt.StandardNormal], the result is a single flat
    ``StandardNormal`` of the total size (the parts concatenated in order, each raveled) — the engine draws it
    with its fast counter-based generator. Otherwise it is a ``Joint`` whose draw is a tuple.
    """
    if all(isinstance(p, StandardNormal) for p in parts):
        return StandardNormal((sum(_size(p.shape) for p in parts),))
    return Joint(tuple(parts))


def unjoin(parts, draw) -> tuple:
    """Split a draw of ``joint(*parts)`` into one draw per part (the inverse of ``joint``)."""
    if isinstance(draw, tuple):
        return draw
    out, start = [], 0
    for p in parts:
        n = _size(p.shape)
        out.append(draw[start:start + n].reshape(p.shape))
        start += n
    return tuple(out)

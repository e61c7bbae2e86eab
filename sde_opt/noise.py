"""Noise samplers: the randomness one step of a chain consumes.

A sampler draws the noise of *one* step from a key: ``sampler.sample(key, dtype)``. Most chains
consume standard normals (:class:`StandardNormal`); the engine recognizes that case and draws them
with a fast counter-based generator keyed by (key, path, step), fused into the step. Other samplers
(non-Gaussian data, minibatch indices) are called with a per-path, per-step key.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr


class StandardNormal(eqx.Module):
    """z ~ N(0, I) of a fixed shape."""

    shape: tuple[int, ...] = eqx.field(static=True)

    def sample(self, key, dtype=jnp.float32):
        return jr.normal(key, self.shape, dtype)

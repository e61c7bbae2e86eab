"""Where the parameters live: Euclidean space, or (products of) unit spheres.

A geometry supplies three maps used by algorithms and SDE schemes:

* ``project(x, v)`` — the orthogonal projection of ``v`` onto the tangent space at ``x``;
* ``radial_scale(x)`` — the factor that maps ``x`` back onto the manifold (``1`` in ℝᵈ);
* ``retract(x) = radial_scale(x) * x``.

:class:`Sphere` acts along the last axis, so an array of shape ``(k, d)`` is a point of the product
of ``k`` unit spheres in ℝᵈ (the normalized-feature neural-collapse landscape).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr


class Euclidean(eqx.Module):
    """Flat ℝᵈ: projection and retraction are the identity."""

    def project(self, x, v):
        return v

    def radial_scale(self, x):
        return jnp.ones((), x.dtype)

    def retract(self, x):
        return x

    def random_point(self, key, shape, dtype=jnp.float32):
        return jr.normal(key, shape, dtype)


class Sphere(eqx.Module):
    """Unit sphere(s) Sᵈ⁻¹ along the last axis: P_x v = v − (⟨x, v⟩/⟨x, x⟩) x, retraction x/‖x‖."""

    def project(self, x, v):
        return v - (jnp.sum(x * v, -1, keepdims=True) / jnp.sum(x * x, -1, keepdims=True)) * x

    def radial_scale(self, x):
        return 1.0 / jnp.linalg.norm(x, axis=-1, keepdims=True)

    def retract(self, x):
        return x * self.radial_scale(x)

    def random_point(self, key, shape, dtype=jnp.float32):
        """A point drawn uniformly on the sphere(s)."""
        return self.retract(jr.normal(key, shape, dtype))

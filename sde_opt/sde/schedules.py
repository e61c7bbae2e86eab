"""Schedules: a hyperparameter as a function of continuous time (annealing, warm-up)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_array


class PiecewiseConstant(eqx.Module):
    r"""v(t) = values[s] for boundaries[s−1] ≤ t < boundaries[s] (s = 0 … S−1).

    Args:
        values: ``(S,)`` the value of each stage.
        boundaries: ``(S − 1,)`` strictly increasing times at which the next stage starts.
    """

    values: jnp.ndarray
    boundaries: jnp.ndarray

    def __init__(self, values, boundaries):
        v = jnp.asarray(check_array("PiecewiseConstant", "values", values, ndim=1))
        b = jnp.asarray(check_array("PiecewiseConstant", "boundaries", boundaries, ndim=1,
                                    nonempty=False))
        if v.ndim != 1 or b.ndim != 1 or b.shape[0] != v.shape[0] - 1:
            raise ValueError("PiecewiseConstant: values must be (S,) and boundaries (S - 1,); got "
                             f"shapes {v.shape} and {b.shape}")
        if b.shape[0] > 1 and not np.all(np.diff(np.asarray(b)) > 0):
            raise ValueError(f"PiecewiseConstant: boundaries must increase; got {np.asarray(b)}")
        self.values = v
        self.boundaries = b

    def __call__(self, t):
        s = jnp.sum(jnp.asarray(t, self.boundaries.dtype)[..., None] >= self.boundaries, axis=-1)
        return self.values[s]

r"""A user's own problem in a few lines: a per-example loss over a pytree of parameters.

    problem = so.FiniteSum(loss, data, params0, batch_size=16)

with ``loss(params, example) -> scalar`` and ``data`` a pytree of arrays whose leading axis runs
over the n examples. The package derives everything an experiment needs:

* the objective f(θ) = (1/n) Σᵢ ℓ(θ, xᵢ) and its gradient (the field);
* the minibatch oracle ĝ(θ) = (1/b) Σ_{j ≤ b} ∇ℓ(θ, x_{I_j}), indices I_j drawn uniformly with
  replacement (the noise sampler is :class:`MinibatchIndices`);
* the exact noise covariance of that oracle,
  Σ(θ) = (1/b) [ (1/n) Σᵢ gᵢ gᵢᵀ − ḡ ḡᵀ ],  gᵢ = ∇ℓ(θ, xᵢ), ḡ = ∇f(θ);
* a cheap factor of it from the per-example gradients, with no eigendecomposition:
  B(θ) w = (1/√(b n)) Σᵢ wᵢ (gᵢ − ḡ) for w ~ N(0, I_n), so B Bᵀ = Σ exactly.

Parameters and results stay pytrees (a dict of weights goes in, a dict comes out). The oracle is
run once at construction (abstractly) so that a wrong loss or data layout fails with a readable
error.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._checks import check_array, check_callable, check_instance
from ..geometry import AbstractGeometry, Euclidean
from ..noise import MinibatchIndices
from ._base import AbstractProblem


def _check_int(owner, name, v, low):
    if isinstance(v, bool) or not isinstance(v, int) and not (hasattr(v, "dtype") and
                                                              jnp.issubdtype(v.dtype, jnp.integer)):
        raise TypeError(f"{owner}: {name} must be an integer >= {low}; got {v!r}")
    if int(v) < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}; got {int(v)}")
    return int(v)


def _check_inputs(owner, loss, data, params, geometry):
    """The loss is callable, the data a non-empty pytree of finite real arrays with at least one
    example, the point a pytree of real arrays, the geometry a geometry; returns the data as
    device arrays."""
    check_callable(owner, "loss", loss, "a function loss(params, example) -> scalar")
    if geometry is not None:
        check_instance(owner, "geometry", geometry, AbstractGeometry,
                       "a geometry (e.g. so.Sphere()) or None for ℝᴰ")
    leaves = jax.tree_util.tree_leaves_with_path(data)
    if not leaves:
        raise ValueError(f"{owner}: data must be a pytree of arrays with a leading example axis; "
                         f"got {data!r:.60}")
    for path, leaf in leaves:
        a = check_array(owner, "data" + jax.tree_util.keystr(path), leaf, nonempty=False)
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError(f"{owner}: data must have a leading example axis with at least one "
                             f"example; got data{jax.tree_util.keystr(path)} of shape {a.shape}")
    point = jax.tree_util.tree_leaves_with_path(params)
    if not point:
        raise ValueError(f"{owner}: params must be an array or a pytree of arrays; got "
                         f"{params!r:.60}")
    for path, leaf in point:
        a = check_array(owner, "params" + jax.tree_util.keystr(path), leaf, finite=False)
        if a.size == 0:
            raise ValueError(f"{owner}: params must not be empty; got params"
                             f"{jax.tree_util.keystr(path)} of shape {a.shape}")
    return jax.tree_util.tree_map(jnp.asarray, data)


class FiniteSum(AbstractProblem):
    r"""Minimize f(θ) = (1/n) Σᵢ ℓ(θ, xᵢ) with minibatch gradients (see the module docstring).

    Args:
        loss: ``loss(params, example) -> scalar``; ``example`` is one slice of ``data``.
        data: a pytree of arrays with a common leading axis of length n (the examples).
        params: a point with the parameters' structure (shapes and dtype are taken from it).
        batch_size: b ≥ 1, the minibatch size of one oracle call.
        geometry: where the parameters live (default ℝᴰ).
    """

    loss: Callable = eqx.field(static=True)
    data: object
    params_shape: object = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    n: int = eqx.field(static=True)
    geometry: AbstractGeometry = eqx.field(static=True, default=Euclidean())

    def __init__(self, loss, data, params, *, batch_size: int, geometry: AbstractGeometry | None = None):
        data = _check_inputs("FiniteSum", loss, data, params, geometry)
        geometry = Euclidean() if geometry is None else geometry
        ns = {int(a.shape[0]) if a.ndim else -1 for a in jax.tree_util.tree_leaves(data)}
        if len(ns) != 1 or -1 in ns:
            raise ValueError("FiniteSum: every leaf of data needs the same leading (example) axis; "
                             f"got leading lengths {sorted(ns)}")
        self.n = ns.pop()
        self.batch_size = _check_int("FiniteSum", "batch_size", batch_size, 1)
        self.loss = loss
        self.data = data
        self.params_shape = jax.tree_util.tree_map(lambda a: tuple(jnp.shape(a)), params)
        self.geometry = geometry
        example = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
        try:
            out = jax.eval_shape(lambda p: loss(p, jax.tree_util.tree_map(lambda a: a[0], data)),
                                 example)
        except Exception as e:  # noqa: BLE001 - re-raised with context
            raise ValueError(f"FiniteSum: loss(params, example) failed on one example (params of "
                             f"shapes {self.params_shape}); got {type(e).__name__}: {e}") from e
        if out.shape != ():
            raise ValueError(f"FiniteSum: loss must return a scalar per example; got shape {out.shape}")
        self.check(example)

    @property
    def shape(self):
        return self.params_shape

    @property
    def noise(self):
        return MinibatchIndices(self.n, self.batch_size)

    @property
    def factor_shape(self):
        return (self.n,)

    def _example(self, i):
        return jax.tree_util.tree_map(lambda a: a[i], self.data)

    def objective(self, params):
        losses = jax.vmap(lambda ex: self.loss(params, ex))(self.data)
        return jnp.mean(losses)

    def per_example_grads(self, params):
        """gᵢ = ∇ℓ(θ, xᵢ) for every example, as a pytree with a leading axis n."""
        return jax.vmap(lambda ex: jax.grad(self.loss)(params, ex))(self.data)

    def stochastic_grad(self, params, noise):
        batch = jax.tree_util.tree_map(lambda a: a[noise], self.data)
        grads = jax.vmap(lambda ex: jax.grad(self.loss)(params, ex))(batch)
        return jax.tree_util.tree_map(lambda g: jnp.mean(g, axis=0), grads)

    def _centred(self, params):
        g = jax.vmap(lambda gi: ravel_pytree(gi)[0])(self.per_example_grads(params))
        return g - jnp.mean(g, axis=0)

    def grad_noise_cov(self, params):
        c = self._centred(params)
        return (c.T @ c) / (self.n * self.batch_size)

    def grad_noise_factor(self, params, w):
        c = self._centred(params)
        unravel = ravel_pytree(params)[1]
        return unravel((w.reshape(-1) @ c) / jnp.sqrt(jnp.asarray(self.n * self.batch_size, c.dtype)))

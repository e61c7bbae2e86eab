r"""Your own SDE from two functions, with diffrax's argument order: ``drift(t, x)``,
``diffusion(t, x)``.

    sde = so.SDE(lambda t, x: -x, lambda t, x: 0.5, shape=(3,))        # an OU process in ℝ³
    chain = so.EulerMaruyama(sde, dt=0.01)
    so.simulate(chain, jnp.ones(3), key=0, n_paths=1_000, n_steps=500)
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.extend.core import Var
from jax.flatten_util import ravel_pytree

from ..geometry import AbstractGeometry, Euclidean
from ..problems._base import is_shape, tree_size
from ._base import AbstractSDE, ambient_drift

_KINDS = ("scalar", "diagonal", "matrix")


def _uses_first_argument(fn, t, x) -> bool:
    """True unless ``fn(t, x)``'s traced program provably ignores ``t`` (then the SDE is
    autonomous and schemes need not carry the time)."""
    closed = jax.make_jaxpr(fn)(t, x)
    jaxpr = closed.jaxpr
    t_vars = set(jaxpr.invars[:1])
    used = {v for eqn in jaxpr.eqns for v in eqn.invars if isinstance(v, Var)}
    used |= {v for v in jaxpr.outvars if isinstance(v, Var)}
    return bool(t_vars & used)


class SDE(AbstractSDE):
    r"""dX = a(t, X) dt + b(t, X) dW, given the two functions (the ``ODETerm`` / ``ControlTerm``
    vector fields of diffrax, without ``args``).

    ``diffusion(t, x)`` returns one of

    * a scalar σ: B = σ I (noise of the point's size);
    * a value shaped like ``x`` (an array, or a pytree like a pytree point): diagonal noise,
      dXᵢ = bᵢ dWᵢ;
    * for an array point, an array of shape ``(*x.shape, m)``: the matrix B with ``m`` noise
      dimensions (``(*x.shape, *noise_shape)`` in general).

    The kind is found once, abstractly, from ``shape`` (so a wrong return shape fails here with a
    readable error, not inside a compiled loop). The SDE is time dependent unless both functions
    provably ignore ``t`` (read from their traced programs); schemes then carry the step count
    ([`TimedState`][sde_opt.sde.TimedState]) and call them at t = k·dt.

    On a manifold (``geometry=so.Sphere()`` …) the equation is the one that stays on it:
    dX = P a dt + P B dW in the Itô sense with the geometry's Itô correction
    ([`AbstractSDE.drift`][sde_opt.AbstractSDE.drift] includes it; schemes that retract, such as
    [`EulerMaruyama`][sde_opt.EulerMaruyama], add it by themselves). So ``drift`` and
    ``diffusion`` may be given in ambient coordinates: only their tangent parts act. Brownian
    motion on S²: ``so.SDE(lambda t, x: 0.0 * x, lambda t, x: 1.0, shape=(3,),
    geometry=so.Sphere())``.

    Args:
        drift: ``drift(t, x)`` → a value like ``x``.
        diffusion: ``diffusion(t, x)`` → a scalar, a value like ``x`` or a ``(*x.shape, m)`` array.
        shape: the shape of a point: a tuple, or a pytree of tuples for a pytree point.
        geometry: where points live (default ℝᵈ).
    """

    drift_fn: Callable = eqx.field(static=True)
    diffusion_fn: Callable = eqx.field(static=True)
    shape: object = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    matrix_noise_shape: tuple = eqx.field(static=True)
    uses_time: bool = eqx.field(static=True)
    geometry: AbstractGeometry = eqx.field(static=True)

    def __init__(self, drift: Callable, diffusion: Callable, *, shape,
                 geometry: AbstractGeometry | None = None):
        owner = "SDE"
        for name, fn in (("drift", drift), ("diffusion", diffusion)):
            if not callable(fn):
                raise TypeError(f"{owner}: {name} must be a function ({name}(t, x), as in diffrax); "
                                f"got {fn!r}")
        if not (is_shape(shape) or (jax.tree_util.tree_leaves(shape, is_leaf=is_shape) and all(
                is_shape(s) for s in jax.tree_util.tree_leaves(shape, is_leaf=is_shape)))):
            raise TypeError(f"{owner}: shape must be a tuple of ints (the shape of a point), or a "
                            f"pytree of such tuples; got {shape!r}")
        if any(n < 0 for s in jax.tree_util.tree_leaves(shape, is_leaf=is_shape) for n in s):
            raise ValueError(f"{owner}: shape must have lengths >= 0; got {shape!r}")
        geometry = Euclidean() if geometry is None else geometry
        if not isinstance(geometry, AbstractGeometry):
            raise TypeError(f"{owner}: geometry must be an sde_opt geometry (so.Euclidean(), "
                            f"so.Sphere(), …); got {geometry!r}")
        self.drift_fn, self.diffusion_fn, self.geometry = drift, diffusion, geometry
        self.shape = shape
        x = jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct(s, jnp.float32), shape,
                                   is_leaf=is_shape)
        t = jax.ShapeDtypeStruct((), jnp.float32)
        like_x = jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), x)
        a = _abstract(owner, "drift", drift, t, x)
        if jax.tree_util.tree_map(lambda v: (v.shape, v.dtype), a) != like_x:
            raise ValueError(f"{owner}: drift(t, x) must return a value like x (shapes and dtypes "
                             f"{like_x}); got {jax.tree_util.tree_map(lambda v: (v.shape, v.dtype), a)}")
        b = _abstract(owner, "diffusion", diffusion, t, x)
        self.kind, self.matrix_noise_shape = _diffusion_kind(owner, b, x)
        self.uses_time = (_uses_first_argument(drift, t, x) or _uses_first_argument(diffusion, t, x))

    @property
    def time_dependent(self) -> bool:
        return self.uses_time

    @property
    def point_shape(self):
        return self.shape

    @property
    def noise_shape(self):
        if self.kind == "matrix":
            return self.matrix_noise_shape
        return self.shape if is_shape(self.shape) else (tree_size(self.shape),)

    def tangent_drift(self, x, t=0.0):
        return self.geometry.project(x, self.drift_fn(_time(t, x), x))

    def drift(self, x, t=0.0):
        return ambient_drift(self, x, self.tangent_drift(x, t), t=t)

    def diffusion(self, x, z, t=0.0):
        b = self.diffusion_fn(_time(t, x), x)
        if self.kind == "matrix":
            axes = len(self.matrix_noise_shape)
            bz = jnp.tensordot(b, z.astype(b.dtype), axes=axes)
        else:
            zs = z if is_shape(self.shape) else ravel_pytree(x)[1](z.reshape(-1))
            bz = jax.tree_util.tree_map(lambda bi, zi: bi * zi, b, zs) if self.kind == "diagonal" \
                else jax.tree_util.tree_map(lambda zi: b * zi, zs)
        return self.geometry.project(x, bz)


def _time(t, x):
    return jnp.asarray(t, jax.tree_util.tree_leaves(x)[0].dtype)


def _abstract(owner, name, fn, t, x):
    try:
        return jax.eval_shape(fn, t, x)
    except Exception as e:  # noqa: BLE001 - re-raised with the function's name
        raise ValueError(f"{owner}: {name}(t, x) failed on a point of shape "
                         f"{jax.tree_util.tree_map(lambda a: a.shape, x)}: {type(e).__name__}: {e}") from e


def _diffusion_kind(owner, b, x):
    """("scalar" | "diagonal" | "matrix", the matrix's noise shape) from the abstract output."""
    leaves_b, tree_b = jax.tree_util.tree_flatten(b)
    leaves_x, tree_x = jax.tree_util.tree_flatten(x)
    if len(leaves_b) == 1 and isinstance(leaves_b[0], jax.ShapeDtypeStruct) and leaves_b[0].shape == ():
        return "scalar", ()
    if tree_b == tree_x and all(lb.shape == lx.shape for lb, lx in zip(leaves_b, leaves_x)):
        return "diagonal", ()
    if (tree_x.num_leaves == 1 and len(leaves_b) == 1 and leaves_b[0].ndim > leaves_x[0].ndim
            and leaves_b[0].shape[: leaves_x[0].ndim] == leaves_x[0].shape):
        return "matrix", tuple(int(s) for s in leaves_b[0].shape[leaves_x[0].ndim:])
    got = jax.tree_util.tree_map(lambda a: a.shape, b)
    want = jax.tree_util.tree_map(lambda a: a.shape, x)
    raise ValueError(f"{owner}: diffusion(t, x) must return a scalar σ (B = σI), a value like x "
                     f"(diagonal noise, shapes {want}) or, for an array point, a matrix of shape "
                     f"(*x.shape, m); got {got}")


__all__ = ["SDE"]

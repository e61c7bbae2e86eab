r"""A user's own problem in a few lines: a per-example loss over a pytree point.

    problem = so.FiniteSum(loss, data, params0, batch_size=16)              # min_θ f(θ)
    game = so.FiniteSumGame(loss, data, (x0, y0), batch_size=16)            # min_x max_y f(x, y)

with ``loss(point, example) -> scalar`` and ``data`` a pytree of arrays whose leading axis runs
over the n examples. The package derives everything an experiment needs:

* the objective f(z) = (1/n) Σᵢ ℓ(z, xᵢ) and its field V (∇f for a minimization,
  (∇ₓf, −∇ᵧf) for a game);
* the minibatch oracle V̂(z) = (1/b) Σ_{j ≤ b} Vᵢ(z) at indices I_j drawn uniformly with
  replacement (the noise sampler is [`MinibatchIndices`][sde_opt.noise.MinibatchIndices]), Vᵢ the
  field of example i alone;
* the exact noise covariance of that oracle,
  Σ(z) = (1/b) [ (1/n) Σᵢ Vᵢ Vᵢᵀ − V̄ V̄ᵀ ],  V̄ = V(z);
* a cheap factor of it from the per-example fields, with no eigendecomposition:
  B(z) w = (1/√(b n)) Σᵢ wᵢ (Vᵢ − V̄) for w ~ N(0, I_n), so B Bᵀ = Σ exactly.

Points and results stay pytrees (a dict of weights goes in, a dict comes out). The loss is run
once at construction (abstractly) so that a wrong loss or data layout fails with a readable error.
[`FiniteSum`][sde_opt.FiniteSum] and [`FiniteSumGame`][sde_opt.FiniteSumGame] share all of this
through [`AbstractFiniteSum`][sde_opt.problems.finite_sum.AbstractFiniteSum]; they differ only in
the per-example field.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_array, check_callable, check_instance, check_integer, is_concrete
from ..geometry import AbstractGeometry, Euclidean
from ..noise import MinibatchIndices
from ._base import AbstractField, AbstractGame, AbstractProblem


def mean_covariance(rows, batch_size: int):
    """Σ = (1/b)[(1/n) Σᵢ rᵢrᵢᵀ − r̄r̄ᵀ]: the covariance of the mean of b rows drawn uniformly with
    replacement from the n rows ``(n, D)`` (each one example's flattened field)."""
    c = rows - jnp.mean(rows, axis=0)
    return (c.T @ c) / (rows.shape[0] * batch_size)


def mean_factor(rows, w, batch_size: int):
    """B w = (1/√(bn)) Σᵢ wᵢ (rᵢ − r̄) for ``w`` of shape ``(n,)``: B Bᵀ = ``mean_covariance``
    exactly, with no eigendecomposition."""
    c = rows - jnp.mean(rows, axis=0)
    return (w.reshape(-1) @ c) / jnp.sqrt(jnp.asarray(rows.shape[0] * batch_size, c.dtype))
def _check_inputs(owner, loss, data, params, geometry, point_name="params"):
    """The loss is callable, the data a non-empty pytree of finite real arrays with at least one
    example, the point a pytree of real arrays, the geometry a geometry; returns the data as
    device arrays."""
    check_callable(owner, "loss", loss, "a function loss(params, example) -> scalar")
    if geometry is not None:
        check_instance(owner, "geometry", geometry, AbstractGeometry,
                       "a geometry (e.g. so.Sphere()) or None for ℝᴰ")
    check_data_leaves(owner, "data", data)
    check_point_leaves(owner, point_name, params, finite=False)
    return jax.tree_util.tree_map(jnp.asarray, data)


def check_data_leaves(owner: str, name: str, data) -> None:
    """``data``: a non-empty pytree of finite real arrays, each with a leading example axis of
    length ≥ 1."""
    leaves = jax.tree_util.tree_leaves_with_path(data)
    if not leaves:
        raise ValueError(f"{owner}: {name} must be a pytree of arrays with a leading example axis; "
                         f"got {data!r:.60}")
    for path, leaf in leaves:
        a = check_array(owner, name + jax.tree_util.keystr(path), leaf, nonempty=False)
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError(f"{owner}: {name} must have a leading example axis with at least one "
                             f"example; got {name}{jax.tree_util.keystr(path)} of shape {a.shape}")


def check_point_leaves(owner: str, name: str, point, *, finite: bool = True) -> None:
    """``point``: an array or a non-empty pytree of non-empty real arrays (finite unless told)."""
    leaves = jax.tree_util.tree_leaves_with_path(point)
    if not leaves:
        raise ValueError(f"{owner}: {name} must be an array or a pytree of arrays; got "
                         f"{point!r:.60}")
    for path, leaf in leaves:
        a = check_array(owner, name + jax.tree_util.keystr(path), leaf, finite=finite)
        if a.size == 0:
            raise ValueError(f"{owner}: {name} must not be empty; got {name}"
                             f"{jax.tree_util.keystr(path)} of shape {a.shape}")


def check_examples(owner: str, name: str, data):
    """``data`` as a pytree of arrays with one leading example axis, and its length n; a clear
    error naming ``owner`` and ``name`` otherwise."""
    if not jax.tree_util.tree_leaves(data):
        raise ValueError(f"{owner}: {name} must be a pytree of arrays with a leading example axis; "
                         f"got {data!r}")
    data = jax.tree_util.tree_map(jnp.asarray, data)
    ns = {int(a.shape[0]) if a.ndim else -1 for a in jax.tree_util.tree_leaves(data)}
    if len(ns) != 1 or -1 in ns:
        raise ValueError(f"{owner}: every leaf of {name} needs the same leading (example) axis; "
                         f"got leading lengths {sorted(ns)}")
    return data, ns.pop()


def _point_dtype(point):
    """The floating dtype of a point's first leaf (float32 for integer or Python numbers)."""
    leaf = jnp.asarray(jax.tree_util.tree_leaves(point)[0])
    return leaf.dtype if jnp.issubdtype(leaf.dtype, jnp.floating) else jnp.float32


class AbstractFiniteSum(AbstractField):
    r"""What [`FiniteSum`][sde_opt.FiniteSum] and [`FiniteSumGame`][sde_opt.FiniteSumGame] share
    (module docstring): the data, the minibatch oracle, the exact Σ and its factor.

    A subclass gives the field of one example, ``example_field(z, example)``, and the names its
    kind of problem uses for the oracle (``stochastic_grad`` / ``stochastic_field``, …).
    """

    loss: Callable = eqx.field(static=True)
    data: object
    params_shape: object = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    n: int = eqx.field(static=True)

    def _setup(self, owner, loss, data, point, batch_size, geometry, point_name="params") -> None:
        """Check and store the loss, data and batch size; run the loss once, abstractly."""
        data = _check_inputs(owner, loss, data, point, geometry, point_name)
        data, self.n = check_examples(owner, "data", data)
        self.batch_size = check_integer(owner, "batch_size", batch_size, low=1)
        self.loss = loss
        self.data = data
        self.params_shape = jax.tree_util.tree_map(lambda a: tuple(jnp.shape(a)), point)
        self.geometry = Euclidean() if geometry is None else geometry
        example = jax.tree_util.tree_map(lambda a: jnp.asarray(a, _point_dtype(point)), point)
        try:
            out = jax.eval_shape(lambda p: loss(p, jax.tree_util.tree_map(lambda a: a[0], data)),
                                 example)
        except Exception as e:  # noqa: BLE001 - re-raised with context
            raise ValueError(f"{owner}: loss({point_name}, example) failed on one example (is "
                             f"{point_name} the point loss expects?); got {point_name} = "
                             f"{point!r:.60}: {type(e).__name__}: {e}") from e
        if not (isinstance(out, jax.ShapeDtypeStruct) and out.shape == ()):
            got = getattr(out, "shape", type(out).__name__)
            raise ValueError(f"{owner}: loss must return a scalar per example; got shape {got}")
        self.check(example)

    @abc.abstractmethod
    def example_field(self, z, example):
        """Vᵢ(z): the field of the loss of one example."""

    @property
    def shape(self):
        return self.params_shape

    @property
    def noise(self):
        return MinibatchIndices(self.n, self.batch_size)

    @property
    def factor_shape(self):
        return (self.n,)

    def objective(self, z):
        """f(z) = (1/n) Σᵢ ℓ(z, xᵢ)."""
        return jnp.mean(jax.vmap(lambda ex: self.loss(z, ex))(self.data))

    def per_example_fields(self, z):
        """Vᵢ(z) for every example, as a pytree like ``z`` with a leading axis n."""
        return jax.vmap(lambda ex: self.example_field(z, ex))(self.data)

    def minibatch_field(self, z, indices):
        """The oracle: (1/b) Σ_j V_{I_j}(z) for the drawn ``indices`` (shape ``(b,)``)."""
        batch = jax.tree_util.tree_map(lambda a: a[indices], self.data)
        fields = jax.vmap(lambda ex: self.example_field(z, ex))(batch)
        return jax.tree_util.tree_map(lambda g: jnp.mean(g, axis=0), fields)

    def _rows(self, z):
        return jax.vmap(lambda gi: ravel_pytree(gi)[0])(self.per_example_fields(z))

    def minibatch_cov(self, z):
        """Σ(z) = (1/b)[(1/n) Σᵢ VᵢVᵢᵀ − V̄V̄ᵀ], ``(D, D)`` in ``ravel_pytree`` order."""
        return mean_covariance(self._rows(z), self.batch_size)

    def minibatch_factor(self, z, w):
        """B(z) w = (1/√(bn)) Σᵢ wᵢ (Vᵢ − V̄) for ``w`` of shape ``(n,)``: B Bᵀ = Σ exactly."""
        return ravel_pytree(z)[1](mean_factor(self._rows(z), w, self.batch_size))


class FiniteSum(AbstractFiniteSum, AbstractProblem):
    r"""Minimize f(θ) = (1/n) Σᵢ ℓ(θ, xᵢ) with minibatch gradients (see the module docstring).

    Args:
        loss: ``loss(params, example) -> scalar``; ``example`` is one slice of ``data``.
        data: a pytree of arrays with a common leading axis of length n (the examples).
        params: a point with the parameters' structure (shapes and dtype are taken from it).
        batch_size: b ≥ 1, the minibatch size of one oracle call.
        geometry: where the parameters live (default ℝᴰ).
    """

    def __init__(self, loss, data, params, *, batch_size: int, geometry: AbstractGeometry | None = None):
        self._setup("FiniteSum", loss, data, params, batch_size, geometry)

    def example_field(self, params, example):
        """gᵢ = ∇ℓ(θ, xᵢ)."""
        return jax.grad(self.loss)(params, example)

    def per_example_grads(self, params):
        """gᵢ = ∇ℓ(θ, xᵢ) for every example, as a pytree with a leading axis n."""
        return self.per_example_fields(params)

    def stochastic_grad(self, params, noise):
        return self.minibatch_field(params, noise)

    def grad_noise_cov(self, params):
        return self.minibatch_cov(params)

    def grad_noise_factor(self, params, w):
        return self.minibatch_factor(params, w)


class FiniteSumGame(AbstractFiniteSum, AbstractGame):
    r"""The game min_x max_y f(x, y) = (1/n) Σᵢ ℓ((x, y), xᵢ) with minibatch fields.

    The field of one example is Vᵢ = (∇ₓℓᵢ, −∇ᵧℓᵢ); the oracle, the exact Σ and its factor are
    those of [`FiniteSum`][sde_opt.FiniteSum] (module docstring) for this field. x and y may be
    pytrees (e.g. dicts of weights). Y is ℝⁿ unless a projection is given: the game algorithms
    (GDA, OGDA, extragradient, GDmax) then take every ascent step as y ← P_Y(y + η_y ∇ᵧf), and a
    start outside Y is refused.

    Example — robust least squares, y the adversary's per-example weights in a ball:

        def loss(z, ex):
            x, y = z
            return y[ex["i"]] * (ex["a"] @ x - ex["b"]) ** 2 / 2 + lam * x @ x / 2

        game = so.FiniteSumGame(loss, {"a": a, "b": b, "i": np.arange(n)}, (x0, y0),
                                batch_size=8, project_y=lambda y: y / max(1, ‖y‖/r))

    Args:
        loss: ``loss((x, y), example) -> scalar``; ``example`` is one slice of ``data``.
        data: a pytree of arrays with a common leading axis of length n (the examples).
        point: a pair ``(x, y)`` with the players' structure (shapes and dtype are taken from it).
        batch_size: b ≥ 1, the minibatch size of one oracle call.
        project_y: P_Y, a function ``y -> y`` onto the maximizer's constraint set (default: none,
            Y = the whole space). It must be a projection (P_Y(P_Y(y)) = P_Y(y)).
        geometry: where the pair lives (default flat).
    """

    projection: Callable | None = eqx.field(static=True)

    def __init__(self, loss, data, point, *, batch_size: int, project_y: Callable | None = None,
                 geometry: AbstractGeometry | None = None):
        owner = "FiniteSumGame"
        if not (isinstance(point, (tuple, list)) and len(point) == 2):
            raise TypeError(f"{owner}: point must be a pair (x, y) (each an array or a pytree); got "
                            f"{type(point).__name__}"
                            + (f" of length {len(point)}" if isinstance(point, (tuple, list)) else ""))
        if project_y is not None and not callable(project_y):
            raise TypeError(f"{owner}: project_y must be a function y -> P_Y(y) (or None); got "
                            f"{project_y!r}")
        self.projection = project_y
        self._setup(owner, loss, data, tuple(point), batch_size, geometry, "point")

    def example_field(self, z, example):
        """Vᵢ = (∇ₓℓ, −∇ᵧℓ) for one example."""
        gx, gy = jax.grad(self.loss)(z, example)
        return (gx, jax.tree_util.tree_map(jnp.negative, gy))

    def stochastic_field(self, z, noise):
        return self.minibatch_field(z, noise)

    def noise_cov(self, z):
        return self.minibatch_cov(z)

    def noise_factor(self, z, w):
        return self.minibatch_factor(z, w)

    def project_y(self, y):
        return y if self.projection is None else self.projection(y)

    def check_start(self, z, owner: str = "FiniteSumGame") -> None:
        """Raise ``ValueError`` if the start's y is not in Y (P_Y(y) ≠ y; concrete values only)."""
        if self.projection is None:
            return
        y = z[1]
        if not all(is_concrete(a) for a in jax.tree_util.tree_leaves(y)):
            return
        flat = np.asarray(ravel_pytree(y)[0], np.float64)
        gap = np.asarray(ravel_pytree(self.projection(y))[0], np.float64) - flat
        if np.linalg.norm(gap) > 1e-5 * (1.0 + np.linalg.norm(flat)):
            raise ValueError(f"{owner}: the start y must lie in the game's Y (project_y(y0) == y0); "
                             f"got ‖project_y(y0) − y0‖ = {np.linalg.norm(gap):.6g}")

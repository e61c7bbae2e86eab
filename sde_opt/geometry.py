r"""Where a point lives: ℝᵈ, unit spheres, the oblique manifold, and products over a pytree.

Every move an algorithm or a scheme makes goes through its geometry (jax-md's "every move goes
through the space"; geoopt's and Manopt's manifold methods), so no code elsewhere asks *which*
geometry it has. A geometry acts on a point ``x`` (an array, or a pytree of arrays for
[`Product`][sde_opt.Product]) and supplies:

* ``project(x, v)`` — the orthogonal projection P_x v of an ambient vector onto the tangent space;
* ``radial_scale(x)`` / ``retract(x)`` — the factor that maps an ambient point back onto the
  manifold, and the metric-projection retraction R(x) = radial_scale(x)·x (R_x(v) = R(x + v));
* ``exp(x, v)`` — the exponential map, where it has a closed form; ``log(x, y)`` — its inverse,
  the tangent vector at ``x`` pointing along the minimizing geodesic to ``y`` with length
  ``dist(x, y)``, the geodesic distance (product metric: √(Σ per-factor distances²));
* ``transport(x, y, v)`` — a vector transport from T_x to T_y: the projection P_y v (what geoopt's
  ``retr_transp`` and Manopt's ``transp`` use on spheres; the identity in ℝᵈ), which carries a
  momentum buffer to the next iterate's tangent space;
* ``ito_correction(x, jac)`` — the drift c(x) that keeps an embedded Itô SDE on the manifold. For
  dX = P_X a dt + P_X B dW on a unit sphere, d‖X‖² = 2⟨X, dX⟩ + tr(P B Bᵀ P) dt, so the ambient Itô
  SDE that stays on the sphere is

      dX = (P_X a − ½ tr(P_X B Bᵀ P_X) X) dt + P_X B dW          (one sphere; per sphere otherwise)

  (Brownian motion on S^{d−1}: B = I, c = −(d−1)/2·X). A retraction-based scheme adds this drift by
  itself at second order (R(x + δ) = x + δ − ½‖δ‖²x + O(δ³)), so our projected Euler–Maruyama
  steps with the tangent drift only, while a solver that does not retract (diffrax, torchsde)
  needs the corrected drift: with it, all of them solve *the same equation*;
* ``weingarten(x, v)`` — the term that turns a Euclidean Jacobian into the Riemannian one. For a
  tangent field F on the sphere, the tangent part of d(P_x F)[u] is P ∇F u − ⟨x, F⟩ u, so the
  Riemannian Jacobian is P(∇F − diag(w))P with w = ``weingarten(x, F)`` (⟨xᵢ, Fᵢ⟩ on every entry
  of sphere i; zero in ℝᵈ). For F = ∇f this is the Riemannian Hessian P(∇²f − ⟨x, ∇f⟩ I)P;
* ``tangent_basis(x)`` — an orthonormal basis of the tangent space in flattened coordinates;
* ``random_point``, ``random_tangent`` and ``check_point`` (a clear error for a point off the
  manifold).

[`Sphere`][sde_opt.Sphere] acts along one axis (the last by default), so an array of shape ``(k, d)`` is a
point of the product of k spheres S^{d−1}; [`Oblique`][sde_opt.Oblique] is the d×K matrices whose *columns*
are unit vectors (the normalized-feature neural-collapse landscape); [`Product`][sde_opt.Product] combines
geometries over a pytree, e.g. ``Product((Euclidean(), Euclidean()))`` for a game state (x, y) or
``Product({"W": Oblique(), "H": Oblique()})``.
"""

from __future__ import annotations

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.flatten_util import ravel_pytree

from ._checks import check_integer, is_concrete


class AbstractGeometry(eqx.Module):
    """The contract of a geometry (see the module docstring)."""

    @property
    def is_flat(self) -> bool:
        """True when every map is the identity of ℝᵈ (no projection, no Itô correction)."""
        return False

    @abc.abstractmethod
    def project(self, x, v):
        """P_x v, the tangent part of ``v`` at ``x``."""

    @abc.abstractmethod
    def radial_scale(self, x):
        """The factor (broadcastable to ``x``) with which ``x`` is mapped back onto the manifold."""

    def retract(self, x):
        """R(x) = radial_scale(x) · x, the nearest point of the manifold."""
        return jax.tree_util.tree_map(lambda a, s: a * s, x, self.radial_scale(x))

    @abc.abstractmethod
    def exp(self, x, v):
        """The exponential map at ``x`` applied to the tangent vector ``v``."""

    @abc.abstractmethod
    def log(self, x, y):
        """The logarithm map: the tangent vector v at ``x`` with exp_x(v) = ``y`` and ‖v‖ = dist(x, y)."""

    @abc.abstractmethod
    def dist(self, x, y):
        """The geodesic distance between ``x`` and ``y`` (a scalar for the whole point)."""

    def transport(self, x, y, v):
        """Vector transport of the tangent vector ``v`` at ``x`` to the tangent space at ``y``:
        the projection P_y v (a transport for any embedded manifold; exact parallel transport
        only in ℝᵈ)."""
        return self.project(y, v)

    @abc.abstractmethod
    def ito_correction(self, x, jac):
        """The Itô drift c(x) keeping dX = a dt + B dW on the manifold.

        ``jac`` is B(x) as a pytree like ``x`` whose leaves have one extra trailing axis (the
        flattened noise dimension): ``jac_leaf[..., m]`` is the m-th column of B.
        """

    @abc.abstractmethod
    def weingarten(self, x, v):
        """w with the shape of ``x``: the Riemannian Jacobian of a field F is P(∇F − diag(w))P."""

    @abc.abstractmethod
    def random_point(self, key, shape, dtype=jnp.float32):
        """A random point (uniform on a compact manifold, standard normal in ℝᵈ)."""

    def random_tangent(self, key, x):
        """A standard normal vector of the tangent space at ``x``."""
        leaves, tree = jax.tree_util.tree_flatten(x)
        keys = jr.split(key, len(leaves))
        v = jax.tree_util.tree_unflatten(
            tree, [jr.normal(k, a.shape, a.dtype) for k, a in zip(keys, leaves, strict=True)])
        return self.project(x, v)

    def check_point(self, x, name: str = "x0", owner: str = "simulate", *, tol: float = 1e-4) -> None:
        """Raise ``ValueError`` naming ``name`` if ``x`` is not finite or not on the manifold."""

    def tangent_basis(self, x) -> np.ndarray:
        """Orthonormal basis of the tangent space at ``x`` as columns, ``(D, D')`` (flattened)."""
        flat, unravel = ravel_pytree(x)
        p = jax.jacfwd(lambda u: ravel_pytree(self.project(x, unravel(u)))[0])(flat)
        w, v = np.linalg.eigh(np.asarray(p, dtype=np.float64))
        return v[:, w > 0.5]


class Euclidean(AbstractGeometry):
    """Flat ℝᵈ: projection, retraction and exponential map are the identity; no Itô correction."""

    @property
    def is_flat(self) -> bool:
        return True

    def project(self, x, v):
        return v

    def radial_scale(self, x):
        return jax.tree_util.tree_map(lambda a: jnp.ones((), a.dtype), x)

    def retract(self, x):
        return x

    def exp(self, x, v):
        return jax.tree_util.tree_map(jnp.add, x, v)

    def log(self, x, y):
        return jax.tree_util.tree_map(jnp.subtract, y, x)

    def dist(self, x, y):
        return jnp.sqrt(sum(jnp.sum((b - a) ** 2) for a, b in
                            zip(jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(y), strict=True)))

    def transport(self, x, y, v):
        return v

    def ito_correction(self, x, jac):
        return jax.tree_util.tree_map(jnp.zeros_like, x)

    def weingarten(self, x, v):
        return jax.tree_util.tree_map(jnp.zeros_like, x)

    def random_point(self, key, shape, dtype=jnp.float32):
        return jr.normal(key, shape, dtype)

    def check_point(self, x, name="x0", owner="simulate", *, tol=1e-4):
        for p, a in jax.tree_util.tree_flatten_with_path(x)[0]:
            _check_finite(a, f"{name}{jax.tree_util.keystr(p)}", owner)

    def tangent_basis(self, x) -> np.ndarray:
        return np.eye(int(sum(np.size(a) for a in jax.tree_util.tree_leaves(x))))


class Sphere(AbstractGeometry):
    r"""Unit sphere(s) S^{d−1} along ``axis``: P_x v = v − (⟨x, v⟩/⟨x, x⟩) x, R(x) = x/‖x‖.

    Exponential map exp_x(v) = cos(‖v‖) x + sin(‖v‖) v/‖v‖. An array of shape ``(k, d)`` (with
    ``axis=-1``) is a point of a product of k spheres.
    """

    axis: int = eqx.field(static=True, default=-1)

    def __init__(self, axis: int = -1):
        self.axis = check_integer("Sphere", "axis", axis)

    def _axis(self, x) -> int:
        """The sphere axis of ``x`` as a non-negative index; a clear error for a scalar point or
        an axis the point does not have (shapes are static, so this also runs under ``jit``)."""
        nd = jnp.ndim(x)
        if nd == 0:
            raise ValueError(f"{type(self).__name__}: a point must be an array with a sphere axis "
                             f"(axis={self.axis}); got a scalar {_scalar_repr(x)}")
        if not -nd <= self.axis < nd:
            raise ValueError(f"{type(self).__name__}: axis={self.axis} is out of range for a point "
                             f"of shape {tuple(jnp.shape(x))} ({nd} axes; axis must lie in "
                             f"[{-nd}, {nd - 1}])")
        return self.axis % nd

    def _dot(self, a, b):
        return jnp.sum(a * b, self._axis(a), keepdims=True)

    def project(self, x, v):
        return v - (self._dot(x, v) / self._dot(x, x)) * x

    def _refuse_zero(self, x, what):
        """A clear error when a concrete ``x`` has a zero vector along the sphere axis (no
        direction, so no point of the sphere); traced values pass (shapes only under ``jit``)."""
        axis = self._axis(x)
        if is_concrete(x):
            norms = np.linalg.norm(np.asarray(x, np.float64), axis=axis)
            if np.any(norms == 0):
                raise ValueError(f"{type(self).__name__}: {what} (norm 0 along axis {self.axis} "
                                 f"at {int(np.sum(norms == 0))} of {norms.size} spheres)")
        return axis

    def radial_scale(self, x):
        axis = self._refuse_zero(x, "cannot map a zero vector onto the sphere")
        return 1.0 / jnp.linalg.norm(x, axis=axis, keepdims=True)

    def retract(self, x):
        return x * self.radial_scale(x)

    def exp(self, x, v):
        n = jnp.sqrt(self._dot(v, v))
        safe = jnp.where(n > 0, n, 1.0)
        # for tiny steps fall back to the retraction (geoopt's expmap does the same)
        moved = jnp.cos(n) * x + jnp.sin(n) * v / safe
        return jnp.where(n > 1e-12, moved, (x + v) / jnp.sqrt(self._dot(x + v, x + v)))

    def _angle(self, x, y):
        """(θ, u): the angle between x and y per sphere and u = P_x y (‖u‖ = sin θ).

        θ = atan2(‖P_x y‖, ⟨x, y⟩) is accurate at every angle (arccos loses half the digits near 0).
        """
        for name, a in (("x", x), ("y", y)):
            self._refuse_zero(a, f"log/dist: {name} has a zero vector, which is on no sphere")
        u = self.project(x, y)
        return jnp.arctan2(jnp.sqrt(self._dot(u, u)), self._dot(x, y)), u

    def log(self, x, y):
        r"""log_x(y) = θ u/‖u‖ per sphere, u = P_x y, θ the angle between x and y.

        At y = −x (the cut locus) every direction is a minimizing geodesic; the zero vector is
        returned there, as geoopt's ``logmap`` does.
        """
        theta, u = self._angle(x, y)
        nu = jnp.sqrt(self._dot(u, u))
        return jnp.where(nu > 0, theta / jnp.where(nu > 0, nu, 1.0), 0.0) * u

    def dist(self, x, y):
        """√(Σ θᵢ²) over the spheres of the point (θᵢ ∈ [0, π] the great-circle distance)."""
        theta, _ = self._angle(x, y)
        return jnp.sqrt(jnp.sum(theta**2))

    def ito_correction(self, x, jac):
        axis = self._axis(x)
        pj = jax.vmap(lambda c: self.project(x, c), in_axes=-1, out_axes=-1)(jac)
        tr = jnp.sum(pj * pj, axis=(axis, pj.ndim - 1))
        return -0.5 * jnp.expand_dims(tr, axis) * x / self._dot(x, x)

    def weingarten(self, x, v):
        return jnp.broadcast_to(self._dot(x, v) / self._dot(x, x), x.shape)

    def random_point(self, key, shape, dtype=jnp.float32):
        """A point drawn uniformly on the sphere(s)."""
        return self.retract(jr.normal(key, shape, dtype))

    def check_point(self, x, name="x0", owner="simulate", *, tol=1e-4):
        _check_finite(x, name, owner)
        a = np.asarray(x, dtype=np.float64)
        if a.ndim == 0:
            raise ValueError(f"{owner}: {name} must be an array with a sphere axis; got a scalar")
        self._axis(a)
        norms = np.linalg.norm(a, axis=self.axis)
        bad = np.abs(norms - 1.0) > tol * max(1.0, math.sqrt(a.shape[self.axis]))
        if np.any(bad):
            raise ValueError(
                f"{owner}: {name} must lie on the unit sphere along axis {self.axis} "
                f"(norm 1 within {tol:g}); got norms {_few(norms[bad])}. Normalize it first, "
                f"e.g. with geometry.retract({name}).")

    def tangent_basis(self, x) -> np.ndarray:
        axis = self._axis(x)
        a = np.asarray(x, dtype=np.float64)
        if np.any(np.linalg.norm(a, axis=axis) == 0):
            raise ValueError(f"{type(self).__name__}.tangent_basis: x has a zero vector along axis "
                             f"{self.axis}, which is on no sphere")
        d = a.shape[axis]
        idx = np.moveaxis(np.arange(a.size).reshape(a.shape), axis, -1).reshape(-1, d)
        spheres = np.moveaxis(a, axis, -1).reshape(-1, d)
        cols = []
        for ids, s in zip(idx, spheres, strict=True):
            # complete x to an orthonormal basis; the last d − 1 columns span the tangent space
            q, _ = np.linalg.qr(np.column_stack([s / np.linalg.norm(s), np.eye(d)]))
            block = np.zeros((a.size, d - 1))
            block[ids] = q[:, 1:d]
            cols.append(block)
        return np.concatenate(cols, axis=1)


class Oblique(Sphere):
    r"""The oblique manifold OB(d, K): d×K matrices whose K columns are unit vectors in ℝᵈ.

    A product of K spheres S^{d−1} (a [`Sphere`][sde_opt.Sphere] along axis 0). The unconstrained-feature
    model with normalized features lives on OB(d, K) × OB(d, Kn) (Yaras et al. 2022). ``d`` and
    ``K``, when given, are checked by ``check_point``.
    """

    d: int | None = eqx.field(static=True, default=None)
    k: int | None = eqx.field(static=True, default=None)
    axis: int = eqx.field(static=True, default=0)

    def __init__(self, d: int | None = None, k: int | None = None):
        for name, v in (("d", d), ("k", k)):
            if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1):
                raise ValueError(f"Oblique: {name} must be a positive integer; got {v!r}")
        if d is not None and d < 2:
            raise ValueError(f"Oblique: d must be >= 2 (a sphere S^(d-1) with d >= 2); got {d}")
        self.d = None if d is None else int(d)
        self.k = None if k is None else int(k)
        self.axis = 0

    def check_point(self, x, name="x0", owner="simulate", *, tol=1e-4):
        shape = np.shape(x)
        want = (self.d, self.k)
        if len(shape) != 2 or any(w is not None and w != s for w, s in zip(want, shape, strict=False)):
            show = tuple("?" if w is None else w for w in want)
            raise ValueError(f"{owner}: {name} must be a matrix of shape {show} (unit columns); "
                             f"got shape {shape}")
        super().check_point(x, name, owner, tol=tol)

    def random_point(self, key, shape=None, dtype=jnp.float32):
        if shape is None:
            if self.d is None or self.k is None:
                raise ValueError("Oblique.random_point: give shape, or build Oblique(d, k)")
            shape = (self.d, self.k)
        return super().random_point(key, shape, dtype)


def _is_geometry(g) -> bool:
    return isinstance(g, AbstractGeometry)


class Product(AbstractGeometry):
    r"""The product of geometries over a pytree: ``parts`` has the structure of the point.

    ``Product((Euclidean(), Euclidean()))`` is ℝᵐ × ℝⁿ for a state (x, y);
    ``Product({"W": Oblique(d, K), "H": Oblique(d, K*n)})`` is OB(d, K) × OB(d, Kn). Every map
    acts factor by factor; the tangent basis is block diagonal in ``ravel_pytree`` order.
    """

    parts: object

    def __init__(self, parts):
        leaves = jax.tree_util.tree_leaves(parts, is_leaf=_is_geometry)
        if not leaves or not all(_is_geometry(g) for g in leaves):
            raise TypeError("Product: parts must be a pytree (tuple, list, dict) of geometries; got "
                            f"{parts!r}")
        self.parts = parts

    def _map(self, fn, *trees):
        try:
            return jax.tree_util.tree_map(fn, self.parts, *trees, is_leaf=_is_geometry)
        except ValueError as e:
            raise ValueError(f"Product: the point's structure does not match the geometry's "
                             f"{jax.tree_util.tree_structure(self.parts, is_leaf=_is_geometry)}: "
                             f"{e}") from None

    @property
    def is_flat(self) -> bool:
        return all(g.is_flat for g in jax.tree_util.tree_leaves(self.parts, is_leaf=_is_geometry))

    def project(self, x, v):
        return self._map(lambda g, a, b: g.project(a, b), x, v)

    def radial_scale(self, x):
        return self._map(lambda g, a: g.radial_scale(a), x)

    def retract(self, x):
        return self._map(lambda g, a: g.retract(a), x)

    def exp(self, x, v):
        return self._map(lambda g, a, b: g.exp(a, b), x, v)

    def log(self, x, y):
        return self._map(lambda g, a, b: g.log(a, b), x, y)

    def dist(self, x, y):
        """√(Σ dist_i²) over the factors (the product metric)."""
        d = self._map(lambda g, a, b: g.dist(a, b), x, y)
        return jnp.sqrt(sum(v**2 for v in jax.tree_util.tree_leaves(d)))

    def transport(self, x, y, v):
        return self._map(lambda g, a, b, c: g.transport(a, b, c), x, y, v)

    def ito_correction(self, x, jac):
        return self._map(lambda g, a, j: g.ito_correction(a, j), x, jac)

    def weingarten(self, x, v):
        return self._map(lambda g, a, b: g.weingarten(a, b), x, v)

    def random_point(self, key, shape, dtype=jnp.float32):
        """``shape``: a pytree of shape tuples with the structure of ``parts``."""
        geoms = jax.tree_util.tree_leaves(self.parts, is_leaf=_is_geometry)
        shapes = jax.tree_util.tree_structure(self.parts, is_leaf=_is_geometry).flatten_up_to(shape)
        keys = jr.split(key, len(geoms))
        pts = [g.random_point(k, tuple(s), dtype) for g, k, s in zip(geoms, keys, shapes, strict=True)]
        return jax.tree_util.tree_unflatten(
            jax.tree_util.tree_structure(self.parts, is_leaf=_is_geometry), pts)

    def check_point(self, x, name="x0", owner="simulate", *, tol=1e-4):
        treedef = jax.tree_util.tree_structure(self.parts, is_leaf=_is_geometry)
        try:
            xs = treedef.flatten_up_to(x)
        except (ValueError, TypeError):
            raise ValueError(f"{owner}: {name} must be a pytree with the structure {treedef}; got "
                             f"{jax.tree_util.tree_structure(x)}") from None
        paths = [jax.tree_util.keystr(p) for p, _ in
                 jax.tree_util.tree_flatten_with_path(self.parts, is_leaf=_is_geometry)[0]]
        for g, a, p in zip(jax.tree_util.tree_leaves(self.parts, is_leaf=_is_geometry), xs, paths,
                           strict=True):
            g.check_point(a, f"{name}{p}", owner, tol=tol)

    def tangent_basis(self, x) -> np.ndarray:
        from scipy.linalg import block_diag

        treedef = jax.tree_util.tree_structure(self.parts, is_leaf=_is_geometry)
        xs = treedef.flatten_up_to(x)
        blocks = [g.tangent_basis(a) for g, a in
                  zip(jax.tree_util.tree_leaves(self.parts, is_leaf=_is_geometry), xs, strict=True)]
        # each factor may itself be a pytree: ravel_pytree flattens leaves in the same order
        return block_diag(*blocks)


def _few(a) -> str:
    a = np.asarray(a).ravel()
    shown = ", ".join(f"{v:.6g}" for v in a[:4])
    return f"[{shown}{', …' if a.size > 4 else ''}]"


def _scalar_repr(x) -> str:
    return repr(x) if is_concrete(x) else "(traced)"


def _check_finite(x, name, owner):
    a = np.asarray(x)
    if np.iscomplexobj(a):
        raise TypeError(f"{owner}: {name} must be real; got a complex array of dtype {a.dtype}")
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        raise ValueError(f"{owner}: {name} must be finite; got {int(np.sum(~np.isfinite(a)))} "
                         f"non-finite entries of {a.size}")


__all__ = ["AbstractGeometry", "Euclidean", "Sphere", "Oblique", "Product"]

r"""A user's own bilevel problem from two per-example losses over pytrees.

    problem = so.FiniteSumBilevel(outer_loss, inner_loss, outer_data, inner_data, x0, y0,
                                  batch_size=16)

with ``outer_loss(x, y, example)`` and ``inner_loss(x, y, example)`` scalars and each ``data`` a
pytree of arrays whose leading axis runs over its examples (validation and training sets, say):

    min_x Φ(x) = f(x, y*(x)),   f = (1/m) Σⱼ ℓ_out(x, y, ξⱼ),
    y*(x) = argmin_y g(x, y),   g = (1/n) Σᵢ ℓ_in(x, y, ζᵢ)   (strongly convex in y).

Everything an experiment needs follows:

* y*(x) by Newton's method on ∇ᵧg(x, ·) = 0 from ``y0`` (dense Hessian of the flattened y, a
  backtracking line search on g; a path whose solve does not converge returns NaN, which the engine
  flags as diverged), unless a closed form is given (``y_star=``). *Why not optimistix:*
  ``optimistix.root_find`` (Newton or BFGS, 0.1.0) gives the same solution outside the engine
  (checked in the tests), but inside the engine's ``shard_map`` over paths its lineax operators
  reject the traced vectors (the structure checks compare their sharding), as lineax's CG does for
  AID;
* the hypergradient (implicit function theorem)
  ∇Φ(x) = ∇ₓf − ∇²ₓᵧg [∇²ᵧg]⁻¹ ∇ᵧf at y*(x), with dense second derivatives of the flattened y
  (a reference: the bilevel algorithms use only gradients and Hessian-vector products);
* the level oracles of [`AbstractBilevel`][sde_opt.AbstractBilevel] as minibatches with
  replacement (``batch_size`` outer examples, ``inner_batch_size`` inner ones per call), so AID,
  StocBiO and their limits run on it; the ideal minibatch hypergradient oracle and its exact
  covariance Σ_Φ = M C_F Mᵀ (M = [I, −∇²ₓᵧg [∇²ᵧg]⁻¹], C_F the exact covariance of the
  minibatch (∇ₓf, ∇ᵧf)), with the per-example factor of
  [`FiniteSum`][sde_opt.FiniteSum] (no eigendecomposition);
* the inner smoothness ℓ, a number or a function of x (ridge tuning: ℓ(x) = λ_max(AᵀA/n) + eˣ);
  where it depends on x, the algorithms cannot check the inner step at construction: choose
  α < 2/ℓ(x) over the region the outer iterate visits (``lower_smoothness_at(x)``).

No noise level is asked for: the noise is the data's.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_integer, check_positive
from ..geometry import Euclidean
from ..noise import MinibatchIndices
from .bilevel import AbstractBilevel, StackedIndices
from .finite_sum import (
    check_data_leaves,
    check_examples,
    check_point_leaves,
    mean_covariance,
    mean_factor,
)

_HALVINGS = 0.5 ** np.arange(12)  # the step lengths the line search tries, longest first


def newton_minimize(g, y0, tol: float, max_steps: int):
    """Minimize a smooth strongly convex g on ℝᵈ by Newton's method from ``y0``.

    Each step solves ∇²g d = ∇g (dense) and takes the longest step s ∈ {1, ½, …, 2⁻¹¹} with
    g(y − s d) ≤ g(y) − 10⁻⁴ s ∇g·d (Armijo; near the solution s = 1 and convergence is
    quadratic). Stops when max|s d| ≤ tol·(1 + max|y|). Returns (y, converged); vmap- and
    shard_map-safe (a ``while_loop`` of dense linear algebra).
    """
    grad = jax.grad(g)
    hess = jax.jacfwd(grad)
    steps = jnp.asarray(_HALVINGS, y0.dtype)

    def body(carry):
        y, k, _ = carry
        gr = grad(y)
        d = jnp.linalg.solve(hess(y), gr)
        slope = gr @ d
        vals = jax.vmap(lambda s: g(y - s * d))(steps)
        ok = vals <= g(y) - 1e-4 * steps * slope
        s = jnp.where(jnp.any(ok), steps[jnp.argmax(ok)], steps[-1])
        move = s * d
        done = jnp.max(jnp.abs(move)) <= tol * (1 + jnp.max(jnp.abs(y)))
        return y - move, k + 1, done

    def cond(carry):
        _, k, done = carry
        return (k < max_steps) & ~done

    y, _, done = jax.lax.while_loop(cond, body, (y0, jnp.asarray(0), jnp.asarray(False)))
    return y, done & jnp.all(jnp.isfinite(y))


def _shape_of(tree):
    return jax.tree_util.tree_map(lambda a: tuple(jnp.shape(a)), tree)


def _take(data, idx):
    return jax.tree_util.tree_map(lambda a: a[idx], data)


class FiniteSumBilevel(AbstractBilevel):
    r"""min_x f(x, y*(x)) from an outer and an inner per-example loss (module docstring).

    Args:
        outer_loss: ``outer_loss(x, y, example) -> scalar``, one example of ``outer_data``.
        inner_loss: ``inner_loss(x, y, example) -> scalar``, strongly convex in y on average.
        outer_data, inner_data: pytrees of arrays with a leading example axis (m and n examples).
        x, y: points with the structure (and dtype) of the outer and inner variables; ``y`` is also
            where the inner Newton solve starts.
        batch_size: b ≥ 1, outer examples per stochastic call.
        inner_batch_size: inner examples per stochastic call (default ``batch_size``).
        y_star: a closed form ``y_star(x)`` of the inner solution (default: Newton's method).
        lower_smoothness: ℓ, a number or a function ``x -> ℓ(x)`` (default unknown).
        lower_strong_convexity: μ > 0 where known.
        tol: the Newton solve stops when a step moves y by at most tol·(1 + max|y|) (default 100
            machine epsilons of the point's dtype).
        max_steps: Newton iterations at most.
    """

    outer_loss: Callable = eqx.field(static=True)
    inner_loss: Callable = eqx.field(static=True)
    outer_data: object
    inner_data: object
    y0: object
    x_shape: object = eqx.field(static=True)
    y_point_shape: object = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    inner_batch_size: int = eqx.field(static=True)
    closed_form: Callable | None = eqx.field(static=True)
    smoothness: object = eqx.field(static=True)
    strong_convexity: float | None = eqx.field(static=True)
    tol: float | None = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, outer_loss, inner_loss, outer_data, inner_data, x, y, *, batch_size: int,
                 inner_batch_size: int | None = None, y_star: Callable | None = None,
                 lower_smoothness=None, lower_strong_convexity=None, tol: float | None = None,
                 max_steps: int = 64):
        owner = "FiniteSumBilevel"
        for name, fn in (("outer_loss", outer_loss), ("inner_loss", inner_loss)):
            if not callable(fn):
                raise TypeError(f"{owner}: {name} must be a function {name}(x, y, example) -> "
                                f"scalar; got {fn!r}")
        if y_star is not None and not callable(y_star):
            raise TypeError(f"{owner}: y_star must be a function x -> y*(x) (or None); got {y_star!r}")
        if lower_smoothness is not None and not callable(lower_smoothness):
            check_positive(owner, "lower_smoothness", lower_smoothness, scalar=True)
        if lower_strong_convexity is not None:
            check_positive(owner, "lower_strong_convexity", lower_strong_convexity, scalar=True)
        if tol is not None:
            check_positive(owner, "tol", tol, scalar=True)
        for name, data in (("outer_data", outer_data), ("inner_data", inner_data)):
            check_data_leaves(owner, name, data)
        for name, point in (("x", x), ("y", y)):
            check_point_leaves(owner, name, point)
        self.outer_data, _ = check_examples(owner, "outer_data", outer_data)
        self.inner_data, _ = check_examples(owner, "inner_data", inner_data)
        self.batch_size = check_integer(owner, "batch_size", batch_size, low=1)
        self.inner_batch_size = self.batch_size if inner_batch_size is None else check_integer(
            owner, "inner_batch_size", inner_batch_size, low=1)
        self.max_steps = check_integer(owner, "max_steps", max_steps, low=1)
        self.outer_loss, self.inner_loss, self.closed_form = outer_loss, inner_loss, y_star
        self.smoothness = None if lower_smoothness is None else (
            lower_smoothness if callable(lower_smoothness) else float(lower_smoothness))
        self.strong_convexity = None if lower_strong_convexity is None else float(lower_strong_convexity)
        self.tol = None if tol is None else float(tol)
        self.x_shape, self.y_point_shape = _shape_of(x), _shape_of(y)
        self.y0 = jax.tree_util.tree_map(jnp.asarray, y)
        xa = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), x)
        ya = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), y)
        for name, fn, data in (("outer_loss", outer_loss, self.outer_data),
                               ("inner_loss", inner_loss, self.inner_data)):
            try:
                out = jax.eval_shape(lambda xx, yy: fn(xx, yy, _take(data, 0)), xa, ya)
            except Exception as e:  # noqa: BLE001 - re-raised with context
                raise ValueError(f"{owner}: {name}(x, y, example) failed on one example (are x "
                                 f"and y the points {name} expects?); got x of shape "
                                 f"{self.x_shape}, y of shape {self.y_point_shape}: "
                                 f"{type(e).__name__}: {e}") from e
            if not (isinstance(out, jax.ShapeDtypeStruct) and out.shape == ()):
                raise ValueError(f"{owner}: {name} must return a scalar per example; got "
                                 f"{getattr(out, 'shape', type(out).__name__)} at x of shape "
                                 f"{self.x_shape}, y of shape {self.y_point_shape}")
        if y_star is not None:
            got = _shape_of(jax.eval_shape(y_star, xa))
            if got != self.y_point_shape:
                raise ValueError(f"{owner}: y_star(x) must return a point like y (shapes "
                                 f"{self.y_point_shape}); got {got}")

    # ---- shapes, constants ---------------------------------------------------------------------
    @property
    def shape(self):
        return self.x_shape

    @property
    def y_shape(self):
        return self.y_point_shape

    @property
    def n_outer(self) -> int:
        return int(jax.tree_util.tree_leaves(self.outer_data)[0].shape[0])

    @property
    def n_inner(self) -> int:
        return int(jax.tree_util.tree_leaves(self.inner_data)[0].shape[0])

    @property
    def lower_smoothness(self):
        """ℓ where it is one number; ``None`` where it depends on x (see ``lower_smoothness_at``)."""
        return None if callable(self.smoothness) else self.smoothness

    def lower_smoothness_at(self, x):
        """ℓ(x), the Lipschitz constant of ∇ᵧg(x, ·) (``None`` if unknown)."""
        return self.smoothness(x) if callable(self.smoothness) else self.smoothness

    @property
    def lower_strong_convexity(self):
        return self.strong_convexity

    # ---- the two levels ------------------------------------------------------------------------
    def _mean(self, loss, data, x, y):
        return jnp.mean(jax.vmap(lambda ex: loss(x, y, ex))(data))

    def upper(self, x, y):
        return self._mean(self.outer_loss, self.outer_data, x, y)

    def lower(self, x, y):
        return self._mean(self.inner_loss, self.inner_data, x, y)

    def y_star(self, x):
        """y*(x): the closed form if given, else Newton's method on ∇ᵧg(x, ·) = 0 from ``y0``
        (NaN where it does not converge in ``max_steps``). Differentiable in x by the implicit
        function theorem, dy* = −[∇²ᵧg]⁻¹ ∇²ᵧₓg dx (forward and reverse mode), not through the
        solver's iterations."""
        if self.closed_form is not None:
            return self.closed_form(x)
        fx, unravel_x = ravel_pytree(x)
        dtype = fx.dtype
        y0, unravel_y = ravel_pytree(jax.tree_util.tree_map(lambda a: a.astype(dtype), self.y0))
        tol = self.tol if self.tol is not None else 100 * float(jnp.finfo(dtype).eps)
        g = lambda a, b: self.lower(unravel_x(a), unravel_y(b))

        @jax.custom_jvp
        def solve(a):
            y, converged = newton_minimize(lambda b: g(a, b), y0, tol, self.max_steps)
            return jnp.where(converged, y, jnp.nan)

        @solve.defjvp
        def _implicit(primals, tangents):
            (a,), (da,) = primals, tangents
            y = solve(a)
            gy = jax.grad(g, argnums=1)
            h = jax.jacfwd(gy, argnums=1)(a, y)
            cross = jax.jvp(lambda aa: gy(aa, y), (a,), (da,))[1]
            return y, -jnp.linalg.solve(h, cross)

        return unravel_y(solve(fx))

    # ---- flat second derivatives (references) -----------------------------------------------------
    def _flat(self, x, y):
        """(∇ₓf, ∇ᵧf, ∇²ᵧg, ∇²ₓᵧg) flattened, with the unravel map of x."""
        fx, unravel_x = ravel_pytree(x)
        fy, unravel_y = ravel_pytree(y)
        g = lambda a, b: self.lower(unravel_x(a), unravel_y(b))
        gy = jax.grad(g, argnums=1)
        h = jax.jacfwd(gy, argnums=1)(fx, fy)                     # (d_y, d_y)
        cross = jax.jacfwd(gy, argnums=0)(fx, fy).T               # (d_x, d_y)
        return h, cross, unravel_x

    def lower_hessian(self, x, y):
        """∇²ᵧg(x, y), dense ``(d_y, d_y)`` in ``ravel_pytree`` order (reference only)."""
        return self._flat(x, y)[0]

    def lower_cross_matrix(self, x, y):
        """∇²ₓᵧg(x, y), dense ``(d_x, d_y)`` in ``ravel_pytree`` order (reference only)."""
        return self._flat(x, y)[1]

    def _hypergradient(self, x, y, gx, gy):
        """∇ₓF − J H⁻¹ ∇ᵧF for upper gradients (gx, gy) (pytrees), at (x, y)."""
        h, cross, unravel_x = self._flat(x, y)
        v = jnp.linalg.solve(h, ravel_pytree(gy)[0])
        return unravel_x(ravel_pytree(gx)[0] - cross @ v)

    def v_star(self, x):
        y = self.y_star(x)
        h, _, _ = self._flat(x, y)
        return ravel_pytree(y)[1](jnp.linalg.solve(h, ravel_pytree(self.upper_grads(x, y)[1])[0]))

    def grad(self, x):
        y = self.y_star(x)
        return self._hypergradient(x, y, *self.upper_grads(x, y))

    def hessian(self, x):
        fx, unravel_x = ravel_pytree(x)
        return jax.jacfwd(lambda a: ravel_pytree(self.grad(unravel_x(a)))[0])(fx)

    # ---- minibatch level oracles -------------------------------------------------------------------
    @property
    def upper_noise(self):
        return MinibatchIndices(self.n_outer, self.batch_size)

    def lower_noise(self, n: int):
        return StackedIndices(self.n_inner, n, self.inner_batch_size)

    def hessian_noise(self, n: int):
        return StackedIndices(self.n_inner, n, self.inner_batch_size)

    @property
    def noise(self):
        return self.upper_noise

    @property
    def factor_shape(self):
        return (self.n_outer,)

    def stochastic_upper_grads(self, x, y, idx):
        """(∇ₓF, ∇ᵧF) of the minibatch ``idx`` of outer examples."""
        batch = _take(self.outer_data, idx)
        return jax.grad(lambda a, b: self._mean(self.outer_loss, batch, a, b), argnums=(0, 1))(x, y)

    def _inner_batch_grad_y(self, x, y, idx):
        batch = _take(self.inner_data, idx)
        return jax.grad(lambda b: self._mean(self.inner_loss, batch, x, b))(y)

    def stochastic_lower_grad_y(self, x, y, idx):
        return self._inner_batch_grad_y(x, y, idx)

    def stochastic_lower_hvp(self, x, y, v, idx):
        return jax.jvp(lambda b: self._inner_batch_grad_y(x, b, idx), (y,), (v,))[1]

    def stochastic_lower_cross(self, x, y, v, idx):
        return jax.vjp(lambda a: self._inner_batch_grad_y(a, y, idx), x)[1](v)[0]

    def _upper_rows(self, x, y):
        """Per-example flattened (∇ₓℓ_out, ∇ᵧℓ_out), ``(m, d_x + d_y)``."""
        per = jax.vmap(lambda ex: jax.grad(self.outer_loss, argnums=(0, 1))(x, y, ex))(self.outer_data)
        return jax.vmap(lambda g: ravel_pytree(g)[0])(per)

    def upper_grads_cov(self, x, y):
        """Exact covariance of one minibatch (∇ₓF, ∇ᵧF), ``(d_x + d_y)²`` (x first)."""
        return mean_covariance(self._upper_rows(x, y), self.batch_size)

    def lower_grad_cov(self, x, y):
        """Exact covariance of one minibatch ∇ᵧG, ``(d_y, d_y)``."""
        per = jax.vmap(lambda ex: ravel_pytree(jax.grad(self.inner_loss, argnums=1)(x, y, ex))[0])(
            self.inner_data)
        return mean_covariance(per, self.inner_batch_size)

    # ---- the ideal hypergradient oracle and its exact noise --------------------------------------
    def stochastic_grad(self, x, idx):
        """∇ₓF − J H⁻¹ ∇ᵧF at the exact y*(x), for the minibatch ``idx`` of outer examples."""
        y = self.y_star(x)
        return self._hypergradient(x, y, *self.stochastic_upper_grads(x, y, idx))

    def _implicit_map(self, x):
        """M = [I, −J H⁻¹] at y*(x), ``(d_x, d_x + d_y)``, and y*(x)."""
        y = self.y_star(x)
        h, cross, _ = self._flat(x, y)
        dx = cross.shape[0]
        return jnp.concatenate([jnp.eye(dx, dtype=h.dtype), -jnp.linalg.solve(h, cross.T).T], 1), y

    def grad_noise_cov(self, x):
        m, y = self._implicit_map(x)
        return m @ self.upper_grads_cov(x, y) @ m.T

    def grad_noise_factor(self, x, w):
        """B w = M (1/√(bm)) Σⱼ wⱼ (uⱼ − ū), uⱼ the per-example upper gradients: B Bᵀ = Σ_Φ."""
        m, y = self._implicit_map(x)
        return ravel_pytree(x)[1](m @ mean_factor(self._upper_rows(x, y), w, self.batch_size))


__all__ = ["FiniteSumBilevel"]

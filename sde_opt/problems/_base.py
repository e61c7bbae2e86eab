r"""The problem contract: a stochastic vector field over a (pytree) point on a geometry.

Every optimizer in the package moves a point ``z`` *against* a field V(z) that an oracle returns
with noise, z⁺ = z − η·V̂(z), on the problem's geometry:

* a **minimization** problem min f ([`AbstractProblem`][sde_opt.AbstractProblem]) has V = ∇f;
* a **game** min_x max_y f(x, y) ([`AbstractGame`][sde_opt.AbstractGame]) has V = (∇ₓf, −∇ᵧf) on z = (x, y) —
  not
  a gradient: its Jacobian has a rotational (antisymmetric) part;
* a **bilevel** problem min_x f(x, y*(x)) is a minimization whose oracle is a hypergradient built
  from inner loops (the field is ∇Φ; the contract asks nothing more).

The contract ([`AbstractField`][sde_opt.AbstractField]), for a point ``z`` with the pytree structure of
``shape``:

* ``field(z)`` — V(z), a pytree like ``z``;
* ``noise`` — the sampler of one oracle call's randomness, and ``stochastic_field(z, noise)``, an
  unbiased V̂(z) = V(z) + ξ;
* optional, where something needs them (a diffusion limit, theory): ``noise_cov(z)`` = Σ(z) = Cov ξ
  as a ``(D, D)`` matrix in ``ravel_pytree`` order (D = total size), and ``noise_factor(z, w)`` =
  B(z) w with B Bᵀ = Σ for w ~ N(0, I) of shape ``factor_shape`` (default: the symmetric square root
  of Σ, an eigendecomposition — override it when a cheaper factor exists, as
  [`FiniteSum`][sde_opt.FiniteSum] does); ``critical_points()`` (default: none known).

A problem can be checked once at construction with [`AbstractField.check`][sde_opt.AbstractField.check]: the
oracle is run
abstractly (``jax.eval_shape``) and its shapes and dtypes compared with ``shape``.
"""

from __future__ import annotations

import abc
import math
import weakref
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ..geometry import AbstractGeometry, Euclidean
from ..noise import StandardNormal


def is_shape(s) -> bool:
    """True for a shape tuple of ints (a leaf of a pytree of shapes)."""
    return isinstance(s, tuple) and all(isinstance(i, int) and not isinstance(i, bool) for i in s)


def tree_size(shape) -> int:
    """Total number of entries of a point with this (pytree of) shape(s)."""
    return sum(math.prod(s) for s in jax.tree_util.tree_leaves(shape, is_leaf=is_shape))


def zeros_like_shape(shape, dtype=jnp.float32):
    """A zero point with this (pytree of) shape(s)."""
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s, dtype), shape, is_leaf=is_shape)


def flatten(z):
    """The point as one flat vector (``ravel_pytree`` order)."""
    return ravel_pytree(z)[0]


class AbstractField(eqx.Module):
    """A stochastic vector field on a geometry (see the module docstring).

    ``geometry`` is flat (ℝᴰ, any pytree) unless given: as a keyword when the problem is built
    (``MyProblem(m, geometry=so.Sphere())``), or declared on the subclass as a keyword-only field,
    ``geometry: so.AbstractGeometry = eqx.field(static=True, default=so.Sphere(), kw_only=True)``
    (without ``kw_only`` a default there would precede the subclass's own fields without one).
    """

    geometry: AbstractGeometry = eqx.field(static=True, default=Euclidean(), kw_only=True)
    additive_noise: ClassVar[bool] = False  # True when Σ(z) does not depend on z
    is_game: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def shape(self):
        """Shape of a point: a tuple, or a pytree of tuples for a pytree point."""

    @abc.abstractmethod
    def field(self, z):
        """V(z), the mean of the oracle (∇f for a minimization)."""

    @abc.abstractmethod
    def stochastic_field(self, z, noise):
        """One unbiased oracle call V(z) + ξ, given this call's ``noise`` draw."""

    @property
    def noise(self):
        """Sampler of one oracle call's randomness (default: N(0, I) of ``shape``; one flat
        vector of the total size for a pytree point)."""
        if is_shape(self.shape):
            return StandardNormal(self.shape)
        return StandardNormal((tree_size(self.shape),))

    def noise_cov(self, z):
        """Σ(z), the oracle-noise covariance, ``(D, D)`` in ``ravel_pytree`` order."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define noise_cov (the oracle-noise covariance Σ(z)); "
            "it is needed for a diffusion limit or a theory prediction. Define noise_cov (and, if "
            "cheaper than an eigendecomposition, noise_factor) on the problem.")

    @property
    def factor_shape(self) -> tuple[int, ...]:
        """Shape of the standard normal ``w`` consumed by ``noise_factor``."""
        return (tree_size(self.shape),)

    def noise_factor(self, z, w):
        """B(z) w with B Bᵀ = Σ(z) (symmetric square root by default; override if cheaper)."""
        flat, unravel = ravel_pytree(z)
        e, v = jnp.linalg.eigh(self.noise_cov(z))
        root = (v * jnp.sqrt(jnp.clip(e, 0.0))) @ v.T
        return unravel(root @ w.reshape(-1))

    def critical_points(self) -> dict:
        """``{"minimum": (k, *shape), "saddle": …, "maximum": …}``; absent kinds are omitted."""
        return {}

    def check(self, z=None) -> None:
        """Run the oracle abstractly at ``z`` (default: zeros) and raise a readable error if the
        field or the stochastic field does not return a point of ``shape`` and dtype."""
        owner = type(self).__name__
        z = zeros_like_shape(self.shape) if z is None else z
        want = jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), z)
        draw = jax.eval_shape(lambda k: self.noise.sample(k, jnp.float32), jax.random.key(0))
        for name, fn in (("field", lambda: self.field(z)),
                         ("stochastic_field", lambda: self.stochastic_field(z, draw_zero(draw)))):
            try:
                got = jax.eval_shape(fn)
            except Exception as e:  # noqa: BLE001 - re-raised with the problem's name
                raise ValueError(f"{owner}: {name} failed on a point of shape {self.shape}: "
                                 f"{type(e).__name__}: {e}") from e
            have = jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), got)
            if jax.tree_util.tree_structure(have) != jax.tree_util.tree_structure(want) or have != want:
                raise ValueError(f"{owner}: {name} must return a point like z (shapes and dtypes "
                                 f"{want}); got {have}")


def draw_zero(draw):
    """A concrete zero draw with the structure of an abstract noise draw."""
    return jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), draw)


class AbstractProblem(AbstractField):
    """An objective ``f`` to *minimize*, with an unbiased stochastic-gradient oracle: V = ∇f.

    Subclasses provide ``shape``, ``objective``, ``stochastic_grad(x, noise)`` and, where needed,
    ``grad_noise_cov`` (Σ(x)), ``grad_noise_factor`` and ``critical_points``; ``grad`` and
    ``hessian`` come from autodiff unless overridden. The field names of
    [`AbstractField`][sde_opt.AbstractField]
    (``field``, ``stochastic_field``, ``noise_cov``, ``noise_factor``) are these.
    """

    @abc.abstractmethod
    def objective(self, x):
        """f(x), a scalar."""

    def grad(self, x):
        """∇f(x), the Euclidean gradient."""
        return jax.grad(self.objective)(x)

    def hessian(self, x):
        """∇²f(x) as a ``(D, D)`` matrix (``ravel_pytree`` order for a pytree point)."""
        flat, unravel = ravel_pytree(x)
        return jax.hessian(lambda y: self.objective(unravel(y)))(flat)

    @abc.abstractmethod
    def stochastic_grad(self, x, noise):
        """One unbiased stochastic gradient ∇f(x) + ξ."""

    def grad_noise_cov(self, x):
        """Σ(x), the covariance of one stochastic gradient, ``(D, D)``."""
        return AbstractField.noise_cov(self, x)

    def grad_noise_factor(self, x, z):
        """B(x) z with B(x) B(x)ᵀ = Σ(x) (symmetric square root by default; override if cheaper)."""
        return AbstractField.noise_factor(self, x, z)

    # the field contract, in the names of a minimization
    def field(self, z):
        return self.grad(z)

    def stochastic_field(self, z, noise):
        return self.stochastic_grad(z, noise)

    def noise_cov(self, z):
        return self.grad_noise_cov(z)

    def noise_factor(self, z, w):
        return self.grad_noise_factor(z, w)


class AbstractGame(AbstractField):
    r"""A two-player game min_x max_y f(x, y) on a point z = (x, y): V = (∇ₓf, −∇ᵧf).

    Subclasses provide ``shape`` (a pair of shapes), ``objective(z)`` = f(x, y) and
    ``stochastic_field``; the field comes from autodiff unless overridden. Its Jacobian
    [[∇ₓₓf, ∇ₓᵧf], [−∇ᵧₓf, −∇ᵧᵧf]] is not symmetric: the rotational part is what tells GDA, OGDA
    and extragradient apart. A bounded Y is given by [`project_y`][sde_opt.AbstractGame.project_y]
    (and ``check_start``); a game from per-example losses is
    [`FiniteSumGame`][sde_opt.FiniteSumGame].
    """

    is_game: ClassVar[bool] = True

    @abc.abstractmethod
    def objective(self, z):
        """f(x, y) at z = (x, y)."""

    def field(self, z):
        gx, gy = jax.grad(self.objective)(z)
        return (gx, jax.tree_util.tree_map(jnp.negative, gy))

    def project_y(self, y):
        """P_Y(y), the projection onto the maximizer's constraint set Y (default: Y is the whole
        space and this is the identity).

        The game algorithms (GDA, OGDA, extragradient, GDmax, perturbed GDmax) take every ascent
        step as y ← P_Y(y + η_y ∇ᵧf). Override it (or pass ``project_y=`` to
        [`FiniteSumGame`][sde_opt.FiniteSumGame]) for a bounded Y, e.g. a ball; it must be a
        projection (P_Y ∘ P_Y = P_Y). A game with a bounded Y should also refuse a start outside
        it in ``check_start(z, owner)``, which the algorithms call from ``init``.
        """
        return y

    def check_start(self, z, owner: str = "game") -> None:
        """Raise ``ValueError`` if the start z = (x, y) is not a valid start (e.g. y outside a
        bounded Y); called by the game algorithms' ``init`` with concrete values. Default: any
        start is valid."""


def check_problem(owner: str, problem, *, game: bool | None = None) -> None:
    """Raise ``TypeError`` if ``problem`` is not a field of the kind ``owner`` needs.

    ``game=False``: a minimization-type algorithm (SGD, momentum, Langevin) refuses a game;
    ``game=True``: a game algorithm (GDA, OGDA, EG) refuses a minimization problem.
    """
    from .._checks import check_bool, check_text

    check_text("check_problem", "owner", owner)
    if game is not None:
        check_bool("check_problem", "game", game)
    if not isinstance(problem, AbstractField):
        raise TypeError(f"{owner}: problem must be an sde_opt problem (an AbstractField, e.g. a "
                        f"subclass of so.AbstractProblem); got {str(problem)[:60]!r} "
                        f"({type(problem).__name__})")
    if game is False and problem.is_game:
        raise TypeError(f"{owner}: problem must be a minimization problem ({owner} minimizes — use "
                        f"a game algorithm: GDA, OGDA, extragradient); got "
                        f"{type(problem).__name__}, which is a game (min_x max_y)")
    if game is True and not problem.is_game:
        raise TypeError(f"{owner}: problem must be a game min_x max_y f(x, y) (an AbstractGame); "
                        f"got {type(problem).__name__}, which is a minimization problem")
    check_oracle(owner, problem)


_CHECKED: dict = {}  # id(problem) -> weak reference: problems whose oracle passed check()


def check_oracle(owner: str, problem) -> None:
    """Run ``problem.check()`` (the oracle traced abstractly with ``jax.eval_shape``: no arithmetic)
    once per problem object, and re-raise its error under ``owner``'s name, so that an oracle
    returning the wrong structure fails when the algorithm is built, not deep inside a compiled
    step. Inside a trace (a problem whose fields are tracers) the check is skipped."""
    ref = _CHECKED.get(id(problem))
    if ref is not None and ref() is problem:
        return
    if not all(not isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves(problem)):
        return
    try:
        problem.check()
    except ValueError as e:
        raise ValueError(f"{owner}: the problem's oracle does not fit its shape — {e}") from e
    if len(_CHECKED) > 1024:
        _CHECKED.clear()
    try:
        _CHECKED[id(problem)] = weakref.ref(problem)
    except TypeError:  # not weak-referenceable: check again next time
        pass

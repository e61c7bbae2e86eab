"""What the game algorithms (GDA, OGDA, extragradient, GDmax, perturbed GDmax) share.

Checks of the two step sizes, the descent–ascent base ``DescentAscent`` (parameters, time
t = kη_x, position and the first-order limit that GDA, OGDA and extragradient share), the
projected descent–ascent move on z = (x, y), oracle calls repeated within one step, and the
gradient-call counter kept in every state (so rates can be reported per oracle call as well as
per iteration). Each player, x and y, may be an array or a pytree of arrays (a GAN generator
``{"a": …, "b": …}``): every update is a ``tree_map``.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.tree_util import tree_map
from numpy import bool_ as np_bool

from .._checks import check_integer, check_positive
from ..noise import StandardNormal
from ..problems._base import AbstractGame, check_problem
from ..sde.two_timescale import TwoTimescaleSDE
from ._base import AbstractAlgorithm


def check_game(owner: str, problem, eta_x, eta_y) -> None:
    """A game and two positive scalar step sizes, or a clear error naming the parameter."""
    check_problem(owner, problem, game=True)
    check_positive(owner, "eta_x", eta_x, scalar=True)
    check_positive(owner, "eta_y", eta_y, scalar=True)
    if not (isinstance(problem.shape, tuple) and len(problem.shape) == 2):
        raise TypeError(f"{owner}: the game's point must be a pair (x, y); got shape "
                        f"{problem.shape}")


def check_int(owner: str, name: str, v, low: int) -> int:
    """An integer >= ``low`` (any integer type, never a float or a bool), as a Python int."""
    return check_integer(owner, name, v, low=low)


def check_flag(owner: str, name: str, v) -> bool:
    """A bool (``True``/``False``, NumPy's included), never a string or a number."""
    if not isinstance(v, (bool, np_bool)):
        raise TypeError(f"{owner}: {name} must be True or False; got {v!r} ({type(v).__name__})")
    return bool(v)


def project_y(problem, y):
    """P_Y(y) where the game has a bounded Y, else y."""
    proj = getattr(problem, "project_y", None)
    return y if proj is None else proj(y)


def check_start(problem, z, owner: str) -> None:
    """A clear error for a start outside the game's Y (concrete values only; one start or a
    batch with a leading n_paths axis)."""
    chk = getattr(problem, "check_start", None)
    if chk is not None:
        chk(z, owner)


def axpy(a, v, x):
    """x + a·v leaf by leaf (a scalar step in v's dtype)."""
    return tree_map(lambda xi, vi: xi + a.astype(vi.dtype) * vi, x, v)


def gda_move(problem, z, v, eta_x, eta_y):
    """(x − η_x vₓ, P_Y(y − η_y v_y)) for a field value v = (vₓ, v_y)."""
    x, y = z
    vx, vy = v
    return (axpy(-eta_x, vx, x), project_y(problem, axpy(-eta_y, vy, y)))


class GameAlgorithm(AbstractAlgorithm):
    """A game algorithm: the engine asks it to refuse starts outside the game's Y before any
    work (``init`` alone cannot: under the engine's ``vmap`` its start is traced)."""

    def check_start(self, x0, *, per_path: bool = False) -> None:
        check_start(self.problem, x0, type(self).__name__)


class GameState(NamedTuple):
    """``z``: the iterate (x, y) (each player an array or a pytree); ``calls``: oracle calls
    made so far (int32)."""

    z: tuple
    calls: jnp.ndarray


class DescentAscent(GameAlgorithm):
    r"""A descent–ascent method with steps (η_x, η_y) on a game: GDA, OGDA, extragradient, GDmax.

    Time per step t = kη_x; the state has the iterate z = (x, y) as ``z`` (by default a
    ``GameState`` started with no calls); the first-order diffusion limit of GDA, OGDA and
    extragradient is [`TwoTimescaleSDE`][sde_opt.TwoTimescaleSDE] with ratio r = η_y/η_x (GDmax
    overrides it). Subclasses give ``step``, ``noise`` and ``calls_per_step``.
    """

    problem: AbstractGame
    eta_x: jnp.ndarray
    eta_y: jnp.ndarray

    def __init__(self, problem, eta_x, eta_y):
        check_game(type(self).__name__, problem, eta_x, eta_y)
        self.problem = problem
        self.eta_x = jnp.asarray(eta_x)
        self.eta_y = jnp.asarray(eta_y)

    @property
    def dt(self):
        return self.eta_x

    def init(self, z0):
        check_start(self.problem, z0, type(self).__name__)
        return GameState(tuple(z0), jnp.zeros((), jnp.int32))

    def position(self, state):
        return state.z

    def limit(self):
        return TwoTimescaleSDE(self.problem, self.eta_x, self.eta_y / self.eta_x)

    def ode_limit(self):
        return TwoTimescaleSDE(self.problem, self.eta_x, self.eta_y / self.eta_x, noise=False)


class Repeated(eqx.Module):
    """``k`` independent draws of a sampler in one step (leading axis k)."""

    base: object
    k: int = eqx.field(static=True)

    def sample(self, key, dtype=jnp.float32):
        keys = jr.split(key, self.k)
        return jax.vmap(lambda kk: self.base.sample(kk, dtype))(keys)


def repeat_noise(sampler, k: int):
    """A sampler of ``k`` oracle draws; standard normals stay one StandardNormal (fast path)."""
    if isinstance(sampler, StandardNormal):
        return StandardNormal((k, *sampler.shape))
    return Repeated(sampler, k)


def draw(noise, i):
    """The i-th oracle draw of a repeated draw."""
    return jax.tree_util.tree_map(lambda a: a[i], noise)


def add_calls(calls, n):
    return calls + jnp.asarray(n, calls.dtype)

"""What the game algorithms (GDA, OGDA, extragradient, GDmax, perturbed GDmax) share.

Checks of the two step sizes, the projected descent–ascent move on z = (x, y), oracle calls
repeated within one step, and the gradient-call counter kept in every state (so rates can be
reported per oracle call as well as per iteration).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .._checks import check_positive
from ..noise import StandardNormal
from ..problems._base import check_problem


def check_game(owner: str, problem, eta_x, eta_y) -> None:
    """A game and two positive step sizes, or a clear error naming the parameter."""
    check_problem(owner, problem, game=True)
    check_positive(owner, "eta_x", eta_x)
    check_positive(owner, "eta_y", eta_y)
    if not (isinstance(problem.shape, tuple) and len(problem.shape) == 2):
        raise TypeError(f"{owner}: the game's point must be a pair (x, y); got shape "
                        f"{problem.shape}")


def check_int(owner: str, name: str, v, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) and not (
            hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.integer)):
        raise TypeError(f"{owner}: {name} must be an integer >= {low}; got {v!r}")
    if int(v) < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}; got {int(v)}")
    return int(v)


def project_y(problem, y):
    """P_Y(y) where the game has a bounded Y, else y."""
    proj = getattr(problem, "project_y", None)
    return y if proj is None else proj(y)


def check_start(problem, z, owner: str) -> None:
    """A clear error for a start outside the game's Y (concrete values only)."""
    chk = getattr(problem, "check_start", None)
    if chk is not None:
        chk(z, owner)


def gda_move(problem, z, v, eta_x, eta_y):
    """(x − η_x vₓ, P_Y(y − η_y v_y)) for a field value v = (vₓ, v_y)."""
    x, y = z
    vx, vy = v
    return (x - eta_x.astype(vx.dtype) * vx, project_y(problem, y - eta_y.astype(vy.dtype) * vy))


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

r"""Riemannian gradient descent: the full-gradient step on a product of spheres."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jax.tree_util import tree_map

from .._checks import check_positive
from ..problems._base import AbstractProblem, check_problem
from ..sde.field import FieldSDE
from ._base import AbstractAlgorithm
from .riemannian_sgd import retracted_step


class NoNoise(eqx.Module):
    """An empty draw (shape ``(0,)``) for a deterministic chain.

    Not a ``StandardNormal((0,))``: the engine's fast normal generator divides by the draw size
    (``engine/_rng.py``, ``_epoch_key``), so a zero-size standard normal raises
    ``ZeroDivisionError`` there.
    """

    def sample(self, key, dtype=jnp.float32):
        return jnp.zeros((0,), dtype)


class RiemannianGD(AbstractAlgorithm):
    r"""x_{k+1} = R_{x_k}(−η grad f(x_k)),  grad f = P_x ∇f (papers.md §5.5, "RGD").

    Deterministic: the noise is an empty draw (shape ``(0,)``). Time per step t = kη; the limit
    is the Riemannian gradient flow dX = −P_X ∇f(X) dt (a [`FieldSDE`][sde_opt.FieldSDE] with
    s = 0), of which this is the retracted Euler scheme. Not in ``REGISTRY``: the contract suite
    requires the noise to reach the state, which a deterministic method cannot satisfy.

    Args:
        problem: the objective, on its geometry.
        eta: step size η > 0.
    """

    problem: AbstractProblem
    eta: jnp.ndarray

    def __init__(self, problem: AbstractProblem, eta):
        check_problem("RiemannianGD", problem, game=False)
        check_positive("RiemannianGD", "eta", eta, scalar=True)
        self.problem = problem
        self.eta = jnp.asarray(eta)

    @property
    def dt(self):
        return self.eta

    @property
    def noise(self):
        return NoNoise()

    def init(self, x0):
        return self.problem.geometry.retract(x0)

    def step(self, state, noise):
        geom = self.problem.geometry
        g = geom.project(state, self.problem.grad(state))
        return retracted_step(geom, state, tree_map(lambda a: -self.eta.astype(a.dtype) * a, g))

    def limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

    def ode_limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

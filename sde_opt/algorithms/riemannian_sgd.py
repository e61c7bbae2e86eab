r"""Riemannian SGD on any product of spheres (or ℝᵈ): retracted minibatch gradient steps."""

from __future__ import annotations

import jax.numpy as jnp
from jax.tree_util import tree_map

from .._checks import check_positive
from ..problems._base import AbstractProblem, check_problem
from ..sde.field import FieldSDE
from ._base import AbstractAlgorithm


def retracted_step(geometry, x, v):
    """R_x(v) = R(x + v): the metric-projection retraction of the geometry."""
    return geometry.retract(tree_map(jnp.add, x, v))


def riemannian_gradient_step(geometry, x, grad, eta):
    """R_x(−η P_x g): the retracted step along the projected (Euclidean) gradient g."""
    g = geometry.project(x, grad)
    return retracted_step(geometry, x, tree_map(lambda a: -eta.astype(a.dtype) * a, g))


class RiemannianSGD(AbstractAlgorithm):
    r"""x_{k+1} = R_{x_k}(−η P_{x_k} ĝ(x_k)),  ĝ one stochastic (e.g. minibatch) gradient.

    P_x is the tangent projection and R_x(v) = normalize(x + v) column by column on an oblique
    manifold (Bonnabel 2013; the update of geoopt's ``RiemannianSGD`` without momentum). Time per
    step t = kη. Diffusion limit (the SME of Li, Tai & E 2017 on the manifold):

        dX = −P_X ∇f(X) dt − √η P_X Σ(X)^{1/2} dW   (+ the Itô correction of the sphere),

    a [`FieldSDE`][sde_opt.FieldSDE] with c = 1, s = √η. The retraction supplies the Itô drift
    −½ tr(P ηΣ P) X per sphere by itself, so projected Euler–Maruyama of the limit with h = η and
    the same noise is this algorithm up to replacing Σ^{1/2}z by the minibatch deviation.
    Neural-collapse setting: Yaras, Wang, Zhu, Balzano & Qu, NeurIPS 2022.

    Args:
        problem: the objective and its stochastic-gradient oracle, on its geometry.
        eta: step size η > 0.
    """

    problem: AbstractProblem
    eta: jnp.ndarray

    def __init__(self, problem: AbstractProblem, eta):
        check_problem(type(self).__name__, problem, game=False)
        check_positive(type(self).__name__, "eta", eta, scalar=True)
        self.problem = problem
        self.eta = jnp.asarray(eta)

    @property
    def dt(self):
        return self.eta

    def init(self, x0):
        return self.problem.geometry.retract(x0)

    def step(self, state, noise):
        return riemannian_gradient_step(self.problem.geometry, state,
                                        self.problem.stochastic_grad(state, noise), self.eta)

    def limit(self):
        return FieldSDE(self.problem, 1.0, jnp.sqrt(self.eta))

    def ode_limit(self):
        return FieldSDE(self.problem, 1.0, 0.0)

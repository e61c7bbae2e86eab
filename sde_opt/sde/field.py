r"""The field SDE: the diffusion limit every SGD-type algorithm shares, on any geometry.

For a problem with field V (∇f for a minimization, (∇ₓf, −∇ᵧf) for a game) and oracle-noise
factor B (B Bᵀ = Σ), on a geometry with tangent projection P and Itô correction c:

    dZ = [ −c(t) P_Z V(Z) + c_Itô(Z) ] dt − s(t) P_Z B(Z) dW,

in the algorithm's time t = k·dt. ``drift_scale`` c and ``noise_scale`` s are numbers, or
schedules of t (e.g. [`PiecewiseConstant`][sde_opt.sde.PiecewiseConstant]), which makes the SDE
time-inhomogeneous: an annealed optimizer has *one* limit. The Itô correction
c_Itô = ``geometry.ito_correction`` is zero in ℝᵈ; on spheres it is −½ tr(P B Bᵀ P)·s²·Z per sphere,
the drift that keeps the ambient Itô equation on the manifold (a retracting scheme supplies it by
itself and steps with [`FieldSDE.tangent_drift`][sde_opt.FieldSDE.tangent_drift]).

Heavy-ball momentum SGD with step η and momentum μ has c = 1/(1 − μ), s = √η/(1 − μ) (Liu, Chen,
Zhou & Zhao 2021; μ = 0 is SGD's stochastic modified equation, Li, Tai & E 2017); s = 0 gives the
ODE limit. The diffusion carries a minus sign, matching the algorithms' −η·(oracle noise), so a
chain of this SDE and the algorithm driven by the same normals are coupled pathwise.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_instance, check_scalar
from ..problems._base import AbstractField
from ._base import ProblemSDE, ambient_drift


def _at(scale, t, dtype):
    return (scale(t) if callable(scale) else scale).astype(dtype)


def _dtype(x):
    return jax.tree_util.tree_leaves(x)[0].dtype


class FieldSDE(ProblemSDE):
    r"""dZ = (−c P V(Z) + c_Itô(Z)) dt − s P B(Z) dW (see the module docstring).

    Args:
        problem: the stochastic field (any [`AbstractField`][sde_opt.AbstractField]).
        drift_scale: c, a number or a schedule c(t).
        noise_scale: s ≥ 0, a number or a schedule s(t).
    """

    problem: AbstractField
    drift_scale: object
    noise_scale: object

    def __init__(self, problem, drift_scale=1.0, noise_scale=0.0):
        check_instance("FieldSDE", "problem", problem, AbstractField,
                       "an sde_opt problem (an AbstractField: a minimization or a game)")
        if not callable(drift_scale):
            check_scalar("FieldSDE", "drift_scale", drift_scale, 0.0, np.inf, low_closed=False,
                         high_closed=False)
        if not callable(noise_scale):
            check_scalar("FieldSDE", "noise_scale", noise_scale, 0.0, np.inf, high_closed=False)
        self.problem = problem
        self.drift_scale = drift_scale if callable(drift_scale) else jnp.asarray(drift_scale)
        self.noise_scale = noise_scale if callable(noise_scale) else jnp.asarray(noise_scale)

    @property
    def time_dependent(self) -> bool:
        return callable(self.drift_scale) or callable(self.noise_scale)

    @property
    def additive(self) -> bool:
        return self.problem.additive_noise and self.problem.geometry.is_flat

    def tangent_drift(self, x, t=0.0):
        c = _at(self.drift_scale, t, _dtype(x))
        v = self.problem.geometry.project(x, self.problem.field(x))
        return jax.tree_util.tree_map(lambda a: -c * a, v)

    def drift(self, x, t=0.0):
        return ambient_drift(self, x, self.tangent_drift(x, t), t=t)

    def diffusion(self, x, z, t=0.0):
        # −s P B z: the sign matches the algorithms' −η·(oracle noise), so that a chain of this
        # SDE and the algorithm driven by the same z are coupled pathwise (the law is unchanged).
        s = _at(self.noise_scale, t, _dtype(x))
        bz = self.problem.geometry.project(x, self.problem.noise_factor(x, z))
        return jax.tree_util.tree_map(lambda a: -s * a, bz)

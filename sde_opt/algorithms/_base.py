"""The algorithm contract: a discrete optimizer is a chain that knows its own diffusion limit."""

from __future__ import annotations

import abc

import equinox as eqx

from .._chain import AbstractChain
from ..problems._base import AbstractField
from ..sde._base import AbstractSDE


class ProblemChain(AbstractChain):
    """A chain driven by a problem's oracle: its noise, point shape and geometry are the
    problem's (an algorithm, or an optax optimizer run as a chain)."""

    problem: eqx.AbstractVar[AbstractField]

    @property
    def noise(self):
        return self.problem.noise

    @property
    def point_shape(self):
        return self.problem.shape

    @property
    def geometry(self):
        return self.problem.geometry


class AbstractAlgorithm(ProblemChain):
    """A stochastic optimizer on a problem.

    Besides the chain contract (``init``, ``step``, ``position``, ``dt`` = continuous time per
    iteration, ``noise`` = the problem's oracle noise), an algorithm returns

    * ``limit()`` — its diffusion approximation, an [`AbstractSDE`][sde_opt.AbstractSDE] in the same
      time variable (``t = k·dt``), so that simulating ``EulerMaruyama(alg.limit(), alg.dt)`` with
      the same key is a pathwise comparison;
    * ``ode_limit()`` — the deterministic (law of large numbers) limit.
    """

    @abc.abstractmethod
    def limit(self) -> AbstractSDE:
        """The diffusion limit, in time t = k·dt."""

    @abc.abstractmethod
    def ode_limit(self) -> AbstractSDE:
        """The deterministic limit (zero diffusion), in time t = k·dt."""

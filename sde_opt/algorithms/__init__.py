"""Discrete optimizers, each a chain that returns its own diffusion limit.

``REGISTRY`` maps a name to an :class:`Entry` (factory, example hyperparameters, and the problem
and start point to run it on); the contract suite in
``tests/test_contract.py`` runs over every entry, so a new algorithm registered here inherits the
checks (jit = no-jit, no recompilation across hyperparameters, vmap over keys, dtype kept, limit
consistency).
"""

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from ..problems import QuadraticSaddle
from ..problems.bilevel import QuadraticBilevel

from ._base import AbstractAlgorithm as AbstractAlgorithm
from .aid import AID as AID
from .annealed_momentum_sgd import AnnealedMomentumSGD as AnnealedMomentumSGD
from .annealed_momentum_sgd import AnnealedState as AnnealedState
from .annealed_momentum_sgd import geometric_schedule as geometric_schedule
from .mappings import msgd_as_sghmc as msgd_as_sghmc
from .mappings import msgd_effective_temperature as msgd_effective_temperature
from .mappings import sghmc_as_msgd as sghmc_as_msgd
from .momentum_sgd import MomentumSGD as MomentumSGD
from .momentum_sgd import MomentumState as MomentumState
from .momentum_sgd import sgd as sgd
from .perturbed_aid import PerturbedAID as PerturbedAID
from .perturbed_aid import perturbed_aid_template as perturbed_aid_template
from .sghmc1 import SGHMC1 as SGHMC1
from .sghmc2 import SGHMC2 as SGHMC2
from .sgld import SGLD as SGLD
from .stocbio import StocBiO as StocBiO
from .stocbio_ineon import StocBiOINEON as StocBiOINEON

def _bilevel_problem():
    return QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.1, sigma_g=0.1)


class Entry(NamedTuple):
    """A registered algorithm: its factory, example hyperparameters, and the problem and start
    point the contract suite runs it on (a game algorithm gets a game, a manifold one its
    manifold)."""

    factory: Callable
    hyperparameters: dict
    problem: Callable = lambda: QuadraticSaddle([-1.0, 0.5, 2.0], 0.1)
    start: Callable = lambda problem: jnp.array([0.1, -0.2, 0.3])


REGISTRY: dict[str, Entry] = {
    "sgd": Entry(sgd, {"eta": 0.05}),
    "msgd": Entry(MomentumSGD, {"eta": 0.02, "mu": 0.5}),
    "annealed-msgd": Entry(AnnealedMomentumSGD, {"eta": np.array([0.02, 0.005]),
                                                 "mu": np.array([0.9, 0.5]),
                                                 "boundaries": np.array([8.0])}),
    "sgld": Entry(SGLD, {"eta": 0.05, "beta": 10.0}),
    "sghmc1": Entry(SGHMC1, {"eta": 0.05, "gamma": 1.0, "beta": 10.0}),
    "sghmc2": Entry(SGHMC2, {"eta": 0.05, "gamma": 1.0, "beta": 10.0}),
    "aid": Entry(AID, {"alpha": 0.1, "beta": 0.05}, problem=lambda: _bilevel_problem(),
                 start=lambda problem: jnp.array([0.1, -0.2])),
    "perturbed-aid": Entry(PerturbedAID, {"alpha": 0.1, "beta": 0.05, "radius": 0.05,
                                          "threshold": 1.0, "interval": 4.0},
                           problem=lambda: _bilevel_problem(), start=lambda problem: jnp.array([0.1, -0.2])),
    "stocbio": Entry(StocBiO, {"alpha": 0.1, "beta": 0.05}, problem=lambda: _bilevel_problem(),
                     start=lambda problem: jnp.array([0.1, -0.2])),
    "stocbio-ineon": Entry(StocBiOINEON, {"alpha": 0.1, "beta": 0.05, "radius": 0.05, "step": 0.5,
                                          "iterations": 8.0, "escape_step": 0.2, "threshold": 0.01,
                                          "grow": 8.0},
                           problem=lambda: _bilevel_problem(), start=lambda problem: jnp.array([0.1, -0.2])),
}


def make(name: str, problem, **hyperparameters):
    """Build a registered algorithm by name, e.g. ``make("msgd", problem, eta=0.01, mu=0.9)``."""
    try:
        factory = REGISTRY[name].factory
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; registered: {sorted(REGISTRY)}") from None
    return factory(problem, **hyperparameters)


__all__ = ["AbstractAlgorithm", "AnnealedMomentumSGD", "AnnealedState", "geometric_schedule", "MomentumSGD",
           "MomentumState", "sgd", "SGLD", "SGHMC1", "SGHMC2", "msgd_as_sghmc", "sghmc_as_msgd",
           "msgd_effective_temperature", "REGISTRY", "Entry", "make", "AID", "PerturbedAID",
           "perturbed_aid_template", "StocBiO", "StocBiOINEON"]

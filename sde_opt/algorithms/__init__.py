"""Discrete optimizers, each a chain that returns its own diffusion limit.

``REGISTRY`` maps a name to an :class:`Entry` (factory, example hyperparameters, and the problem
and start point to run it on); the contract suite in
``tests/test_contract.py`` runs over every entry, so a new algorithm registered here inherits the
checks (jit = no-jit, no recompilation across hyperparameters, vmap over keys, dtype kept, limit
consistency).
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..problems import QuadraticSaddle

from ._base import AbstractAlgorithm as AbstractAlgorithm
from .annealed_momentum_sgd import AnnealedMomentumSGD as AnnealedMomentumSGD
from .annealed_momentum_sgd import AnnealedState as AnnealedState
from .annealed_momentum_sgd import geometric_schedule as geometric_schedule
from .mappings import msgd_as_sghmc as msgd_as_sghmc
from .mappings import msgd_effective_temperature as msgd_effective_temperature
from .mappings import sghmc_as_msgd as sghmc_as_msgd
from .momentum_sgd import MomentumSGD as MomentumSGD
from .momentum_sgd import MomentumState as MomentumState
from .momentum_sgd import sgd as sgd
from .riemannian_gd import RiemannianGD as RiemannianGD
from .riemannian_momentum import RiemannianMomentum as RiemannianMomentum
from .riemannian_momentum import RiemannianMomentumState as RiemannianMomentumState
from .riemannian_sgd import RiemannianSGD as RiemannianSGD
from .sghmc1 import SGHMC1 as SGHMC1
from .sghmc2 import SGHMC2 as SGHMC2
from .sgld import SGLD as SGLD

def _ufm():
    from ..problems.normalized_ufm import NormalizedUFM

    return NormalizedUFM(3, 3, 2, 2.0, batch_size=2)


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
    "riemannian-sgd": Entry(RiemannianSGD, {"eta": 0.05}, problem=lambda: _ufm(),
                            start=lambda p: p.random_point(jax.random.key(0))),
    "riemannian-momentum": Entry(RiemannianMomentum, {"eta": 0.05, "mu": 0.5}, problem=lambda: _ufm(),
                                 start=lambda p: p.random_point(jax.random.key(0))),
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
           "msgd_effective_temperature", "RiemannianGD", "RiemannianSGD", "RiemannianMomentum",
           "RiemannianMomentumState", "REGISTRY", "Entry", "make"]

"""Discrete optimizers, each a chain that returns its own diffusion limit.

``REGISTRY`` maps a name to ``(factory, example_hyperparameters)``; the contract suite in
``tests/test_contract.py`` runs over every entry, so a new algorithm registered here inherits the
checks (jit = no-jit, no recompilation across hyperparameters, vmap over keys, dtype kept, limit
consistency).
"""

import numpy as np

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
from .sghmc1 import SGHMC1 as SGHMC1
from .sghmc2 import SGHMC2 as SGHMC2
from .sgld import SGLD as SGLD

REGISTRY = {
    "sgd": (sgd, {"eta": 0.05}),
    "msgd": (MomentumSGD, {"eta": 0.02, "mu": 0.5}),
    "annealed-msgd": (AnnealedMomentumSGD, {"eta": np.array([0.02, 0.005]), "mu": np.array([0.9, 0.5]),
                                            "boundaries": np.array([8.0])}),
    "sgld": (SGLD, {"eta": 0.05, "beta": 10.0}),
    "sghmc1": (SGHMC1, {"eta": 0.05, "gamma": 1.0, "beta": 10.0}),
    "sghmc2": (SGHMC2, {"eta": 0.05, "gamma": 1.0, "beta": 10.0}),
}


def make(name: str, problem, **hyperparameters):
    """Build a registered algorithm by name, e.g. ``make("msgd", problem, eta=0.01, mu=0.9)``."""
    try:
        factory, _ = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; registered: {sorted(REGISTRY)}") from None
    return factory(problem, **hyperparameters)


__all__ = ["AbstractAlgorithm", "AnnealedMomentumSGD", "AnnealedState", "geometric_schedule", "MomentumSGD",
           "MomentumState", "sgd", "SGLD", "SGHMC1", "SGHMC2", "msgd_as_sghmc", "sghmc_as_msgd",
           "msgd_effective_temperature", "REGISTRY", "make"]

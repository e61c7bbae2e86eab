"""Continuous models and the schemes that turn them into chains; bridges to diffrax and torchsde.

The bridges are loaded on first access (``sde_opt.sde.solve_diffrax``, ``sde_opt.sde.to_torchsde``
…), so importing ``sde_opt`` imports neither diffrax nor torch.
"""

import importlib

from ._base import AbstractSDE as AbstractSDE
from .adaptive import AdamSDE as AdamSDE
from .adaptive import RMSpropSDE as RMSpropSDE
from .euler_maruyama import EulerMaruyama as EulerMaruyama
from .euler_maruyama import TimedState as TimedState
from .exact_ou import ExactOU as ExactOU
from .field import FieldSDE as FieldSDE
from .from_functions import SDE as SDE
from .gradient import GradientSDE as GradientSDE
from .langevin import OverdampedLangevin as OverdampedLangevin
from .langevin import PhaseSpace as PhaseSpace
from .langevin import UnderdampedLangevin as UnderdampedLangevin
from .linear import LinearSDE as LinearSDE
from .schedules import PiecewiseConstant as PiecewiseConstant
from .splitting import BAOAB as BAOAB
from .splitting import OBABO as OBABO

_LAZY = {
    "diffrax_terms": "diffrax_bridge",
    "solve_diffrax": "diffrax_bridge",
    "GridBrownianPath": "diffrax_bridge",
    "to_torchsde": "torchsde_bridge",
    "replay_brownian": "torchsde_bridge",
    "replay_brownian_from_normals": "torchsde_bridge",
}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = ["AbstractSDE", "SDE", "RMSpropSDE", "AdamSDE", "EulerMaruyama", "TimedState", "FieldSDE",
           "GradientSDE",
           "PiecewiseConstant", "LinearSDE", "OverdampedLangevin",
           "UnderdampedLangevin", "PhaseSpace", "ExactOU", "BAOAB", "OBABO", *_LAZY]

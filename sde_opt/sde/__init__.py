"""Continuous models and the schemes that turn them into chains; bridges to diffrax and torchsde."""

from ._base import AbstractSDE as AbstractSDE
from .euler_maruyama import EulerMaruyama as EulerMaruyama
from .exact_ou import ExactOU as ExactOU
from .gradient import GradientSDE as GradientSDE
from .langevin import OverdampedLangevin as OverdampedLangevin
from .langevin import PhaseSpace as PhaseSpace
from .langevin import UnderdampedLangevin as UnderdampedLangevin
from .linear import LinearSDE as LinearSDE
from .splitting import BAOAB as BAOAB
from .splitting import OBABO as OBABO

__all__ = ["AbstractSDE", "EulerMaruyama", "GradientSDE", "LinearSDE", "OverdampedLangevin",
           "UnderdampedLangevin", "PhaseSpace", "ExactOU", "BAOAB", "OBABO"]

"""Continuous models and the schemes that turn them into chains; bridges to diffrax and torchsde."""

from ._base import AbstractSDE as AbstractSDE
from .euler_maruyama import EulerMaruyama as EulerMaruyama
from .gradient import GradientSDE as GradientSDE
from .linear import LinearSDE as LinearSDE

__all__ = ["AbstractSDE", "EulerMaruyama", "GradientSDE", "LinearSDE"]

"""sde_opt: stochastic optimizers as stochastic differential equations, measured side by side.

Layers (each imports only the ones before it): ``problems`` → ``sde`` → ``algorithms`` →
``engine`` (knows only the chain contract) → ``stats`` / ``fit`` / ``theory`` (arrays in, numbers
out) → ``studies`` / ``validation`` (compose everything).
"""

from . import algorithms, engine, problems, sde
from ._chain import AbstractChain
from .algorithms import AnnealedMomentumSGD, MomentumSGD, sgd
from .engine import EnterBall, LeaveBall, SimulationResult, Threshold, simulate, use_cpu_cores
from .noise import StandardNormal
from .problems import Euclidean, MatrixFactorization, Quadratic, QuadraticSaddle, Sphere, StreamingPCA
from .sde import EulerMaruyama, GradientSDE, LinearSDE

__version__ = "0.1.0"

__all__ = [
    "algorithms", "engine", "problems", "sde", "AbstractChain", "AnnealedMomentumSGD", "MomentumSGD", "sgd",
    "EnterBall", "LeaveBall", "SimulationResult", "Threshold", "simulate", "use_cpu_cores",
    "StandardNormal", "Euclidean", "MatrixFactorization", "Quadratic", "QuadraticSaddle", "Sphere",
    "StreamingPCA", "EulerMaruyama",
    "GradientSDE", "LinearSDE",
]

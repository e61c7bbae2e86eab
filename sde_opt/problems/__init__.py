"""Landscapes: objectives, stochastic-gradient oracles, geometry and known critical points."""

from ._base import AbstractProblem as AbstractProblem
from .geometry import Euclidean as Euclidean
from .geometry import Sphere as Sphere
from .matrix_factorization import MatrixFactorization as MatrixFactorization
from .quadratic import Quadratic as Quadratic
from .quadratic_saddle import QuadraticSaddle as QuadraticSaddle
from .streaming_pca import StreamingPCA as StreamingPCA

__all__ = ["AbstractProblem", "Euclidean", "Sphere", "MatrixFactorization", "Quadratic", "QuadraticSaddle",
           "StreamingPCA"]

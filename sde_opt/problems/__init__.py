"""Landscapes: objectives, stochastic-gradient oracles, geometry and known critical points."""

from ._base import AbstractProblem as AbstractProblem
from .double_well import DoubleWell as DoubleWell
from .double_well import DoubleWell2D as DoubleWell2D
from .geometry import Euclidean as Euclidean
from .geometry import Sphere as Sphere
from .matrix_factorization import MatrixFactorization as MatrixFactorization
from .quadratic import Quadratic as Quadratic
from .quadratic_saddle import QuadraticSaddle as QuadraticSaddle
from .robust_regression import MinibatchIndices as MinibatchIndices
from .robust_regression import RobustRegression as RobustRegression
from .streaming_pca import StreamingPCA as StreamingPCA

__all__ = ["AbstractProblem", "Euclidean", "Sphere", "DoubleWell", "DoubleWell2D", "MatrixFactorization",
           "MinibatchIndices", "Quadratic", "QuadraticSaddle", "RobustRegression", "StreamingPCA"]

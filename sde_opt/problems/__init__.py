"""Landscapes: stochastic fields on geometries — objectives, games, their oracles, critical points."""

from ..geometry import AbstractGeometry as AbstractGeometry
from ..geometry import Euclidean as Euclidean
from ..geometry import Oblique as Oblique
from ..geometry import Product as Product
from ..geometry import Sphere as Sphere
from ..noise import MinibatchIndices as MinibatchIndices
from ._base import AbstractField as AbstractField
from ._base import AbstractGame as AbstractGame
from ._base import AbstractProblem as AbstractProblem
from ._base import check_problem as check_problem
from .adversarial_logistic import AdversarialLogistic as AdversarialLogistic
from .augmented_ufm import AugmentedUFM as AugmentedUFM
from .bilevel import AbstractBilevel as AbstractBilevel
from .bilevel import HyperCleaning as HyperCleaning
from .bilevel import QuadraticBilevel as QuadraticBilevel
from .bilevel import ReducedHypergradient as ReducedHypergradient
from .bilevel import SoftplusBilevel as SoftplusBilevel
from .bilevel_losses import FiniteSumBilevel as FiniteSumBilevel
from .double_well import DoubleWell as DoubleWell
from .double_well import DoubleWell2D as DoubleWell2D
from .finite_sum import FiniteSum as FiniteSum
from .finite_sum import FiniteSumGame as FiniteSumGame
from .games import DoubleWellGame as DoubleWellGame
from .games import PhiStationary as PhiStationary
from .games import QuadraticGame as QuadraticGame
from .games import RampGame as RampGame
from .matrix_factorization import MatrixFactorization as MatrixFactorization
from .moment_gan import MomentGAN as MomentGAN
from .nonconvex_concave import ConcaveWellGame as ConcaveWellGame
from .normalized_ufm import NormalizedUFM as NormalizedUFM
from .quadratic import Quadratic as Quadratic
from .quadratic_saddle import QuadraticSaddle as QuadraticSaddle
from .regularized_ufm import RegularizedUFM as RegularizedUFM
from .robust_regression import RobustRegression as RobustRegression
from .sphere_potential import SphereLinearPotential as SphereLinearPotential
from .streaming_pca import StreamingPCA as StreamingPCA

__all__ = ["AbstractField", "AbstractGame", "AbstractProblem", "check_problem", "AbstractGeometry",
           "Euclidean", "Sphere", "Oblique", "Product", "DoubleWell", "DoubleWell2D", "FiniteSum",
           "MatrixFactorization", "MinibatchIndices", "Quadratic", "QuadraticSaddle", "RobustRegression",
           "StreamingPCA", "AdversarialLogistic", "DoubleWellGame", "QuadraticGame", "RampGame",
           "PhiStationary", "AbstractBilevel", "QuadraticBilevel", "SoftplusBilevel", "HyperCleaning",
           "ReducedHypergradient",
           "NormalizedUFM", "RegularizedUFM", "SphereLinearPotential", "ConcaveWellGame", "MomentGAN",
           "FiniteSumGame", "FiniteSumBilevel", "AugmentedUFM"]

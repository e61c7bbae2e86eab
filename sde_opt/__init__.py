"""sde_opt: stochastic optimizers as stochastic differential equations, measured side by side.

Layers (each imports only the ones before it): ``problems`` → ``sde`` → ``algorithms`` →
``engine`` (knows only the chain contract) → ``stats`` / ``fit`` / ``theory`` (arrays in, numbers
out) → ``studies`` / ``validation`` (compose everything).
"""

from . import algorithms, engine, experiment, geometry, problems, sde, stats, theory
from ._chain import AbstractChain
from .algorithms import (
    AID,
    GDA,
    OGDA,
    SGHMC1,
    SGHMC2,
    SGLD,
    Adam,
    AnnealedMomentumSGD,
    Extragradient,
    GDmax,
    MomentumSGD,
    NesterovSGD,
    OptaxChain,
    PerturbedAID,
    PerturbedGDmax,
    RiemannianGD,
    RiemannianMomentum,
    RiemannianSGD,
    RMSprop,
    StocBiO,
    StocBiOINEON,
    msgd_as_sghmc,
    sgd,
    svag_adam,
    svag_rmsprop,
    svag_sgd,
)
from .engine import (
    EnterBall,
    LeaveBall,
    OnState,
    SimulationResult,
    StreamedSummary,
    Threshold,
    simulate,
    simulate_streamed,
    use_cpu_cores,
)
from .noise import StandardNormal
from .problems import (
    AbstractBilevel,
    AbstractField,
    AbstractGame,
    AbstractGeometry,
    AbstractProblem,
    AdversarialLogistic,
    AugmentedUFM,
    DoubleWell,
    DoubleWell2D,
    DoubleWellGame,
    Euclidean,
    FiniteSum,
    FiniteSumBilevel,
    FiniteSumGame,
    HyperCleaning,
    MatrixFactorization,
    NormalizedUFM,
    Oblique,
    Product,
    Quadratic,
    QuadraticBilevel,
    QuadraticGame,
    QuadraticSaddle,
    RampGame,
    RegularizedUFM,
    RobustRegression,
    SoftplusBilevel,
    Sphere,
    SphereLinearPotential,
    StreamingPCA,
)
from .sde import (
    BAOAB,
    OBABO,
    SDE,
    AbstractSDE,
    EulerMaruyama,
    ExactOU,
    FieldSDE,
    GradientSDE,
    LinearSDE,
    OverdampedLangevin,
    PhaseSpace,
    UnderdampedLangevin,
)
from .sde.adaptive import AdamSDE, RMSpropSDE
from .sde.geodesic_em import GeodesicEulerMaruyama
from .sde.two_timescale import GDmaxSDE, ReducedSDE, TwoTimescaleSDE

__version__ = "0.1.0"

__all__ = [
    "algorithms", "engine", "experiment", "geometry", "problems", "sde", "stats", "theory",
    "AbstractChain",
    # algorithms
    "MomentumSGD", "NesterovSGD", "sgd", "AnnealedMomentumSGD", "SGLD", "SGHMC1", "SGHMC2",
    "msgd_as_sghmc",
    "GDA", "OGDA", "Extragradient", "GDmax", "PerturbedGDmax",
    "QuadraticGame", "DoubleWellGame", "RampGame", "AdversarialLogistic",
    "TwoTimescaleSDE", "ReducedSDE", "GDmaxSDE",
    "AID", "PerturbedAID", "StocBiO", "StocBiOINEON",
    "AbstractBilevel", "QuadraticBilevel", "SoftplusBilevel", "HyperCleaning",
    # engine
    "EnterBall", "LeaveBall", "SimulationResult", "Threshold", "simulate", "simulate_streamed",
    "StreamedSummary", "use_cpu_cores",
    "StandardNormal",
    # geometries and problems
    "AbstractGeometry", "Euclidean", "Sphere", "Oblique", "Product",
    "AbstractField", "AbstractProblem", "AbstractGame", "FiniteSum", "Quadratic", "QuadraticSaddle",
    "StreamingPCA", "MatrixFactorization",
    "DoubleWell", "DoubleWell2D", "RobustRegression",
    # SDEs and schemes
    "EulerMaruyama", "FieldSDE", "GradientSDE", "LinearSDE", "OverdampedLangevin",
    "UnderdampedLangevin",
    "PhaseSpace", "ExactOU", "BAOAB", "OBABO",
    # neural collapse on a product of spheres
    "RiemannianGD", "RiemannianSGD", "RiemannianMomentum", "NormalizedUFM", "RegularizedUFM",
    "SphereLinearPotential", "GeodesicEulerMaruyama", "AugmentedUFM",
    # your own game, bilevel problem or SDE
    "FiniteSumGame", "FiniteSumBilevel", "SDE", "AbstractSDE", "OnState",
    # any optax optimizer; RMSprop and Adam with their SDEs (Malladi et al. 2022); SVAG
    "OptaxChain", "RMSprop", "Adam", "RMSpropSDE", "AdamSDE", "svag_sgd", "svag_rmsprop",
    "svag_adam",
]

"""Discrete optimizers, each a chain that returns its own diffusion limit.

``REGISTRY`` maps a name to an [`Entry`][sde_opt.algorithms.Entry] (factory, example hyperparameters, and the
problem and start point to run it on); the contract suite in ``tests/test_contract.py`` runs over every entry,
so a new algorithm registered here inherits the checks (jit = no-jit, no recompilation across hyperparameters,
vmap over keys, dtype kept, limit consistency).
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..problems import QuadraticSaddle
from ..problems.bilevel import QuadraticBilevel
from ..problems.games import DoubleWellGame as _DoubleWellGame
from ._base import AbstractAlgorithm as AbstractAlgorithm
from .adam import Adam as Adam
from .adam import AdamState as AdamState
from .aid import AID as AID
from .annealed_momentum_sgd import AnnealedMomentumSGD as AnnealedMomentumSGD
from .annealed_momentum_sgd import AnnealedState as AnnealedState
from .annealed_momentum_sgd import geometric_schedule as geometric_schedule
from .extragradient import Extragradient as Extragradient
from .gda import GDA as GDA
from .gda import GameState as GameState
from .gdmax import GDmax as GDmax
from .mappings import msgd_as_sghmc as msgd_as_sghmc
from .mappings import msgd_effective_temperature as msgd_effective_temperature
from .mappings import sghmc_as_msgd as sghmc_as_msgd
from .momentum_sgd import MomentumSGD as MomentumSGD
from .momentum_sgd import MomentumState as MomentumState
from .momentum_sgd import sgd as sgd
from .nesterov import NesterovSGD as NesterovSGD
from .ogda import OGDA as OGDA
from .ogda import OGDAState as OGDAState
from .optax_chain import OptaxChain as OptaxChain
from .optax_chain import OptaxState as OptaxState
from .perturbed_aid import PerturbedAID as PerturbedAID
from .perturbed_aid import perturbed_aid_template as perturbed_aid_template
from .perturbed_gdmax import PerturbedGDmax as PerturbedGDmax
from .perturbed_gdmax import PerturbedState as PerturbedState
from .perturbed_gdmax import perturbed_gdmax_template as perturbed_gdmax_template
from .riemannian_gd import RiemannianGD as RiemannianGD
from .riemannian_momentum import RiemannianMomentum as RiemannianMomentum
from .riemannian_momentum import RiemannianMomentumState as RiemannianMomentumState
from .riemannian_sgd import RiemannianSGD as RiemannianSGD
from .rmsprop import RMSprop as RMSprop
from .rmsprop import RMSpropState as RMSpropState
from .sghmc1 import SGHMC1 as SGHMC1
from .sghmc2 import SGHMC2 as SGHMC2
from .sgld import SGLD as SGLD
from .stocbio import StocBiO as StocBiO
from .stocbio_ineon import StocBiOINEON as StocBiOINEON
from .svag import SVAGOracle as SVAGOracle
from .svag import svag_adam as svag_adam
from .svag import svag_rmsprop as svag_rmsprop
from .svag import svag_sgd as svag_sgd


def _game():
    return _DoubleWellGame(2, 1.0, 0.2, 0.5, sigma_x=0.3, sigma_y=0.2)


def _game_start(problem):
    return (jnp.array([0.1, -0.2]), jnp.array([0.3, 0.05]))


def _bilevel_problem():
    return QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.1, sigma_g=0.1)


def _ufm():
    from ..problems.normalized_ufm import NormalizedUFM

    return NormalizedUFM(3, 3, 2, 2.0, batch_size=2)


def _noise_dominated_saddle():
    # the adaptive methods' SDEs need the gradient noise to dominate the gradient (their u equation
    # drops (∂ᵢf)²/Σ_ii): Σ = 4 I against |∂ᵢf| ≤ 0.6 at the contract's start points
    return QuadraticSaddle([-1.0, 0.5, 2.0], 4.0)


def _adaptive_excess(alg, state):
    from ..theory.adaptive import one_step_excess

    return one_step_excess(alg, state)


class Entry(NamedTuple):
    """A registered algorithm: its factory, example hyperparameters, and the problem and start
    point the contract suite runs it on (a game algorithm gets a game, a manifold one its
    manifold)."""

    factory: Callable
    hyperparameters: dict
    problem: Callable = lambda: QuadraticSaddle([-1.0, 0.5, 2.0], 0.1)
    start: Callable = lambda problem: jnp.array([0.1, -0.2, 0.3])
    # True when the limit's state is the chain's state (one step of the chain is one step of the
    # SDE, compared by the contract suite); momentum methods describe x only over many steps
    one_step_limit: bool = True
    # False for a deterministic method (its oracle draws nothing that reaches the state)
    stochastic: bool = True
    # (alg, state) → (mean, cov): the chain's own first-order (O(dt)) one-step terms per unit time
    # that its limit omits by design, derived by hand (adaptive methods: the second-moment average
    # moves by dt × a noisy estimate of its drift); added to the limit-consistency allowance
    omitted: Callable | None = None


REGISTRY: dict[str, Entry] = {
    "sgd": Entry(sgd, {"eta": 0.05}),
    "msgd": Entry(MomentumSGD, {"eta": 0.02, "mu": 0.5}, one_step_limit=False),
    "annealed-msgd": Entry(AnnealedMomentumSGD, {"eta": np.array([0.02, 0.005]),
                                                 "mu": np.array([0.9, 0.5]),
                                                 "boundaries": np.array([8.0])}, one_step_limit=False),
    "nesterov": Entry(NesterovSGD, {"eta": 0.02, "mu": 0.5}, one_step_limit=False),
    "sgld": Entry(SGLD, {"eta": 0.05, "beta": 10.0}),
    "sghmc1": Entry(SGHMC1, {"eta": 0.05, "gamma": 1.0, "beta": 10.0}),
    "sghmc2": Entry(SGHMC2, {"eta": 0.05, "gamma": 1.0, "beta": 10.0}),
    "gda": Entry(GDA, {"eta_x": 0.02, "eta_y": 0.2}, _game, _game_start),
    "gda-alternating": Entry(lambda p, **kw: GDA(p, alternating=True, **kw),
                             {"eta_x": 0.02, "eta_y": 0.2}, _game, _game_start),
    "ogda": Entry(OGDA, {"eta_x": 0.02, "eta_y": 0.2}, _game, _game_start),
    "extragradient": Entry(Extragradient, {"eta_x": 0.02, "eta_y": 0.2}, _game, _game_start),
    # GDmax's limit is the reduced slow SDE of x (y slaved to y*(x)): not a one-step match
    "gdmax": Entry(lambda p, **kw: GDmax(p, n_inner=5, **kw), {"eta_x": 0.02, "eta_y": 0.2},
                   _game, _game_start, one_step_limit=False),
    "perturbed-gdmax": Entry(lambda p, **kw: PerturbedGDmax(p, n_inner=5, interval=20, **kw),
                             {"eta_x": 0.02, "eta_y": 0.2, "radius": 0.05, "eps": 0.1},
                             _game, _game_start, one_step_limit=False),
    # AID's state carries the inner y and v: its limit (the hypergradient flow of x) is no
    # one-step match
    "aid": Entry(AID, {"alpha": 0.1, "beta": 0.05}, problem=lambda: _bilevel_problem(),
                 start=lambda problem: jnp.array([0.1, -0.2]), one_step_limit=False,
                 stochastic=False),
    "perturbed-aid": Entry(PerturbedAID, {"alpha": 0.1, "beta": 0.05, "radius": 0.05,
                                          "threshold": 1.0, "interval": 4},
                           problem=lambda: _bilevel_problem(), start=lambda problem: jnp.array([0.1, -0.2]),
                           one_step_limit=False),
    "stocbio": Entry(StocBiO, {"alpha": 0.1, "beta": 0.05}, problem=lambda: _bilevel_problem(),
                     start=lambda problem: jnp.array([0.1, -0.2]), one_step_limit=False),
    "stocbio-ineon": Entry(StocBiOINEON, {"alpha": 0.1, "beta": 0.05, "radius": 0.05, "step": 0.5,
                                          "iterations": 8, "escape_step": 0.2, "threshold": 0.01,
                                          "grow": 8.0},
                           problem=lambda: _bilevel_problem(), start=lambda problem: jnp.array([0.1, -0.2]),
                           one_step_limit=False),
    "riemannian-sgd": Entry(RiemannianSGD, {"eta": 0.05}, problem=lambda: _ufm(),
                            start=lambda p: p.random_point(jax.random.key(0))),
    # RMSprop/Adam in the paper's parametrization (Malladi et al. 2022): dt = η² = 0.01, c = 1,
    # σ₀ = 0.1, ε₀ = 0.05, started from u₀ = 1 (from u₀ = 0 the one-step moments deviate at O(η),
    # the paper's order, not O(dt)); Adam without bias correction has a time-homogeneous limit
    "rmsprop": Entry(RMSprop, {"eta": 0.1, "beta": 0.99, "eps": 0.5, "u0": 1.0},
                     problem=_noise_dominated_saddle, omitted=_adaptive_excess),
    "adam": Entry(lambda p, **kw: Adam(p, bias_correction=False, **kw),
                  {"eta": 0.1, "beta1": 0.99, "beta2": 0.99, "eps": 0.5, "u0": 1.0},
                  problem=_noise_dominated_saddle, omitted=_adaptive_excess),
    "adam-bias-corrected": Entry(Adam, {"eta": 0.1, "beta1": 0.99, "beta2": 0.99, "eps": 0.5},
                                 problem=_noise_dominated_saddle),
    "svag-sgd": Entry(lambda p, **kw: svag_sgd(p, ell=4.0, **kw), {"eta": 0.2}),
    "riemannian-momentum": Entry(RiemannianMomentum, {"eta": 0.05, "mu": 0.5}, problem=lambda: _ufm(),
                                 start=lambda p: p.random_point(jax.random.key(0)), one_step_limit=False),
}


def make(name: str, problem, **hyperparameters):
    """Build a registered algorithm by name, e.g. ``make("msgd", problem, eta=0.01, mu=0.9)``."""
    from .._checks import check_choice

    factory = REGISTRY[check_choice("make", "name", name, tuple(sorted(REGISTRY)))].factory
    return factory(problem, **hyperparameters)


__all__ = ["AbstractAlgorithm", "AnnealedMomentumSGD", "AnnealedState", "geometric_schedule", "MomentumSGD",
           "MomentumState", "NesterovSGD", "sgd", "SGLD", "SGHMC1", "SGHMC2", "msgd_as_sghmc",
           "sghmc_as_msgd", "msgd_effective_temperature", "REGISTRY", "Entry", "make", "GDA",
           "GameState", "OGDA", "OGDAState", "Extragradient", "GDmax", "PerturbedGDmax",
           "PerturbedState", "perturbed_gdmax_template", "AID", "PerturbedAID",
           "perturbed_aid_template", "StocBiO", "StocBiOINEON",
           "RiemannianGD", "RiemannianSGD", "RiemannianMomentum", "RiemannianMomentumState",
           "OptaxChain", "OptaxState", "RMSprop", "RMSpropState", "Adam", "AdamState",
           "SVAGOracle", "svag_sgd", "svag_rmsprop", "svag_adam"]

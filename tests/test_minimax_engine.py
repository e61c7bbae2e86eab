"""Every registered minimax algorithm, and Euler–Maruyama of its limit, runs through the engine on
every kind of game it accepts (issue 21, part 3; issue 18, defect 2: the limits used to fail on a
QuadraticGame inside the engine's jit). Where an algorithm does not accept a game, the refusal is a
clear error, not a failure mid-simulation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _minimax_games import MomentGAN, gan_start

import sde_opt as so
from sde_opt.algorithms import REGISTRY

ENTRIES = ["gda", "gda-alternating", "ogda", "extragradient", "gdmax", "perturbed-gdmax"]
NEEDS_PHI = {"gdmax", "perturbed-gdmax"}     # their limit is the reduced SDE: needs y*(x) and ∇Φ


def _pair(x, y):
    return (jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))


# name -> (game, start)
GAMES = {
    "quadratic-ncsc": lambda: (so.QuadraticGame(np.diag([-1.0, 0.5]), 0.4 * np.eye(2), np.eye(2),
                                                sigma_x=0.1, sigma_y=0.1),
                               _pair([0.1, -0.2], [0.0, 0.1])),
    "quadratic-bilinear": lambda: (so.QuadraticGame.bilinear(np.eye(2), sigma_x=0.1, sigma_y=0.1),
                                   _pair([0.1, -0.2], [0.0, 0.1])),
    "double-well-linear": lambda: (so.DoubleWellGame(2, mu=0.2, sigma_x=0.1, sigma_y=0.1),
                                   _pair([0.1, -0.2], [0.3, 0.05])),
    "double-well-tanh": lambda: (so.DoubleWellGame(2, mu=0.2, coupling="tanh", sigma_x=0.1,
                                                   sigma_y=0.1), _pair([0.1, -0.2], [0.3, 0.05])),
    "double-well-ball": lambda: (so.DoubleWellGame(2, mu=0.2, y_radius=0.5, sigma_x=0.1,
                                                   sigma_y=0.1), _pair([0.1, -0.2], [0.3, 0.05])),
    "ramp": lambda: (so.RampGame(2, eps=0.1, mu=0.1, sigma_x=0.1, sigma_y=0.1),
                     _pair([1.0, -0.5], [0.0, 0.0])),
    "adversarial-logistic": lambda: (so.AdversarialLogistic(n=16, d=3, batch_size=8),
                                     _pair(np.zeros(3), np.ones(16))),
    "moment-gan-dict": lambda: (MomentGAN(dict_generator=True), gan_start(MomentGAN())),
}
# perturbed GDmax kicks x with a uniform point of the ball in ℝ^{d_x}: x must be one flat vector
NOT_ACCEPTED = {("perturbed-gdmax", "moment-gan-dict")}
# in the default suite: one algorithm per kind of limit (two-timescale, GDmax's reduced) on the
# QuadraticGame of defect 2; the rest in the slow suite (dict players: test_minimax_pytree.py)
DEFAULT_SUITE = {("gda", "quadratic-ncsc"), ("gdmax", "quadratic-ncsc")}


def _cases():
    for game in GAMES:
        for name in ENTRIES:
            if (name, game) in NOT_ACCEPTED:
                continue
            marks = () if (name, game) in DEFAULT_SUITE else (pytest.mark.slow,)
            yield pytest.param(name, game, marks=marks, id=f"{name}-{game}")


def _check(res, z0, n_paths):
    assert sum(res.counts().values()) == n_paths
    assert res.counts()["diverged"] == 0
    want = jax.tree_util.tree_structure(z0)
    assert jax.tree_util.tree_structure(res.final) == want
    for leaf, start in zip(jax.tree_util.tree_leaves(res.final), jax.tree_util.tree_leaves(z0),
                           strict=True):
        assert leaf.shape == (n_paths, *np.shape(start)) and leaf.dtype == jnp.float32
        assert np.all(np.isfinite(np.asarray(leaf)))


@pytest.mark.parametrize("name,game_name", list(_cases()))
def test_algorithm_and_its_limit_run_through_the_engine(name, game_name):
    entry = REGISTRY[name]
    game, z0 = GAMES[game_name]()
    alg = entry.factory(game, **entry.hyperparameters)
    _check(so.simulate(alg, z0, 0, n_paths=3, n_steps=4), z0, 3)
    if name in NEEDS_PHI and game_name == "quadratic-bilinear":
        # no Φ: the limit is refused when it is built, naming why
        with pytest.raises(ValueError, match="C ≻ 0"):
            alg.limit()
        return
    for sde in (alg.limit(), alg.ode_limit()):
        _check(so.simulate(so.EulerMaruyama(sde, alg.dt), z0, 0, n_paths=3, n_steps=4), z0, 3)


def test_every_minimax_entry_is_covered():
    registered = {n for n, e in REGISTRY.items() if getattr(e.problem(), "is_game", False)}
    assert registered == set(ENTRIES)

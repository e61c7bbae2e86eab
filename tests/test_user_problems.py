"""A user's own problem or game: what fails must fail when the algorithm is built, naming it."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so


class Bilinear(so.AbstractGame):
    """f(x, y) = a·xy with no geometry declared: the flat default."""

    a: float

    @property
    def shape(self):
        return ((1,), (1,))

    def objective(self, z):
        x, y = z
        return self.a * jnp.sum(x * y) + jnp.sum(x**2) / 2 - jnp.sum(y**2) / 2

    def stochastic_field(self, z, noise):
        v = self.field(z)
        return (v[0] + 0.1 * noise[:1], v[1] + 0.1 * noise[1:])


class FlatOracle(Bilinear):
    """The oracle returns one flat vector instead of a pair."""

    def stochastic_field(self, z, noise):
        return jnp.concatenate(self.field(z)) + 0.1 * noise


def test_a_custom_game_without_geometry_is_flat_and_runs():
    game = Bilinear(2.0)
    assert game.geometry == so.Euclidean()
    r = so.simulate(so.GDA(game, 0.05, 0.05), (jnp.ones(1), jnp.ones(1)), key=0, n_paths=8,
                    n_steps=200)
    assert r.counts()["censored"] == 8 and np.all(np.abs(r.final[0]) < 1.0)


@pytest.mark.parametrize("make", [lambda g: so.GDA(g, 0.1, 0.1), lambda g: so.OGDA(g, 0.1, 0.1),
                                  lambda g: so.Extragradient(g, 0.1, 0.1)])
def test_a_wrong_oracle_fails_when_the_algorithm_is_built(make):
    with pytest.raises(ValueError, match=r"^(GDA|OGDA|Extragradient): the problem's oracle does "
                                         r"not fit its shape — FlatOracle: stochastic_field must "
                                         r"return a point like z"):
        make(FlatOracle(1.0))


def test_sgd_names_itself():
    with pytest.raises(TypeError, match=r"^sgd: problem must be a minimization problem .* "
                                        r"got Bilinear, which is a game"):
        so.sgd(Bilinear(1.0), 0.1)
    with pytest.raises(ValueError, match="^sgd: eta must lie in"):
        so.sgd(so.QuadraticSaddle([-1.0, 1.0]), -0.1)

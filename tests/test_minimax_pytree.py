"""Players as pytrees: a GAN-like game whose generator is a dict runs through GDA, OGDA,
extragradient and GDmax, and through their limits, and gives the iterates of the same game on a
flat array (tests/_minimax_games.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _minimax_games import MomentGAN, gan_start
from jax.flatten_util import ravel_pytree

import sde_opt as so

ALGORITHMS = {
    "gda": lambda g: so.GDA(g, 0.05, 0.5),
    "gda-alternating": lambda g: so.GDA(g, 0.05, 0.5, alternating=True),
    "ogda": lambda g: so.OGDA(g, 0.05, 0.5),
    "extragradient": lambda g: so.Extragradient(g, 0.05, 0.5),
    "gdmax": lambda g: so.GDmax(g, 0.05, 0.5, n_inner=3),
}


def _flat_final(res):
    """Per-path flat (x, y) of a result's final positions."""
    return np.concatenate([np.asarray(leaf).reshape(res.final[1].shape[0], -1)
                           for leaf in jax.tree_util.tree_leaves(res.final)], axis=1)


def test_the_gan_closed_forms_by_hand():
    with jax.enable_x64(True):
        for game in (MomentGAN(dict_generator=True), MomentGAN(dict_generator=False)):
            x, _ = gan_start(game, jnp.float64)
            ys = game.y_star(x)
            # y* is a zero of ∇ᵧf, and ∇Φ (by hand) is autodiff of Φ (by hand)
            np.testing.assert_allclose(game.field((x, ys))[1], 0.0, atol=1e-14)
            auto = ravel_pytree(jax.grad(game.phi)(x))[0]
            np.testing.assert_allclose(ravel_pytree(game.phi_grad(x))[0], auto, rtol=1e-12)
            assert float(game.phi(x)) == pytest.approx(float(game.objective((x, ys))), rel=1e-12)


# GDA and GDmax (the two limits: two-timescale and reduced) in the default suite, the rest slow
@pytest.mark.parametrize("name", [n if n in ("gda", "gdmax") else pytest.param(n, marks=pytest.mark.slow)
                                  for n in sorted(ALGORITHMS)])
def test_a_dict_generator_gives_the_flat_iterates(name):
    with jax.enable_x64(True):
        finals, limits = [], []
        for game in (MomentGAN(dict_generator=True), MomentGAN(dict_generator=False)):
            alg = ALGORITHMS[name](game)
            z0 = gan_start(game, jnp.float64)
            res = so.simulate(alg, z0, 3, n_paths=6, n_steps=40)
            assert res.counts()["censored"] == 6
            assert jax.tree_util.tree_structure(res.final[0]) == \
                jax.tree_util.tree_structure(jax.tree_util.tree_map(lambda a: a[None], z0[0]))
            finals.append(_flat_final(res))
            em = so.EulerMaruyama(alg.limit(), alg.dt)
            limits.append(_flat_final(so.simulate(em, z0, 3, n_paths=6, n_steps=40)))
        np.testing.assert_allclose(finals[0], finals[1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(limits[0], limits[1], rtol=1e-12, atol=1e-14)
        assert np.all(np.isfinite(limits[0]))
        # the paths moved (the comparison is not between two unchanged starts)
        start = ravel_pytree(gan_start(MomentGAN(dict_generator=False), jnp.float64))[0]
        assert np.min(np.abs(finals[0] - start).max(axis=1)) > 1e-2


def test_gdmax_drives_the_dict_generator_to_the_data_moments():
    """Deterministic GDmax on the dict game: Φ falls and (|a|, b) approach (s, m)."""
    with jax.enable_x64(True):
        game = eqx_replace(MomentGAN(dict_generator=True), sigma_x=0.0, sigma_y=0.0)
        alg = so.GDmax(game, 0.05, 0.5, n_inner=20)
        z0 = gan_start(game, jnp.float64)
        res = so.simulate(alg, z0, 0, n_paths=1, n_steps=3000)
        x = jax.tree_util.tree_map(lambda a: a[0], res.final[0])
        np.testing.assert_allclose(np.abs(x["a"]), [0.8, 1.2], atol=1e-4)
        np.testing.assert_allclose(x["b"], [1.0, -0.5], atol=1e-4)
        assert float(game.phi(x)) < 1e-8 < float(game.phi(z0[0]))


def eqx_replace(game, **fields):
    import equinox as eqx

    for k, v in fields.items():
        game = eqx.tree_at(lambda g, k=k: getattr(g, k), game, v)
    return game

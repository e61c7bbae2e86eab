"""Perturbed GDmax on a game whose x is a pytree (review of issue 19): the kick is drawn in the
flattened x, so the dict-generator GAN and the same game on a flat array give the same iterates,
kicks included (before the fix: AttributeError 'dict' object has no attribute 'dtype', and
``from_template`` a KeyError)."""

import jax
import jax.numpy as jnp
import numpy as np
from _minimax_games import MomentGAN, gan_start
from jax.flatten_util import ravel_pytree

import sde_opt as so


def _run(game, n_steps=60):
    # a threshold large enough that kicks happen along the path (every 4 gradient steps)
    alg = so.PerturbedGDmax(game, 0.05, 0.5, 3, radius=2.0, eps=1.0, threshold=10.0, interval=3)
    state = alg.init(gan_start(game, jnp.float64))
    step = jax.jit(lambda s, z: alg.step(s, z))
    for key in jax.random.split(jax.random.key(5), n_steps):
        state = step(state, alg.noise.sample(key, jnp.float64))
    return state


def test_a_dict_generator_gives_the_flat_iterates_kicks_included():
    with jax.enable_x64(True):
        d, f = _run(MomentGAN(dict_generator=True)), _run(MomentGAN(dict_generator=False))
        assert isinstance(d.z[0], dict)
        assert int(d.kick.kicks) == int(f.kick.kicks) >= 10
        np.testing.assert_allclose(ravel_pytree(d.z[0])[0], f.z[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(d.z[1], f.z[1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(d.kick.anchor, f.kick.anchor, rtol=1e-12, atol=1e-14)


def test_a_dict_generator_runs_through_simulate_and_the_template():
    game = MomentGAN(dict_generator=True)
    alg = so.PerturbedGDmax.from_template(game, ell=2.0, mu=1.0, eps=0.1, rho_phi=1.0,
                                          delta_phi=1.0)
    assert alg._parts[1].shape == (4 + 1,)   # the kick: d_x = 4 entries, plus 1 for the radius
    res = so.simulate(alg, gan_start(game), 0, n_paths=3, n_steps=20)
    assert res.counts()["diverged"] == 0
    assert set(res.final[0]) == {"a", "b"} and res.final[0]["a"].shape == (3, 2)

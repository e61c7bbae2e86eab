"""The chain contract over the registered game algorithms, each on its own problem and start
(tests/test_contract.py unpacks registry entries as 2-tuples and cannot collect since entries
gained their problem and start; this file runs the same checks for the game entries)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.algorithms import REGISTRY

GAME_ENTRIES = ["gda", "gda-alternating", "ogda", "extragradient", "gdmax", "perturbed-gdmax"]


def _alg(name, scale=1.0):
    e = REGISTRY[name]
    p = e.problem()
    kw = {k: v * scale for k, v in e.hyperparameters.items()}
    return e.factory(p, **kw), e.start(p)


def _cast(z, dtype):
    return tuple(jnp.asarray(a, dtype) for a in z)


@pytest.mark.parametrize("name", GAME_ENTRIES)
@pytest.mark.slow
def test_jit_vmap_and_structure(name):
    alg, z0 = _alg(name)
    s0 = alg.init(z0)
    w = alg.noise.sample(jax.random.key(0))
    a = alg.step(s0, w)
    b = jax.jit(lambda c, s, ww: c.step(s, ww))(alg, s0, w)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(s0)
    keys = jax.random.split(jax.random.key(1), 6)
    states = jax.vmap(lambda k: alg.step(alg.init(z0), alg.noise.sample(k)))(keys)
    one = alg.step(alg.init(z0), alg.noise.sample(keys[2]))
    for bb, leaf in zip(jax.tree_util.tree_leaves(states), jax.tree_util.tree_leaves(one)):
        np.testing.assert_allclose(bb[2], leaf, rtol=1e-6, atol=1e-7)
    assert len(np.unique(np.asarray(states.z[0]), axis=0)) == 6


@pytest.mark.parametrize("name", GAME_ENTRIES)
@pytest.mark.slow
def test_dtype_is_kept(name):
    alg, z0 = _alg(name)
    for dtype in (jnp.float32, jnp.float64):
        with jax.enable_x64(dtype == jnp.float64):
            z = _cast(z0, dtype)
            s = alg.step(alg.init(z), alg.noise.sample(jax.random.key(0), dtype))
            for leaf in jax.tree_util.tree_leaves(s):
                if jnp.issubdtype(leaf.dtype, jnp.floating):
                    assert leaf.dtype == dtype, (name, leaf.dtype)


@pytest.mark.slow
def test_no_recompilation_across_hyperparameters():
    for name in GAME_ENTRIES:
        traces = []

        @jax.jit
        def run(alg, z0, w):
            traces.append(1)
            return alg.position(alg.step(alg.init(z0), w))

        for scale in (1.0, 0.5, 0.25):
            alg, z0 = _alg(name, scale)
            run(alg, z0, alg.noise.sample(jax.random.key(0)))
        assert len(traces) == 1, f"{name} recompiled for new hyperparameter values"


@pytest.mark.parametrize("name", ["gda", "gda-alternating", "ogda", "extragradient"])
@pytest.mark.slow
def test_limit_consistency_one_step_moments(name):
    """E[Δ]/dt → the limit's drift and Cov[Δ]/dt → its diffusion B Bᵀ (from the start state; for
    OGDA the stored past gradient is zero there, so Δ is one GDA step)."""
    with jax.enable_x64(True):
        alg, z0 = _alg(name, 0.1)
        z0 = _cast(z0, jnp.float64)
        s0 = alg.init(z0)
        keys = jax.random.split(jax.random.key(2), 40000)
        steps = jax.jit(jax.vmap(lambda k: jnp.concatenate(
            alg.position(alg.step(s0, alg.noise.sample(k, jnp.float64))))))(keys)
        d = (np.asarray(steps) - np.concatenate(z0)) / float(alg.dt)
        sde = alg.limit()
        drift = np.concatenate(sde.drift(z0))
        bmat = np.asarray(sde.diffusion_matrix(z0)[0]), np.asarray(sde.diffusion_matrix(z0)[1])
        bmat = np.concatenate(bmat, 0)
        cov = bmat @ bmat.T
        se = np.sqrt(np.diag(cov) / float(alg.dt) / d.shape[0])
        # O(dt) bias of the mean: |E Δ/dt − drift| ≤ dt·(η-terms); allow 4 SE + 2·dt·|J F|
        bias = 2 * float(alg.dt) * (1 + np.abs(drift)) * 5
        assert np.all(np.abs(d.mean(0) - drift) <= 4 * se + bias), (d.mean(0), drift)
        emp = np.cov((d * float(alg.dt)).T) / float(alg.dt)
        np.testing.assert_allclose(emp, cov, atol=6 * np.max(np.diag(cov)) / np.sqrt(d.shape[0])
                                   + 5 * float(alg.dt) * np.max(np.diag(cov)))


@pytest.mark.slow
def test_gdmax_limit_is_the_reduced_flow():
    with jax.enable_x64(True):
        game = so.DoubleWellGame(2, 1.0, 0.5, 0.5)
        alg = so.GDmax(game, 1e-3, 1.0, n_inner=60)
        z0 = (jnp.array([0.3, -0.2]), jnp.array([0.1, 0.0]))
        s = alg.step(alg.init(z0), jnp.zeros((61, 4)))
        dx = (np.asarray(s.z[0]) - np.asarray(z0[0])) / 1e-3
        np.testing.assert_allclose(dx, np.asarray(alg.limit().drift(z0)[0]), atol=1e-6)
        np.testing.assert_allclose(s.z[1], game.y_star(z0[0]), atol=1e-10)


@pytest.mark.slow
def test_limits_live_in_the_algorithms_geometry():
    for name in GAME_ENTRIES:
        alg, z0 = _alg(name)
        sde = alg.limit()
        assert isinstance(sde, so.sde.AbstractSDE)
        assert type(sde.geometry) is type(alg.problem.geometry)
        ode = alg.ode_limit()
        for leaf in jax.tree_util.tree_leaves(ode.diffusion_matrix(z0)):
            np.testing.assert_allclose(leaf, 0.0)
        em = so.EulerMaruyama(sde, alg.dt)
        res = so.simulate(em, z0, 0, n_paths=4, n_steps=5)
        assert res.counts()["censored"] == 4

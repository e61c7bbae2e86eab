"""One contract for every registered algorithm (and the EM scheme of its limit).

jit = no-jit, no recompilation when hyperparameters change, vmap over keys, dtype kept, state
structure kept, and a limit SDE in the same geometry.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.algorithms import REGISTRY


def _problem():
    return so.QuadraticSaddle([-1.0, 0.5, 2.0], 0.1)


def _chains():
    out = []
    for name, (factory, kw) in sorted(REGISTRY.items()):
        alg = factory(_problem(), **kw)
        out.append(pytest.param(alg, id=name))
        out.append(pytest.param(so.EulerMaruyama(alg.limit(), alg.dt), id=f"{name}-limit-em"))
    return out


def _noise(chain, key, dtype=jnp.float32):
    return chain.noise.sample(key, dtype)


@pytest.mark.parametrize("chain", _chains())
def test_jit_equals_nojit_and_structure_is_kept(chain):
    x0 = jnp.array([0.1, -0.2, 0.3])
    s0 = chain.init(x0)
    z = _noise(chain, jax.random.key(0))
    a = chain.step(s0, z)
    b = jax.jit(lambda c, s, zz: c.step(s, zz))(chain, s0, z)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(s0)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(s0)):
        assert u.shape == v.shape and u.dtype == v.dtype
    assert chain.position(a).shape == x0.shape
    assert float(chain.dt) > 0


@pytest.mark.parametrize("chain", _chains())
def test_float64_is_kept(chain):
    with jax.enable_x64(True):
        x0 = jnp.array([0.1, -0.2, 0.3], jnp.float64)
        s = chain.step(chain.init(x0), _noise(chain, jax.random.key(0), jnp.float64))
        # floating leaves keep float64 (integer leaves such as an iteration counter stay integer)
        leaves = jax.tree_util.tree_leaves(s)
        assert all(leaf.dtype == jnp.float64 for leaf in leaves
                   if jnp.issubdtype(leaf.dtype, jnp.floating))
        assert any(jnp.issubdtype(leaf.dtype, jnp.floating) for leaf in leaves)


@pytest.mark.parametrize("chain", _chains())
def test_vmap_over_keys(chain):
    x0 = jnp.array([0.1, -0.2, 0.3])
    keys = jax.random.split(jax.random.key(1), 8)

    def one(k):
        return chain.step(chain.init(x0), _noise(chain, k))

    states = jax.vmap(one)(keys)
    single = one(keys[3])
    for batched, leaf in zip(jax.tree_util.tree_leaves(states), jax.tree_util.tree_leaves(single)):
        assert batched.shape == (8, *leaf.shape)
        np.testing.assert_allclose(batched[3], leaf, rtol=1e-6, atol=1e-7)
    # the noise reaches the state (not necessarily the position after one step: SGHMC1 moves x
    # with the old velocity)
    flat = np.concatenate([np.asarray(b).reshape(8, -1) for b in jax.tree_util.tree_leaves(states)], 1)
    assert len(np.unique(flat, axis=0)) == 8


def test_no_recompilation_across_hyperparameters():
    for name, (factory, kw) in sorted(REGISTRY.items()):
        traces = []

        @jax.jit
        def run(alg, x0, z):
            traces.append(1)
            return alg.position(alg.step(alg.init(x0), z))

        x0 = jnp.array([0.1, -0.2, 0.3])
        for scale in (1.0, 0.5, 0.25):
            hyper = {k: (v * scale if k != "mu" else v) for k, v in kw.items()}
            alg = factory(_problem(), **hyper)
            run(alg, x0, _noise(alg, jax.random.key(0)))
        assert len(traces) == 1, f"{name} recompiled for new hyperparameter values"


def test_limits_live_in_the_algorithms_geometry():
    for name, (factory, kw) in sorted(REGISTRY.items()):
        alg = factory(_problem(), **kw)
        sde = alg.limit()
        assert isinstance(sde, so.sde.AbstractSDE), name
        assert type(sde.geometry) is type(alg.problem.geometry)
        ode = alg.ode_limit()
        state = ode.init(jnp.array([0.1, 0.2, 0.3]))  # (x, v) for underdamped limits
        np.testing.assert_allclose(ode.diffusion_matrix(state), 0.0)

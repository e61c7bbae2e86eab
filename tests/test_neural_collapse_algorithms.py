"""Riemannian GD / SGD / momentum on a product of spheres: geoopt as the reference step, the
registry contract for the new entries, limit consistency, and the geodesic EM step."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import sde_opt as so
from sde_opt.algorithms import REGISTRY

NEW = ["riemannian-sgd", "riemannian-momentum"]


def _geoopt_steps(x, grads_at, lr, momentum, n_steps):
    """Run geoopt's RiemannianSGD on W and H (rows = spheres, so the transposes) and return the
    points. The momentum buffer is pre-set to zero: geoopt initializes it with the *Euclidean*
    gradient (``state["momentum_buffer"] = grad.clone()``), so its first step would add μ times
    the unprojected gradient — a quirk we do not copy."""
    import geoopt
    import torch

    sphere = geoopt.Sphere()
    params = {k: geoopt.ManifoldParameter(torch.tensor(np.asarray(v).T, dtype=torch.float64),
                                          manifold=sphere) for k, v in x.items()}
    opt = geoopt.optim.RiemannianSGD(list(params.values()), lr=lr, momentum=momentum)
    if momentum > 0:
        for p in params.values():
            opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
    out = []
    for _ in range(n_steps):
        cur = {k: jnp.asarray(p.detach().numpy().T) for k, p in params.items()}
        g = grads_at(cur)
        for k, p in params.items():
            p.grad = torch.tensor(np.asarray(g[k]).T.copy())
        opt.step()
        out.append({k: p.detach().numpy().T.copy() for k, p in params.items()})
    return out


@pytest.mark.parametrize("mu", [0.0, 0.7])
@pytest.mark.slow
def test_steps_match_geoopt_riemannian_sgd(mu):
    with jax.enable_x64(True):
        p = so.NormalizedUFM(3, 4, 2, 2.0, batch_size=3)
        x = p.random_point(jax.random.key(0), jnp.float64)
        idx = jnp.array([0, 4, 4])
        alg = so.RiemannianSGD(p, 0.3) if mu == 0 else so.RiemannianMomentum(p, 0.3, mu)
        ref = _geoopt_steps(x, lambda z: p.stochastic_grad(z, idx), 0.3, mu, 3)
        s = alg.init(x)
        for r in ref:
            s = alg.step(s, idx)
            for k in ("W", "H"):
                np.testing.assert_allclose(np.asarray(alg.position(s)[k]), r[k], rtol=1e-12,
                                           atol=1e-13)


@pytest.mark.slow
def test_riemannian_gd_is_the_full_gradient_step_and_decreases_f():
    with jax.enable_x64(True):
        p = so.NormalizedUFM(3, 3, 2, 1.0)
        x = p.random_point(jax.random.key(2), jnp.float64)
        gd = so.RiemannianGD(p, 0.5)
        y = gd.step(gd.init(x), jnp.zeros(0))
        g = p.riemannian_grad(x)
        want = p.geometry.retract(jax.tree_util.tree_map(lambda a, b: a - 0.5 * b, x, g))
        for k in ("W", "H"):
            np.testing.assert_allclose(y[k], want[k], rtol=1e-14)
        assert float(p.objective(y)) < float(p.objective(x))


def _entry(name):
    e = REGISTRY[name]
    prob = e.problem()
    return e, prob, e.start(prob)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.slow
def test_contract_jit_vmap_dtype_and_structure(name):
    e, prob, x0 = _entry(name)
    for chain in (e.factory(prob, **e.hyperparameters),):
        em = so.EulerMaruyama(chain.limit(), chain.dt)
        for c in (chain, em):
            s0 = c.init(x0)
            z = c.noise.sample(jax.random.key(0), jnp.float32)
            a = c.step(s0, z)
            b = jax.jit(lambda cc, s, zz: cc.step(s, zz))(c, s0, z)
            for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
                np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
            assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(s0)
            keys = jax.random.split(jax.random.key(1), 6)
            states = jax.vmap(lambda k: c.step(s0, c.noise.sample(k, jnp.float32)))(keys)
            flat = np.concatenate([np.asarray(t).reshape(6, -1)
                                   for t in jax.tree_util.tree_leaves(states)], 1)
            assert len(np.unique(flat, axis=0)) >= 2  # minibatch draws of 6 keys may coincide
            pos = c.position(a)
            for k in ("W", "H"):  # the step stays on the oblique manifold
                np.testing.assert_allclose(np.linalg.norm(pos[k], axis=0), 1.0, rtol=1e-5)
    with jax.enable_x64(True):
        chain = e.factory(prob, **e.hyperparameters)
        x64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), x0)
        s = chain.step(chain.init(x64), chain.noise.sample(jax.random.key(0), jnp.float64))
        assert all(t.dtype == jnp.float64 for t in jax.tree_util.tree_leaves(s))


@pytest.mark.parametrize("name", NEW)
@pytest.mark.slow
def test_no_recompilation_across_hyperparameters(name):
    e, prob, x0 = _entry(name)
    traces = []

    @jax.jit
    def run(alg, x, z):
        traces.append(1)
        return alg.position(alg.step(alg.init(x), z))

    for scale in (1.0, 0.5, 0.25):
        hyper = {k: (v * scale if k != "mu" else v * scale) for k, v in e.hyperparameters.items()}
        alg = e.factory(prob, **hyper)
        run(alg, x0, alg.noise.sample(jax.random.key(0)))
    assert len(traces) == 1


@pytest.mark.parametrize("name", NEW)
@pytest.mark.slow
def test_limit_consistency_by_exact_enumeration(name):
    """Batch size 1: the N index draws are equally likely, so E[Δ]/dt and Cov[Δ]/dt are exact sums;
    they match the limit's tangent drift −c P∇f and diffusion s² P Σ P / dt up to O(η)."""
    with jax.enable_x64(True):
        p = so.NormalizedUFM(3, 3, 2, 2.0, batch_size=1)
        x = p.random_point(jax.random.key(4), jnp.float64)
        eta = 1e-3
        alg = so.RiemannianSGD(p, eta) if name == "riemannian-sgd" else so.RiemannianMomentum(p, eta, 0.5)
        s0 = alg.init(x)
        if name == "riemannian-momentum":  # a stationary momentum m = grad/(1 − μ) at x
            s0 = s0._replace(m=jax.tree_util.tree_map(lambda a: a / 0.5, p.riemannian_grad(x)))
        flat = lambda t: np.asarray(ravel_pytree(t)[0])
        deltas = np.stack([flat(alg.position(alg.step(s0, jnp.array([i])))) - flat(x)
                           for i in range(p.n_samples)])
        sde = alg.limit()
        drift = flat(sde.tangent_drift(x))
        np.testing.assert_allclose(deltas.mean(0) / eta, drift, atol=0.05 * np.abs(drift).max())
        if name == "riemannian-sgd":
            jac = sde.diffusion_matrix(x)  # a pytree like x, one trailing noise axis per leaf
            bmat = np.concatenate([np.asarray(j).reshape(-1, p.n_samples)
                                   for j in jax.tree_util.tree_leaves(jac)], 0)
            cov = np.cov(deltas.T, bias=True) / eta
            np.testing.assert_allclose(cov, bmat @ bmat.T, atol=0.02 * np.abs(cov).max())


@pytest.mark.slow
def test_geodesic_em_step_uses_the_exponential_map():
    prob = so.SphereLinearPotential(np.zeros(3))
    sde = so.FieldSDE(prob, 1.0, 1.0)
    x = jnp.array([0.0, 0.0, 1.0])
    z = jnp.array([0.3, -0.4, 2.0])
    h = 0.25
    geo = so.GeodesicEulerMaruyama(sde, h)
    y = geo.step(x, z)
    v = -math.sqrt(h) * np.array([0.3, -0.4, 0.0])  # −s P z √h (the normal part is dropped)
    nv = np.linalg.norm(v)
    np.testing.assert_allclose(y, math.cos(nv) * np.asarray(x) + math.sin(nv) * v / nv, rtol=1e-6)
    em = so.EulerMaruyama(sde, h)
    np.testing.assert_allclose(em.step(x, z), (np.asarray(x) + v) / np.linalg.norm(np.asarray(x) + v),
                               rtol=1e-6)


def test_bad_hyperparameters():
    p = so.NormalizedUFM(3, 3, 2)
    with pytest.raises(ValueError, match="eta"):
        so.RiemannianSGD(p, 0.0)
    with pytest.raises(ValueError, match="mu"):
        so.RiemannianMomentum(p, 0.1, 1.0)
    with pytest.raises(TypeError, match="problem"):
        so.RiemannianGD("not a problem", 0.1)

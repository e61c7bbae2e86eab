"""Momentum SGD: the update rule, its limits, its parameter checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so


@pytest.mark.slow
def test_heavy_ball_matches_polyak_recursion():
    c = 0.04 * np.eye(3)
    p = so.QuadraticSaddle([-0.5, 1.0, 2.0], c)
    eta, mu = 0.05, 0.9
    alg = so.MomentumSGD(p, eta, mu)
    zs = jax.random.normal(jax.random.key(0), (50, 3))
    x0 = jnp.array([0.1, -0.2, 0.3])
    xs = so.engine.trajectory(alg, x0[None], zs[None])[0]
    # θ_{k+1} = θ_k − η g_k + μ(θ_k − θ_{k−1}), θ_{−1} = θ_0
    lam = np.array([-0.5, 1.0, 2.0])
    prev, cur = np.array(x0), np.array(x0)
    for k in range(50):
        g = lam * cur + 0.2 * np.asarray(zs[k])
        prev, cur = cur, cur - eta * g + mu * (cur - prev)
        np.testing.assert_allclose(xs[k + 1], cur, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_msgd_limit_has_effective_step():
    p = so.QuadraticSaddle([-1.0, 1.0], 0.3)
    eta, mu = 0.01, 0.75
    sde = so.MomentumSGD(p, eta, mu).limit()
    x = jnp.array([0.2, 0.1])
    np.testing.assert_allclose(sde.drift(x), -np.array([-1.0, 1.0]) * x / (1 - mu), rtol=1e-6)
    bbt = sde.diffusion_matrix(x) @ sde.diffusion_matrix(x).T
    np.testing.assert_allclose(bbt, eta * 0.3 * np.eye(2) / (1 - mu) ** 2, rtol=1e-5)
    ode = so.MomentumSGD(p, eta, mu).ode_limit()
    np.testing.assert_allclose(ode.diffusion_matrix(x), 0.0)
    assert float(so.sgd(p, eta).mu) == 0.0


@pytest.mark.slow
def test_msgd_on_the_sphere_stays_on_the_sphere_and_converges_to_e1():
    p = so.StreamingPCA([1.0, 0.5, 0.25])
    alg = so.MomentumSGD(p, 0.01, 0.5)
    r = so.simulate(alg, so.Sphere().retract(jnp.array([0.3, 0.9, 0.3])), 0, n_paths=64, n_steps=3000,
                    observables={"err": p.error}, stride=3000)
    np.testing.assert_allclose(np.linalg.norm(r.final, axis=1), 1.0, rtol=1e-5)
    # stationary floor ≈ (η/(2(1−μ))) Σ λ₁λᵢ/(λ₁ − λᵢ) = 0.01·(1 + 0.333) ≈ 0.013
    assert np.nanmean(r.observables["err"][:, -1]) < 0.05


@pytest.mark.parametrize("kw, msg", [
    (dict(eta=0.0, mu=0.5), "eta"),
    (dict(eta=-1.0, mu=0.5), "eta"),
    (dict(eta=0.1, mu=1.0), r"mu must lie in \[0.0, 1.0\); got"),
    (dict(eta=0.1, mu=-0.1), "mu"),
    (dict(eta=np.nan, mu=0.5), "eta"),
])
def test_bad_hyperparameters_are_rejected(kw, msg):
    p = so.QuadraticSaddle([-1.0, 1.0], 0.1)
    with pytest.raises(ValueError, match=msg):
        so.MomentumSGD(p, **kw)


def test_em_rejects_nonpositive_step():
    p = so.QuadraticSaddle([-1.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="dt"):
        so.EulerMaruyama(so.GradientSDE(p), 0.0)


def test_registry_make_and_unknown_name():
    p = so.QuadraticSaddle([-1.0, 1.0], 0.1)
    alg = so.algorithms.make("msgd", p, eta=0.1, mu=0.5)
    assert isinstance(alg, so.MomentumSGD)
    with pytest.raises(ValueError, match="name must be one of"):
        so.algorithms.make("adamw", p, eta=0.1)


@pytest.mark.slow
def test_sgd_on_a_quadratic_is_em_of_its_limit_pathwise():
    """SGD with additive noise on a quadratic is exactly EM of its SME with h = η, driven by the
    same normals (the coupling the docs promise; an opposite noise sign would fail this)."""
    p = so.QuadraticSaddle([-1.0, 0.5, 2.0], np.diag([0.3, 0.2, 0.1]))
    alg = so.sgd(p, 0.02)
    em = so.EulerMaruyama(alg.limit(), alg.dt)
    zs = jax.random.normal(jax.random.key(4), (5, 100, 3))
    x0 = jnp.tile(jnp.array([0.05, -0.1, 0.2]), (5, 1))
    a = so.engine.trajectory(alg, x0, zs)
    b = so.engine.trajectory(em, x0, zs)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and through simulate with the same key
    ra = so.simulate(alg, x0[0], 3, n_paths=50, n_steps=80)
    rb = so.simulate(em, x0[0], 3, n_paths=50, n_steps=80)
    np.testing.assert_allclose(ra.final, rb.final, rtol=1e-5, atol=1e-6)

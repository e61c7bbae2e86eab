"""Annealed momentum SGD: the update rule with schedules, its limits, and its parameter checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.algorithms import AnnealedMomentumSGD, geometric_schedule


@pytest.mark.slow
def test_update_rule_follows_the_schedules():
    lam = np.array([-0.5, 1.0, 2.0])
    p = so.QuadraticSaddle(lam, 0.04)
    etas, mus, bnd = np.array([0.05, 0.02, 0.01]), np.array([0.9, 0.5, 0.0]), np.array([7, 19])
    alg = AnnealedMomentumSGD(p, etas, mus, bnd)
    zs = jax.random.normal(jax.random.key(0), (40, 3))
    x0 = jnp.array([0.1, -0.2, 0.3])
    xs = np.asarray(so.engine.trajectory(alg, x0[None], zs[None])[0])
    prev, cur = np.array(x0, np.float64), np.array(x0, np.float64)
    for k in range(40):
        s = int(np.sum(k >= bnd))
        g = lam * cur + 0.2 * np.asarray(zs[k], np.float64)
        prev, cur = cur, cur - etas[s] * g + mus[s] * (cur - prev)
        np.testing.assert_allclose(xs[k + 1], cur, rtol=2e-4, atol=2e-6)
    assert [int(alg.stage(k)) for k in (0, 6, 7, 18, 19, 1000)] == [0, 0, 1, 1, 2, 2]


@pytest.mark.slow
def test_one_stage_is_momentum_sgd_and_the_sphere_is_kept():
    p = so.StreamingPCA([1.0, 0.5, 0.25])
    a = AnnealedMomentumSGD(p, 0.01, 0.5)
    b = so.MomentumSGD(p, 0.01, 0.5)
    zs = jax.random.normal(jax.random.key(1), (4, 200, 3))
    x0 = jnp.tile(so.Sphere().retract(jnp.array([0.3, 0.9, 0.3])), (4, 1))
    xa = so.engine.trajectory(a, x0, zs)
    xb = so.engine.trajectory(b, x0, zs)
    np.testing.assert_allclose(xa, xb, rtol=1e-6, atol=1e-7)
    c = AnnealedMomentumSGD(p, [0.05, 0.01], [0.9, 0.0], [50])
    xc = so.engine.trajectory(c, x0, zs)
    np.testing.assert_allclose(np.linalg.norm(xc, axis=-1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_counter_in_state_and_stage_limits():
    p = so.QuadraticSaddle([-1.0, 1.0], 0.3)
    alg = AnnealedMomentumSGD(p, [0.02, 0.005], [0.9, 0.5], [100])
    s = alg.init(jnp.zeros(2))
    s = alg.step(alg.step(s, jnp.zeros(2)), jnp.zeros(2))
    assert int(s.k) == 2 and s.k.dtype == jnp.int32
    x = jnp.array([0.2, 0.1])
    # stage 0 is MomentumSGD(0.02, 0.9)'s limit
    ref = so.MomentumSGD(p, 0.02, 0.9).limit()
    np.testing.assert_allclose(alg.limit().drift(x), ref.drift(x), rtol=1e-6)
    np.testing.assert_allclose(alg.limit().diffusion_matrix(x), ref.diffusion_matrix(x), rtol=1e-6)
    # stage 1 in time t = k η₀: drift η₁/(η₀(1−μ₁)), noise η₁/(√η₀(1−μ₁))
    lim = alg.limit(stage=1)
    np.testing.assert_allclose(lim.drift(x), -np.array([-1.0, 1.0]) * x * 0.005 / (0.02 * 0.5), rtol=1e-5)
    bbt = lim.diffusion_matrix(x) @ lim.diffusion_matrix(x).T
    np.testing.assert_allclose(bbt, 0.3 * np.eye(2) * (0.005 / 0.5) ** 2 / 0.02, rtol=1e-5)
    np.testing.assert_allclose(alg.ode_limit(1).diffusion_matrix(x), 0.0)
    with pytest.raises(ValueError, match="stage"):
        alg.limit(stage=2)


@pytest.mark.slow
def test_annealing_lowers_the_floor_in_simulation():
    # near the minimum of a quadratic the floor is ∝ η/(1−μ): a schedule that divides η_eff by
    # 10 must end with a 10× lower stationary variance (exact heavy-ball value, ±4 SE)
    q = so.Quadratic([1.0], 1.0)
    alg = AnnealedMomentumSGD(q, [0.05, 0.005], 0.5, [200])
    r = so.simulate(alg, jnp.zeros(1), 0, n_paths=4096, n_steps=3000)
    x = r.final[:, 0].astype(np.float64)
    exact = so.theory.heavy_ball_moments(1.0, 1.0, 0.005, 0.5).var_x
    se = exact * np.sqrt(2 / (x.size - 1))
    assert abs(np.var(x) - exact) < 4 * se
    first = so.theory.heavy_ball_moments(1.0, 1.0, 0.05, 0.5).var_x
    assert first / exact > 9


@pytest.mark.parametrize("kw, msg", [
    (dict(eta=[0.1, 0.01], mu=0.5, boundaries=[]), "one value per stage"),
    (dict(eta=0.1, mu=[0.5, 0.9, 0.0], boundaries=[10]), "one value per stage"),
    (dict(eta=[0.1, 0.0], mu=0.5, boundaries=[10]), "eta"),
    (dict(eta=0.1, mu=[0.5, 1.0], boundaries=[10]), "mu"),
    (dict(eta=0.1, mu=0.5, boundaries=[20, 10]), "strictly increasing"),
    (dict(eta=0.1, mu=0.5, boundaries=[0]), "boundaries"),
])
def test_bad_schedules_are_rejected(kw, msg):
    p = so.QuadraticSaddle([-1.0, 1.0], 0.1)
    with pytest.raises(ValueError, match=msg):
        AnnealedMomentumSGD(p, **kw)


def test_geometric_schedule():
    vals, bnd = geometric_schedule(0.03, 0.0003, 500, 5, growth=2.0)
    np.testing.assert_allclose(vals, 0.03 * 0.01 ** (np.arange(5) / 4))
    np.testing.assert_allclose(bnd, [500, 1000, 2000, 4000])
    with pytest.raises(ValueError, match="n_stages"):
        geometric_schedule(0.1, 0.01, 10, 1)

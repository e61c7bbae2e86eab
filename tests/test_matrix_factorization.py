"""Symmetric matrix factorization: gradients, the noise model, critical points, the local SDE."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt import theory as th

SIG = np.array([1.0, 0.5, 0.35, 0.25])


def _rotated():
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))
    return q @ np.diag(SIG) @ q.T, q


@pytest.mark.slow
def test_gradient_and_hessian_match_autodiff():
    m, _ = _rotated()
    p = so.MatrixFactorization(m, 0.7)
    x = jnp.array([0.3, -0.5, 0.2, 0.8])
    np.testing.assert_allclose(p.grad(x), jax.grad(p.objective)(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.hessian(x), jax.hessian(p.objective)(x), rtol=1e-5, atol=1e-6)
    # by hand: ∇f = (xxᵀ − M) x
    xn = np.asarray(x, np.float64)
    np.testing.assert_allclose(p.grad(x), (np.outer(xn, xn) - m) @ xn, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_noise_covariance_is_that_of_goe_observations_and_of_the_sampler():
    m, _ = _rotated()
    s = 0.7
    p = so.MatrixFactorization(m, s)
    x = jnp.array([0.3, -0.5, 0.2, 0.8])
    cov = np.asarray(p.grad_noise_cov(x), np.float64)
    xn = np.asarray(x, np.float64)
    np.testing.assert_allclose(cov, s**2 * (xn @ xn * np.eye(4) + np.outer(xn, xn)), rtol=1e-5)
    n = 200_000
    keys = jax.random.split(jax.random.key(0), n)
    # (a) the model itself: −N x with N = s(G + Gᵀ)/√2
    goe = jax.vmap(lambda k: p.observation_noise_gradient(x, jax.random.normal(k, (4, 4))))(keys)
    # (b) the oracle used by the algorithms (n + 1 normals)
    orc = jax.vmap(lambda k: p.stochastic_grad(x, p.noise.sample(k)) - p.grad(x))(keys)
    for g in (np.asarray(goe, np.float64), np.asarray(orc, np.float64)):
        assert np.all(np.abs(g.mean(0)) <= 4 * np.sqrt(np.diag(cov) / n))
        c = g - g.mean(0)
        emp = c.T @ c / (n - 1)
        se = np.sqrt(np.var(c[:, :, None] * c[:, None, :], axis=0) / n)
        assert np.all(np.abs(emp - cov) <= 4 * se + 1e-9), np.max(np.abs(emp - cov) / se)
    b = jax.jacfwd(lambda z: p.grad_noise_factor(x, z))(jnp.zeros(5))
    np.testing.assert_allclose(b @ b.T, cov, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("rotated", [False, True])
@pytest.mark.slow
def test_critical_points_and_their_inertia(rotated):
    m, q = _rotated() if rotated else (np.diag(SIG), np.eye(4))
    p = so.MatrixFactorization(m if rotated else SIG, 1.0)
    cps = p.critical_points()
    assert cps["minimum"].shape == (2, 4) and cps["saddle"].shape == (6, 4)
    for kind, pts in cps.items():
        for x in np.asarray(pts):
            np.testing.assert_allclose(p.grad(jnp.asarray(x)), 0.0, atol=2e-6)
            ev = np.linalg.eigvalsh(np.asarray(p.hessian(jnp.asarray(x)), np.float64))
            if kind == "minimum":
                assert np.all(ev > 0)
                np.testing.assert_allclose(np.sort(ev), np.sort(np.r_[SIG[0] - SIG[1:], 2 * SIG[0]]),
                                           atol=1e-5)
            elif kind == "maximum":
                assert np.all(ev < 0)
            else:
                n_neg = int(np.sum(ev < -1e-7))
                # √σ_i u_i has i − 1 negative directions (towards every larger σ_j)
                sig_i = float(x @ x)
                assert n_neg == int(np.sum(SIG > sig_i + 1e-5))
    # the minimizers are ±√σ₁u₁ and the objective is 0 there only if M has rank 1: here > 0
    x1 = np.asarray(cps["minimum"][0])
    np.testing.assert_allclose(abs(x1 @ q[:, 0]), math.sqrt(SIG[0]), rtol=1e-6)
    np.testing.assert_allclose(p.distance_to_minimum(jnp.asarray(-x1)), 0.0, atol=1e-6)


def test_local_sde_at_the_saddle_and_at_the_minimum():
    p = so.MatrixFactorization(SIG, 0.8)
    saddle = np.sqrt(SIG[1]) * np.eye(4)[1]
    loc = th.local_sde(p, saddle, 1e-3, 0.5)
    # Hessian at √σ₂e₂: σ₂ − σ_j along e_j (j ≠ 2), 2σ₂ along e₂; noise s²σ₂ along e₁
    np.testing.assert_allclose(np.sort(loc.curvatures),
                               np.sort([SIG[1] - SIG[0], SIG[1] - SIG[2], SIG[1] - SIG[3], 2 * SIG[1]]),
                               atol=1e-6)
    np.testing.assert_allclose(loc.noise_cov[0, 0], 0.64 * SIG[1], rtol=1e-5)
    np.testing.assert_allclose(loc.escape_rate, (SIG[0] - SIG[1]) / 0.5, rtol=1e-5)
    loc_m = th.local_sde(p, np.sqrt(SIG[0]) * np.eye(4)[0], 1e-3, 0.5)
    # floor (η/(2(1−μ))) tr(Σ H⁻¹) (H and Σ commute here)
    h = np.r_[2 * SIG[0], SIG[0] - SIG[1:]]
    c = 0.64 * SIG[0] * np.r_[2.0, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(loc_m.mean_squared_distance(), 1e-3 / (2 * 0.5) * np.sum(c / h), rtol=1e-5)


@pytest.mark.parametrize("m, msg", [
    (np.array([[1.0, 0.2], [0.0, 0.5]]), "symmetric"),
    (np.array([1.0, 1.0, 0.5]), "distinct"),
    (np.array([1.0, 0.5, -0.1]), "positive definite"),
    (np.array([1.0]), "n >= 2"),
])
def test_bad_targets_are_rejected(m, msg):
    with pytest.raises(ValueError, match=msg):
        so.MatrixFactorization(m, 1.0)


def test_negative_noise_is_rejected():
    with pytest.raises(ValueError, match="noise_std"):
        so.MatrixFactorization(SIG, -0.1)

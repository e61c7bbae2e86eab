"""Problems: gradients, noise covariance against samples, critical points, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so


def _sample_grads(problem, x, n, seed=0):
    keys = jax.random.split(jax.random.key(seed), n)
    noise = jax.vmap(lambda k: problem.noise.sample(k))(keys)
    return np.asarray(jax.vmap(lambda z: problem.stochastic_grad(x, z))(noise), np.float64)


def _check_cov(problem, x, n=200_000):
    g = _sample_grads(problem, x, n)
    mean_err = g.mean(0) - np.asarray(problem.grad(x))
    cov = np.asarray(problem.grad_noise_cov(x), np.float64)
    emp = np.cov(g.T)
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(mean_err) <= 4 * se_mean + 1e-6)
    # SE of a covariance entry from Gaussian-like samples, inflated for the heavier tails of
    # products of Gaussians (4th moments), via the empirical variance of the products
    c = g - g.mean(0)
    prod_var = np.var(c[:, :, None] * c[:, None, :], axis=0)
    se = np.sqrt(prod_var / n)
    assert np.all(np.abs(emp - cov) <= 5 * se + 1e-6), np.max(np.abs(emp - cov) / (se + 1e-12))


@pytest.mark.slow
def test_quadratic_saddle_gradient_hessian_and_noise():
    c = np.array([[0.5, 0.1, 0.0], [0.1, 0.3, 0.05], [0.0, 0.05, 0.2]])
    p = so.QuadraticSaddle([-1.0, 0.5, 2.0], c)
    x = jnp.array([0.3, -0.2, 0.1])
    np.testing.assert_allclose(p.grad(x), jax.grad(p.objective)(x), rtol=1e-6)
    np.testing.assert_allclose(p.hessian(x), np.diag([-1.0, 0.5, 2.0]), rtol=1e-6)
    _check_cov(p, x)
    # B Bᵀ = Σ exactly
    b = jax.jacfwd(lambda z: p.grad_noise_factor(x, z))(jnp.zeros(3))
    np.testing.assert_allclose(b @ b.T, c, atol=1e-6)
    assert set(p.critical_points()) == {"saddle"}


@pytest.mark.parametrize("dof", [None, 9.0, 9.5])
@pytest.mark.slow
def test_streaming_pca_noise_covariance_matches_samples(dof):
    p = so.StreamingPCA([1.0, 0.6, 0.3, 0.1], dof=dof)
    x = jnp.array([0.5, 0.5, -0.5, 0.5])
    _check_cov(p, x, n=400_000)
    b = jax.jacfwd(lambda z: p.grad_noise_factor(x, z))(jnp.zeros(5))
    np.testing.assert_allclose(b @ b.T, p.grad_noise_cov(x), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_streaming_pca_critical_points_and_their_kind():
    lam = np.array([1.0, 0.7, 0.4, 0.2])
    p = so.StreamingPCA(lam)
    cps = p.critical_points()
    assert cps["minimum"].shape == (2, 4) and cps["saddle"].shape == (4, 4)
    for kind, pts in cps.items():
        for w in pts:
            g = p.geometry.project(w, p.grad(w))
            np.testing.assert_allclose(g, 0.0, atol=1e-7)
            # Riemannian Hessian on the sphere at a critical point: P (∇²f − (wᵀ∇f) I) P
            h = np.asarray(p.hessian(w)) - float(w @ p.grad(w)) * np.eye(4)
            P = np.eye(4) - np.outer(w, w)
            ev = np.linalg.eigvalsh(P @ h @ P)
            ev = ev[np.abs(ev) > 1e-9]  # drop the normal direction
            n_neg = int(np.sum(ev < 0))
            expected = {"minimum": 0, "saddle": None, "maximum": 3}[kind]
            if expected is None:
                i = int(np.argmax(np.abs(w)))
                assert n_neg == i  # e_{i+1} has i directions of descent
            else:
                assert n_neg == expected


@pytest.mark.slow
def test_geometry_maps():
    s = so.Sphere()
    key = jax.random.key(0)
    x = s.random_point(key, (3, 5))
    np.testing.assert_allclose(np.linalg.norm(x, axis=-1), 1.0, rtol=1e-6)
    v = jax.random.normal(jax.random.key(1), (3, 5))
    pv = s.project(x, v)
    np.testing.assert_allclose(np.sum(pv * x, -1), 0.0, atol=1e-6)
    np.testing.assert_allclose(s.project(x, pv), pv, atol=1e-6)
    e = so.Euclidean()
    np.testing.assert_array_equal(e.retract(v), v)


def test_bad_problem_input_is_rejected():
    with pytest.raises(ValueError, match="negative"):
        so.QuadraticSaddle([1.0, 2.0])
    with pytest.raises(ValueError, match="positive semi-definite"):
        so.QuadraticSaddle([-1.0, 1.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        so.QuadraticSaddle([-1.0, 1.0], np.eye(3))
    with pytest.raises(ValueError, match="decreasing"):
        so.StreamingPCA([1.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="dof"):
        so.StreamingPCA([1.0, 0.5], dof=3.0)
    with pytest.raises(ValueError, match="spectrum"):
        so.StreamingPCA([1.0, -0.5])

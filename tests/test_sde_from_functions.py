"""so.SDE(drift, diffusion, shape=…, geometry=…): an SDE from two functions of (t, x), checked
against the package's own LinearSDE pathwise, against closed forms of Euler–Maruyama's moments,
against Brownian motion on the sphere and against diffrax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so


def test_an_ou_process_is_the_linear_sde_path_by_path():
    a, sigma = np.array([-1.0, -0.5, 2.0]), np.array([0.3, 0.1, 0.2])
    mine = so.SDE(lambda t, x: a * x, lambda t, x: sigma, shape=(3,))
    ref = so.LinearSDE(a, sigma)
    assert mine.kind == "diagonal" and not mine.time_dependent and mine.noise_shape == (3,)
    x0 = jnp.array([0.5, -0.2, 0.1])
    runs = [so.simulate(so.EulerMaruyama(s, 0.01), x0, key=3, n_paths=64, n_steps=200)
            for s in (mine, ref)]
    np.testing.assert_allclose(runs[0].final, runs[1].final, rtol=1e-5, atol=1e-6)


def test_time_dependent_drift_follows_the_riemann_sum():
    """dX = cos(t) dt (σ = 0): EM gives X_n = Σ_k cos(kh) h exactly — only if t is passed."""
    sde = so.SDE(lambda t, x: jnp.cos(t) * jnp.ones_like(x), lambda t, x: 0.0, shape=(1,))
    assert sde.time_dependent
    h, n = 0.01, 300
    r = so.simulate(so.EulerMaruyama(sde, h), jnp.zeros(1), key=0, n_paths=2, n_steps=n)
    want = np.sum(np.cos(np.arange(n) * h) * h)
    np.testing.assert_allclose(r.final[:, 0], want, rtol=1e-5)
    assert abs(want - np.sin(n * h)) < h      # and the ODE's solution to O(h)


def test_geometric_brownian_motion_has_the_exact_em_moments():
    """dX = μX dt + σX dW under EM: E X_n = x0 (1 + μh)ⁿ and E X_n² = x0² ((1 + μh)² + σ²h)ⁿ
    exactly (independent Gaussian increments), compared within 5 Monte-Carlo SE."""
    mu, sigma, h, n, m = 0.5, 0.4, 0.02, 50, 20_000
    sde = so.SDE(lambda t, x: mu * x, lambda t, x: sigma * x, shape=(1,))
    r = so.simulate(so.EulerMaruyama(sde, h), jnp.ones(1), key=1, n_paths=m, n_steps=n)
    x = np.asarray(r.final[:, 0], np.float64)
    m1, m2 = (1 + mu * h) ** n, ((1 + mu * h) ** 2 + sigma**2 * h) ** n
    assert abs(x.mean() - m1) <= 5 * x.std() / np.sqrt(m)
    assert abs((x**2).mean() - m2) <= 5 * (x**2).std() / np.sqrt(m)
    # power: a diffusion twice as large is rejected by the same second-moment test
    wrong = ((1 + mu * h) ** 2 + 4 * sigma**2 * h) ** n
    assert abs((x**2).mean() - wrong) > 5 * (x**2).std() / np.sqrt(m)


def test_a_matrix_diffusion_with_fewer_noises_than_dimensions():
    """B of shape (3, 2): one EM step from x has covariance B Bᵀ h (rank 2)."""
    b = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 2.0]])
    sde = so.SDE(lambda t, x: 0.0 * x, lambda t, x: jnp.asarray(b, x.dtype), shape=(3,))
    assert sde.kind == "matrix" and sde.noise_shape == (2,)
    h, m = 0.1, 40_000
    r = so.simulate(so.EulerMaruyama(sde, h), jnp.zeros(3), key=2, n_paths=m, n_steps=1)
    cov = np.cov(np.asarray(r.final, np.float64).T)
    want = b @ b.T * h
    se = np.sqrt((np.outer(np.diag(want), np.diag(want)) + want**2) / m)
    assert np.all(np.abs(cov - want) <= 5 * se + 1e-9)


def test_brownian_motion_on_the_sphere():
    """BM on S^{d−1}: the ambient drift is the Itô correction −(d−1)/2 x, and projected EM has
    E⟨X_n, x0⟩ = ρⁿ exactly, ρ = E(1 + h χ²_{d−1})^{−1/2} (X⁺ = (X + √h Pz)/‖X + √h Pz‖ and the
    tangent part averages out by z → −z), by quadrature; compared within 5 SE. ρⁿ → e^{−(d−1)t/2},
    the continuous law, as h → 0."""
    from scipy import integrate, stats

    d = 3
    sde = so.SDE(lambda t, x: jnp.zeros_like(x), lambda t, x: 1.0, shape=(d,), geometry=so.Sphere())
    x = jnp.array([0.0, 0.6, 0.8])
    np.testing.assert_allclose(sde.drift(x), -(d - 1) / 2 * x, rtol=1e-6)
    # the diffusion acts in the tangent plane only
    np.testing.assert_allclose(x @ sde.diffusion(x, jnp.array([1.0, 2.0, 3.0])), 0.0, atol=1e-6)
    h, n, m = 0.01, 100, 8_000
    rho = integrate.quad(lambda u: stats.chi2.pdf(u, d - 1) / np.sqrt(1 + h * u), 0, np.inf)[0]
    r = so.simulate(so.EulerMaruyama(sde, h), x, key=4, n_paths=m, n_steps=n)
    c = np.asarray(r.final, np.float64) @ np.asarray(x, np.float64)
    se = c.std() / np.sqrt(m)
    assert abs(c.mean() - rho**n) <= 5 * se
    assert abs(rho**n - np.exp(-(d - 1) * n * h / 2)) < 0.01          # the O(h) weak error
    # power: Brownian motion on S^d (one dimension too many) is rejected
    assert abs(c.mean() - np.exp(-d * n * h / 2)) > 5 * se


def test_pytree_points_with_scalar_and_diagonal_noise():
    shape = {"a": (2,), "b": ()}
    drift = lambda t, x: {"a": -x["a"], "b": -2.0 * x["b"]}
    scalar = so.SDE(drift, lambda t, x: 0.3, shape=shape)
    diag = so.SDE(drift, lambda t, x: {"a": jnp.array([0.1, 0.2]), "b": jnp.asarray(0.5)}, shape=shape)
    assert scalar.noise_shape == (3,) and diag.noise_shape == (3,)
    x = {"a": jnp.array([1.0, 2.0]), "b": jnp.asarray(3.0)}
    z = jnp.array([1.0, -1.0, 2.0])                      # ravel_pytree order: a, then b
    out = diag.diffusion(x, z)
    np.testing.assert_allclose(out["a"], [0.1, -0.2]), np.testing.assert_allclose(out["b"], 1.0)
    out = scalar.diffusion(x, z)
    np.testing.assert_allclose(out["a"], [0.3, -0.3]), np.testing.assert_allclose(out["b"], 0.6)
    r = so.simulate(so.EulerMaruyama(diag, 0.01), x, key=0, n_paths=4, n_steps=10)
    assert r.final["a"].shape == (4, 2) and r.final["b"].shape == (4,)


def test_diffrax_solves_the_same_equation():
    """diffrax's Euler on the same Brownian increments reproduces EulerMaruyama (autonomous SDE)."""
    from sde_opt.engine import trajectory
    from sde_opt.sde import GridBrownianPath, solve_diffrax

    sde = so.SDE(lambda t, x: -x + jnp.sin(x), lambda t, x: 0.2 * jnp.cos(x), shape=(2,))
    h, n = 0.05, 40
    z = jax.random.normal(jax.random.key(0), (1, n, 2))
    x0 = jnp.array([[0.4, -1.0]])
    ours = trajectory(so.EulerMaruyama(sde, h), x0, z)[0, -1]
    import diffrax

    path = GridBrownianPath.from_normals(z[0], h)
    sol = solve_diffrax(sde, x0[0], n * h, h, brownian=path, solver=diffrax.Euler(), noise="general")
    np.testing.assert_allclose(sol.ys[-1], ours, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args, err, match", [
    (dict(drift=3.0), TypeError, "drift must be a function"),
    (dict(diffusion="sigma"), TypeError, "diffusion must be a function"),
    (dict(shape=3), TypeError, "shape must be a tuple"),
    (dict(geometry="sphere"), TypeError, "geometry must be"),
    (dict(drift=lambda t, x: x[:2]), ValueError, r"drift\(t, x\) must return a value like x"),
    (dict(diffusion=lambda t, x: jnp.ones(2)), ValueError, r"diffusion\(t, x\) must return"),
    (dict(drift=lambda t, x: x @ jnp.ones((4, 4))), ValueError, r"drift\(t, x\) failed"),
])
def test_bad_input_is_refused_with_a_clear_error(args, err, match):
    kw = dict(drift=lambda t, x: -x, diffusion=lambda t, x: 1.0, shape=(3,))
    kw.update(args)
    with pytest.raises(err, match=f"SDE: {match}"):
        so.SDE(kw.pop("drift"), kw.pop("diffusion"), **kw)

"""The diffrax bridge: same Brownian increments ⇒ diffrax Euler = our Euler–Maruyama, pathwise."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _bridge_models import DiagonalGBM, linear_sde, oja_sde, point_shape, underdamped_sde

from sde_opt import EulerMaruyama, GradientSDE, LinearSDE, StreamingPCA
from sde_opt.engine import trajectory
from sde_opt.sde import GridBrownianPath, diffrax_terms, solve_diffrax

N_PATHS, N_STEPS, DT = 8, 200, 0.01


def _diffrax_paths(sde, x0, z, noise="auto"):
    def one(x, zz):
        bm = GridBrownianPath.from_normals(zz, DT)
        sol = solve_diffrax(sde, x, N_STEPS * DT, DT, brownian=bm, noise=noise,
                            saveat=diffrax.SaveAt(t0=True, steps=True))
        return jax.vmap(sde.position)(sol.ys[: N_STEPS + 1])

    return jax.vmap(one)(x0, z)


@pytest.mark.parametrize(
    "make_sde, noise",
    [(linear_sde, "auto"), (oja_sde, "auto"),
     (DiagonalGBM, "diagonal"), (DiagonalGBM, "general"), (underdamped_sde, "auto")],
    ids=["linear-additive", "oja-general", "gbm-diagonal", "gbm-as-general",
         "underdamped-additive"],
)
def test_diffrax_euler_matches_euler_maruyama_pathwise(make_sde, noise):
    with jax.enable_x64(True):
        sde = make_sde()
        k1, k2 = jax.random.split(jax.random.key(1))
        x0 = 0.5 * jax.random.normal(k1, (N_PATHS, *point_shape(sde)), jnp.float64)
        z = jax.random.normal(k2, (N_PATHS, N_STEPS, *sde.noise_shape), jnp.float64)
        ours = np.asarray(trajectory(EulerMaruyama(sde, DT), x0, z))
        theirs = np.asarray(_diffrax_paths(sde, x0, z, noise))
    assert ours.dtype == theirs.dtype == np.float64
    scale = np.max(np.abs(ours))
    assert scale > 0.1  # the paths moved: not a comparison of zeros
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-12 * scale)


def test_additive_structure_is_constant_matrix():
    sde = linear_sde()
    terms = diffrax_terms(sde, GridBrownianPath(jnp.zeros((1, 2)), DT))
    vf = terms.terms[1].vector_field(0.0, jnp.ones(4), None)
    np.testing.assert_array_equal(np.asarray(vf), np.asarray(sde.B, dtype=np.float32))


def test_sphere_difference_is_the_retraction():
    """On a sphere, our projected EM step = retraction of diffrax's Euler step (no retraction)."""
    with jax.enable_x64(True):
        sde = GradientSDE(StreamingPCA([1.0, 0.6, 0.3]), 1.0, 0.5)
        x0 = jnp.array([0.6, 0.8, 0.0])
        z = jax.random.normal(jax.random.key(3), (N_STEPS, *sde.noise_shape), jnp.float64)
        bm = GridBrownianPath.from_normals(z, DT)
        terms = diffrax_terms(sde, bm)
        solver = diffrax.Euler()

        def step_and_retract(y, k):
            t0 = k * DT
            y1, _, _, _, _ = solver.step(terms, t0, t0 + DT, y, None, None, False)
            y1 = y1 / jnp.linalg.norm(y1)
            return y1, y1

        _, retracted = jax.jit(lambda y: jax.lax.scan(step_and_retract, y,
                                                      jnp.arange(N_STEPS)))(x0)
        retracted = np.concatenate([np.asarray(x0)[None], np.asarray(retracted)])
        ours = np.asarray(trajectory(EulerMaruyama(sde, DT), x0[None], z[None])[0])
        np.testing.assert_allclose(retracted, ours, rtol=0, atol=1e-12)

        plain = np.asarray(solve_diffrax(sde, x0, N_STEPS * DT, DT, brownian=bm).ys[-1])
    # Without the retraction the norm leaves the sphere (Itô: d‖X‖² = tr(P B Bᵀ P) dt > 0).
    assert np.linalg.norm(ours[-1]) == pytest.approx(1.0, abs=1e-12)
    assert np.linalg.norm(plain) > 1.0 + 1e-3


@pytest.mark.parametrize("brownian", ["virtual", "unsafe"])
def test_solve_diffrax_moments_match_euler_maruyama_law(brownian):
    """OU dX = −X dt + σ dW by diffrax Euler on its own Brownian paths: EM's exact mean/variance."""
    sigma, x0, n, h, paths = 0.5, 1.0, 50, 0.02, 4000
    sde = LinearSDE([[-1.0]], sigma)
    keys = jax.random.split(jax.random.key(7), paths)
    solve = jax.jit(jax.vmap(lambda k: solve_diffrax(sde, jnp.array([x0]), n * h, h, k,
                                                     brownian=brownian).ys[-1, 0]))
    xs = np.asarray(solve(keys), dtype=np.float64)
    rho = 1.0 - h
    mean = rho**n * x0
    var = sigma**2 * h * sum(rho ** (2 * k) for k in range(n))
    se_mean = np.sqrt(var / paths)
    assert abs(xs.mean() - mean) <= 4 * se_mean
    se_var = var * np.sqrt(2.0 / (paths - 1))
    assert abs(xs.var(ddof=1) - var) <= 4 * se_var


def test_bad_arguments():
    sde = linear_sde()
    with pytest.raises(ValueError, match="noise must be one of"):
        diffrax_terms(sde, GridBrownianPath(jnp.zeros((1, 2)), DT), noise="scalar")
    with pytest.raises(ValueError, match="brownian must be"):
        solve_diffrax(sde, jnp.zeros(4), 1.0, 0.1, jax.random.key(0), brownian="tree")
    with pytest.raises(ValueError, match="dt must be > 0"):
        solve_diffrax(sde, jnp.zeros(4), 1.0, 0.0, jax.random.key(0))
    with pytest.raises(ValueError, match="diagonal"):
        solve_diffrax(sde, jnp.zeros(4), 1.0, 0.1, jax.random.key(0), noise="diagonal")

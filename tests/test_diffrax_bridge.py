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
@pytest.mark.slow
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


@pytest.mark.slow
def test_diffrax_and_projected_em_solve_the_same_equation_on_the_sphere():
    """diffrax integrates the ambient Itô SDE (drift with the sphere's Itô correction
    −½ tr(P BBᵀ P) x) without retracting; our EM steps with the tangent drift and retracts. Driven by
    the same Brownian paths they converge to each other as h → 0, and diffrax's unretracted solution
    stays on the sphere up to the scheme's error — without the correction its norm would drift by
    tr(P BBᵀ P)·T."""
    with jax.enable_x64(True):
        sde = GradientSDE(StreamingPCA([1.0, 0.6, 0.3]), 1.0, 0.5)
        x0 = jnp.array([0.6, 0.8, 0.0])
        n_fine, n_paths = 1024, 32
        z = jax.random.normal(jax.random.key(3), (n_paths, n_fine, *sde.noise_shape), jnp.float64)
        gaps, off = [], []
        for n in (64, 256, 1024):
            dt = 1.0 / n
            block = n_fine // n
            zc = z.reshape(n_paths, n, block, *sde.noise_shape).sum(2) / np.sqrt(block)
            starts = jnp.broadcast_to(x0, (n_paths, 3))
            ours = np.asarray(trajectory(EulerMaruyama(sde, dt), starts, zc)[:, -1])
            plain = np.stack([
                np.asarray(solve_diffrax(sde, x0, 1.0, dt,
                                         brownian=GridBrownianPath.from_normals(zc[i], dt)).ys[-1])
                for i in range(n_paths)])
            gaps.append(np.sqrt(np.mean(np.sum((ours - plain) ** 2, axis=1))))
            off.append(np.mean(np.abs(np.linalg.norm(plain, axis=1) - 1.0)))
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-12)
    # strong order ½ with state-dependent noise: the gap falls by ≈ 2 per 4× refinement
    assert gaps[1] < gaps[0] / 1.5 and gaps[2] < gaps[1] / 1.5, gaps
    # the corrected ambient SDE stays on the sphere up to the scheme's pathwise (strong, O(√h))
    # error; without the correction E‖X_T‖² − 1 would stay at tr(P BBᵀ P)·T ≈ 0.3 as h → 0
    assert off[2] < off[0] / 3 and off[2] < 0.01, off


@pytest.mark.parametrize("brownian", ["virtual", "unsafe"])
@pytest.mark.slow
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
    with pytest.raises(ValueError, match=r"dt must lie in \(0.0, inf\); got 0.0"):
        solve_diffrax(sde, jnp.zeros(4), 1.0, 0.0, jax.random.key(0))
    with pytest.raises(ValueError, match="diagonal"):
        solve_diffrax(sde, jnp.zeros(4), 1.0, 0.1, jax.random.key(0), noise="diagonal")

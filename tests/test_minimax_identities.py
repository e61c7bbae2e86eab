"""Identities of the minimax algorithms, moved out of the validation claims (issue 18): they hold
exactly, so they are tests, not claims."""

import jax.numpy as jnp
import numpy as np

import sde_opt as so
from sde_opt.theory import minimax_escape as mx


def test_gdmax_started_at_the_saddle_stays_exactly():
    game = so.QuadraticGame(np.diag([-1.0, 0.5]), 0.4 * np.eye(2), np.eye(2))
    r = so.simulate(so.GDmax(game, 0.2, 0.5, n_inner=3), (jnp.zeros(2), jnp.zeros(2)), 0,
                    n_paths=8, n_steps=500)
    assert np.all(np.asarray(r.final[0]) == 0) and np.all(np.asarray(r.final[1]) == 0)


def test_gdmax_keeps_the_saddles_stable_manifold_exactly():
    """On the double-well game x₁ = 0 is invariant under GDmax (∂f/∂x₁ = ℓ(−x₁ + x₁³) + b y₁ and
    y₁ → (b/μ)x₁ = 0): what the minimax-escape study's contrast row rests on."""
    game = so.DoubleWellGame(2, ell=1.0, mu=0.5, c=0.3)
    x0 = np.stack([np.zeros(8), np.linspace(-1.5, 1.5, 8)], 1).astype(np.float32)
    r = so.simulate(so.GDmax(game, 1 / 3, 1.0, n_inner=10), (jnp.asarray(x0), jnp.zeros((8, 2))),
                    0, n_paths=8, n_steps=400)
    assert np.all(np.asarray(r.final[0])[:, 0] == 0)
    assert np.allclose(np.asarray(r.final[0])[:, 1], 0, atol=1e-6)   # it does reach the saddle


def test_gda_ar1_coefficients_tend_to_the_reduced_sde_like_one_over_the_ratio():
    """λ̃ → λ_Φ and σ̃ → σ_reduced as r = η_y/η_x → ∞, with a gap O(1/r) (η_x small)."""
    game = so.QuadraticGame(np.diag([-1.0, 0.5]), 0.4 * np.eye(2), np.eye(2), sigma_x=0.1,
                            sigma_y=0.1)
    ratios = np.array([10.0, 20.0, 40.0, 80.0])
    gaps = []
    for r in ratios:
        s = mx.gda_saddle(game, 1e-5, r * 1e-5)
        gaps.append(abs(s.lam_discrete / s.lam_phi - 1) + abs(s.sigma_discrete / s.sigma_reduced - 1))
    slopes = np.diff(np.log(gaps)) / np.diff(np.log(ratios))
    assert np.all(np.abs(slopes + 1) < 0.1), slopes


def test_gdmax_tracking_error_follows_its_exact_recursion():
    """With −∇²_yy f = μI and y*(x) = (b/μ)x (the double-well game), N inner ascent steps contract
    y − y*(x) exactly by q = (1 − η_yμ)ᴺ, so e_k = y_k − y*(x_k) obeys
    e_{k+1} = q e_k − (b/μ)(x_{k+1} − x_k): the minimax-escape study's tracking bound
    B_{k+1} = qB_k + (b/μ)‖Δx_k‖ follows by the triangle inequality. An identity, so a test
    (it used to be a claim of minimax-escape that could not fail)."""
    import jax

    eta_x, eta_y = 1.0 / 11.0, 1.0
    rng = np.random.default_rng(5)
    with jax.enable_x64(True):
        game = so.DoubleWellGame(2, ell=1.0, mu=0.1, c=0.5)
        x0 = jnp.asarray(rng.uniform(-1.2, 1.2, (4, 2)))
        for n_inner in (1, 3, 10):
            r = so.simulate(so.GDmax(game, eta_x, eta_y, n_inner=n_inner),
                            (x0, jnp.zeros((4, 2), jnp.float64)), 0, n_paths=4, n_steps=60,
                            observables={"x": lambda z: z[0], "y": lambda z: z[1]})
            x, y = np.asarray(r.observables["x"]), np.asarray(r.observables["y"])
            bmu = float(game.b / game.mu)
            e = y - bmu * x
            q = (1.0 - eta_y * float(game.mu)) ** n_inner
            np.testing.assert_allclose(e[:, 1:], q * e[:, :-1] - bmu * np.diff(x, axis=1),
                                       atol=1e-12)

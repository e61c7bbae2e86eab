"""The closed forms behind the minimax-rates study against independent computations: the step-ratio
threshold (closed form vs bisection vs a scan of random NC-SC quadratics), the stationary gradient
floor (discrete Lyapunov vs the truncated series), the best batch's u*, the Moreau envelope (a
proximal solve vs the closed form on a quadratic), and the two new games (Φ vs a numerical max
over y, bad input)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import sde_opt as so
from sde_opt.problems.moment_gan import MomentGAN
from sde_opt.problems.nonconvex_concave import ConcaveWellGame
from sde_opt.theory import minimax_rates as mr
from sde_opt.theory import moreau
from sde_opt.theory.modified_equations import iteration_matrix, spectral_radius

# ------------------------------------------------------------------------- the step-ratio threshold

@pytest.mark.parametrize("kappa", [2.0, 4.0, 16.0, 64.0])
@pytest.mark.parametrize("a", [0.25, 0.5, 0.9])
def test_gda_threshold_closed_form_equals_bisection(kappa, a):
    A, B, C = mr.nc_sc_quadratic_blocks(kappa, 1.0, a)
    J = np.block([[A, B], [-B.T, C]])          # float64, not the game's float32 copy
    assert mr.critical_step_x("gda", J, 1.0, 1) == pytest.approx(
        mr.gda_critical_step_x(kappa, a=a), rel=1e-8)


def test_the_threshold_scales_like_one_over_kappa_for_every_method():
    for method in ("gda", "ogda", "extragradient"):
        crit = []
        for kappa in (64.0, 256.0, 1024.0):
            A, B, C = mr.nc_sc_quadratic_blocks(kappa)
            crit.append(kappa * mr.critical_step_x(method, np.block([[A, B], [-B.T, C]]), 1.0, 1))
        assert np.allclose(crit, 2.0, rtol=0.04), (method, crit)   # 2/κ, not 1/κ²


def test_instance_is_nc_sc_with_a_strict_minimum_of_phi():
    A, B, C = mr.nc_sc_quadratic_blocks(16.0, 1.0, 0.5, d=2)
    H = np.block([[A, B], [B.T, -C]])
    assert np.abs(np.linalg.eigvalsh(H)).max() <= 1.0          # ℓ-smooth
    assert np.all(np.diag(A) < 0)                               # nonconvex in x
    assert np.allclose(A + B @ np.linalg.solve(C, B.T), 0.5 * np.eye(2))   # Φ'' = aℓ > 0


def test_ratio_below_one_over_two_kappa_is_stable_on_random_nc_sc_quadratics():
    """The module docstring's scan: GDA and EG at η_y = 1/ℓ, OGDA at η_y = 1/(2ℓ), ratio
    0.99/(2κ), on random 1-D instances with ‖∇²f‖ ≤ ℓ, −f_yy ≥ μ and Φ'' > 0."""
    rng = np.random.default_rng(0)
    for kappa in (2.0, 16.0):
        mu, n = 1.0 / kappa, 0
        while n < 2000:
            fxx, b, fyy = rng.uniform(-1, 1), rng.uniform(-1, 1), -rng.uniform(mu, 1)
            H = np.array([[fxx, b], [b, fyy]])
            if np.abs(np.linalg.eigvalsh(H)).max() > 1 or fxx - b * b / fyy <= 0:
                continue
            n += 1
            J = np.array([[fxx, b], [-b, -fyy]])
            for method, eta_y in (("gda", 1.0), ("extragradient", 1.0), ("ogda", 0.5)):
                T = iteration_matrix(method, J, 0.99 * eta_y / (2 * kappa), eta_y, 1)
                assert spectral_radius(T) < 1, (method, kappa, fxx, b, fyy)


def test_ogda_at_unit_y_step_is_unstable_on_a_steep_instance():
    """The docstring's caveat: OGDA's y-step alone at η_y = 1/ℓ when −f_yy = ℓ."""
    J = np.array([[-0.1, 0.2], [-0.2, 1.0]])
    assert spectral_radius(iteration_matrix("ogda", J, 1e-4, 1.0, 1)) > 1.5


def test_critical_step_x_refuses_a_bracket_without_a_crossing():
    J = np.array([[1.0, 0.0], [0.0, 1.0]])                      # strongly convex–concave
    with pytest.raises(ValueError, match="stable for every"):
        mr.critical_step_x("gda", J, 0.1, 1, high=0.5)


# ------------------------------------------------------------------------- the gradient floor

def test_gradient_floor_equals_the_truncated_lyapunov_series():
    A, B, C = mr.nc_sc_quadratic_blocks(4.0, 1.0, 0.5, d=1)
    J = np.block([[A, B], [-B.T, C]])
    eta_x, eta_y = 1 / 16, 1.0
    T = np.eye(2) - np.diag([eta_x, eta_y]) @ J
    D = np.diag([eta_x, eta_y])
    P, Tk = np.zeros((2, 2)), np.eye(2)
    for _ in range(20000):                                       # Σ_k Tᵏ DΣD (Tᵏ)ᵀ, Σ = I
        P += Tk @ D @ D @ Tk.T
        Tk = T @ Tk
    h = A + B @ np.linalg.solve(C, B.T)
    series = float(h[0, 0] ** 2 * P[0, 0])
    for m in (1, 5):
        assert mr.gda_gradient_floor(J, h, np.eye(2), eta_x, eta_y, 1, batch=m) == \
            pytest.approx(series / m, rel=1e-9)


def test_gradient_floor_refuses_an_unstable_iteration():
    A, B, C = mr.nc_sc_quadratic_blocks(4.0)
    with pytest.raises(ValueError, match="unstable"):
        mr.gda_gradient_floor(np.block([[A, B], [-B.T, C]]), np.eye(1), np.eye(2), 1.0, 1.0, 1)


def test_the_best_batch_grows_like_kappa_when_the_coupling_is_at_the_smoothness_bound():
    """Review of issue 18: the study's 'best batch shrinks with κ' is the ramp's — its coupling
    b = c√(ℓμ) keeps Φ'' = O(ℓ), and the noise floor F₁ (so M* = F₁/(u*ε²)) falls with κ at
    η_x = 1/(κ²ℓ). An equally ℓ-smooth, μ-strongly concave instance with the coupling at the
    smoothness bound, f = (ℓ/4)x² + (ℓ/2)xy − (μ/2)y² (Φ'' = ℓ/2 + κℓ/4), has a floor growing
    like κ, hence M* = Θ(κσ²ε⁻²): the papers' batch is the worst case, not a wrong prediction."""
    ell, kappas = 1.0, np.array([16.0, 32.0, 64.0, 128.0])
    strong, ramp_like = [], []
    for k in kappas:
        mu = ell / k
        for b, a, out in ((0.5 * ell, 0.25 * ell, strong),
                          (0.5 * math.sqrt(ell * mu), -0.5 * ell * 0.25, ramp_like)):
            J = np.array([[a, b], [-b, mu]])
            hess = np.linalg.eigvalsh(np.array([[a, b], [b, -mu]]))
            assert np.abs(hess).max() <= ell and a + b * b / mu > 0   # ℓ-smooth, Φ has a minimum
            out.append(mr.gda_gradient_floor(J, np.array([[a + b * b / mu]]), np.eye(2),
                                             1 / (k * k * ell), 1 / ell, 1))
    slope = lambda f: np.polyfit(np.log(kappas), np.log(f), 1)[0]
    assert slope(strong) == pytest.approx(1.0, abs=0.1)      # 0.97: the papers' M ∝ κ
    assert slope(ramp_like) < -0.5                            # the ramp's kind of instance


def test_best_batch_minimizes_the_calls_model():
    g = lambda u: (4 - u) / (u * (1 - u))                       # calls ∝ g(u), u = F₁/(Mε²)
    u = optimize.minimize_scalar(g, bounds=(1e-3, 0.999), method="bounded").x
    assert u == pytest.approx(mr.U_STAR, abs=1e-5)
    assert mr.best_batch(0.3, 0.1) == pytest.approx(0.3 / (mr.U_STAR * 0.01))
    k = mr.iterations_at_floor(100.0, np.array([0.0, 0.5, 1.0]))
    assert k[0] == pytest.approx(400) and k[1] == pytest.approx(700) and np.isinf(k[2])


# ------------------------------------------------------------------------- the Moreau envelope

@pytest.mark.parametrize("a, beta", [(0.6, 0.3), (-0.5, 0.1), (1.5, 0.0)])
def test_prox_solver_equals_the_closed_form_on_a_quadratic(a, beta):
    ell = 1.0
    x = np.random.default_rng(1).normal(size=(50, 3))
    u, gap = moreau.prox_smooth_plus_norm(x, 1 / (2 * ell), lambda v: -a * v, abs(a), beta,
                                          weak_convexity=max(a, 0.0))
    assert np.abs(u - moreau.quadratic_prox(x, a, beta, ell)).max() < 1e-10
    assert gap.max() < 1e-10


def test_prox_refuses_a_lambda_too_large_for_the_weak_convexity():
    with pytest.raises(ValueError, match="weak_convexity"):
        moreau.prox_smooth_plus_norm(np.zeros((1, 2)), 1.0, lambda v: -v, 1.0, 0.1,
                                     weak_convexity=2.0)


def test_moreau_gradient_vanishes_at_critical_points_and_is_x_over_lambda_at_the_kink():
    g = ConcaveWellGame(2, 1.0, 1.0, 0.2)
    lam = g.moreau_lambda(1.5)
    cps = g.phi_critical_points()
    for kind in ("minimum", "maximum_along_e1"):
        assert np.abs(g.moreau_gradient_norm(cps[kind], lam, radius=1.5)).max() < 1e-8
    x = np.array([[0.004, -0.007]])                              # ‖x‖ ≤ λβ: prox = 0
    assert g.moreau_gradient_norm(x, lam, radius=1.5)[0] == pytest.approx(np.linalg.norm(x) / lam)
    # ‖∇Φ‖ itself stays ≈ β = bR there: the kink is stationary only in the Moreau sense
    assert float(jnp.linalg.norm(g.phi_grad(jnp.asarray(x[0])))) == pytest.approx(0.2, abs=0.02)


def test_moreau_gradient_equals_phi_gradient_away_from_the_kink_as_lambda_shrinks():
    g = ConcaveWellGame(2, 1.0, 1.0, 0.2)
    x = np.array([[0.7, 0.4]])
    grad = np.asarray(g.phi_grad(jnp.asarray(x[0], jnp.float32)), np.float64)
    small = g.moreau_gradient_norm(x, 1e-4, radius=1.5)[0]
    assert small == pytest.approx(np.linalg.norm(grad), rel=1e-3)


# ------------------------------------------------------------------------- the two new games

def _numerical_phi_ball(game, x, radius):
    f = lambda y: -float(game.objective((jnp.asarray(x), jnp.asarray(y))))
    cons = {"type": "ineq", "fun": lambda y: radius**2 - y @ y}
    best = min((optimize.minimize(f, y0, constraints=[cons]) for y0 in
                np.random.default_rng(0).normal(size=(4, 2)) * 0.1), key=lambda r: r.fun)
    return -best.fun


def test_concave_well_phi_is_the_max_over_the_ball_and_gradients_agree():
    g = ConcaveWellGame(2, 1.0, 1.0, 0.2)
    with jax.enable_x64(True):
        for x in ([0.5, -0.3], [-1.1, 0.2]):
            xx = jnp.asarray(x, jnp.float64)
            assert float(g.phi(xx)) == pytest.approx(_numerical_phi_ball(g, np.asarray(x), 0.2),
                                                     abs=1e-6)
            assert np.allclose(jax.grad(g.phi)(xx), g.phi_grad(xx), atol=1e-12)
            assert float(jnp.linalg.norm(g.y_star(xx))) == pytest.approx(0.2)
    assert g.smoothness(1.5) == pytest.approx(5.75)


def test_concave_well_field_is_the_game_field():
    g = ConcaveWellGame(3, 1.3, 0.7, 0.4)
    z = (jnp.asarray([0.3, -0.2, 0.5]), jnp.asarray([0.1, 0.2, -0.3]))
    gx, gy = jax.grad(g.objective)(z)
    vx, vy = g.field(z)
    assert np.allclose(vx, gx, atol=1e-6) and np.allclose(vy, -gy, atol=1e-6)


def test_moment_gan_closed_forms():
    g = MomentGAN(0.7)
    x = jnp.asarray([0.3, 0.9])
    y = g.y_star(x)
    gx, gy = jax.grad(g.objective)((x, y))
    assert np.allclose(gy, 0.0, atol=1e-6)                      # y* maximizes f(x, ·)
    assert float(g.objective((x, y))) == pytest.approx(float(g.phi(x)), rel=1e-6)
    assert np.allclose(g.phi_grad(x), jax.grad(g.phi)(x), atol=1e-5)
    for m in g.phi_critical_points()["minimum"]:
        assert float(g.phi(jnp.asarray(m, jnp.float32))) < 1e-10
    # a collapsed generator (σ_g = 0) is a strict saddle of Φ along σ_g
    m1 = float(g.moments[0])
    h = np.asarray(jax.hessian(g.phi)(jnp.asarray([0.0, m1])))
    assert h[0, 0] < 0


def test_moment_gan_smoothness_bounds_sampled_hessians():
    g = MomentGAN(1.0)
    ell = g.smoothness(1.5, 2.0)
    rng = np.random.default_rng(2)
    pts = jnp.asarray(np.concatenate([rng.uniform(-1.5, 1.5, (200, 2)),
                                      rng.uniform(-2, 2, (200, 2))], 1))
    hess = jax.jit(jax.vmap(jax.hessian(lambda u: g.objective((u[:2], u[2:])))))(pts)
    norms = np.linalg.norm(np.asarray(hess, np.float64), 2, axis=(1, 2))
    assert norms.max() <= ell + 1e-5 and norms.max() > 0.5 * ell


@pytest.mark.parametrize("make, err", [
    (lambda: ConcaveWellGame(d=0), ValueError), (lambda: ConcaveWellGame(ell="1"), TypeError),
    (lambda: ConcaveWellGame(b=None), TypeError), (lambda: ConcaveWellGame(y_radius=-1), ValueError),
    (lambda: MomentGAN(mu=0.0), ValueError), (lambda: MomentGAN(std="a"), TypeError),
    (lambda: MomentGAN(n=1.5), TypeError), (lambda: MomentGAN(mean=math.nan), ValueError),
    (lambda: mr.nc_sc_quadratic_blocks(0.5), ValueError)])
def test_bad_input_is_refused_with_the_parameter_named(make, err):
    with pytest.raises(err):
        make()


def test_the_games_run_under_gda():
    for game, z0 in ((ConcaveWellGame(), (jnp.ones(2), jnp.zeros(2))),
                     (MomentGAN(), (jnp.asarray([0.5, 0.2]), jnp.zeros(2)))):
        r = so.simulate(so.GDA(game, 0.01, 0.1), z0, 0, n_paths=2, n_steps=50)
        assert r.counts()["diverged"] == 0

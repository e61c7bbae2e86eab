"""Bilevel algorithms: AID's hypergradient against the closed form, CG against a dense solve, and
each update by hand (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import ndtr

import sde_opt as so
from sde_opt.algorithms._bilevel import cg, cg_lineax, neumann
from sde_opt.algorithms._perturbation import uniform_ball
from sde_opt.algorithms.aid import aid_hypergradient


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _jit_step(alg):
    return jax.jit(lambda s, z: alg.step(s, z))


@pytest.mark.slow
def test_aid_hypergradient_matches_the_closed_form_to_1e_6():
    p = so.QuadraticBilevel(kappa=10.0, gamma=(-1.0, 0.5), d_y=20)
    x = jnp.array([0.4, -0.9])
    alg = so.AID(p, alpha=1.0 / p.lower_smoothness, beta=0.1, D=300, N=30)
    s = _jit_step(alg)(alg.init(x), jnp.zeros(1))
    exact = p.grad(x)
    assert float(jnp.linalg.norm(s.g - exact) / jnp.linalg.norm(exact)) < 1e-6
    np.testing.assert_array_equal(s.counts, [1, 300, 1, 31])  # CG: one HVP for r0, one per step


@pytest.mark.slow
def test_cg_against_a_dense_solve_and_its_warm_start():
    p = so.QuadraticBilevel(kappa=50.0, d_y=8)
    x, y = jnp.array([0.3, 0.2]), jnp.ones(8)
    b = jnp.arange(8.0) - 3.0
    dense = jnp.linalg.solve(p.q_matrix(), b)
    v, n_hvp = jax.jit(lambda b: cg(p, x, y, b, jnp.zeros(8), 8))(b)
    np.testing.assert_allclose(v, dense, rtol=1e-8)  # exact after d_y steps
    assert int(n_hvp) == 9
    v_warm, _ = cg(p, x, y, b, dense, 3)  # started at the solution: stays there
    np.testing.assert_allclose(v_warm, dense, rtol=1e-10)
    v3, _ = cg(p, x, y, b, jnp.zeros(8), 3)  # 3 steps: a Krylov minimizer of the H-norm error
    for v_init in (jnp.zeros(8), jnp.ones(8)):  # jax.scipy's CG and lineax's CG agree, warm or cold
        np.testing.assert_allclose(cg(p, x, y, b, v_init, 3)[0], cg_lineax(p, x, y, b, v_init, 3)[0],
                                   rtol=1e-9)
    h = np.asarray(p.q_matrix())
    k = np.stack([np.linalg.matrix_power(h, j) @ np.asarray(b) for j in range(3)], 1)
    coef = np.linalg.solve(k.T @ h @ k, k.T @ np.asarray(b))
    np.testing.assert_allclose(v3, k @ coef, rtol=1e-7)


def test_cg_with_a_tiny_right_hand_side_in_float32():
    """Near a stationary point ∇ᵧf ~ 1e-10: its square underflows float32, and CG must neither
    divide 0 by 0 (NaN) nor lose the solution's scale."""
    p = so.QuadraticBilevel(kappa=50.0, d_y=8)
    with jax.enable_x64(False):
        x, y = jnp.zeros(2, jnp.float32), jnp.zeros(8, jnp.float32)
        b = 1e-10 * (jnp.arange(8.0, dtype=jnp.float32) - 3.0)
        v, _ = jax.jit(lambda b: cg(p, x, y, b, jnp.zeros(8, jnp.float32), 12))(b)
        dense = np.linalg.solve(np.asarray(p.q_matrix()), np.asarray(b, np.float64))
        np.testing.assert_allclose(np.asarray(v), dense, rtol=1e-3)
        v0, _ = jax.jit(lambda b: cg(p, x, y, b, jnp.zeros(8, jnp.float32), 5))(jnp.zeros(8))
        np.testing.assert_array_equal(np.asarray(v0), 0.0)


@pytest.mark.slow
def test_aid_step_by_hand():
    p = so.QuadraticBilevel(kappa=4.0, d_y=3, gamma=(-1.0, 2.0))
    Q, B = np.asarray(p.q_matrix()), np.asarray(p.b_matrix())
    x, y0, v0 = np.array([0.5, -0.3]), np.array([0.1, 0.2, -0.1]), np.array([0.3, 0.0, 0.1])
    a, be = 0.2, 0.05
    alg = so.AID(p, a, be, D=2, N=1)
    s = alg.init(jnp.asarray(x), jnp.asarray(y0))._replace(v=jnp.asarray(v0))
    s = _jit_step(alg)(s, jnp.zeros(1))
    y = y0
    for _ in range(2):
        y = y - a * (Q @ y - B @ x)
    P = np.asarray(jax.jacfwd(lambda yy: p.upper_grads(jnp.asarray(x), yy)[1])(jnp.asarray(y)))
    r = P @ y - Q @ v0                 # ∇ᵧf = P y
    v = v0 + (r @ r) / (r @ Q @ r) * r  # one CG step
    g = (np.asarray(p.omega) * x**3 - np.asarray(p.s) * x) + B.T @ v
    np.testing.assert_allclose(s.y, y, rtol=1e-12)
    np.testing.assert_allclose(s.v, v, rtol=1e-12)
    np.testing.assert_allclose(s.x, x - be * g, rtol=1e-12)
    cold = so.AID(p, a, be, D=2, N=1, warm_start=False)
    s2 = _jit_step(cold)(cold.init(jnp.asarray(x), jnp.asarray(y0)), jnp.zeros(1))
    y = np.zeros(3)
    for _ in range(2):
        y = y - a * (Q @ y - B @ x)
    np.testing.assert_allclose(s2.y, y, rtol=1e-12)


@pytest.mark.slow
def test_perturbed_aid_kick_by_hand():
    """Defect 3: the paper's kick x − βξ, ξ uniform in B(0, r); the next step's hypergradient at
    the kicked point; the next kick only after more than T gradient steps."""
    p = so.QuadraticBilevel(kappa=4.0, d_y=3)
    alg = so.PerturbedAID(p, alpha=0.2, beta=0.1, radius=0.3, threshold=1e-3, interval=3, D=3, N=2)
    w = jnp.array([0.6, -0.8, 0.25])
    step = _jit_step(alg)
    s = step(alg.init(jnp.zeros(2)), w)  # at the saddle ĝ = 0: this iteration is the kick
    xi = 0.3 * float(ndtr(0.25)) ** 0.5 * np.array([0.6, -0.8])
    np.testing.assert_allclose(s.x, -0.1 * xi, rtol=1e-12)
    assert int(s.kick.kicks) == 1 and int(s.kick.since) == 0
    np.testing.assert_array_equal(s.kick.anchor, 0.0)
    s2 = step(s, w)  # a gradient step with ĝ at the kicked point (ĝ(0) = 0 would leave x alone)
    g, _, _, _ = aid_hypergradient(p, s.x, s.y, s.v, jnp.asarray(0.2), 3, 2)
    np.testing.assert_allclose(s2.x, s.x - 0.1 * g, rtol=1e-12)
    assert float(jnp.linalg.norm(s2.x - s.x)) > 1e-4
    # back at the saddle: no kick while at most T = 3 gradient steps passed since the kick
    s = s2._replace(x=jnp.zeros(2), y=jnp.zeros(3), v=jnp.zeros(3))
    for since in (2, 3, 4):
        s = step(s, w)
        np.testing.assert_allclose(s.x, 0.0, atol=1e-15)
        assert int(s.kick.kicks) == 1 and int(s.kick.since) == since
    s = step(s, w)
    assert int(s.kick.kicks) == 2


@pytest.mark.slow
def test_perturbed_aid_termination_returns_the_anchor():
    """T gradient steps after a kick that bought less than F of decrease of Φ̂ = f(x, y_D), the
    path returns to the kick's anchor x̃ and is frozen (no more oracle calls)."""
    p = so.QuadraticBilevel(kappa=4.0, d_y=3)
    w = jnp.array([0.6, -0.8, 0.25])
    alg = so.PerturbedAID(p, alpha=0.2, beta=0.1, radius=0.3, threshold=1e-3, interval=3, D=3,
                          N=2, decrease=1e3)
    step = _jit_step(alg)
    s = alg.init(jnp.zeros(2))
    for _ in range(4):
        s = step(s, w)
    assert not bool(s.kick.done)
    s = step(s, w)
    assert bool(s.kick.done)
    np.testing.assert_array_equal(s.x, 0.0)
    s2 = step(s, w)
    for a, b in zip(jax.tree_util.tree_leaves(s2), jax.tree_util.tree_leaves(s)):
        np.testing.assert_array_equal(a, b)
    # a kick that escapes buys a decrease ≥ F: no termination (Φ falls from 0 to −¼ at (±1, 0))
    ok = so.PerturbedAID(p, alpha=0.2, beta=0.5, radius=2.0, threshold=1e-3, interval=40, D=20,
                         N=3, decrease=1e-3)
    s = ok.init(jnp.zeros(2))
    for _ in range(60):
        s = _jit_step(ok)(s, w)
    assert not bool(s.kick.done) and abs(float(s.x[0])) > 0.9


def test_perturbed_aid_template_kick_length():
    """Defect 3: the template's r is the paper's (kick x − βξ): at κ = 10, ε = 1e-2 the kick moves
    x by β·r·U^{1/2} ≤ β·ε/(400ι³), not by r (7.75× larger, since β = 1/L_Φ = 1/7.75)."""
    p = so.QuadraticBilevel(kappa=10.0, d_y=20)
    L, rho = p.gradient_lipschitz(1.5), p.hessian_lipschitz(1.5)
    assert L == pytest.approx(7.75)
    t = so.algorithms.perturbed_aid_template(eps=1e-2, L=L, rho=rho, delta_phi=0.25, dim=2,
                                             kappa=10.0)
    alg = so.PerturbedAID(p, alpha=1 / p.lower_smoothness, **t)
    w = jnp.array([1.0, 0.0, 10.0])  # U = Φ(10) ≈ 1: the largest kick
    s = _jit_step(alg)(alg.init(jnp.zeros(2)), w)
    assert float(jnp.linalg.norm(s.x)) == pytest.approx(t["beta"] * t["radius"], rel=1e-9)
    assert t["beta"] * t["radius"] == pytest.approx(t["radius"] / 7.75)


@pytest.mark.slow
def test_uniform_ball_radius_law():
    w = jax.random.normal(jax.random.key(0), (20000, 4))
    pts = jax.vmap(lambda z: uniform_ball(z, jnp.asarray(2.0)))(w)
    r = np.sort(np.linalg.norm(np.asarray(pts), axis=1))
    cdf = (r / 2.0) ** 3
    assert np.max(np.abs(cdf - np.arange(1, r.size + 1) / r.size)) < 1.63 / np.sqrt(r.size) * 1.5
    assert r.max() <= 2.0


def test_neumann_series_by_hand():
    h = jnp.array([[2.0, 0.5], [0.5, 1.0]])
    b = jnp.array([1.0, -1.0])
    z = neumann(lambda u, _: h @ u, b, jnp.asarray(0.3), 4)
    by_hand = 0.3 * sum(np.linalg.matrix_power(np.eye(2) - 0.3 * np.asarray(h), q) for q in range(5)) @ b
    np.testing.assert_allclose(z, by_hand, rtol=1e-12)


def test_stocbio_step_by_hand():
    p = so.QuadraticBilevel(kappa=4.0, d_y=3, sigma_f=0.5, sigma_g=0.2)
    Q, B = np.asarray(p.q_matrix()), np.asarray(p.b_matrix())
    a, be = 0.2, 0.05
    alg = so.StocBiO(p, a, be, D=2, Q=3)
    x, y0 = np.array([0.5, -0.3]), np.array([0.1, 0.2, -0.1])
    z = np.asarray(jax.random.normal(jax.random.key(1), alg.noise.shape))
    s = _jit_step(alg)(alg.init(jnp.asarray(x), jnp.asarray(y0)), jnp.asarray(z))
    zeta, xi = z[:6].reshape(2, 3), z[6:]
    y = y0
    for t in range(2):
        y = y - a * (Q @ y - B @ x + 0.2 * zeta[t])
    gx = np.asarray(p.omega) * x**3 - np.asarray(p.s) * x + 0.5 * xi[:2]
    P = np.asarray(jax.jacfwd(lambda yy: p.upper_grads(jnp.asarray(x), yy)[1])(jnp.asarray(y)))
    gy = P @ y + 0.5 * xi[2:]
    hq = a * sum(np.linalg.matrix_power(np.eye(3) - a * Q, q) for q in range(4))
    g = gx + B.T @ (hq @ gy)
    np.testing.assert_allclose(s.y, y, rtol=1e-12)
    np.testing.assert_allclose(s.x, x - be * g, rtol=1e-12)
    np.testing.assert_array_equal(s.counts, [1, 2, 1, 3])


@pytest.mark.slow
def test_stocbio_ineon_start_iteration_and_escape_by_hand():
    p = so.QuadraticBilevel(kappa=4.0, d_y=3)  # σ = 0: ĝ is deterministic
    alg = so.StocBiOINEON(p, alpha=0.2, beta=0.1, radius=0.01, step=0.5, iterations=50,
                          escape_step=0.3, threshold=1e-3, grow=2.0, wait=0, D=30, Q=40)
    step = _jit_step(alg)
    n = alg.noise.shape[0]
    w = np.zeros(n)
    w[-3:] = [0.6, 0.8, 1.0]  # ζ direction (0.6, 0.8), positive sign
    s = step(alg.init(jnp.zeros(2)), jnp.asarray(w))
    assert int(s.mode) == 1
    np.testing.assert_allclose(s.u, [0.006, 0.008], rtol=1e-12)
    np.testing.assert_allclose(s.x, 0.0, atol=1e-15)
    # one iNEON iteration: u ← u − η(ĝ(x+u) − ĝ(x)) ≈ (I − η∇²Φ(0)) u (σ = 0, tiny u); inexact:
    # ĝ(x+u)'s 30 inner steps start from the anchor's y, leaving (1 − αμ)^30 ≈ 1e-3 of the error
    s1 = step(s, jnp.asarray(w))
    hess = np.diag(np.asarray(p.gamma))
    np.testing.assert_allclose(s1.u, (np.eye(2) - 0.5 * hess) @ np.asarray(s.u), rtol=3e-3)
    while int(s1.mode) == 1:
        s1 = step(s1, jnp.asarray(w))
    assert int(s1.found) == 1 and int(s1.none) == 0
    # moved by η_nc along the found direction, which is ≈ e₁ (the negative curvature)
    assert float(jnp.linalg.norm(s1.x)) == pytest.approx(0.3, rel=1e-12)
    assert float(s1.x[0]) > 0.99 * 0.3


class _ConcaveLower(so.QuadraticBilevel):
    def lower_hvp(self, x, y, v):
        return -v


def test_bad_input_messages():
    p = so.QuadraticBilevel(kappa=10.0, d_y=4)
    with pytest.raises(ValueError, match="D must be an integer >= 1; got 0"):
        so.AID(p, 0.05, 0.1, D=0)
    with pytest.raises(ValueError, match="N must be"):
        so.AID(p, 0.05, 0.1, N=0)
    with pytest.raises(ValueError, match="Q must be"):
        so.StocBiO(p, 0.05, 0.1, Q=0)
    with pytest.raises(ValueError, match="alpha"):
        so.StocBiO(p, -0.1, 0.1)
    with pytest.raises(ValueError, match=r"2/ℓ = 0.2"):
        so.AID(p, 0.25, 0.1)
    with pytest.raises(ValueError, match="beta"):
        so.AID(p, 0.05, 0.0)
    with pytest.raises(ValueError, match="radius"):
        so.PerturbedAID(p, 0.05, 0.1, radius=0.0, threshold=0.1)
    with pytest.raises(ValueError, match="radius"):
        so.StocBiOINEON(p, 0.05, 0.1, radius=-1.0, step=0.1, iterations=3, escape_step=0.1,
                        threshold=0.1)
    with pytest.raises(TypeError, match="bilevel"):
        so.AID(so.Quadratic([1.0, 2.0]), 0.05, 0.1)
    bad = _ConcaveLower(kappa=10.0, d_y=4)
    with pytest.raises(ValueError, match="not strongly convex at the start.*x0 = \\[0.1, 0.2\\]"):
        so.AID(bad, 0.05, 0.1).init(jnp.array([0.1, 0.2]))


class _UnknownSmoothness(so.QuadraticBilevel):
    @property
    def lower_smoothness(self):
        return None


@pytest.mark.slow
def test_a_diverging_inner_solve_is_flagged_and_counted():
    p = _UnknownSmoothness(kappa=10.0, d_y=4, sigma_g=0.1)
    alg = so.StocBiO(p, alpha=0.5, beta=0.01, D=20, Q=2)  # α = 5/ℓ: the inner SGD blows up
    with jax.enable_x64(False):
        res = so.simulate(alg, jnp.array([0.1, 0.2], jnp.float32), jax.random.key(0), n_paths=8,
                          n_steps=20)
    assert res.counts()["diverged"] == 8


def test_curvature_check_inside_the_engine():
    bad = _ConcaveLower(kappa=10.0, d_y=4)
    alg = so.AID(bad, 0.05, 0.1)
    with pytest.raises(Exception, match="not strongly convex at the start"):
        jax.block_until_ready(jax.jit(jax.vmap(alg.init))(jnp.zeros((3, 2))))


@pytest.mark.slow  # Newton solves compiled per call: several seconds
def test_aid_on_the_nonlinear_lower_levels():
    for p, x in ((so.SoftplusBilevel(), jnp.array([0.3, -0.2])),
                 (so.HyperCleaning(n_train=12, n_val=10, dim=3), jnp.linspace(-1, 1, 12))):
        alg = so.AID(p, alpha=1.0 / p.lower_smoothness, beta=0.1, D=400, N=20)
        s = _jit_step(alg)(alg.init(x), jnp.zeros(1))
        exact = jax.jit(lambda z: p.grad(z))(x)
        assert float(jnp.linalg.norm(s.g - exact) / jnp.linalg.norm(exact)) < 1e-6


@pytest.mark.slow  # imports every study module
def test_the_study_is_registered():
    from sde_opt import studies

    assert "bilevel-escape" in studies.registry()

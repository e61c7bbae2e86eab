"""Double wells, the harmonic quadratic and the robust-regression finite sum (issue 4)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import sde_opt as so
from sde_opt.noise import Joint, StandardNormal, joint, unjoin
from sde_opt.problems import MinibatchIndices


def test_double_well_derivatives_and_critical_points():
    p = so.DoubleWell(tilt=0.2, noise_std=0.5)
    x = jnp.array([0.7])
    assert float(p.grad(x)[0]) == pytest.approx(float(jax.grad(p.objective)(x)[0]), rel=1e-6)
    assert float(p.hessian(x)[0, 0]) == pytest.approx(3 * 0.49 - 1, rel=1e-6)
    cp = p.critical_points()
    mins, sad = np.asarray(cp["minimum"])[:, 0], np.asarray(cp["saddle"])[:, 0]
    for r in np.concatenate([mins, sad]):
        assert abs(r**3 - r + 0.2) < 1e-6  # stored in float32
    # tilt c > 0 lowers the left well: the global minimum comes first and is negative
    assert mins[0] < 0 < mins[1]
    assert p.potential(mins[0]) < p.potential(mins[1])
    assert float(p.grad_noise_cov(x)[0, 0]) == pytest.approx(0.25)
    assert float(p.stochastic_grad(x, jnp.array([2.0]))[0]) == pytest.approx(
        float(p.grad(x)[0]) + 1.0, rel=1e-6)


def test_untilted_double_well_facts():
    cp = so.DoubleWell().critical_points()
    np.testing.assert_allclose(np.sort(np.asarray(cp["minimum"])[:, 0]), [-1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(np.asarray(cp["saddle"])[:, 0], [0.0], atol=1e-12)


@pytest.mark.slow
def test_double_well_2d_hessians_differ_at_saddle_and_minima():
    p = so.DoubleWell2D(a=1.5)
    cp = p.critical_points()
    for pt in np.concatenate([np.asarray(cp["minimum"]), np.asarray(cp["saddle"])]):
        np.testing.assert_allclose(np.asarray(p.grad(jnp.asarray(pt))), 0.0, atol=1e-7)
    np.testing.assert_allclose(np.asarray(p.hessian(jnp.array([1.0, 0.0]))), np.diag([2.0, 2.5]),
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(p.hessian(jnp.array([0.0, 0.0]))), np.diag([-1.0, 1.0]),
                               atol=1e-6)
    x = jnp.array([0.3, -0.4])
    np.testing.assert_allclose(np.asarray(p.grad(x)), np.asarray(jax.grad(p.objective)(x)),
                               rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: so.DoubleWell(tilt=0.5), "DoubleWell: tilt must lie in"),
    (lambda: so.DoubleWell(noise_std=-1.0), "DoubleWell: noise_std must lie in"),
    (lambda: so.DoubleWell2D(a=-0.5), "DoubleWell2D: a must lie in [0.0, inf)"),
    (lambda: so.Quadratic([1.0], noise_cov=-1.0), "noise_cov must be >= 0"),
    (lambda: so.Quadratic([1.0, 2.0], noise_cov=np.eye(3)), "noise_cov must have shape (2, 2)"),
])
def test_problem_errors_name_the_parameter(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("]", r"\]")):
        make()


def test_quadratic_is_the_harmonic_potential():
    p = so.Quadratic([1.0, 3.0], noise_cov=np.array([[1.0, 0.5], [0.5, 2.0]]))
    x = jnp.array([0.5, -1.0])
    np.testing.assert_allclose(np.asarray(p.grad(x)), [0.5, -3.0], rtol=1e-6)
    root = np.asarray(p.noise_root)
    np.testing.assert_allclose(root @ root.T, [[1.0, 0.5], [0.5, 2.0]], atol=1e-6)
    assert list(p.critical_points()) == ["minimum"]


def _regression():
    return so.RobustRegression.generate(n=64, seed=3, batch_size=4)


@pytest.mark.slow
def test_robust_regression_oracle_is_unbiased_and_its_covariance_exact():
    with jax.enable_x64(True):
        p = _regression()
        w = jnp.array([0.3, -0.2], jnp.float64)
        g_all = p.example_grads(w)
        np.testing.assert_allclose(np.asarray(g_all.mean(0)), np.asarray(p.grad(w)), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(p.grad(w)),
                                   np.asarray(jax.grad(p.objective)(w)), rtol=1e-8)
        # B(w) Bᵀ(w) = Σ(w), with B read off the linear map z ↦ B z
        B = jax.jacfwd(lambda z: p.grad_noise_factor(w, z))(jnp.zeros(p.n))
        np.testing.assert_allclose(np.asarray(B @ B.T), np.asarray(p.grad_noise_cov(w)),
                                   rtol=1e-10)
        # Monte Carlo covariance of minibatch gradients against Σ(w), entrywise within 4 SE
        n = 20000
        idx = jax.vmap(p.noise.sample)(jr.split(jr.key(0), n))
        g = np.asarray(jax.vmap(lambda i: p.stochastic_grad(w, i))(idx))
        S = np.asarray(p.grad_noise_cov(w))
        C = np.cov(g.T)
        for i in range(2):
            for j in range(2):
                se = np.sqrt((S[i, i] * S[j, j] + S[i, j] ** 2) / n)
                assert abs(C[i, j] - S[i, j]) < 4 * se
        np.testing.assert_allclose(g.mean(0), np.asarray(p.grad(w)),
                                   atol=4 * np.sqrt(np.diag(S) / n).max())


@pytest.mark.slow
def test_robust_regression_has_a_global_and_a_spurious_minimum():
    with jax.enable_x64(True):
        p = so.RobustRegression.generate()
        cp = p.critical_points()
        mins = np.asarray(cp["minimum"])
        assert mins.shape[0] == 2 and cp["saddle"].shape[0] >= 1
        f = [float(p.objective(jnp.asarray(m))) for m in mins]
        assert f[0] < f[1] < float(p.objective(jnp.asarray(cp["saddle"][0])))
        # the global minimum sits near the inliers' coefficients (2, 0)
        assert np.linalg.norm(mins[0] - np.array([2.0, 0.0])) < 0.2
        for m in mins:
            assert np.linalg.norm(np.asarray(p.grad(jnp.asarray(m)))) < 1e-9


def test_robust_regression_bad_input():
    with pytest.raises(ValueError, match="targets must have shape"):
        so.RobustRegression(np.ones((5, 2)), np.ones(4))
    with pytest.raises(ValueError, match="scale must lie in"):
        so.RobustRegression(np.ones((5, 2)), np.ones(5), scale=0.0)
    with pytest.raises(ValueError, match="batch_size must lie in"):
        so.RobustRegression(np.ones((5, 2)), np.ones(5), batch_size=0)


@pytest.mark.slow
def test_minibatch_indices_and_joint_noise():
    s = MinibatchIndices(10, 7)
    idx = np.asarray(jax.vmap(s.sample)(jr.split(jr.key(1), 500)))
    assert idx.shape == (500, 7) and idx.min() == 0 and idx.max() == 9
    # Gaussian parts fuse into one flat standard normal (the engine's fast path) …
    fused = joint(StandardNormal((2,)), StandardNormal((2, 3)))
    assert isinstance(fused, StandardNormal) and fused.shape == (8,)
    a, b = unjoin((StandardNormal((2,)), StandardNormal((2, 3))), jnp.arange(8.0))
    np.testing.assert_array_equal(np.asarray(a), [0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(b), np.arange(2.0, 8.0).reshape(2, 3))
    # … anything else is a Joint whose draw is a tuple
    mixed = joint(s, StandardNormal((2,)))
    assert isinstance(mixed, Joint)
    draw = mixed.sample(jr.key(2), jnp.float32)
    assert draw[0].shape == (7,) and draw[1].shape == (2,)
    assert unjoin(mixed.parts, draw) is draw

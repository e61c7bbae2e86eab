"""Geometries, fields on pytree points, the pytree engine and theory on any geometry."""

import math

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from _toy_fields import MU, P_H, P_W, A, C, ToyGame, ToyOblique, game_start, oblique_start

import sde_opt as so
from sde_opt import theory
from sde_opt.theory.local_sde import field_jacobian

# -- geometry ----------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 3, 7])
@pytest.mark.slow
def test_ito_correction_of_brownian_motion_on_a_sphere(d):
    """B = I on S^{d−1}: the drift that keeps dX = P dW on the sphere is −(d−1)/2 · x."""
    x = so.Sphere().random_point(jax.random.key(d), (d,))
    jac = jnp.eye(d)  # column m of B is e_m
    np.testing.assert_allclose(so.Sphere().ito_correction(x, jac), -(d - 1) / 2 * x, rtol=1e-5)


@pytest.mark.slow
def test_oblique_is_a_product_of_column_spheres():
    g = so.Oblique(3, 4)
    x = g.random_point(jax.random.key(0))
    np.testing.assert_allclose(np.linalg.norm(x, axis=0), 1.0, rtol=1e-6)
    v = jax.random.normal(jax.random.key(1), (3, 4))
    pv = g.project(x, v)
    np.testing.assert_allclose(np.sum(pv * x, axis=0), 0.0, atol=1e-6)
    basis = g.tangent_basis(x)
    assert basis.shape == (12, 8)
    np.testing.assert_allclose(basis.T @ basis, np.eye(8), atol=1e-6)
    np.testing.assert_allclose(basis.T @ np.asarray(pv).reshape(-1),
                               np.linalg.lstsq(basis, np.asarray(pv).reshape(-1), rcond=None)[0],
                               atol=1e-5)
    # exp keeps the columns on their spheres and moves along the geodesic: angle = ‖v‖
    t = g.project(x, v) * 0.3
    y = g.exp(x, t)
    np.testing.assert_allclose(np.linalg.norm(y, axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.arccos(np.clip(np.sum(x * y, axis=0), -1, 1)),
                               np.linalg.norm(t, axis=0), rtol=1e-4)


def test_points_off_the_manifold_are_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match=r"x0\['W'\].*unit sphere"):
        so.Product({"W": so.Oblique(3, 2)}).check_point({"W": jnp.ones((3, 2))})
    with pytest.raises(ValueError, match="shape"):
        so.Oblique(3, 2).check_point(jnp.ones((2, 3)) / math.sqrt(2))
    with pytest.raises(ValueError, match="zero|finite|sphere"):
        so.Sphere().check_point(jnp.zeros(3))
    chain = so.EulerMaruyama(so.FieldSDE(ToyOblique(), 1.0, 0.1), 0.01)
    bad = {"H": jnp.ones((3, 4)), "W": jnp.ones((3, 2))}
    with pytest.raises(ValueError, match="unit sphere"):
        so.simulate(chain, bad, key=0, n_paths=4, n_steps=2)


# -- fields and theory ---------------------------------------------------------------------------


def test_game_jacobian_keeps_its_rotational_part():
    """V = (Ax + Cy, −Cᵀx + μy): J = [[A, C], [−Cᵀ, μI]] (written by hand)."""
    jac = field_jacobian(ToyGame(), game_start())
    want = np.block([[A, C], [-C.T, MU * np.eye(3)]])
    np.testing.assert_allclose(jac, want, rtol=1e-6, atol=1e-7)
    assert np.abs(jac - jac.T).max() > 1.0


@pytest.mark.slow
def test_local_sde_on_a_product_of_spheres_restricts_to_the_tangent_space():
    """f = −⟨p, w⟩ per column at its minimum w = p/‖p‖: Riemannian Hessian ‖p‖ I on the tangent
    space of each column (multiplicity d − 1 = 2), by hand."""
    prob = ToyOblique()
    x = {k: jnp.asarray(v, jnp.float32) for k, v in prob.minimum().items()}
    loc = theory.local_sde(prob, x, eta=0.01)
    norms = np.concatenate([np.linalg.norm(P_H, axis=0), np.linalg.norm(P_W, axis=0)])
    np.testing.assert_allclose(np.sort(loc.curvatures), np.sort(np.repeat(norms, 2)), rtol=1e-5)
    assert loc.directions.shape == (18, 12)


@pytest.mark.slow
def test_escape_from_a_start_offset_when_the_noise_vanishes_along_the_unstable_direction():
    p = so.QuadraticSaddle([-1.0, 1.0, 2.0], np.diag([0.0, 0.01, 0.01]))
    loc = theory.local_sde(p, np.zeros(3), eta=0.01)
    assert loc.escape_noise == 0.0
    with pytest.raises(ValueError, match="start="):
        loc.exit_iterations_mean(0.5)
    start = np.array([0.01, 0.0, 0.0])
    # deterministic growth u(t) = u₀ e^{λt}: t = log(r/u₀)/λ, in iterations t/η
    # (rel 1e-6: the Hessian is evaluated in float32)
    assert loc.exit_iterations_mean(0.5, start) == pytest.approx(math.log(50) / 0.01, rel=1e-6)
    # SGD itself grows by (1 + ηλ) per step: ⌈log 50 / log 1.01⌉, within O(η) of the limit
    r = so.simulate(so.sgd(p, 0.01), jnp.asarray(start, jnp.float32), key=0, n_paths=64,
                    n_steps=2000, events=[so.Threshold(lambda x: jnp.abs(x[0]), 0.5)])
    np.testing.assert_array_equal(r.steps, math.ceil(math.log(50) / math.log(1.01)))


@pytest.mark.slow
def test_finite_sum_has_the_exact_minibatch_covariance_and_a_factor_of_it():
    rng = np.random.default_rng(0)
    data = {"x": rng.normal(size=(20, 2)).astype(np.float32), "y": rng.normal(size=20).astype(np.float32)}

    def loss(p, ex):
        return 0.5 * (jnp.tanh(ex["x"] @ p["w"]) @ p["v"] - ex["y"]) ** 2

    params = {"v": jnp.array([0.3, -0.2]), "w": jnp.array([[0.5, 0.1], [-0.3, 0.2]])}
    prob = so.FiniteSum(loss, data, params, batch_size=4)
    # Σ by hand: per-example gradients by finite differences, (1/b)(E g gᵀ − ḡ ḡᵀ)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    eps = 1e-3
    grads = np.zeros((20, flat.size))
    for i in range(20):
        ex = {k: v[i] for k, v in data.items()}
        for j in range(flat.size):
            e = np.zeros(flat.size, np.float32)
            e[j] = eps
            grads[i, j] = (loss(unravel(flat + e), ex) - loss(unravel(flat - e), ex)) / (2 * eps)
    gbar = grads.mean(0)
    sigma = ((grads - gbar).T @ (grads - gbar) / 20) / 4
    np.testing.assert_allclose(prob.grad_noise_cov(params), sigma, atol=2e-4)
    jac = jax.jacfwd(lambda w: jax.flatten_util.ravel_pytree(prob.grad_noise_factor(params, w))[0])(
        jnp.zeros(20))
    np.testing.assert_allclose(jac @ jac.T, prob.grad_noise_cov(params), atol=1e-6)
    # the minibatch oracle is unbiased: its mean over all index draws is the full gradient
    draws = jax.vmap(lambda k: jax.flatten_util.ravel_pytree(
        prob.stochastic_grad(params, prob.noise.sample(k)))[0])(jax.random.split(jax.random.key(0), 20000))
    se = np.sqrt(np.diag(sigma) / 20000)
    assert np.all(np.abs(np.asarray(draws).mean(0) - gbar) < 5 * se + 1e-4)


def test_finite_sum_refuses_bad_layouts_with_a_readable_error():
    data = {"x": np.zeros((10, 2)), "y": np.zeros(9)}
    with pytest.raises(ValueError, match="leading"):
        so.FiniteSum(lambda p, ex: jnp.sum(p), data, jnp.zeros(2), batch_size=2)
    with pytest.raises(ValueError, match="scalar"):
        so.FiniteSum(lambda p, ex: p * ex, np.zeros((10, 2)), jnp.zeros(2), batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        so.FiniteSum(lambda p, ex: jnp.sum(p * ex), np.zeros((10, 2)), jnp.zeros(2), batch_size=0)


def test_games_and_minimizations_are_not_mixed_up():
    with pytest.raises(TypeError, match="game"):
        so.sgd(ToyGame(), 0.1)
    with pytest.raises(TypeError, match="game"):
        so.SGLD(ToyGame(), 0.1, 1.0)


# -- the engine on pytree states -------------------------------------------------------------------


@pytest.mark.slow
def test_a_game_state_runs_through_simulate_with_an_event_and_an_observable():
    game = ToyGame()
    chain = so.EulerMaruyama(so.FieldSDE(game, 1.0, 0.3), 0.02)
    leave = lambda z: jnp.linalg.norm(z[0]) >= 1.0
    r = so.simulate(chain, game_start(), key=0, n_paths=300, n_steps=3000, events=[leave],
                    observables={"y_norm": lambda z: jnp.linalg.norm(z[1])}, stride=100)
    assert sum(r.counts().values()) == 300 and r.counts()["exited"] > 250
    x, y = r.final
    assert x.shape == (300, 2) and y.shape == (300, 3)
    ex = r.exited
    np.testing.assert_array_less(0.999, np.linalg.norm(x[ex], axis=1))
    assert r.observables["y_norm"].shape == (300, 31)


@pytest.mark.slow
def test_an_oblique_product_state_runs_through_simulate_and_stays_on_it():
    prob = ToyOblique()
    chain = so.sgd(prob, 0.05)
    target = {k: jnp.asarray(v, jnp.float32) for k, v in prob.minimum().items()}
    near = lambda z: jnp.sum(z["W"] * target["W"]) + jnp.sum(z["H"] * target["H"]) >= 5.9
    r = so.simulate(chain, oblique_start(), key=1, n_paths=128, n_steps=400, events=[near],
                    observables={"f": prob.objective}, stride=50)
    assert r.counts()["exited"] == 128
    np.testing.assert_allclose(np.linalg.norm(r.final["W"], axis=1), 1.0, atol=1e-5)
    f0 = float(prob.objective(oblique_start()))
    assert np.all(r.observables["f"][:, 0] == pytest.approx(f0, rel=1e-6))
    f_end = jax.vmap(prob.objective)({k: jnp.asarray(v) for k, v in r.final.items()})
    assert np.all(np.asarray(f_end) < f0)


@pytest.mark.slow
def test_per_path_pytree_starts_and_bad_shapes():
    chain = so.EulerMaruyama(so.FieldSDE(ToyGame(), 1.0, 0.3), 0.02)
    x, y = game_start()
    per_path = (jnp.tile(x, (5, 1)), jnp.tile(y, (5, 1)))
    r = so.simulate(chain, per_path, key=0, n_paths=5, n_steps=3)
    assert r.final[0].shape == (5, 2)
    with pytest.raises(ValueError, match=r"x0\[1\] must have shape \(3,\)"):
        so.simulate(chain, (x, jnp.zeros(4)), key=0, n_paths=5, n_steps=3)
    with pytest.raises(ValueError, match="structure"):
        so.simulate(chain, x, key=0, n_paths=5, n_steps=3)


def test_x0_of_several_points_for_one_point_problem_is_refused():
    p = so.QuadraticSaddle([-1.0] + [1.0] * 9, 0.01)
    with pytest.raises(ValueError, match=r"x0 must have shape \(10,\).*got \(5, 10\)"):
        so.simulate(so.sgd(p, 0.01), jnp.zeros((5, 10)), key=0, n_paths=1024, n_steps=10)


def test_events_and_observables_of_the_wrong_type_are_refused():
    chain = so.sgd(so.QuadraticSaddle([-1.0, 1.0], 0.01), 0.01)
    with pytest.raises(TypeError, match=r"events\[0\].*boolean scalar.*float32"):
        so.simulate(chain, jnp.zeros(2), key=0, n_paths=4, n_steps=3, events=[lambda x: x[0]])
    with pytest.raises(TypeError, match=r"observables\['pair'\].*one array"):
        so.simulate(chain, jnp.zeros(2), key=0, n_paths=4, n_steps=3,
                    observables={"pair": lambda x: (x, x)})


def test_time_dependent_annealed_limit_switches_stage_at_its_boundary():
    p = so.QuadraticSaddle([-1.0, 2.0], 0.01)
    alg = so.AnnealedMomentumSGD(p, eta=[0.02, 0.005], mu=[0.9, 0.5], boundaries=[100.0])
    lim = alg.limit()
    x = jnp.array([0.3, 0.2])
    np.testing.assert_allclose(lim.drift(x, t=0.0), alg.limit(stage=0).drift(x), rtol=1e-6)
    np.testing.assert_allclose(lim.drift(x, t=100 * 0.02), alg.limit(stage=1).drift(x), rtol=1e-6)
    np.testing.assert_allclose(lim.drift(x, t=100 * 0.02 - 1e-4), alg.limit(stage=0).drift(x), rtol=1e-6)


def test_a_chain_whose_geometry_disagrees_with_its_problem_is_refused():
    import equinox as eqx

    class SphereSDE(so.FieldSDE):
        """A user's SDE that claims the sphere for a Euclidean problem."""

        @property
        def geometry(self):
            return so.Sphere()

    p = so.QuadraticSaddle([-1.0, 1.0, 2.0], 0.01)
    chain = so.EulerMaruyama(SphereSDE(p, 1.0, 0.1), 0.01)
    with pytest.raises(ValueError, match="geometries disagree"):
        so.simulate(chain, jnp.array([1.0, 0.0, 0.0]), key=0, n_paths=4, n_steps=2)
    assert eqx.is_array(chain.dt)

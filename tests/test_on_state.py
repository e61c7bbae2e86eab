"""Observables, events and the final result on the chain's full state (OnState, final_state), and
PhaseSpace's convention for heavy ball."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.engine import trajectory

ETA, MU = 0.05, 0.8


def _msgd():
    problem = so.QuadraticSaddle([-1.0, 1.0], noise_cov=0.04)
    return so.MomentumSGD(problem, ETA, MU)


def test_a_state_observable_is_the_displacement_of_the_position_observable():
    """With stride 1, OnState(s.m) at step k equals x_k − x_{k−1} from the position observable
    (saved by the same run), and final_state.x equals final."""
    r = so.simulate(_msgd(), jnp.array([0.1, -0.2]), key=0, n_paths=16, n_steps=40,
                    observables={"x": lambda x: x, "m": so.OnState(lambda s: s.m)},
                    final_state=True)
    x, m = r.observables["x"], r.observables["m"]
    np.testing.assert_allclose(m[:, 1:], np.diff(x, axis=1), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(m[:, 0], 0.0)
    np.testing.assert_array_equal(r.final_state.x, r.final)
    np.testing.assert_allclose(r.final_state.m, x[:, -1] - x[:, -2], rtol=1e-5, atol=1e-7)
    assert r.final_state.m.shape == (16, 2)


def test_an_integer_state_observable_is_saved_as_floats():
    r = so.simulate(_msgd(), jnp.array([0.1, -0.2]), key=0, n_paths=4, n_steps=10,
                    observables={"x": lambda x: x, "up": so.OnState(lambda s: jnp.sum(s.m > 0))})
    up = r.observables["up"]
    assert up.dtype == np.float32
    np.testing.assert_array_equal(up[:, 1:], np.sum(np.diff(r.observables["x"], axis=1) > 0, axis=2))


def test_a_state_event_stops_each_path_where_it_first_fires():
    """An event on the momentum: each path stops at the first step where ‖m‖² ≥ c, checked
    against the trajectory of the same chain on the same normals (stored with stride 1)."""
    c = 4e-4
    alg = _msgd()
    r = so.simulate(alg, jnp.zeros(2), key=1, n_paths=64, n_steps=400,
                    events=[so.OnState(lambda s: s.m @ s.m >= c)],
                    observables={"x": lambda x: x}, final_state=True)
    assert r.counts()["exited"] > 32
    speed = np.sum(np.diff(r.observables["x"], axis=1) ** 2, axis=2)      # ‖x_k − x_{k−1}‖²
    for i in np.flatnonzero(r.exited):
        k = r.steps[i]
        assert speed[i, k - 1] >= c * (1 - 1e-5)
        assert np.all(speed[i, : k - 1] < c * (1 + 1e-5))
        assert r.final_state.m[i] @ r.final_state.m[i] >= c * (1 - 1e-5)
    np.testing.assert_array_equal(r.final_state.x, r.final)


def test_final_state_survives_compaction():
    """Enough paths that the engine compacts finished ones away between segments: every path's
    final state still belongs to it (x equals its final position)."""
    alg = so.MomentumSGD(so.QuadraticSaddle([-0.05, 1.0], noise_cov=0.04), ETA, MU)
    r = so.simulate(alg, jnp.zeros(2), key=2, n_paths=2048, n_steps=1_500,
                    events=[so.LeaveBall(jnp.zeros(2), 0.5)], final_state=True)
    # paths stopped in many different segments (128 steps each with events)
    assert len(set((r.steps[r.exited] // 128).tolist())) >= 4
    np.testing.assert_array_equal(r.final_state.x, r.final)
    moved = r.steps > 0
    assert np.all(np.any(r.final_state.m[moved] != 0, axis=1))


def test_phase_space_exposes_the_displacement_convention():
    """PhaseSpace(MomentumSGD): the position is (x_k, x_k − x_{k−1}); the usual pair
    (x_{k−1}, v_k = (x_k − x_{k−1})/η) is (x − m, m/η), and starting PhaseSpace from
    MomentumState(x_{k−1} + η v, η v) continues the heavy-ball recursion
    x_{k+1} = x_k − η g + μ (x_k − x_{k−1})."""
    from sde_opt.algorithms.momentum_sgd import MomentumState

    alg = _msgd()
    noise = np.random.default_rng(0).normal(size=(1, 5, 2)).astype(np.float32)
    prev, v = np.array([0.2, 0.1], np.float32), np.array([0.5, -1.0], np.float32)
    s0 = MomentumState(jnp.asarray(prev + ETA * v)[None], jnp.asarray(ETA * v)[None])
    states = trajectory(so.PhaseSpace(alg), s0, jnp.asarray(noise))
    xs, ms = np.asarray(states.x[0]), np.asarray(states.m[0])
    np.testing.assert_allclose(ms[1:], np.diff(xs, axis=0), rtol=1e-5, atol=1e-7)
    # the recursion by hand, with the problem's own stochastic gradient
    x_prev, x = prev, prev + ETA * v
    for k in range(5):
        g = np.asarray(alg.problem.stochastic_grad(jnp.asarray(x), jnp.asarray(noise[0, k])))
        x_prev, x = x, x - ETA * g + MU * (x - x_prev)
        np.testing.assert_allclose(xs[k + 1], x, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose((xs[k + 1] - ms[k + 1], ms[k + 1] / ETA), (x_prev, (x - x_prev) / ETA),
                                   rtol=1e-4, atol=1e-5)


def test_bad_state_functions_are_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="OnState: fn must be a function"):
        so.OnState(3)
    with pytest.raises(TypeError, match=r"observables\['v'\] failed on a chain state"):
        so.simulate(_msgd(), jnp.zeros(2), key=0, n_paths=2, n_steps=2,
                    observables={"v": so.OnState(lambda s: s.velocity)})
    with pytest.raises(TypeError, match="must return a boolean scalar"):
        so.simulate(_msgd(), jnp.zeros(2), key=0, n_paths=2, n_steps=2,
                    events=[so.OnState(lambda s: s.m)])


def test_paths_running_when_most_stop_in_the_last_segment_keep_their_results():
    """Regression: when the last segment leaves at most a quarter of the bucket running, the
    engine compacted after it and then wrote the final positions of the pre-compaction batch
    (IndexError). 2,048 paths, the horizon where ≈ 87 % have left the unit ball: every exited
    path ends outside the ball, every censored one inside, and the final state is the position."""
    problem = so.QuadraticSaddle(-np.eye(10)[0] * 2 + 1, noise_cov=0.01)
    chain = so.EulerMaruyama(so.GradientSDE(problem, drift_scale=1.0, noise_scale=1.0), 0.01)
    r = so.simulate(chain, jnp.zeros(10), key=0, n_paths=2048, n_steps=450,
                    events=[so.LeaveBall(jnp.zeros(10), 1.0)], final_state=True)
    running_at_end = int(np.sum(~r.exited))
    assert 0 < running_at_end <= 512  # the case: a compaction would follow the last segment
    norms = np.linalg.norm(r.final, axis=1)
    assert np.all(norms[r.exited] >= 1.0) and np.all(norms[~r.exited] < 1.0)
    np.testing.assert_array_equal(r.steps[~r.exited], 450)
    np.testing.assert_array_equal(r.final_state, r.final)

"""Quadratic (strongly convex, additive noise) and its shared machinery with QuadraticSaddle."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt import stats, theory


def test_quadratic_oracle_and_critical_points():
    C = np.array([[1.0, 0.3], [0.3, 0.5]])
    q = so.Quadratic([1.0, 2.0], C)
    x = jnp.array([0.5, -1.0])
    assert float(q.objective(x)) == pytest.approx(0.5 * (0.25 + 2.0))
    assert np.allclose(q.grad(x), [0.5, -2.0])
    assert np.allclose(q.hessian(x), np.diag([1.0, 2.0]))
    root = np.asarray(q.noise_root)
    assert np.allclose(root @ root.T, C, atol=1e-6)
    assert np.allclose(q.stochastic_grad(x, jnp.zeros(2)), q.grad(x))
    assert list(q.critical_points()) == ["minimum"]
    assert list(so.QuadraticSaddle([-1.0, 2.0]).critical_points()) == ["saddle"]


def test_quadratic_bad_input():
    with pytest.raises(ValueError, match=r"Quadratic: every Hessian eigenvalue must be > 0"):
        so.Quadratic([1.0, -1.0])
    with pytest.raises(ValueError, match="QuadraticSaddle: at least one Hessian eigenvalue"):
        so.QuadraticSaddle([1.0, 1.0])
    with pytest.raises(ValueError, match="Quadratic: noise_cov must have shape"):
        so.Quadratic([1.0, 2.0], np.eye(3))


@pytest.mark.slow
def test_momentum_sgd_on_a_2d_quadratic_runs_sharded():
    """Regression: a pytree chain state and 2-D float32 noise through the engine (2 devices)."""
    q = so.Quadratic([1.0, 2.0], 1.0)
    res = so.simulate(so.MomentumSGD(q, 0.1, 0.5), np.zeros(2, np.float32), 0, n_paths=512,
                      n_steps=300, observables={"x": lambda x: x}, stride=10)
    assert res.counts() == {"exited": 0, "censored": 512, "diverged": 0}
    est = stats.stationary_covariance(res.observables["x"], burn_in=10, mean=0.0)
    exact = theory.heavy_ball_stationary_covariance([1.0, 2.0], 1.0, 0.1, 0.5)[:2, :2]
    assert np.all(np.abs(est.value - exact) < 4 * est.se)

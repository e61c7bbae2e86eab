"""Sweeps with summaries (algorithm vs limit vs theory), resuming, and no recompilation per point."""

import logging
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt import stats
from sde_opt import theory as th
from sde_opt.experiment import ResultsDir
from sde_opt.sweep import compare_exit_times, compare_stationary, compare_with_limit, grid

SADDLE = so.QuadraticSaddle([-1.0, 1.0], 0.05)


def _make(eta, mu):
    return so.MomentumSGD(SADDLE, eta, mu)


def _leave():
    return [so.LeaveBall(jnp.zeros(2), 0.5)]


@pytest.mark.slow
def test_compare_exit_times_summaries_units_and_theory():
    pts = [{"eta": 0.02, "mu": 0.5}]
    rows = compare_exit_times(_make, pts, jnp.zeros(2), 0, events=_leave(), n_paths=512, n_steps=3000,
                              limit_substeps=2,
                              theory=lambda p: {"mean": th.local_sde(SADDLE, np.zeros(2), p["eta"], p["mu"])
                                                .exit_iterations_mean(0.5)})
    r = rows[0]
    raw = r.point
    # the discrete summary is the engine's steps; the limit's is its time in algorithm iterations
    direct = stats.exit_time_summary(raw.discrete, unit="steps")
    assert r.discrete.mean == pytest.approx(direct.mean)
    assert r.limit.mean == pytest.approx(np.mean(raw.limit.steps) / 2)
    assert r.discrete.unit == r.limit.unit == "iterations"
    assert r.discrete.exited == 512 and r.limit.n == 512
    d = r.as_dict()
    assert set(d) == {"params", "discrete", "limit", "theory"}
    # the limit is EM of the local SDE at step η/2: its exact discrete exit mean (EM growth rate,
    # O(σ²) terms and grid overshoot; theory.saddle_exit_mean_em) for the unstable coordinate.
    # Leaving the ball instead of the slab |x₁| < r moves the exit by −Var x₂/(2r² ln ρ)
    # iterations (Var x₂ ≤ ηc/(2(1−μ)), the stable coordinate's stationary variance, since it
    # starts at 0): a derived bias bound.
    p = pts[0]
    loc = th.local_sde(SADDLE, np.zeros(2), p["eta"], p["mu"])
    pred = loc.exit_iterations_em(0.5, substeps=2)
    var2 = p["eta"] * 0.05 / (2 * (1 - p["mu"]))
    bias = var2 / (2 * 0.5**2 * loc.escape_rate * p["eta"])
    assert abs(r.limit.mean - pred) < 4 * r.limit.mean_se + bias, (r.limit.mean, pred, bias)
    # the diffusion-limit mean (the theory column) is the η → 0 value; its O(η) EM gap is small
    # here, so it agrees too, without any allowance
    assert abs(r.limit.mean - r.theory["mean"]) < 4 * r.limit.mean_se + bias


@pytest.mark.slow
def test_compare_stationary_against_the_exact_heavy_ball_variance():
    q = so.Quadratic([1.0, 2.0], 0.5)

    def sq(x):
        return x[0] ** 2

    rows = compare_stationary(lambda eta, mu: so.MomentumSGD(q, eta, mu), [{"eta": 0.05, "mu": 0.5}],
                              jnp.zeros(2), 1, observable=sq, n_paths=256, n_steps=4000, stride=4,
                              burn_in=0.1,
                              theory=lambda p: th.heavy_ball_moments(1.0, 0.5, p["eta"], p["mu"]).var_x)
    r = rows[0]
    exact = r.theory["value"]
    assert abs(float(r.discrete.value) - exact) < 4 * float(r.discrete.se)
    # EM of the limit has a known O(h) bias: its value is EM's stationary variance
    em = th.em_stationary_covariance([[-2.0]], [[math.sqrt(0.05 * 0.5) / 0.5]], 0.05)[0, 0]
    assert abs(float(r.limit.value) - em) < 4 * float(r.limit.se)
    assert r.counts["discrete"] == {"used": 256, "diverged": 0}


@pytest.mark.slow
def test_sweep_resumes_and_recomputes_nothing(tmp_path):
    pts = grid(eta=[0.02, 0.04], mu=[0.0, 0.5])
    a = ResultsDir(tmp_path / "r")
    first = compare_exit_times(_make, pts, jnp.zeros(2), 3, events=_leave(), n_paths=256, n_steps=2000,
                               store=a, tag="t")
    assert len(a.computed) == 4 and not a.resumed
    b = ResultsDir(tmp_path / "r")
    second = compare_exit_times(_make, pts, jnp.zeros(2), 3, events=_leave(), n_paths=256, n_steps=2000,
                                store=b, tag="t")
    assert not b.computed and len(b.resumed) == 4
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x.point.discrete.steps, y.point.discrete.steps)
        assert x.limit.mean == y.limit.mean
    # a partly finished sweep (one point file lost) recomputes only that point
    files = sorted((tmp_path / "r" / "points").glob("*.npz"))
    files[0].unlink()
    c = ResultsDir(tmp_path / "r")
    compare_exit_times(_make, pts, jnp.zeros(2), 3, events=_leave(), n_paths=256, n_steps=2000, store=c,
                       tag="t")
    assert len(c.computed) == 1 and len(c.resumed) == 3


class _CompileCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.names = []

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("Compiling "):
            self.names.append(msg.split(" ")[1])


@pytest.mark.slow
def test_sweeps_do_not_recompile_per_grid_point():
    counter = _CompileCounter()
    log = logging.getLogger("jax")
    old = log.level
    log.addHandler(counter)
    log.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles():
            kw = dict(events=_leave(), n_paths=256, n_steps=600, limit_substeps=2)
            compare_with_limit(_make, grid(eta=[0.05], mu=[0.0, 0.5]), jnp.zeros(2), 5, **kw)
            n_first = len(counter.names)
            compare_with_limit(_make, grid(eta=[0.03, 0.08, 0.1], mu=[0.2, 0.9]), jnp.zeros(2), 5, **kw)
            new = counter.names[n_first:]
    finally:
        log.removeHandler(counter)
        log.setLevel(old)
    assert n_first > 0, "the compile counter saw nothing: the logging hook is broken"
    heavy = [n for n in new if "segment" in n or "init_states" in n]
    assert not heavy, f"the simulation recompiled for new grid points: {heavy}"
    assert len(new) <= 2, f"compilations grew with the grid: {new}"

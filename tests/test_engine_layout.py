"""The path-last segment layout (``sde_opt/engine/_layout.py``): which chains get it, and that it
computes the same numbers bit for bit as the path-first layout it replaces for them.

Each comparison runs ``simulate`` twice in one process, once as is and once with the layout
check answering "no" (so the path-first segment is compiled), and compares every output exactly:
final points, steps, statuses, events, saved observables."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import sde_opt as so
from sde_opt.engine import _simulate
from sde_opt.engine._layout import elementwise_only, paths_last


def _em(eigenvalues, dt=0.01, noise=0.01):
    problem = so.QuadraticSaddle(list(eigenvalues), noise_cov=noise)
    return so.EulerMaruyama(so.GradientSDE(problem, drift_scale=1.0, noise_scale=1.0), dt)


def _both_layouts(monkeypatch, chain, x0, **kw):
    assert paths_last(chain, x0), "the comparison needs a chain that gets the path-last layout"
    last = so.simulate(chain, x0, **kw)
    with monkeypatch.context() as m:
        m.setattr(_simulate, "_cached_paths_last", lambda *a: False)
        first = so.simulate(chain, x0, **kw)
    return last, first


def _assert_same(a, b):
    for name in ("steps", "status", "event"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for la, lb in zip(jax.tree_util.tree_leaves(a.final), jax.tree_util.tree_leaves(b.final),
                      strict=True):
        np.testing.assert_array_equal(np.asarray(la), np.asarray(lb))
    assert sorted(a.observables) == sorted(b.observables)
    for name in a.observables:
        np.testing.assert_array_equal(a.observables[name], b.observables[name], err_msg=name)


def test_an_elementwise_chain_gets_the_path_last_layout_and_a_reducing_one_does_not():
    x0 = jnp.zeros(3, jnp.float32)
    assert paths_last(_em([-1.0, 1.0, 2.0]), x0)
    # MomentumSGD's gradient of the quadratic is a matrix-vector product (dot_general)
    assert not paths_last(so.MomentumSGD(so.QuadraticSaddle([-1.0, 1.0, 2.0], noise_cov=0.01),
                                         eta=0.01, mu=0.9), x0)
    norm_step = lambda x: x / jnp.linalg.norm(x)
    assert not elementwise_only(jax.make_jaxpr(norm_step)(x0).jaxpr)
    assert elementwise_only(jax.make_jaxpr(lambda x: jnp.where(x > 0, x / (1 + x), x**2))(x0).jaxpr)
    # a transcendental function is compiled differently with the layout (see below)
    assert not elementwise_only(jax.make_jaxpr(jnp.tanh)(x0).jaxpr)
    assert not elementwise_only(jax.make_jaxpr(jnp.cumsum)(x0).jaxpr)


@pytest.mark.parametrize("d", [3, 10])
def test_fixed_horizon_is_the_same_bit_for_bit(monkeypatch, d):
    chain = _em([-1.0] + [1.0] * (d - 1))
    last, first = _both_layouts(monkeypatch, chain, jnp.zeros(d, jnp.float32), key=4,
                                n_paths=600, n_steps=300)
    _assert_same(last, first)


def test_events_observables_and_strides_are_the_same_bit_for_bit(monkeypatch):
    chain = _em([-1.0] + [1.0] * 9, noise=0.04)
    x0 = jnp.zeros(10, jnp.float32)
    off_centre = jnp.zeros(10).at[0].set(0.4)
    kw = dict(key=7, n_paths=2048, n_steps=120,
              events=[so.LeaveBall(jnp.zeros(10), radius=0.6), so.LeaveBall(off_centre, 0.5)],
              observables={"norm": jnp.linalg.norm, "first": lambda x: x[:2]})
    for stride in (1, 3):
        last, first = _both_layouts(monkeypatch, chain, x0, stride=stride, **kw)
        assert 0 < np.sum(last.status == so.engine.EXITED) < kw["n_paths"]
        assert set(np.unique(last.event[last.status == so.engine.EXITED])) == {0, 1}
        _assert_same(last, first)


def test_diverging_paths_are_frozen_and_counted_the_same(monkeypatch):
    """EM with dt = 3 at an eigenvalue −1 grows like 4ⁿ: float32 overflows within a few dozen
    steps, at a step that depends on the path's noise."""
    chain = _em([-1.0, 1.0, 0.5], dt=3.0, noise=1.0)
    last, first = _both_layouts(monkeypatch, chain, jnp.zeros(3, jnp.float32), key=1,
                                n_paths=512, n_steps=200)
    assert np.all(last.status == so.engine.DIVERGED)
    assert np.all(np.isfinite(last.final))
    assert len(np.unique(last.steps)) > 1
    _assert_same(last, first)


class _KickedOscillator(so.AbstractChain):
    """An elementwise chain with a pytree state (position, velocity, step count): a damped
    oscillator with a time-dependent stiffness 1/(1 + t) and a cubic force, kicked by the noise
    behind an optimization barrier (as ``GradientSDE`` passes its noise)."""

    dt: float = 0.01
    noise: so.StandardNormal = so.StandardNormal((3,))

    def init(self, x0):
        return {"x": x0, "v": jnp.zeros_like(x0), "k": jnp.zeros((), jnp.int32)}

    def step(self, s, z):
        z = lax.optimization_barrier(z)
        t = s["k"].astype(s["x"].dtype) * self.dt
        force = -s["x"] / (1.0 + t) - s["x"] ** 3
        v = 0.9 * s["v"] + self.dt * force + 0.3 * jnp.sqrt(self.dt) * z
        return {"x": s["x"] + self.dt * v, "v": v, "k": s["k"] + 1}

    def position(self, s):
        return s["x"]


def test_a_pytree_state_with_a_time_dependent_step_is_the_same_bit_for_bit(monkeypatch):
    last, first = _both_layouts(monkeypatch, _KickedOscillator(), jnp.full(3, 0.1, jnp.float32),
                                key=2, n_paths=300, n_steps=250, final_state=True,
                                observables={"x": lambda x: x})
    _assert_same(last, first)
    for la, lb in zip(jax.tree_util.tree_leaves(last.final_state),
                      jax.tree_util.tree_leaves(first.final_state), strict=True):
        np.testing.assert_array_equal(np.asarray(la), np.asarray(lb))


class _TanhKicked(so.AbstractChain):
    """An otherwise admissible step with tanh of the noise."""

    dt: float = 0.01
    noise: so.StandardNormal = so.StandardNormal((10,))

    def init(self, x0):
        return x0

    def step(self, s, z):
        return s - 0.05 * s + 0.1 * jnp.tanh(lax.optimization_barrier(z))


def test_a_transcendental_step_keeps_the_path_first_layout(monkeypatch):
    """A review's counterexample (AVX-512 AMD EPYC): this step path-last differed from path-first
    in 2,960 of 3,010 coordinates after one step (≤ 2 ulp). The classifier must keep it
    path-first, so both runs below are the same program."""
    chain, x0 = _TanhKicked(), jnp.full(10, 0.3, jnp.float32)
    assert not paths_last(chain, x0)
    a = so.simulate(chain, x0, key=3, n_paths=301, n_steps=1)
    with monkeypatch.context() as m:
        m.setattr(_simulate, "_cached_paths_last", lambda *a: False)
        b = so.simulate(chain, x0, key=3, n_paths=301, n_steps=1)
    _assert_same(a, b)


def test_a_step_that_multiplies_the_noise_directly_keeps_the_path_first_layout():
    """``so.SDE``'s Euler–Maruyama step scales the noise without a barrier: path-first, XLA folds
    that product into the generator's, so the path-last layout would round differently."""
    sde = so.SDE(lambda t, x: -x, lambda t, x: 0.3 * jnp.ones_like(x), shape=(3,))
    assert not paths_last(so.EulerMaruyama(sde, 0.01), jnp.zeros(3, jnp.float32))


def test_the_comparison_sees_a_changed_step(monkeypatch):
    """Power: the same comparison fails for a step size off by one part in 10⁴."""
    x0 = jnp.zeros(3, jnp.float32)
    a = so.simulate(_em([-1.0, 1.0, 2.0]), x0, key=4, n_paths=600, n_steps=300)
    b = so.simulate(_em([-1.0, 1.0, 2.0], dt=0.010001), x0, key=4, n_paths=600, n_steps=300)
    with pytest.raises(AssertionError):
        _assert_same(a, b)


@pytest.mark.parametrize("mixed", [False, True])
def test_functions_of_the_state_see_the_same_numbers(monkeypatch, mixed):
    """Events and observables that read the state (``OnState``), alone or beside functions of
    the position, on a chain with a pytree state."""
    leaf_norm = so.OnState(lambda s: jnp.linalg.norm(s["v"]))
    events = [so.OnState(lambda s: jnp.linalg.norm(s["v"]) > 0.25)]
    observables = {"v_norm": leaf_norm}
    if mixed:
        events.append(so.LeaveBall(jnp.zeros(3), 0.3))  # a few paths leave it first
        observables["x2"] = lambda x: x * x
    last, first = _both_layouts(monkeypatch, _KickedOscillator(), jnp.full(3, 0.1, jnp.float32),
                                key=5, n_paths=512, n_steps=300, events=events,
                                observables=observables, stride=2)
    assert 0 < np.sum(last.status == so.engine.EXITED) < 512
    _assert_same(last, first)

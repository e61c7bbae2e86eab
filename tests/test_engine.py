"""The engine: per-path randomness, events, censoring, divergence, observables, chunking."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import sde_opt as so
from sde_opt._checks import is_concrete
from sde_opt.engine import CENSORED, DIVERGED, EXITED, _simulate
from sde_opt.engine._rng import standard_normals


def _saddle_chain(sigma2=0.01, dt=0.01, d=4):
    p = so.QuadraticSaddle([-1.0] + [1.0] * (d - 1), sigma2)
    return so.EulerMaruyama(so.GradientSDE(p, 1.0, 1.0), dt)


def _norm(x):
    return jnp.sqrt(jnp.sum(x * x))


@pytest.mark.parametrize("min_bucket", [16, None])
@pytest.mark.slow
def test_exit_steps_equal_first_passage_of_the_unstopped_paths(monkeypatch, min_bucket):
    """Compaction and early stopping change nothing: each path's exit step is the first step at
    which the same (unstopped) path leaves the ball. (A small minimum bucket forces several
    compactions of the 700 paths.)"""
    compactions = []
    if min_bucket is not None:
        monkeypatch.setattr(_simulate, "_MIN_BUCKET", min_bucket)
        real = _simulate._put
        monkeypatch.setattr(_simulate, "_put", lambda tree, n: compactions.append(n) or real(tree, n))
    ch = _saddle_chain()
    key = jax.random.key(3)
    n, horizon = 700, 900
    ev = so.simulate(ch, jnp.zeros(4), key, n_paths=n, n_steps=horizon,
                     events=[so.LeaveBall(jnp.zeros(4), 1.0)])
    free = so.simulate(ch, jnp.zeros(4), key, n_paths=n, n_steps=horizon,
                       observables={"r": _norm})
    r = free.observables["r"]
    crossed = r >= 1.0
    first = np.where(crossed.any(1), crossed.argmax(1), -1)
    exited = first >= 0
    assert ev.counts()["exited"] == exited.sum() and exited.sum() > 0.9 * n
    np.testing.assert_array_equal(ev.steps[exited], free.save_steps[first[exited]])
    np.testing.assert_array_equal(ev.status[exited], EXITED)
    np.testing.assert_array_equal(ev.status[~exited], CENSORED)
    np.testing.assert_array_equal(ev.steps[~exited], horizon)
    # the exit point is the first point outside the ball
    np.testing.assert_allclose(np.linalg.norm(ev.final[exited], axis=1),
                               r[exited, first[exited]], rtol=1e-5)
    if min_bucket is not None:
        assert len(set(compactions)) >= 3, compactions  # batch sizes the chunk ran at


@pytest.mark.slow
def test_results_do_not_depend_on_chunk_size():
    ch = _saddle_chain()
    kw = dict(n_paths=600, n_steps=400, events=[so.LeaveBall(jnp.zeros(4), 1.0)],
              observables={"r": _norm}, stride=50)
    a = so.simulate(ch, jnp.zeros(4), 7, **kw)
    b = so.simulate(ch, jnp.zeros(4), 7, chunk_size=256, **kw)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_allclose(a.final, b.final, rtol=1e-6)
    np.testing.assert_allclose(a.observables["r"], b.observables["r"], rtol=1e-6)


@pytest.mark.slow
def test_different_keys_give_different_paths_and_same_key_the_same():
    ch = _saddle_chain()
    a = so.simulate(ch, jnp.zeros(4), 1, n_paths=64, n_steps=50)
    b = so.simulate(ch, jnp.zeros(4), 1, n_paths=64, n_steps=50)
    c = so.simulate(ch, jnp.zeros(4), 2, n_paths=64, n_steps=50)
    np.testing.assert_array_equal(a.final, b.final)
    assert np.all(a.final != c.final)
    assert len(np.unique(a.final[:, 0])) == 64


@pytest.mark.slow
def test_diverging_paths_are_frozen_flagged_and_counted():
    # x' = (1 + 100·1) x + noise: overflows float32 within ~25 steps for every path
    sde = so.LinearSDE(100.0 * np.eye(2), 0.1)
    r = so.simulate(so.EulerMaruyama(sde, 1.0), jnp.ones(2), 0, n_paths=300, n_steps=200,
                    observables={"x0": lambda x: x[0]})
    assert r.counts() == {"exited": 0, "censored": 0, "diverged": 300}
    assert np.all(r.status == DIVERGED)
    assert np.all(np.isfinite(r.final)) and np.all(np.abs(r.final) > 1e30)
    assert np.all((r.steps > 5) & (r.steps < 40))
    # observables stop (NaN) from the divergence step on
    obs = r.observables["x0"]
    for i in range(0, 300, 37):
        assert np.all(np.isfinite(obs[i, : r.steps[i]]))
        assert np.all(np.isnan(obs[i, r.steps[i]:]))


@pytest.mark.slow
def test_mixed_outcomes_add_up():
    # a quarter of the paths start where EM overflows at its first step (|1 + A h| = 1.5 from
    # 3e38, beyond float32's 3.4e38), the rest near 0 with an exit event
    sde = so.LinearSDE(np.diag([-25.0, -25.0]), 0.3)
    ch = so.EulerMaruyama(sde, 0.1)
    x0 = np.zeros((400, 2), np.float32)
    x0[:100] = 3e38
    r = so.simulate(ch, x0, 0, n_paths=400, n_steps=300,
                    events=[so.LeaveBall(np.zeros(2), 0.5)])
    c = r.counts()
    assert c["diverged"] == 100 and c["exited"] + c["censored"] == 300 and c["exited"] > 0
    assert sum(c.values()) == 400
    np.testing.assert_array_equal(r.steps[:100], 1)


def test_non_finite_start_is_refused():
    ch = so.EulerMaruyama(so.LinearSDE(np.diag([-1.0, -1.0]), 0.3), 0.1)
    with pytest.raises(ValueError, match="x0 must be finite"):
        so.simulate(ch, np.array([np.nan, 0.0]), 0, n_paths=4, n_steps=3)


@pytest.mark.slow
def test_observables_are_saved_at_the_stride_and_nan_after_exit():
    ch = _saddle_chain()
    r = so.simulate(ch, jnp.zeros(4), 5, n_paths=200, n_steps=1000,
                    events=[so.LeaveBall(jnp.zeros(4), 1.0)], observables={"r": _norm}, stride=7)
    np.testing.assert_array_equal(r.save_steps, np.arange(0, 1001, 7))
    obs = r.observables["r"]
    assert obs.shape == (200, r.save_steps.size)
    assert np.all(obs[:, 0] == 0.0)
    for i in range(200):
        valid = r.save_steps <= r.steps[i]
        assert np.all(np.isfinite(obs[i, valid])) and np.all(np.isnan(obs[i, ~valid]))
        assert np.all(obs[i, valid] < 1.0 + (r.save_steps[valid] == r.steps[i]))


@pytest.mark.slow
def test_per_path_start_and_threshold_event():
    ch = _saddle_chain(sigma2=1e-6)
    x0 = np.zeros((3, 4), np.float32)
    x0[:, 0] = [0.1, 0.2, 0.4]
    r = so.simulate(ch, x0, 0, n_paths=3, n_steps=2000,
                    events=[so.Threshold(lambda x: x[0], 0.8)])
    # nearly deterministic: x₁(t) = x₁(0) e^{t} with Euler steps (1 + h)^k
    expected = np.ceil(np.log(0.8 / x0[:, 0]) / np.log(1.01))
    np.testing.assert_allclose(r.steps, expected, atol=1)
    assert np.all(r.event == 0)


def test_bad_arguments_are_rejected_with_clear_messages():
    ch = _saddle_chain()
    with pytest.raises(ValueError, match="n_paths"):
        so.simulate(ch, jnp.zeros(4), 0, n_paths=0, n_steps=10)
    with pytest.raises(ValueError, match="stride"):
        so.simulate(ch, jnp.zeros(4), 0, n_paths=2, n_steps=10, stride=0)
    with pytest.raises(ValueError, match="n_steps"):
        so.simulate(ch, jnp.zeros(4), 0, n_paths=2, n_steps=-1)
    with pytest.raises(TypeError, match="AbstractChain"):
        so.simulate(object(), jnp.zeros(4), 0, n_paths=2, n_steps=1)
    with pytest.raises(ValueError, match="radius"):
        so.LeaveBall(jnp.zeros(4), 0.0)


@pytest.mark.slow
def test_counter_based_normals_are_standard_normal_and_independent():
    ids = jnp.arange(4000, dtype=jnp.uint32)
    key = jax.random.key(0)
    z = np.concatenate([np.asarray(standard_normals(key, ids, jnp.int32(k), (5,), jnp.float32))
                        for k in range(10)], axis=1)  # (4000, 50)
    flat = z.ravel()
    n = flat.size
    assert abs(flat.mean()) < 4 / np.sqrt(n)
    assert abs(flat.var() - 1) < 4 * np.sqrt(2 / n)
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    # no correlation across neighbouring paths, steps or coordinates
    c = np.corrcoef(z[:, :10].T)
    assert np.max(np.abs(c - np.eye(10))) < 4 / np.sqrt(4000) * 1.5
    assert abs(np.corrcoef(z[:-1, 0], z[1:, 0])[0, 1]) < 4 / np.sqrt(4000)


@pytest.mark.slow
def test_counter_based_normals_float64():
    with jax.enable_x64(True):
        ids = jnp.arange(20000, dtype=jnp.uint32)
        z = np.asarray(standard_normals(jax.random.key(1), ids, jnp.int32(3), (3,), jnp.float64))
        assert z.dtype == np.float64
        assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
        # 52-bit resolution: far more distinct values than a float32 mantissa would give
        assert len(np.unique(z)) == z.size


@pytest.mark.slow
def test_em_stationary_variance_matches_the_exact_discrete_value():
    """Scalar OU dX = −aX dt + s dW, EM step h: Var = s²/(a(2 − ah)) — exact for the chain."""
    a, s, h = 1.0, 1.0, 0.2
    ch = so.EulerMaruyama(so.LinearSDE([[-a]], [[s]]), h)
    n_paths, burn = 4000, 100
    r = so.simulate(ch, jnp.zeros(1), 11, n_paths=n_paths, n_steps=burn + 1,
                    observables={"x": lambda x: x[0]}, stride=burn + 1)
    x = r.observables["x"][:, -1]
    exact_em = s**2 / (a * (2 - a * h))
    se = exact_em * np.sqrt(2 / (n_paths - 1))
    assert abs(x.var() - exact_em) < 4 * se
    # the continuous value s²/(2a) is 11% lower: 4 SE excludes it at this N
    assert abs(x.var() - s**2 / (2 * a)) > 4 * se


@pytest.mark.parametrize("n_steps", [100, 150, 300])
def test_segment_length_does_not_change_results(monkeypatch, n_steps):
    """Steps past the horizon or after a path stopped are masked, so cutting the horizon into
    segments of 7 steps (each skipped whole only when no path runs) gives the same paths as one
    segment."""
    from sde_opt.engine import _simulate

    ch = so.EulerMaruyama(so.LinearSDE([[0.05]], [[0.3]]), 0.05)
    kw = dict(n_paths=200, n_steps=n_steps, events=[so.LeaveBall(jnp.zeros(1), 1.5)],
              observables={"x": lambda x: x[0]}, stride=7)
    b = so.simulate(ch, jnp.zeros(1), 4, **kw)  # a few paths: one segment of _SEG_FEW steps
    assert _simulate._longest_segment(200, kw["events"], 4, 7) == _simulate._SEG_FEW >= n_steps
    monkeypatch.setattr(_simulate, "_longest_segment", lambda *a: 7)
    a = so.simulate(ch, jnp.zeros(1), 4, **kw)
    assert a.counts()["exited"] > 0 and a.counts()["censored"] > 0
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_allclose(np.asarray(a.final), np.asarray(b.final), rtol=1e-6, atol=0)
    np.testing.assert_allclose(a.observables["x"], b.observables["x"], rtol=1e-6, atol=0)
    # nothing saved after a path stopped, everything before
    x = b.observables["x"]
    saved = b.save_steps[None, :] <= b.steps[:, None]
    assert np.all(np.isfinite(x[saved])) and np.all(np.isnan(x[~saved]))


def test_segments_are_long_only_for_a_few_paths_with_a_small_save_buffer():
    """A chunk that may be compacted keeps short segments with events; a few paths get long
    segments unless their save buffer for that many steps would pass the cap."""
    from sde_opt.engine import _simulate as s

    big = s._MIN_BUCKET * s._COMPACT_FACTOR
    assert s._longest_segment(big, [object()], 4, 1) == s._SEG_EVENTS
    assert s._longest_segment(big, [], 4, 1) == s._SEG_FIXED
    assert s._longest_segment(big - 1, [object()], 4, 1) == s._SEG_FIXED  # never compacted
    assert s._longest_segment(s._FEW_PATHS, [object()], 4, 1) == s._SEG_FEW
    wide = s._FEW_BUFFER_BYTES // (s._FEW_PATHS * (s._SEG_FEW + 1)) + 1  # bytes per saved row
    assert s._longest_segment(s._FEW_PATHS, [], wide, 1) == s._SEG_FIXED
    assert s._longest_segment(s._FEW_PATHS, [], wide, 64) == s._SEG_FEW  # fewer saves


def test_a_chunk_is_compacted_once_its_running_paths_fit_a_quarter_of_it(monkeypatch):
    """The exit-time benchmark's chunk of 10,000 paths (one device): 2,671 running paths keep it
    (their bucket, 4,096, is more than a quarter), 744 move to 1,024; a study's chunk of 2,048
    paths moves to the smallest bucket at 512 running paths, never to 1,024 (one compiled bucket
    fewer), and the smallest bucket is never compacted again."""
    from sde_opt.engine import _simulate as s

    monkeypatch.setattr(s.jax, "local_devices", lambda: [None])
    assert s._COMPACT_FACTOR == 4 and s._MIN_BUCKET == 512
    assert s._compacted_bucket(2671, 10_000) is None
    assert s._compacted_bucket(744, 10_000) == 1024
    assert s._compacted_bucket(2048, 10_000) == 2048
    assert s._compacted_bucket(513, 2048) is None
    assert s._compacted_bucket(512, 2048) == 512
    assert s._compacted_bucket(1, s._MIN_BUCKET) is None


def test_an_observable_overflow_diverges_the_path_and_never_reaches_a_mean():
    """‖x‖² overflows float32 at |x| ≈ 1.8e19 while x is finite: the path is flagged diverged at
    that save, its observable is NaN from there, and streamed means stay finite."""
    problem = so.QuadraticSaddle([-1.0], 0.0)  # x_k = (1 + η)^k x_0: finite up to 3.4e38
    chain = so.sgd(problem, 0.5)  # x_k = 1.5^k: ‖x‖² overflows long before x itself (k ≈ 219)
    x, k_star = np.float32(1.0), 0
    with np.errstate(over="ignore"):
        while np.isfinite(x * x):
            x, k_star = np.float32(x * np.float32(1.5)), k_star + 1
    obs = {"sq": lambda x: jnp.sum(x * x), "x": lambda x: x[0]}
    x0 = jnp.array([1.0])
    r = so.simulate(chain, x0, key=0, n_paths=3, n_steps=150, observables=obs, stride=1)
    assert r.counts()["diverged"] == 3
    assert np.all(r.steps == k_star)
    assert np.isfinite(r.final).all() and np.all(np.abs(r.final) > 1e18)
    sq = r.observables["sq"]
    assert np.isfinite(sq[:, :k_star]).all() and np.isnan(sq[:, k_star:]).all()
    s = so.simulate_streamed(chain, x0, key=0, n_paths=3, n_steps=150, observables=obs, stride=10,
                             chunk_paths=2)
    assert s.counts()["diverged"] == 3
    m = np.asarray(s.observable_mean("sq"))
    assert not np.isinf(m).any()


@pytest.mark.parametrize("kind", ["int32", "bool"])
def test_integer_and_boolean_observables_are_saved_as_floats(kind):
    problem = so.QuadraticSaddle([-1.0, 1.0], 0.1)
    chain = so.sgd(problem, 0.1)
    fn = (lambda x: (jnp.abs(x[0]) > 0.05).astype(jnp.int32)) if kind == "int32" else \
        (lambda x: jnp.abs(x[0]) > 0.05)
    leave = so.LeaveBall(jnp.zeros(2), 0.5)
    r = so.simulate(chain, jnp.zeros(2), key=1, n_paths=8, n_steps=200, events=[leave],
                    observables={"far": fn}, stride=1)
    v = r.observables["far"]
    assert v.dtype == np.float32
    assert set(np.unique(v[np.isfinite(v)])) <= {0.0, 1.0}
    for i in range(8):  # NaN exactly after each path stopped
        assert np.isfinite(v[i, : r.steps[i] + 1]).all() and np.isnan(v[i, r.steps[i] + 1:]).all()


def test_one_compiled_segment_serves_every_horizon_and_stride(monkeypatch):
    """A grid over step sizes runs one chain structure at many horizons and save strides (the
    weak-order studies save once, at n = T/η steps): the segment is traced once for all of them,
    not once per horizon, and each run's saves equal a 300-step run's (stride 1) at those steps.
    Fails if the segment length or the stride is a compile-time constant again."""
    traces = []
    real = _simulate._segment_local
    monkeypatch.setattr(_simulate, "_segment_local",
                        lambda *a, **k: traces.append(1) or real(*a, **k))
    ch = so.EulerMaruyama(so.LinearSDE([[0.7]], [[0.3]]), 0.01)
    obs = {"x": lambda x: x[0]}
    runs = {}
    for n_steps, stride in ((40, 40), (100, 100), (300, 300), (90, 7), (250, 13)):
        runs[n_steps, stride] = so.simulate(ch, jnp.zeros(1), 5, n_paths=64, n_steps=n_steps,
                                            observables=obs, stride=stride)
    # every stride > 1 and every save buffer of up to 2 slots share one program; the strides 7
    # and 13 at these horizons need 16 and 32 slots: one program each
    assert len(traces) == 3, f"the segment was traced {len(traces)} times for 5 horizons"
    for (n_steps, stride), r in runs.items():
        assert r.save_steps[-1] == (n_steps // stride) * stride
        assert np.all(np.isfinite(r.observables["x"])), (n_steps, stride)
    # a horizon's paths are the first n steps of a longer run's (one random stream per path)
    long = so.simulate(ch, jnp.zeros(1), 5, n_paths=64, n_steps=300, observables=obs, stride=1)
    for r in runs.values():
        np.testing.assert_array_equal(r.observables["x"],
                                      long.observables["x"][:, r.save_steps])


def test_save_slots_hold_every_save_of_a_segment():
    """``_save_slots``: a power of two ≥ the saves a segment can hold, at most longest + 1."""
    for longest in (128, 512):
        for seg_len in range(1, longest + 1, 7):
            for stride in (1, 2, 3, 7, 64, 1000):
                n = _simulate._save_slots(seg_len, stride, longest)
                need = seg_len // stride + 1
                assert need <= n <= max(2 * need - 1, 1) and n <= longest + 1


class _ShortPosition(so.AbstractChain):
    """A chain whose position drops a coordinate of its state (a contract violation)."""

    dt: float = 0.1
    noise: so.StandardNormal = so.StandardNormal((3,))

    def init(self, x0):
        return x0

    def step(self, s, z):
        return s + 0.1 * z

    def position(self, s):
        return s[:2]


def test_a_position_shaped_unlike_the_start_is_a_clear_error():
    """Events, observables and the final positions are laid out like x0: a position of another
    shape is refused up front, naming both shapes (it crashed inside the chunk loop before)."""
    with pytest.raises(ValueError, match=r"chain.position\(chain.init\(x0\)\).*\(3,\).*\(2,\)"):
        so.simulate(_ShortPosition(), jnp.zeros(3), key=0, n_paths=8, n_steps=5,
                    observables={"x": lambda x: x})


class _Counter:
    """A mutable tally that hashes by identity (a static field of the chain below)."""

    def __init__(self):
        self.n = 0


class _CountedInit(so.AbstractChain):
    """A random walk whose ``init`` counts how often Python runs it (each trace is one run)."""

    scale: jnp.ndarray = eqx.field(default_factory=lambda: jnp.asarray(0.1))
    counter: _Counter = eqx.field(static=True, default_factory=_Counter)
    dt: float = 0.1
    noise: so.StandardNormal = so.StandardNormal((2,))

    def init(self, x0):
        self.counter.n += 1
        return x0

    def step(self, s, z):
        return s + self.scale * z

    def position(self, s):
        return s


def test_a_second_run_of_the_same_chain_structure_traces_init_once():
    """``simulate`` needs the chain's abstract state for its checks and its memory plan: it traces
    ``init`` once a call for them (it traced it five times a call before), and the analyses it
    memoizes on the chain's structure (LAPACK sub-batches, the layout) do not trace it again for a
    second run with other parameter values (a study's next grid point)."""
    counter = _Counter()
    first = so.simulate(_CountedInit(scale=jnp.asarray(0.1), counter=counter), jnp.zeros(2), key=0,
                        n_paths=16, n_steps=4)
    assert counter.n >= 1
    traced = counter.n
    again = so.simulate(_CountedInit(scale=jnp.asarray(0.2), counter=counter), jnp.zeros(2), key=0,
                        n_paths=16, n_steps=4)
    assert counter.n == traced + 1
    np.testing.assert_allclose(np.asarray(again.final), 2 * np.asarray(first.final), rtol=1e-6)
    so.simulate(_CountedInit(scale=jnp.asarray(0.2), counter=counter,
                             noise=so.StandardNormal((3,))),
                jnp.zeros(3), key=0, n_paths=16, n_steps=4)  # another shape: traced anew
    assert counter.n > traced + 1


class _ScaledStart(so.AbstractChain):
    """A chain whose state's dtype follows JAX's promotion of ``x0 * scale``."""

    scale: jnp.ndarray = None
    dt: float = 0.1
    noise: so.StandardNormal = so.StandardNormal((2,))

    def init(self, x0):
        return x0 * self.scale

    def step(self, s, z):
        return s + 0.1 * z.astype(s.dtype)

    def position(self, s):
        return s.astype(jnp.bfloat16)


def test_the_state_buffers_follow_weak_and_strong_leaves_call_by_call():
    """A weakly typed float32 leaf times a bfloat16 start is bfloat16, a strongly typed one is
    float32: two chains alike but for that, run one after the other, each get buffers of their
    own state's dtype (a memo of the abstract state across calls, keyed without weak types, once
    wrote the second chain's float32 state into a bfloat16 buffer)."""
    x0 = jnp.zeros(2, jnp.bfloat16)
    weak = _ScaledStart(scale=jnp.asarray(1.0))
    strong = _ScaledStart(scale=jnp.asarray(1.0, jnp.float32))
    assert weak.scale.weak_type and not strong.scale.weak_type
    for chain, want in ((weak, jnp.bfloat16), (strong, jnp.float32)):
        r = so.simulate(chain, x0, key=0, n_paths=8, n_steps=3, final_state=True)
        assert r.final_state.dtype == want
        assert r.final.dtype == jnp.bfloat16


class _CheckedInit(so.AbstractChain):
    """A chain whose ``init`` checks its parameter when the value is concrete."""

    gamma: jnp.ndarray = None
    dt: float = 0.1
    noise: so.StandardNormal = so.StandardNormal((2,))

    def init(self, x0):
        if is_concrete(self.gamma) and not float(self.gamma) > 0:
            raise ValueError(f"_CheckedInit: gamma must be > 0; got {float(self.gamma)}")
        return x0

    def step(self, s, z):
        return s - self.dt * self.gamma * s + 0.1 * z

    def position(self, s):
        return s


def test_a_check_in_init_runs_on_every_call():
    """``simulate`` traces ``init`` with the chain's values concrete once a call, so a check of
    a value there runs for a second chain of the same structure too (a memo across calls once
    skipped it: found by a review)."""
    so.simulate(_CheckedInit(gamma=jnp.asarray(1.0)), jnp.zeros(2), key=0, n_paths=4, n_steps=2)
    with pytest.raises(ValueError, match="gamma must be > 0; got -1.0"):
        so.simulate(_CheckedInit(gamma=jnp.asarray(-1.0)), jnp.zeros(2), key=0, n_paths=4,
                    n_steps=2)

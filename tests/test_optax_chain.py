"""OptaxChain: any optax optimizer simulated by the engine equals a plain optax loop step by step
(first step's bias correction included), and the package's own SGD / heavy ball / Nesterov /
RMSprop / Adam agree with their optax counterparts to rounding under the documented conventions."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import sde_opt as so
from sde_opt.engine._rng import path_step_keys

N_PATHS, N_STEPS = 3, 10


def _logistic_problem(batch_size=4):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(40) > 0).astype(np.float32)

    def loss(p, ex):
        z = ex["x"] @ p["w"] + p["b"]
        return jnp.logaddexp(0.0, z) - ex["y"] * z

    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    return so.FiniteSum(loss, {"x": x, "y": y}, params, batch_size=batch_size), params


OPTIMIZERS = {
    "sgd": lambda: optax.sgd(0.3),
    "sgd-momentum": lambda: optax.sgd(0.3, momentum=0.8),
    "sgd-nesterov": lambda: optax.sgd(0.3, momentum=0.8, nesterov=True),
    "rmsprop": lambda: optax.rmsprop(0.05, decay=0.9, eps=1e-3),
    "adam": lambda: optax.adam(0.05, b1=0.8, b2=0.95, eps=1e-6),
    "adamw": lambda: optax.adamw(0.05, b1=0.8, b2=0.95, eps=1e-6, weight_decay=0.1),
    "lion": lambda: optax.lion(0.01, b1=0.8, b2=0.95),
}


def _flat(p):
    return ravel_pytree(p)[0]


# the default suite runs three (the first step's bias correction, a sign update, Nesterov's form);
# `pytest -m slow` runs all seven
DEFAULT = {"adam", "lion", "sgd-nesterov"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in DEFAULT else pytest.mark.slow)
                                  for n in sorted(OPTIMIZERS)])
def test_simulated_paths_equal_a_plain_optax_loop_step_by_step(name):
    problem, params = _logistic_problem()
    params = jax.tree_util.tree_map(lambda a: a + 0.1, params)
    tx = OPTIMIZERS[name]()
    key = jax.random.key(7)
    res = so.simulate(so.OptaxChain(problem, tx), params, key, n_paths=N_PATHS, n_steps=N_STEPS,
                      observables={"theta": _flat}, stride=1)
    ids = jnp.arange(N_PATHS, dtype=jnp.uint32)

    @jax.jit
    def plain_step(p, s, k, i):                   # one step of the plain loop on the engine's batch
        g = problem.stochastic_grad(p, problem.noise.sample(path_step_keys(key, ids, k)[i]))
        upd, s = tx.update(g, s, p)
        return optax.apply_updates(p, upd), s

    for i in range(N_PATHS):
        p, s = params, tx.init(params)
        for k in range(N_STEPS):
            p, s = plain_step(p, s, jnp.asarray(k, jnp.int32), i)
            np.testing.assert_allclose(res.observables["theta"][i, k + 1], _flat(p), rtol=2e-5,
                                       atol=2e-6, err_msg=f"{name}: path {i}, step {k + 1}")
    assert res.counts()["censored"] == N_PATHS


def _same_noise_final(chain_a, chain_b, problem, x0, n_steps=30):
    a = so.simulate(chain_a, x0, 3, n_paths=8, n_steps=n_steps)
    b = so.simulate(chain_b, x0, 3, n_paths=8, n_steps=n_steps)
    return _stack(a.final), _stack(b.final)


def _stack(final):
    return np.concatenate([np.asarray(v).reshape(v.shape[0], -1)
                           for v in jax.tree_util.tree_leaves(final)], axis=1)


@pytest.mark.parametrize("problem_kind", ["gaussian", pytest.param("minibatch",
                                                                   marks=pytest.mark.slow)])
def test_package_algorithms_equal_their_optax_counterparts(problem_kind):
    if problem_kind == "gaussian":
        problem, x0 = so.QuadraticSaddle([-1.0, 0.5, 2.0], 0.3), jnp.array([0.1, -0.2, 0.3])
    else:
        problem, x0 = _logistic_problem()
    pairs = [
        (optax.sgd(0.05), so.sgd(problem, 0.05)),
        (optax.sgd(0.05, momentum=0.7), so.MomentumSGD(problem, 0.05, 0.7)),
        (optax.rmsprop(0.05, decay=0.9, eps=0.1, eps_in_sqrt=False),
         so.RMSprop(problem, 0.05, 0.9, 0.1)),
        (optax.adam(0.05, b1=0.8, b2=0.9, eps=0.1), so.Adam(problem, 0.05, 0.8, 0.9, 0.1)),
    ]
    for tx, own in pairs:
        a, b = _same_noise_final(so.OptaxChain(problem, tx), own, problem, x0)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=type(own).__name__)


def test_optax_nesterov_is_the_package_nesterov_at_its_look_ahead_point():
    """optax's Nesterov iterate φ is NesterovSGD's look-ahead point θ + μm (and t = −m/η)."""
    problem = so.QuadraticSaddle([-1.0, 0.5, 2.0], 0.3)
    x0, eta, mu = jnp.array([0.1, -0.2, 0.3]), 0.05, 0.7
    ours, theirs = so.NesterovSGD(problem, eta, mu), so.OptaxChain(
        problem, optax.sgd(eta, momentum=mu, nesterov=True))
    a, b = ours.init(x0), theirs.init(x0)
    for k in range(40):
        z = problem.noise.sample(jax.random.key(k))
        a, b = ours.step(a, z), theirs.step(b, z)
        np.testing.assert_allclose(b.params, a.x + mu * a.m, rtol=1e-5, atol=1e-6)
    trace = b.opt_state[0].trace
    np.testing.assert_allclose(-eta * trace, a.m, rtol=1e-5, atol=1e-6)


def test_optax_rmsprop_default_eps_in_sqrt_differs():
    """The mapping is explicit: optax's default divides by √(v + ε), not √v + ε."""
    problem, x0 = so.QuadraticSaddle([-1.0, 0.5, 2.0], 0.3), jnp.array([0.1, -0.2, 0.3])
    a, b = _same_noise_final(so.OptaxChain(problem, optax.rmsprop(0.05, decay=0.9, eps=0.1)),
                             so.RMSprop(problem, 0.05, 0.9, 0.1), problem, x0)
    assert np.max(np.abs(a - b)) > 1e-3


def test_events_streaming_and_a_pytree_state():
    problem, params = _logistic_problem()
    chain = so.OptaxChain(problem, optax.adam(0.1))
    res = so.simulate(chain, params, 0, n_paths=64, n_steps=200,
                      events=[lambda p: jnp.abs(p["w"][1]) > 0.5])
    c = res.counts()
    assert c["exited"] + c["censored"] == 64 and c["exited"] > 0
    assert np.all(np.abs(res.final["w"][res.exited, 1]) > 0.5)
    summary = so.simulate_streamed(chain, params, 0, n_paths=64, n_steps=50, chunk_paths=32)
    assert summary.n_paths == 64


@pytest.mark.parametrize("bad, exc, fragments", [
    (optax.adam, TypeError, ["tx", "GradientTransformation", "function", "optax.adam(learning_rate)"]),
    ("adam", TypeError, ["tx", "GradientTransformation", "str"]),
    (None, TypeError, ["tx", "GradientTransformation", "NoneType"]),
])
def test_a_tx_that_is_not_a_gradient_transformation_is_refused(bad, exc, fragments):
    problem, _ = _logistic_problem()
    with pytest.raises(exc) as e:
        so.OptaxChain(problem, bad)
    for f in fragments:
        assert f.lower() in str(e.value).lower(), (f, str(e.value))


def test_other_bad_input():
    problem, _ = _logistic_problem()
    with pytest.raises(ValueError, match=r"OptaxChain: dt must lie in \(0"):
        so.OptaxChain(problem, optax.sgd(0.1), dt=0.0)
    with pytest.raises(ValueError, match="Sphere.*Euclidean"):
        so.OptaxChain(so.StreamingPCA([3.0, 2.0, 1.0]), optax.sgd(0.1))
    with pytest.raises(TypeError, match="game"):
        so.OptaxChain(so.QuadraticGame(np.eye(1), np.eye(1), np.eye(1)), optax.sgd(0.1))

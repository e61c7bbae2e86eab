"""Valid inputs never crash (issue 21 §3): every registered algorithm, on every kind of problem it
accepts, and the Euler–Maruyama chain of its limit, run a few steps through the engine.

An algorithm may *refuse* a problem at construction (a game given to a minimizer, a problem without
the noise covariance a limit needs): that is a clear ``TypeError``/``ValueError`` naming the
algorithm, and the test accepts it. Once built, ``simulate`` must not raise for the chain or for
``EulerMaruyama(chain.limit(), chain.dt)``; a limit may be refused only by ``limit()`` itself
with a message that says why. Paths that diverge are fine (flagged by the engine) — the examples'
hyperparameters were chosen for another problem.

The default suite traces one step of each chain abstractly (``jax.eval_shape``: shape, pytree and
tracer errors); the slow suite runs the engine for real (dtype, sharding and compiled-program
errors, such as a constructor that switched float64 on).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.algorithms import REGISTRY
from sde_opt.problems import HyperCleaning, QuadraticBilevel, SoftplusBilevel


def _finite_sum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2)).astype(np.float32)
    y = (x @ np.array([1.0, -0.5], np.float32)).astype(np.float32)
    loss = lambda p, e: 0.5 * (e["x"] @ p["w"] + p["b"] - e["y"]) ** 2
    params = {"w": jnp.zeros(2), "b": jnp.zeros(())}
    return so.FiniteSum(loss, {"x": x, "y": y}, params, batch_size=4)


PROBLEMS = {
    # minimization, ℝᵈ, arrays and pytrees, Gaussian and minibatch oracles
    "quadratic-saddle": lambda: so.QuadraticSaddle([-1.0, 0.5, 2.0], 0.1),
    "double-well": lambda: so.DoubleWell(tilt=0.1),
    "finite-sum-pytree": _finite_sum,
    # minimization on manifolds
    "streaming-pca-sphere": lambda: so.StreamingPCA([1.0, 0.6, 0.3]),
    "normalized-ufm-oblique": lambda: so.NormalizedUFM(3, 3, 2, 2.0, batch_size=2),
    # games
    "quadratic-game": lambda: so.QuadraticGame([[1.0]], [[0.5]], [[2.0]], sigma_x=0.1, sigma_y=0.1),
    "double-well-game": lambda: so.DoubleWellGame(2, 1.0, 0.2, 0.5, sigma_x=0.3, sigma_y=0.2),
    "ramp-game": lambda: so.RampGame(sigma_x=0.1, sigma_y=0.1),
    "adversarial-logistic": lambda: so.AdversarialLogistic(n=16, d=2, batch_size=4),
    # bilevel
    "quadratic-bilevel": lambda: QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.1, sigma_g=0.1),
    "softplus-bilevel": lambda: SoftplusBilevel(),
    "hyper-cleaning": lambda: HyperCleaning(n_train=16, n_val=16, dim=3),
}


def _start(problem):
    """A generic valid start: a point of the problem's geometry near the origin."""
    if hasattr(problem, "random_point"):
        return problem.random_point(jax.random.key(0))
    geom = problem.geometry
    shape = problem.shape
    is_shape = lambda s: isinstance(s, tuple) and all(isinstance(i, int) for i in s)
    leaves, treedef = jax.tree_util.tree_flatten(shape, is_leaf=is_shape)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    pts = [0.1 * jax.random.normal(k, s) for k, s in zip(keys, leaves)]
    x = jax.tree_util.tree_unflatten(treedef, pts)
    if not geom.is_flat:
        x = geom.retract(jax.tree_util.tree_map(lambda a: a + 1.0, x))
    return x


def _build(entry, problem):
    """The algorithm on ``problem``, or ``None`` when it refuses the problem clearly."""
    try:
        return entry.factory(problem, **entry.hyperparameters)
    except (TypeError, ValueError) as e:
        name = getattr(entry.factory, "__name__", "")
        msg = str(e)
        assert ":" in msg and len(msg) > 20, f"unclear refusal: {type(e).__name__}: {msg}"
        assert "Traceback" not in msg
        del name
        return None


def _limit_chain(alg):
    try:
        sde = alg.limit()
    except (NotImplementedError, ValueError) as e:  # a limit refused with its reason
        assert len(str(e)) > 20, f"unclear limit refusal: {e!r}"
        return None
    return so.EulerMaruyama(sde, alg.dt)


CASES = [(a, p) for a in sorted(REGISTRY) for p in sorted(PROBLEMS)]


def _abstract_step(chain, x0):
    state = jax.eval_shape(chain.init, x0)
    noise = jax.eval_shape(lambda k: chain.noise.sample(k), jax.random.key(0))
    out = jax.eval_shape(chain.step, state, noise)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(state)


@pytest.mark.parametrize("algorithm, problem", CASES, ids=[f"{a}-on-{p}" for a, p in CASES])
def test_one_step_traces_for_the_chain_and_its_limit(algorithm, problem):
    entry = REGISTRY[algorithm]
    prob = PROBLEMS[problem]()
    alg = _build(entry, prob)
    if alg is None:
        return
    x0 = _start(prob)
    _abstract_step(alg, x0)
    limit = _limit_chain(alg)
    if limit is not None:
        _abstract_step(limit, x0)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm, problem", CASES, ids=[f"{a}-on-{p}" for a, p in CASES])
def test_a_few_steps_through_the_engine_for_the_chain_and_its_limit(algorithm, problem):
    entry = REGISTRY[algorithm]
    prob = PROBLEMS[problem]()
    alg = _build(entry, prob)
    if alg is None:
        return
    x0 = _start(prob)
    for chain in (alg, _limit_chain(alg)):
        if chain is None:
            continue
        r = so.simulate(chain, x0, key=0, n_paths=4, n_steps=6)
        assert sum(r.counts().values()) == 4


def test_every_kind_of_problem_is_accepted_by_some_algorithm():
    """The catalogue is not vacuous: each problem runs under at least one registered algorithm."""
    for name, make in PROBLEMS.items():
        prob = make()
        assert any(_build(e, prob) is not None for e in REGISTRY.values()), name

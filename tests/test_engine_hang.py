"""No hang with a LAPACK call in the step (issue 8).

On CPU, jaxlib 0.10.x–0.11.x splits a batched LAPACK call (here the eigendecomposition of the default
``grad_noise_factor``) over XLA's intra-op thread pool and blocks a worker of that pool until the
pieces are done; with one device per core, every worker ended up blocked and ``simulate`` hung
forever at 0 % CPU. The reproducer runs in a subprocess under a watchdog.
"""

import json
import os
import pathlib
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.engine import _simulate
from sde_opt.problems._base import AbstractProblem
from sde_opt.problems.geometry import Euclidean

_PROBLEM = """
import equinox as eqx
import jax.numpy as jnp
from sde_opt.problems._base import AbstractProblem
from sde_opt.problems.geometry import Euclidean


class UserSaddle(AbstractProblem):
    # a user's problem: state-dependent noise, default grad_noise_factor (eigh every step)
    lam: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, d):
        self.lam = jnp.asarray([-1.0] + [1.0] * (d - 1))

    @property
    def shape(self):
        return (self.lam.shape[0],)

    def objective(self, x):
        return 0.5 * jnp.sum(self.lam * x * x)

    def stochastic_grad(self, x, noise):
        return self.grad(x) + self.grad_noise_factor(x, noise)

    def grad_noise_cov(self, x):
        return 0.01 * jnp.eye(x.shape[0]) + jnp.outer(x, x)

    def critical_points(self):
        return {"saddle": jnp.zeros((1, self.lam.shape[0]))}
"""

_MAIN = """
import json
import sde_opt as so
so.use_cpu_cores({n_devices})
import jax
p = UserSaddle(6)
ch = so.EulerMaruyama(so.sgd(p, 0.01).limit(), dt=0.01)
r = so.simulate(ch, jnp.zeros(6), key=0, n_paths=_N_PATHS, n_steps=_N_STEPS,
                events=[so.LeaveBall(jnp.zeros(6), 1.0)])
print(json.dumps({{"devices": len(jax.devices()), "counts": r.counts(),
                   "steps": r.steps.tolist(), "final": r.final.tolist()}}))
"""

_N_PATHS, _N_STEPS = 512, 2000  # 256 paths per device: one eigh call of 256 6×6 matrices per step
_WATCHDOG_S = 240  # far above a run on busy cores; a deadlock never returns


def _run(n_devices: int) -> dict:
    env = dict(os.environ)
    root = str(pathlib.Path(so.__file__).resolve().parents[1])  # the sde_opt under test
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    try:
        code = _PROBLEM + f"_N_PATHS, _N_STEPS = {_N_PATHS}, {_N_STEPS}\n" + _MAIN.format(n_devices=n_devices)
        out = subprocess.run([sys.executable, "-c", code],
                             capture_output=True, text=True, env=env, timeout=_WATCHDOG_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"simulate hung: no result after {_WATCHDOG_S} s on {n_devices} CPU devices "
                    "with an eigendecomposition in the step (issue 8)")
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_eigh_in_step_on_two_devices_finishes_with_correct_counts():
    two = _run(2)
    assert two["devices"] == 2
    counts = two["counts"]
    assert sum(counts.values()) == _N_PATHS and counts["diverged"] == 0
    assert counts["exited"] >= 0.99 * _N_PATHS  # the saddle is escaped within the horizon
    # reference: this process (2 devices too) in chunks of 128 paths, whose eigh batches of 64
    # never reach jaxlib's parallel path; per-path results do not depend on the chunking
    p = _user_saddle(6)
    ref = so.simulate(so.EulerMaruyama(so.sgd(p, 0.01).limit(), dt=0.01), jnp.zeros(6), key=0,
                      n_paths=_N_PATHS, n_steps=_N_STEPS, chunk_size=128,
                      events=[so.LeaveBall(jnp.zeros(6), 1.0)])
    assert ref.counts() == counts
    np.testing.assert_array_equal(np.asarray(two["steps"]), ref.steps)
    np.testing.assert_array_equal(np.asarray(two["final"], dtype=ref.final.dtype), ref.final)


def _user_saddle(d):
    ns = {}
    exec(_PROBLEM, ns)
    return ns["UserSaddle"](d)


def _sub_batch(chain, x0, events=(), observables=None):
    fns = _simulate._per_path_functions(chain, tuple(events), dict(observables or {}),
                                        jax.ShapeDtypeStruct(x0.shape, x0.dtype))
    return _simulate._lapack_sub_batch(fns)


@pytest.mark.skipif(not _simulate._jaxlib_lapack_parallel(),
                    reason="this jaxlib does not parallelize LAPACK batches")
@pytest.mark.slow
def test_sub_batch_only_where_the_step_calls_lapack():
    # no LAPACK call: compiled exactly as before the fix (results bit for bit unchanged)
    p = so.QuadraticSaddle([-1.0, 1.0, 1.0, 1.0], 0.01)
    assert _sub_batch(so.MomentumSGD(p, 0.02, 0.5), jnp.zeros(4),
                      [so.LeaveBall(jnp.zeros(4), 1.0)], {"f": p.objective}) == 0
    assert _sub_batch(so.SGHMC2(so.DoubleWell(0.0, 1.0), 0.05, 1.0, 4.0), jnp.zeros(1)) == 0
    assert _sub_batch(so.sgd(so.StreamingPCA([1.0, 0.5, 0.25]), 0.01), jnp.ones(3)) == 0
    # eigh of a d×d matrix per path: sub-batches small enough for jaxlib to run inline, in whole
    # SIMD vectors of paths
    for d in (4, 6, 19):
        b = _sub_batch(so.EulerMaruyama(so.sgd(_user_saddle(d), 0.01).limit(), 0.01), jnp.zeros(d))
        assert b >= 1 and (b % 8 == 0 or b < 8)
        assert b * 30 * d**3 < 200_000 or b == 1
    # an observable with an eigendecomposition is covered too
    p = so.QuadraticSaddle([-1.0, 1.0, 1.0, 1.0], 0.01)
    obs = {"eig": lambda x: jnp.linalg.eigvalsh(jnp.outer(x, x))}
    assert _sub_batch(so.MomentumSGD(p, 0.02, 0.5), jnp.zeros(4), observables=obs) > 0


@pytest.mark.skipif(not _simulate._jaxlib_lapack_parallel(),
                    reason="this jaxlib does not parallelize LAPACK batches")
def test_refuses_a_batched_lapack_call_inside_one_path():
    class Stacked(AbstractProblem):
        lam: jnp.ndarray
        geometry: Euclidean = eqx.field(static=True, default=Euclidean())

        def __init__(self, d):
            self.lam = jnp.ones(d)

        @property
        def shape(self):
            return (self.lam.shape[0],)

        def objective(self, x):
            return 0.5 * jnp.sum(self.lam * x * x)

        def stochastic_grad(self, x, noise):
            # eight 30×30 eigendecompositions in one call per path: jaxlib would split even one
            # path's call over the thread pool, which no sub-batching can prevent
            w = jnp.linalg.eigvalsh(jnp.stack([jnp.eye(30) + jnp.outer(x, x)] * 8))
            return self.grad(x) + w.mean(0) * noise

        def grad_noise_cov(self, x):
            return jnp.eye(x.shape[0])

        def critical_points(self):
            return {"minimum": jnp.zeros((1, 30))}

    with pytest.raises(ValueError, match=r"chain.step calls lapack_ssyevd_ffi on 8 matrices"):
        so.simulate(so.sgd(Stacked(30), 0.01), jnp.zeros(30), 0, n_paths=4, n_steps=2)

"""Streamed summaries equal the summaries of per-path results; two processes equal one."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt import stats


def _chain():
    return so.EulerMaruyama(so.LinearSDE(np.diag([1.0, -1.0]), 0.3), 0.05)


def _run(**kw):
    return dict(events=[so.LeaveBall(jnp.zeros(2), 1.0)], observables={"r": jnp.linalg.norm},
                stride=10, **kw)


@pytest.mark.slow
def test_streamed_equals_per_path_summary_exactly():
    chain, x0 = _chain(), jnp.zeros(2)
    r = so.simulate(chain, x0, 3, n_paths=1000, n_steps=120, **_run())
    full = so.StreamedSummary.from_result(r)
    s = so.simulate_streamed(chain, x0, 3, n_paths=1000, n_steps=120, chunk_paths=256, **_run())
    assert s.counts() == r.counts() and s.counts()["censored"] > 0
    np.testing.assert_array_equal(s.exit_hist, full.exit_hist)
    assert s.exit_steps_sum == int(r.steps[r.exited].sum())
    m = s.exit_steps_mean()
    assert m.value == pytest.approx(r.steps[r.exited].mean(), rel=1e-12)
    assert float(m.se) == pytest.approx(r.steps[r.exited].std(ddof=1) / np.sqrt(r.exited.sum()), rel=1e-9)
    np.testing.assert_allclose(s.exit_point_mean(), r.final[r.exited].astype(np.float64).mean(0), rtol=1e-9)
    # Kaplan–Meier with censoring at the horizon: equal to the per-path estimator at every step
    ends, surv = s.survival()
    km = stats.kaplan_meier(r.steps, r.exited)
    t = np.asarray(km.times)
    for e, sv in zip(ends[::7], surv[::7], strict=True):
        want = np.asarray(km.survival)[np.searchsorted(t, e, side="right") - 1] if e >= t[0] else 1.0
        assert sv == pytest.approx(want, abs=1e-12)
    lo, hi = s.exit_steps_quantile(0.5)
    assert lo == hi == int(np.quantile(r.steps[r.exited | r.censored], 0.5, method="inverted_cdf"))
    steps, mean, se = s.observable_mean("r")
    np.testing.assert_allclose(mean, np.nanmean(r.observables["r"], 0), rtol=1e-6)
    with pytest.raises(KeyError, match="not streamed"):
        s.observable_mean("x")


@pytest.mark.slow
def test_wide_bins_bracket_the_quantile():
    chain, x0 = _chain(), jnp.zeros(2)
    r = so.simulate(chain, x0, 4, n_paths=800, n_steps=200, events=[so.LeaveBall(jnp.zeros(2), 1.0)])
    s = so.simulate_streamed(chain, x0, 4, n_paths=800, n_steps=200, chunk_paths=300, bin_width=8,
                             events=[so.LeaveBall(jnp.zeros(2), 1.0)])
    q = np.quantile(r.steps[r.exited | r.censored], 0.5, method="inverted_cdf")
    lo, hi = s.exit_steps_quantile(0.5)
    assert hi - lo + 1 == 8 and lo <= q <= hi


_WORKER = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=int(sys.argv[2]),
                               process_id=int(sys.argv[3]))
    import jax.numpy as jnp, numpy as np
    import sde_opt as so
    chain = so.EulerMaruyama(so.LinearSDE(np.diag([1.0, -1.0]), 0.3), 0.05)
    s = so.simulate_streamed(chain, jnp.zeros(2), 9, n_paths=900, n_steps=100, chunk_paths=200,
                             events=[so.LeaveBall(jnp.zeros(2), 1.0)],
                             observables={"r": jnp.linalg.norm}, stride=10)
    out = {"counts": s.counts(), "hist": s.exit_hist.tolist(), "sum": s.exit_steps_sum,
           "sumsq": s.exit_steps_sumsq.hex(), "final": [float(v).hex() for v in s.final_sum],
           "obs": [float(v).hex() for v in s.obs_sum["r"]], "pid": jax.process_index()}
    print("RESULT" + json.dumps(out))
""")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(n_proc, tmp):
    script = Path(tmp) / "worker.py"
    script.write_text(_WORKER)
    addr = f"127.0.0.1:{_free_port()}"
    env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, str(script), addr, str(n_proc), str(i)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n_proc)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        outs.append(json.loads(out.split("RESULT", 1)[1]))
    return outs


@pytest.mark.slow
def test_two_processes_give_the_one_process_result_bit_for_bit(tmp_path):
    one = _launch(1, tmp_path)[0]
    two = _launch(2, tmp_path)
    for r in two:
        r.pop("pid")
    one.pop("pid")
    assert two[0] == two[1] == one

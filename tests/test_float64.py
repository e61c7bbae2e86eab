"""Float64 end to end: a validation claim (EM exit time from a linear saddle against its exact
discrete prediction, validation-theory.md §3) measured in float32 and in float64 (a process with
``JAX_ENABLE_X64=1`` from the start) agrees within its interval — with each other and with the
theory — and float64 stays float64 throughout."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sde_opt import theory

LAM, SIGMA, R, H, N = 1.0, 0.1, 1.0, 0.05, 4000

_MEASURE = """
import json, sys
import jax.numpy as jnp, numpy as np
import sde_opt as so
lam, sigma, r, h, n = {args}
dtype = jnp.float64 if sys.argv[1] == "64" else jnp.float32
sde = so.LinearSDE(np.array([[lam]]), sigma)
res = so.simulate(so.EulerMaruyama(sde, h), jnp.zeros(1, dtype), key=11, n_paths=n, n_steps=10_000,
                  events=[so.LeaveBall(jnp.zeros(1, dtype), r)])
t = res.times
print("RESULT" + json.dumps({{"exited": int(res.counts()["exited"]), "dtype": str(res.final.dtype),
                             "mean": float(t.mean()), "se": float(t.std(ddof=1) / np.sqrt(n))}}))
"""


def _measure(bits: str) -> dict:
    env = dict(os.environ, JAX_ENABLE_X64="1" if bits == "64" else "0")
    code = _MEASURE.format(args=(LAM, SIGMA, R, H, N))
    out = subprocess.run([sys.executable, "-c", code, bits], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.split("RESULT", 1)[1])


@pytest.mark.slow
def test_exit_time_claim_in_float32_and_float64():
    r32, r64 = _measure("32"), _measure("64")
    assert r32["dtype"] == "float32" and r64["dtype"] == "float64"
    assert r32["exited"] == r64["exited"] == N
    pred = theory.saddle_exit_mean_em(LAM, SIGMA, R, H)
    assert abs(r32["mean"] - pred) < 4 * r32["se"]
    assert abs(r64["mean"] - pred) < 4 * r64["se"]
    assert abs(r32["mean"] - r64["mean"]) < 4 * np.hypot(r32["se"], r64["se"])

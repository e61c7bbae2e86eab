"""Float64 end to end: a validation claim (EM exit time from a linear saddle against its exact
discrete prediction, validation-theory.md §3) measured in float32 and in float64 agrees within its
interval — with each other and with the theory — and float64 stays float64 throughout."""

import jax
import jax.numpy as jnp
import numpy as np

import sde_opt as so
from sde_opt import theory

LAM, SIGMA, R, H, N = 1.0, 0.1, 1.0, 0.05, 4000


def _exit_mean(dtype):
    sde = so.LinearSDE(np.array([[LAM]]), SIGMA)
    r = so.simulate(so.EulerMaruyama(sde, H), jnp.zeros(1, dtype), key=11, n_paths=N, n_steps=10_000,
                    events=[so.LeaveBall(jnp.zeros(1, dtype), R)])
    assert r.counts()["exited"] == N
    assert r.final.dtype == np.dtype(dtype)
    t = r.times
    return t.mean(), t.std(ddof=1) / np.sqrt(N)


def test_exit_time_claim_in_float32_and_float64():
    m32, se32 = _exit_mean(jnp.float32)
    with jax.enable_x64(True):
        m64, se64 = _exit_mean(jnp.float64)
    pred = theory.saddle_exit_mean_em(LAM, SIGMA, R, H)
    assert abs(m32 - pred) < 4 * se32
    assert abs(m64 - pred) < 4 * se64
    assert abs(m32 - m64) < 4 * np.hypot(se32, se64)

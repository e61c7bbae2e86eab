"""Results do not depend on the number of devices (the sharded segment loop vs one device)."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so

_CODE = """
import json, sys
import sde_opt as so
so.use_cpu_cores({n_devices})
import jax, jax.numpy as jnp
p = so.QuadraticSaddle([-1.0, 1.0, 1.0, 1.0], 0.01)
ch = so.EulerMaruyama(so.GradientSDE(p, 1.0, 1.0), 0.01)
r = so.simulate(ch, jnp.zeros(4), 5, n_paths={n_paths}, n_steps=600,
                events=[so.LeaveBall(jnp.zeros(4), 1.0)],
                observables={{"f": p.objective}}, stride=40)
print(json.dumps({{"devices": len(jax.devices()), "steps": r.steps.tolist(),
                   "final": r.final.tolist(), "f": r.observables["f"].tolist()}}))
"""


def _run(n_devices: int, n_paths: int) -> dict:
    code = _CODE.format(n_devices=n_devices, n_paths=n_paths)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_one_device_and_two_devices_agree():
    n_paths = 301  # odd: padding to a multiple of the device count is exercised too
    one = _run(1, n_paths)
    assert one["devices"] == 1
    assert len(jax.devices()) == 2  # tests/conftest.py: this process runs sharded
    p = so.QuadraticSaddle([-1.0, 1.0, 1.0, 1.0], 0.01)
    ch = so.EulerMaruyama(so.GradientSDE(p, 1.0, 1.0), 0.01)
    two = so.simulate(ch, jnp.zeros(4), 5, n_paths=n_paths, n_steps=600,
                      events=[so.LeaveBall(jnp.zeros(4), 1.0)],
                      observables={"f": p.objective}, stride=40)
    assert two.counts()["exited"] > n_paths // 2
    np.testing.assert_array_equal(np.asarray(one["steps"]), two.steps)
    np.testing.assert_allclose(np.asarray(one["final"]), two.final, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(one["f"], dtype=float), two.observables["f"],
                               rtol=1e-5, atol=1e-7)

"""Today's engine reproduces the stored workloads (written by the array engine it replaced, on an
Intel machine): exit steps and statuses bit for bit, final points within a float32 rounding bound
derived in ``_stored_workloads.py`` — XLA's CPU code depends on the processor, so stored floats are
never compared bit for bit across machines."""

import numpy as np
import pytest
from _stored_workloads import STORE, final_tolerance, run_all, workloads

import sde_opt as so
from sde_opt.engine import CENSORED


@pytest.fixture(scope="module")
def stored():
    with np.load(STORE) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def now():
    return run_all()


def _final_excess(name, final, stored):
    """Largest |final − stored| / tolerance over paths (≤ 1 passes)."""
    gap = np.abs(final.astype(np.float64) - stored[f"{name}:final"]).reshape(len(final), -1).max(axis=1)
    return float(np.max(gap / final_tolerance(name, stored[f"{name}:steps"])))


def test_exit_steps_and_statuses_are_unchanged_bit_for_bit(stored, now):
    assert sorted(now) == sorted(stored)
    for k, v in stored.items():
        assert now[k].dtype == v.dtype, k
        if not k.endswith(":final"):
            np.testing.assert_array_equal(now[k], v, err_msg=k)


def test_final_points_are_unchanged_within_float32_rounding(stored, now):
    for name in workloads():
        assert _final_excess(name, now[f"{name}:final"], stored) <= 1.0, name


def test_the_rounding_bound_rejects_a_changed_step():
    """Power: a step size off by 1 % changes the final points far beyond the rounding bound."""
    with np.load(STORE) as f:
        stored = {k: f[k] for k in f.files}
    name = "sgd-streaming-pca"
    chain, x0, kw = workloads()[name]
    kw = dict(kw, events=[])  # same horizon for every path, so the paths stay comparable
    wrong = so.sgd(chain.problem, 0.0101)
    r = so.simulate(wrong, x0, **kw)
    censored = stored[f"{name}:status"] == CENSORED
    gap = np.abs(np.asarray(r.final)[censored] - stored[f"{name}:final"][censored]).max(axis=1)
    tol = final_tolerance(name, stored[f"{name}:steps"][censored])
    assert np.mean(gap > tol) > 0.9

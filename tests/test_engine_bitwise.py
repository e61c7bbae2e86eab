"""The pytree engine reproduces the array engine it replaced bit for bit (stored workloads)."""

import numpy as np
import pytest
from _stored_workloads import STORE, run_all


@pytest.fixture(scope="module")
def stored():
    with np.load(STORE) as f:
        return {k: f[k] for k in f.files}


def test_exit_steps_statuses_and_final_points_are_unchanged(stored):
    now = run_all()
    assert sorted(now) == sorted(stored)
    for k, v in stored.items():
        assert now[k].dtype == v.dtype, k
        np.testing.assert_array_equal(now[k], v, err_msg=k)

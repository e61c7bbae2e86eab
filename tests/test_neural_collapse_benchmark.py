"""The neural-collapse benchmark's two implementations run and simulate the same law (tiny batch)."""

import importlib.util
import pathlib

import numpy as np
import pytest


@pytest.mark.slow
def test_benchmark_implementations_agree_on_a_tiny_batch():
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "neural_collapse.py"
    spec = importlib.util.spec_from_file_location("nc_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    a = mod.prepare_sde_opt(16, 0)()
    b = mod.prepare_torch(16, 0)()
    np.testing.assert_allclose(a, b, rtol=1e-5)  # zero steps: the same starts, the same loss
    a, b = mod.prepare_sde_opt(64, 30)(), mod.prepare_torch(64, 30)()
    z = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(z) < 5 and np.all(np.isfinite(a)) and np.all(np.isfinite(b))

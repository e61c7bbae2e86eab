"""The command line's persistent compilation cache: one folder per JAX version and processor,
programs reused by a second process with results equal bit for bit (same machine), switched off by
``SDE_OPT_COMPILE_CACHE=off``, and an unusable folder is a warning, not a failure."""

import os
import subprocess
import sys

import numpy as np
import pytest

from sde_opt.experiment import compile_cache

RUN = """
import sys
from sde_opt.experiment.compile_cache import enable_compile_cache
folder = enable_compile_cache()
import jax.numpy as jnp, numpy as np, sde_opt as so
sde = so.LinearSDE(jnp.array([-1.0, 0.5]), jnp.array([0.3, 0.2]))
r = so.simulate(so.EulerMaruyama(sde, 0.01), jnp.ones(2), key=7, n_paths=64, n_steps=50)
np.save(sys.argv[1], np.asarray(r.final))
print(folder)
"""


def _run(tmp_path, cache, out):
    env = dict(os.environ, SDE_OPT_COMPILE_CACHE=str(cache))
    done = subprocess.run([sys.executable, "-c", RUN, str(out)], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_a_second_process_loads_the_programs_and_gets_the_same_bits(tmp_path):
    first = _run(tmp_path, tmp_path / "cache", tmp_path / "a.npy")
    assert first.startswith(str(tmp_path / "cache" / "jax-"))
    assert first.endswith(compile_cache.cpu_signature())
    stored = sorted(os.listdir(first))
    assert any(name.startswith("jit__segment") for name in stored), stored
    second = _run(tmp_path, tmp_path / "cache", tmp_path / "b.npy")
    assert second == first and sorted(os.listdir(first)) == stored  # nothing compiled anew
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_off_and_an_unusable_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SDE_OPT_COMPILE_CACHE", "off")
    assert compile_cache.cache_root() is None and compile_cache.enable_compile_cache() is None
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="compilation cache: cannot use"):
        assert compile_cache.enable_compile_cache(blocker / "sub") is None
    monkeypatch.delenv("SDE_OPT_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_root() == tmp_path / "xdg" / "sde_opt" / "xla"

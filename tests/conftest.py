import os

import jax
import pytest

# The command line's persistent compilation cache stays off in tests that call it in-process
# (tests/test_compile_cache.py switches it on in its own processes).
os.environ.setdefault("SDE_OPT_COMPILE_CACHE", "off")

# pymanopt switches float64 on for the whole process when its manifolds are first imported
# (`jax.config.update("jax_enable_x64", True)` at import): import it once here and switch it back
# off, so the tests that use it as a reference do not turn every later float32 test into float64.
try:
    import pymanopt.manifolds  # noqa: F401
except ImportError:
    pass
jax.config.update("jax_enable_x64", False)

# Two CPU devices, so every engine test also exercises sharding of the path axis.
try:
    jax.config.update("jax_num_cpu_devices", 2)
except RuntimeError:
    pass


def pytest_collection_finish(session):
    """Refuse a suite in which collecting a module switched float64 on for everyone: tests check
    float32 dtypes and stored float32 workloads, so a leaked ``jax_enable_x64`` fails them far from
    its cause. Use ``with jax.enable_x64(True):`` (or a fixture around it) instead."""
    if jax.config.jax_enable_x64:
        raise RuntimeError(
            "jax_enable_x64 was switched on while collecting the tests; switch it on inside a "
            "test or a fixture (`with jax.enable_x64(True):`) instead of at module level"
        )


@pytest.fixture(autouse=True, scope="module")
def _no_float64_left_on():
    """A test module that leaves ``jax_enable_x64`` on fails (at its teardown: a module may switch
    it on for itself with a module-scoped ``with jax.enable_x64(True):`` fixture), instead of a
    float32 test that happens to run after it; the flag is switched back off for the rest."""
    yield
    if jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", False)
        pytest.fail("this test module left jax_enable_x64 switched on; use "
                    "`with jax.enable_x64(True):`")

"""The torchsde bridge: same increments ⇒ torchsde ``sdeint(method="euler")`` = our EM, pathwise."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _bridge_models import DiagonalGBM, linear_sde, oja_sde, point_shape, underdamped_sde

from sde_opt import EulerMaruyama
from sde_opt.engine import trajectory

N_PATHS, N_STEPS, DT = 8, 200, 0.01


@pytest.mark.torch
@pytest.mark.parametrize(
    "make_sde, noise, expected_type",
    [(linear_sde, "auto", "additive"),
     (oja_sde, "auto", "general"),
     (DiagonalGBM, "diagonal", "diagonal"), (underdamped_sde, "auto", "additive")],
    ids=["linear-additive", "oja-general", "gbm-diagonal", "underdamped-additive"],
)
@pytest.mark.slow
def test_torchsde_euler_matches_euler_maruyama_pathwise(make_sde, noise, expected_type):
    torch = pytest.importorskip("torch")
    torchsde = pytest.importorskip("torchsde")
    from sde_opt.sde import replay_brownian_from_normals, to_torchsde

    with jax.enable_x64(True):
        sde = make_sde()
        k1, k2 = jax.random.split(jax.random.key(2))
        x0 = 0.5 * jax.random.normal(k1, (N_PATHS, *point_shape(sde)), jnp.float64)
        z = jax.random.normal(k2, (N_PATHS, N_STEPS, *sde.noise_shape), jnp.float64)
        ours = np.asarray(trajectory(EulerMaruyama(sde, DT), x0, z))

        module = to_torchsde(sde, noise=noise)
        assert module.noise_type == expected_type and module.sde_type == "ito"
        bm = replay_brownian_from_normals(np.asarray(z), DT)
        ts = torch.arange(N_STEPS + 1, dtype=torch.float64) * DT
        states0 = jax.vmap(sde.init)(x0)
        y0 = torch.from_numpy(np.array(states0).reshape(N_PATHS, -1))
        with torch.no_grad():
            ys = torchsde.sdeint(module, y0, ts, bm=bm, method="euler", dt=DT)
        states = jnp.asarray(ys.numpy().reshape(N_STEPS + 1, N_PATHS, *states0.shape[1:]))
        theirs = np.asarray(jax.vmap(jax.vmap(sde.position))(states)).swapaxes(0, 1)
    assert theirs.dtype == ours.dtype == np.float64
    scale = np.max(np.abs(ours))
    assert scale > 0.1
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-12 * scale)


@pytest.mark.torch
def test_replay_brownian_sums_increments():
    torch = pytest.importorskip("torch")
    from sde_opt.sde import replay_brownian

    inc = torch.arange(12, dtype=torch.float64).reshape(2, 3, 2)
    bm = replay_brownian(inc, 0.5)
    assert bm.shape == (2, 2)
    torch.testing.assert_close(bm(0.5, 1.0), inc[:, 1])
    torch.testing.assert_close(bm(0.0, 1.5), inc.sum(dim=1))
    torch.testing.assert_close(bm(1.0), inc[:, :2].sum(dim=1))
    with pytest.raises(ValueError, match="Lévy area"):
        bm(0.0, 0.5, return_U=True)


def test_missing_torch_names_the_extra(monkeypatch):
    import sde_opt.sde.torchsde_bridge as bridge

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "torchsde", None)
    monkeypatch.setattr(bridge, "_CLASSES", {})
    with pytest.raises(ImportError, match=r"sde_opt\[torch\]"):
        bridge.to_torchsde(linear_sde())


@pytest.mark.slow
def test_importing_sde_opt_does_not_import_torch():
    import subprocess

    code = ("import sys, sde_opt, sde_opt.sde; "
            "print('torch' in sys.modules, 'diffrax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]

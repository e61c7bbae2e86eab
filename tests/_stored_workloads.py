"""Workloads whose exit steps, statuses and final points are stored from the engine before its
pytree rewrite (``tests/data/engine_workloads_v1.npz``); ``test_engine_bitwise.py`` checks that
today's engine reproduces them bit for bit. Regenerate only on purpose:
``python tests/_stored_workloads.py``.
"""

from pathlib import Path

import jax.numpy as jnp
import numpy as np

import sde_opt as so

STORE = Path(__file__).parent / "data" / "engine_workloads_v1.npz"


def workloads():
    """name → (chain, x0, simulate keyword arguments)."""
    saddle = so.QuadraticSaddle([-1.0, 0.5, 2.0, 1.0], 0.02)
    pca = so.StreamingPCA(np.linspace(1.0, 0.5, 6))
    e1 = jnp.eye(6)[0]
    return {
        "msgd-quadratic-saddle": (so.MomentumSGD(saddle, 0.02, 0.9), jnp.zeros(4),
                                  dict(key=3, n_paths=1500, n_steps=3000,
                                       events=[so.LeaveBall(jnp.zeros(4), 0.5)])),
        "msgd-limit-em-quadratic-saddle": (so.EulerMaruyama(so.MomentumSGD(saddle, 0.02, 0.9).limit(),
                                                            0.02), jnp.zeros(4),
                                           dict(key=3, n_paths=1500, n_steps=3000,
                                                events=[so.LeaveBall(jnp.zeros(4), 0.5)])),
        "sghmc2-double-well": (so.SGHMC2(so.DoubleWell(tilt=0.1), eta=0.1, gamma=1.0, beta=6.0),
                               jnp.array([-1.0]),
                               dict(key=5, n_paths=700, n_steps=4000,
                                    events=[so.Threshold(lambda x: x[0], 0.8)])),
        "sgd-streaming-pca": (so.sgd(pca, 0.01), jnp.eye(6)[1],
                              dict(key=7, n_paths=1100, n_steps=2500,
                                   events=[so.Threshold(lambda w: jnp.dot(w, e1) ** 2, 0.5)])),
    }


def run_all() -> dict:
    out = {}
    for name, (chain, x0, kw) in workloads().items():
        r = so.simulate(chain, x0, **kw)
        out[f"{name}:steps"] = r.steps
        out[f"{name}:status"] = r.status
        out[f"{name}:final"] = np.asarray(r.final)
    return out


if __name__ == "__main__":
    import jax

    jax.config.update("jax_num_cpu_devices", 2)
    arrays = run_all()
    STORE.parent.mkdir(exist_ok=True)
    np.savez_compressed(STORE, **arrays)
    for k, v in arrays.items():
        print(k, v.shape, v.dtype, v[:5] if v.ndim == 1 else v[0])

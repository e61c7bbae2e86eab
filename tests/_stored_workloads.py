"""Workloads whose exit steps, statuses and final points are stored from the engine before its
pytree rewrite (``tests/data/engine_workloads_v1.npz``, written on an Intel machine);
``test_engine_bitwise.py`` checks that today's engine reproduces them. Regenerate only on purpose:
``python tests/_stored_workloads.py``.

What is compared, and how:

* **Exit steps and statuses, bit for bit.** They are integers decided by the noise bits (a
  Threefry hash of (key, path, step), integer arithmetic) and by event tests whose margins are far
  larger than float32 rounding; they are equal on Intel and AMD machines.
* **Final points, within a rounding bound.** XLA's CPU code depends on the processor (vector width,
  FMA contraction, the polynomial of ``erfinv``), so floats written on one machine are not bit-equal
  on another. Path i's final point is compared with a tolerance from forward error analysis of
  float32 over the path's own horizon nᵢ (its exit step, or the horizon if censored):

      |x̂ᵢ − xᵢ|_∞ ≤ λ · m · u · S · Aᵢ,      u = 2⁻²⁴ (float32's unit roundoff),

  where m is the number of roundings one step applies to a coordinate (the arithmetic of the step,
  plus ``NORMAL_ULPS`` for the normal generator's transform), S bounds the magnitude of the terms a
  step rounds, and Aᵢ = (Σ_{j<nᵢ} ‖Jʲ‖²)^{1/2} propagates the per-step rounding errors through the
  linearized chain (J its one-step Jacobian). Rounding errors of different steps are independent
  and of mean zero, so they add in quadrature: the probabilistic rounding analysis of Higham &
  Mary (SIAM J. Sci. Comput. 41(5), 2019, Thm 2.4) bounds such a sum by λ times its root sum of
  squares with probability at least 1 − 2 exp(−λ²/2); λ = 6 makes that 1 − 3·10⁻⁸ per path (the
  worst case, errors all of one sign, would replace the root sum of squares by Σ‖Jʲ‖).
  For the linear saddle chains J is constant and hand-derived below, so Aᵢ is exact. For the
  chains whose tangent dynamics do not expand on average (Oja's rule on the sphere, attracted to
  ±e₁; underdamped Langevin in a confining well, crossing the barrier top once before its event)
  Aᵢ = G·√nᵢ, with a growth allowance G for the one barrier crossing (e: one e-fold while the path
  is within the barrier's unstable region, which it leaves after about 1/λ₊ time units).
"""

from pathlib import Path

import jax.numpy as jnp
import numpy as np

import sde_opt as so

STORE = Path(__file__).parent / "data" / "engine_workloads_v1.npz"

UNIT_ROUNDOFF = 2.0**-24
HIGHAM_MARY_LAMBDA = 6.0
NORMAL_ULPS = 8  # the inverse-CDF transform of the normal generator: a few ulps of relative error

SADDLE = (-1.0, 0.5, 2.0, 1.0)
PCA_SPECTRUM = np.linspace(1.0, 0.5, 6)
ETA, MU = 0.02, 0.9


def workloads():
    """name → (chain, x0, simulate keyword arguments)."""
    saddle = so.QuadraticSaddle(list(SADDLE), 0.02)
    pca = so.StreamingPCA(PCA_SPECTRUM)
    e1 = jnp.eye(6)[0]
    return {
        "msgd-quadratic-saddle": (so.MomentumSGD(saddle, ETA, MU), jnp.zeros(4),
                                  dict(key=3, n_paths=1500, n_steps=3000,
                                       events=[so.LeaveBall(jnp.zeros(4), 0.5)])),
        "msgd-limit-em-quadratic-saddle": (so.EulerMaruyama(so.MomentumSGD(saddle, ETA, MU).limit(),
                                                            ETA), jnp.zeros(4),
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


def run_all(chains=None) -> dict:
    out = {}
    for name, (chain, x0, kw) in (chains or workloads()).items():
        r = so.simulate(chain, x0, **kw)
        out[f"{name}:steps"] = r.steps
        out[f"{name}:status"] = r.status
        out[f"{name}:final"] = np.asarray(r.final)
    return out


def _linear_amplification(jacobians, n_max: int) -> np.ndarray:
    """A(n) = (Σ_{j<n} max_h ‖J_hʲ‖₂²)^{1/2} for n = 0 … n_max, from the per-eigendirection J_h."""
    norms = np.zeros(n_max)
    for jac in jacobians:
        power = np.eye(jac.shape[0])
        for j in range(n_max):
            norms[j] = max(norms[j], np.linalg.norm(power, 2) ** 2)
            power = jac @ power
    return np.sqrt(np.concatenate([[0.0], np.cumsum(norms)]))


def _heavy_ball_jacobians():
    # (x, m) ↦ (x⁺, m⁺): m⁺ = μ m − η h x, x⁺ = x + m⁺ = (1 − ηh) x + μ m, per eigenvalue h.
    return [np.array([[1 - ETA * h, MU], [-ETA * h, MU]]) for h in SADDLE]


def _em_limit_jacobians():
    # Euler–Maruyama of dX = −H X/(1−μ) dt + …: x⁺ = (1 − dt·h/(1−μ)) x, dt = η.
    return [np.array([[1 - ETA * h / (1 - MU)]]) for h in SADDLE]


def _linear(jacobians):
    return lambda steps: _linear_amplification(jacobians, int(np.max(steps)) + 1)[steps]


def _diffusive(growth):
    return lambda steps: growth * np.sqrt(steps)


# name → (roundings per coordinate and step m, magnitude bound S, amplification A(nᵢ) of the steps).
ROUNDING_MODEL = {
    # g = h x + σ z; m = μ m − η g; x += m: 5 roundings; |x| ≤ 0.5 + one step < 1.
    "msgd-quadratic-saddle": (5 + NORMAL_ULPS, 1.0, _linear(_heavy_ball_jacobians())),
    # x + dt (−c h x) − s σ z: 5 roundings.
    "msgd-limit-em-quadratic-saddle": (5 + NORMAL_ULPS, 1.0, _linear(_em_limit_jacobians())),
    # exact-OU splitting: about 12 roundings per step; |x|, |v| ≲ 2 in the well.
    "sghmc2-double-well": (12 + NORMAL_ULPS, 2.0, _diffusive(np.e)),
    # X = √λ z; X·w (d products, d − 1 sums); w − η(−X (X·w)); the norm (2d) and the division:
    # 4d + 4 roundings; terms bounded by 1 + η max|X|² ≤ 1.5.
    "sgd-streaming-pca": (4 * PCA_SPECTRUM.size + 4 + NORMAL_ULPS, 1.5, _diffusive(1.0)),
}


def final_tolerance(name: str, steps: np.ndarray) -> np.ndarray:
    """Per-path bound λ·m·u·S·A(nᵢ) on the difference of final points between two machines."""
    m, scale, amplification = ROUNDING_MODEL[name]
    return HIGHAM_MARY_LAMBDA * m * UNIT_ROUNDOFF * scale * amplification(np.asarray(steps, int))


if __name__ == "__main__":
    import jax

    jax.config.update("jax_num_cpu_devices", 2)
    arrays = run_all()
    STORE.parent.mkdir(exist_ok=True)
    np.savez_compressed(STORE, **arrays)
    for k, v in arrays.items():
        print(k, v.shape, v.dtype, v[:5] if v.ndim == 1 else v[0])

r"""The benchmark workloads and the exact law every implementation must reproduce.

Both workloads simulate Euler–Maruyama for the linearization of SGD's diffusion limit at a
quadratic saddle f(x) = ½ Σ λᵢ xᵢ² with Hessian eigenvalues λ = (−1, +1, …, +1):

    dX = −H X dt + σ dW = Λ X dt + σ dW,     Λ = diag(+1, −1, …, −1),

from X₀ = 0 (the saddle), in float32. One EM step is X ← (1 + Λ h) ⊙ X + σ √h Z, so every
coordinate stays an exact Gaussian: after n steps Xᵢ ~ N(0, vᵢ(n)) with

    vᵢ(n) = σ² h Σ_{k<n} (1 + Λᵢ h)^{2k},

which gives the cross-check of every implementation's final state (:func:`final_moments`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Workload:
    """A batch of EM paths at the quadratic saddle.

    Attributes:
        name: key in the JSON output.
        n_paths, n_steps, d, dt, sigma: the batch.
        radius: stop a path when ‖X‖ ≥ radius (``None``: fixed horizon, every path runs n_steps).
    """

    name: str
    n_paths: int = 10_000
    n_steps: int = 1_000
    d: int = 10
    dt: float = 0.01
    sigma: float = 0.1
    radius: float | None = None

    @property
    def eigenvalues(self) -> np.ndarray:
        """Hessian eigenvalues λ: one −1 (unstable), the rest +1."""
        lam = np.ones(self.d)
        lam[0] = -1.0
        return lam

    @property
    def drift_diagonal(self) -> np.ndarray:
        """Λ = −λ, the diagonal of the drift matrix."""
        return -self.eigenvalues

    @property
    def step_factor(self) -> np.ndarray:
        """1 + Λ h: one EM step is X ← step_factor ⊙ X + σ √h Z."""
        return 1.0 + self.drift_diagonal * self.dt

    @property
    def noise_scale(self) -> float:
        """σ √h."""
        return self.sigma * math.sqrt(self.dt)

    @property
    def path_steps(self) -> int:
        """Path-steps of a fixed-horizon run."""
        return self.n_paths * self.n_steps

    def scaled(self, n_paths: int | None = None, n_steps: int | None = None) -> Workload:
        """The same workload on fewer paths or steps (for implementations too slow for the full one)."""
        return dataclasses.replace(self, n_paths=n_paths or self.n_paths,
                                   n_steps=n_steps or self.n_steps)

    def describe(self) -> str:
        stop = (f"stop at ‖X‖ ≥ {self.radius:g} (horizon {self.n_steps:,} steps)"
                if self.radius is not None else f"{self.n_steps:,} steps")
        return (f"{self.n_paths:,} paths × {stop}, d = {self.d}, quadratic saddle λ = (−1, +1 ×"
                f"{self.d - 1}), σ = {self.sigma:g}, dt = {self.dt:g}, Euler–Maruyama, float32")


FIXED = Workload("fixed_horizon")
EXIT = Workload("exit_time", n_steps=2_000, radius=1.0)


def em_variances(w: Workload, n_steps: int | None = None) -> np.ndarray:
    """vᵢ(n) = σ² h Σ_{k<n} (1 + Λᵢ h)^{2k}: the exact variance of each coordinate after n steps."""
    n = w.n_steps if n_steps is None else n_steps
    r2 = w.step_factor.astype(np.float64) ** 2
    return w.noise_scale**2 * (r2**n - 1.0) / (r2 - 1.0)


def final_moments(w: Workload, final: np.ndarray) -> dict:
    """Measured vs exact E X₁² (unstable) and E Σ_{i≥2} Xᵢ² (stable) after a fixed horizon.

    Each ``z`` is (measured − exact)/SE with the Gaussian SE (Var X² = 2v², independent coordinates):
    |z| ≤ 4 is the Monte-Carlo acceptance used throughout the project.
    """
    x = np.asarray(final, dtype=np.float64)
    n = x.shape[0]
    v = em_variances(w)
    out = {}
    for name, cols in (("unstable", slice(0, 1)), ("stable", slice(1, None))):
        measured = float(np.mean(np.sum(x[:, cols] ** 2, axis=1)))
        exact = float(np.sum(v[cols]))
        se = math.sqrt(2.0 * float(np.sum(v[cols] ** 2)) / n)
        out[name] = {"measured": measured, "exact": exact, "z": (measured - exact) / se}
    return out


def exit_summary(steps: np.ndarray, horizon: int) -> dict:
    """Mean exit step ± SE and the number of paths censored at the horizon."""
    s = np.asarray(steps, dtype=np.float64)
    return {"mean": float(s.mean()), "se": float(s.std(ddof=1) / math.sqrt(s.size)),
            "censored": int(np.sum(s >= horizon)), "useful_path_steps": int(s.sum())}

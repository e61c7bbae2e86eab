r"""Geodesic Euler–Maruyama: the Euler–Maruyama increment taken along the exponential map."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .euler_maruyama import EulerMaruyama


class GeodesicEulerMaruyama(EulerMaruyama):
    r"""X_{k+1} = exp_{X_k}( a_T(X_k, t_k) h + P_{X_k} B(X_k, t_k) √h Z_k ),  Z_k ~ N(0, I).

    a_T is the SDE's *tangent* drift and exp the geometry's exponential map (the identity plus
    addition in ℝᵈ, where this is plain Euler–Maruyama). Because exp_x(v) = x(1 − ½‖v‖²) + v +
    O(‖v‖³), the geodesic step adds the Itô correction by itself, like the retraction of
    [`EulerMaruyama`][sde_opt.EulerMaruyama]: both are weak order 1 for the same manifold SDE (the geodesic
    random walk of riemannian-score-sde's ``EulerMaruyamaManifoldPredictor``). On S^{d−1} Brownian motion each
    step multiplies E⟨X, x₀⟩ by E cos(√h ‖Z_T‖) exactly, against e^{−(d−1)h/2}.

    Args:
        sde: the SDE (its geometry must provide ``exp`` and ``project``).
        dt: step size h > 0.
    """

    def step(self, state, noise):
        x, k, h, t = self._unpack(state)
        geom = self.sde.geometry
        a = self.sde.tangent_drift(x, **t)
        b = self.sde.diffusion(x, noise, **t)
        v = geom.project(x, jax.tree_util.tree_map(lambda ai, bi: ai * h + bi * jnp.sqrt(h), a, b))
        x = geom.retract(geom.exp(x, v))  # exp stays on the manifold; retract removes round-off
        return self._pack(x, k)


__all__ = ["GeodesicEulerMaruyama"]

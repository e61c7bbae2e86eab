r"""The normalized UFM with feature augmentation: minibatch noise that does not vanish at saddles.

At every constructed critical point of [`NormalizedUFM`][sde_opt.NormalizedUFM] the minibatch
noise is zero along the escape directions; at the fully collapsed point (every w_k and h_i equal
one unit vector u) it is zero altogether, because every per-sample gradient is a multiple of u,
normal to the spheres. No noise that acts through the labels only (label noise, label smoothing)
can change that: at that point all logits are equal whatever the label. Noise in *feature space*
does. Here every sample is augmented by the 2d shifts ±σe_j (e_j the standard basis of ℝᵈ):

    f(W, H) = (1/(2dN)) Σ_i Σ_{a ∈ {±σe_1, …, ±σe_d}} CE(τWᵀ(h_i + a), y_i),

and the oracle draws b (sample, shift) pairs uniformly with replacement (M = 2dN pairs). The mean
gradient, the covariance and its factor are exact finite sums (``CrossEntropyUFM``).

The fully collapsed point is still critical [derived]: all logits are equal there, so
softmax = 1/K and ∇_{w_k} f = (τ/M) Σ_{i,a} (u + a)(1/K − y_{ki}) = 0 (each class has n samples and
Σ_a a = 0), ∇_{h_i} f = (τ/M) Σ_a u(1 − 1) = 0. The per-pair gradient of w_k there is
τ(u + a)(1/K − y_{ki}), whose tangent part τ P_u a (1/K − y_{ki}) is not zero: the noise of
Riemannian SGD has covariance of order τ²σ²/b on the W directions at the saddle, so RSGD leaves the
exact saddle, which Riemannian GD never does. The set {±σe_j} has isotropic second moment
(Σ_a a aᵀ = 2σ²I) but is not rotation invariant, so the global minimizers are not known in closed
form (no ``optimal_value``).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from .._checks import check_positive
from .normalized_ufm import NormalizedUFM


class AugmentedUFM(NormalizedUFM):
    r"""[`NormalizedUFM`][sde_opt.NormalizedUFM] whose samples are augmented by the shifts ±σe_j
    (module docstring).

    Args:
        k: classes K ≥ 2; d: feature dimension d ≥ 2; n: samples per class n ≥ 1.
        tau: logit scale τ > 0.
        sigma: shift length σ > 0.
        batch_size: (sample, shift) pairs per oracle call b ≥ 1 (default N).
        labels: optional class of each sample (each class n times).
    """

    sigma: jnp.ndarray = eqx.field(default=None)

    def __init__(self, k, d, n, tau=1.0, sigma=0.5, *, batch_size=None, labels=None):
        super().__init__(k, d, n, tau, batch_size=batch_size, labels=labels)
        check_positive("AugmentedUFM", "sigma", sigma, scalar=True)
        self.sigma = jnp.asarray(sigma)

    def _shifts(self, dtype):
        e = jnp.eye(self.d, dtype=dtype)
        return self.sigma.astype(dtype) * jnp.concatenate([e, -e], axis=1)

    def _no_closed_form(self, what):
        raise NotImplementedError(f"AugmentedUFM.{what}: the augmented loss has no closed-form "
                                  "minimizer (its shifts are not rotation invariant); find it by "
                                  "optimization")

    def optimal_value(self) -> float:
        self._no_closed_form("optimal_value")

    def global_minimizer(self, rotation=None) -> dict:
        self._no_closed_form("global_minimizer")

    def collapsed_curvature(self) -> float:
        self._no_closed_form("collapsed_curvature")


__all__ = ["AugmentedUFM"]

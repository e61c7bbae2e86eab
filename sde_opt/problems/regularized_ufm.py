r"""The regularized (unnormalized) unconstrained-feature model: the comparison of Yaras et al. 2022.

On ℝ^{d×K} × ℝ^{d×N} (the authors' ``normalize=False`` branch, papers.md §5.3):

    f(W, H) = (1/N) Σ_i CE(Wᵀ h_i, y_i) + (λ_W/2)‖W‖²_F + (λ_H/2)‖H‖²_F.

Gradients: ∇_W f = (1/N) H (P − Y)ᵀ + λ_W W, ∇_H f = (1/N) W (P − Y) + λ_H H. The minibatch oracle
samples the cross-entropy terms (the penalty is exact), as in [`NormalizedUFM`][sde_opt.NormalizedUFM].

Global minimizers (Zhu et al. 2021, "A geometric analysis of neural collapse with unconstrained
features", with a bias; [recalled, unverified] for the bias-free form; the values below are
[derived here] within the ETF ansatz and checked against an independent optimization): for
d ≥ K − 1, W = a·M and h_i = b·m_{y_i} with M a unit simplex ETF, b/a = √(λ_W/(n λ_H)), and the
margin ρ = ab minimizing log(1 + (K − 1) e^{−ρK/(K−1)}) + ρ s, s = √(K N λ_W λ_H):

    ρ* = ((K − 1)/K) · log((K − (K − 1) s)/s)     if s < 1,   else ρ* = 0 (W = H = 0).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_range
from ..geometry import Euclidean, Product
from .normalized_ufm import CrossEntropyUFM, _int_at_least, check_labels, simplex_etf


class RegularizedUFM(CrossEntropyUFM):
    r"""Weight-decayed cross-entropy UFM in ℝ^{d×K} × ℝ^{d×Kn} (see the module docstring).

    Args:
        k, d, n: classes K ≥ 2, feature dimension d ≥ 2, samples per class n ≥ 1.
        lambda_w, lambda_h: weight decays λ_W, λ_H ≥ 0.
        batch_size: samples per oracle call (default N).
        labels: optional class of each sample (each class n times).
    """

    k: int = eqx.field(static=True)
    d: int = eqx.field(static=True)
    n: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    tau: jnp.ndarray
    labels: jnp.ndarray
    lambda_w: jnp.ndarray
    lambda_h: jnp.ndarray
    geometry: Product = eqx.field(static=True)

    def __init__(self, k, d, n, lambda_w=5e-3, lambda_h=5e-3, *, batch_size=None, labels=None):
        owner = "RegularizedUFM"
        self.k = _int_at_least(owner, "k", k, 2, " (the number of classes K)")
        self.d = _int_at_least(owner, "d", d, 2, " (feature dimension)")
        self.n = _int_at_least(owner, "n", n, 1, " (samples per class)")
        check_range(owner, "lambda_w", lambda_w, 0.0, high_closed=False, scalar=True)
        check_range(owner, "lambda_h", lambda_h, 0.0, high_closed=False, scalar=True)
        self.lambda_w, self.lambda_h = jnp.asarray(lambda_w), jnp.asarray(lambda_h)
        self.tau = jnp.asarray(1.0)
        nn = self.k * self.n
        self.batch_size = nn if batch_size is None else _int_at_least(owner, "batch_size",
                                                                      batch_size, 1)
        y = np.repeat(np.arange(self.k), self.n) if labels is None else labels
        self.labels = jnp.asarray(check_labels(owner, y, self.k, self.n))
        self.geometry = Product({"W": Euclidean(), "H": Euclidean()})

    def _penalty(self, x):
        lw, lh = (a.astype(x["W"].dtype) for a in (self.lambda_w, self.lambda_h))
        return 0.5 * lw * jnp.sum(x["W"] ** 2) + 0.5 * lh * jnp.sum(x["H"] ** 2)

    def _penalty_grad(self, x):
        return {"H": self.lambda_h.astype(x["H"].dtype) * x["H"],
                "W": self.lambda_w.astype(x["W"].dtype) * x["W"]}

    def _margin_terms(self):
        k, nn = self.k, self.n_samples
        s = math.sqrt(k * nn * float(self.lambda_w) * float(self.lambda_h))
        return k, s

    def optimal_margin(self) -> float:
        """ρ* = a·b of the minimizer (module docstring)."""
        k, s = self._margin_terms()
        if s <= 0:
            raise ValueError("RegularizedUFM.optimal_margin: needs lambda_w > 0 and lambda_h > 0 "
                             "(without weight decay the infimum is 0 and not attained)")
        if s >= 1.0:
            return 0.0
        return (k - 1) / k * math.log((k - (k - 1) * s) / s)

    def optimal_value(self) -> float:
        """f* = log(1 + (K − 1)e^{−ρ*K/(K−1)}) + ρ* s (needs d ≥ K − 1, λ_W, λ_H > 0)."""
        if self.d < self.k - 1:
            raise ValueError(f"RegularizedUFM.optimal_value: needs d >= K - 1 = {self.k - 1}; "
                             f"got d={self.d}")
        k, s = self._margin_terms()
        rho = self.optimal_margin()
        return math.log1p((k - 1) * math.exp(-rho * k / (k - 1))) + rho * s

    def global_minimizer(self, rotation=None) -> dict:
        """The ETF minimizer (module docstring), float64 numpy arrays."""
        rho = self.optimal_margin()
        ratio = math.sqrt(float(self.lambda_w) / (self.n * float(self.lambda_h)))  # b / a
        a = math.sqrt(rho / ratio)
        m = simplex_etf(self.k, self.d, rotation)
        return {"H": ratio * a * m[:, np.asarray(self.labels)], "W": a * m}

    def random_point(self, key, dtype=jnp.float32, scale: float = 0.1) -> dict:
        """Independent N(0, scale²) entries."""
        kw, kh = jax.random.split(key)
        return {"H": scale * jax.random.normal(kh, self.shape["H"], dtype),
                "W": scale * jax.random.normal(kw, self.shape["W"], dtype)}


__all__ = ["RegularizedUFM"]

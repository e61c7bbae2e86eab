r"""The unconstrained-feature model with normalized features and classifiers (Yaras et al. 2022).

K classes, n samples per class, N = Kn, feature dimension d. A point is the pytree
``{"W": W, "H": H}`` with W = [w_1 … w_K] ∈ OB(d, K) and H = [h_1 … h_N] ∈ OB(d, N) (unit
columns), on ``Product({"W": Oblique(d, K), "H": Oblique(d, N)})``:

    f(W, H) = (1/N) Σ_i CE(τ Wᵀ h_i, y_i),      CE(z, y) = −log(e^{z_y} / Σ_j e^{z_j}),

τ > 0 multiplying the logits (the authors' code: larger τ, sharper softmax; papers.md §5.3).
With P = softmax(τ WᵀH) column-wise and Y the one-hot K×N label matrix (papers.md §5.5, [derived]):

    ∇_W f = (τ/N) H (P − Y)ᵀ,      ∇_H f = (τ/N) W (P − Y),

the Riemannian gradient is the column-wise tangent projection of these, and the Riemannian
Hessian is Hess f[Δ] = P(∇²f[Δ] − Δ·Diag(diag(Xᵀ∇f))) per factor (``geometry.weingarten``).

Global minimizers for d ≥ K − 1 (papers.md §5.4): W a simplex ETF (⟨w_j, w_k⟩ = −1/(K − 1)) and
h_i = w_{y_i}; the optimal value is

    f* = log(1 + (K − 1) exp(−τK/(K − 1)))            [derived; checked here by optimization].

Stochastic oracle: b sample indices drawn uniformly with replacement (``MinibatchIndices``),
ĝ = (1/b) Σ_j ∇ℓ_{I_j} with ℓ_i = CE(τWᵀh_i, y_i) the per-sample loss (so E ĝ = ∇f: a sampled
feature column gets N times its share of the full gradient, as in any minibatch SGD on a finite
sum). Its exact covariance is Σ = (1/b)[(1/N) Σ_i gᵢgᵢᵀ − ∇f∇fᵀ], with the factor
B w = (1/√(bN)) Σ_i w_i (g_i − ∇f), w ~ N(0, I_N), computed without forming the gᵢ.

Non-global critical points ([`NormalizedUFM.saddle`][sde_opt.NormalizedUFM.saddle]): "collapsed" — the K
classes merged into m equal groups (m = 1: every w_k and h_i equal one vector u, f = log K), the groups
forming an m-simplex ETF (antipodal for m = 2) and the features equal to their group's vector; "flipped" — W
an ETF and f features per class antipodal to their classifier. At the fully collapsed point (m = 1) ∇f = 0 and
the Hessian is the bilinear form (τ/N)⟨11ᵀ/K − Y, AᵀB⟩ on tangent directions (A, B), whose most negative
eigenvalue is [derived here]

    λ_min = −τ / (K √n),   multiplicity (K − 1)(d − 1).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_integer, check_positive
from ..geometry import Oblique, Product
from ..noise import MinibatchIndices
from ._base import AbstractProblem


def _int_at_least(owner, name, v, low, what=""):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an integer >= {low}{what}; got {v!r}")
    if int(v) < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}{what}; got {int(v)}")
    return int(v)


def check_labels(owner: str, labels, k: int, n: int) -> np.ndarray:
    """Labels as an int array of length K·n with every class in {0..K−1} exactly n times."""
    try:
        y = np.asarray(labels)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: labels must be an integer vector of length K*n = {k * n}; got "
                        f"{labels!r:.60}") from None
    if y.shape != (k * n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{owner}: labels must be an integer vector of length K*n = {k * n} "
                         f"(K={k}, n={n}); got shape {y.shape} and dtype {y.dtype}")
    counts = np.bincount(np.clip(y, 0, None), minlength=k)
    if y.min() < 0 or y.max() >= k or not np.all(counts[:k] == n):
        raise ValueError(f"{owner}: labels must take each class 0..{k - 1} exactly n={n} times; "
                         f"got values in [{y.min()}, {y.max()}] with counts {counts.tolist()}")
    return y.astype(np.int32)


def optimal_value(k, tau) -> float:
    """f* = log(1 + (K − 1) exp(−τK/(K − 1))) (papers.md §5.4; requires d ≥ K − 1)."""
    k = check_integer("optimal_value", "K", k, low=2)
    check_positive("optimal_value", "tau", tau, scalar=True)
    tau = float(tau)
    return math.log1p((k - 1) * math.exp(-tau * k / (k - 1)))


def simplex_etf(k: int, d: int, rotation=None) -> np.ndarray:
    """A d×K simplex ETF: unit columns with ⟨w_j, w_k⟩ = −1/(K − 1); needs d ≥ K − 1.

    ``rotation``: an optional d×d orthogonal matrix applied on the left.
    """
    k = check_integer("simplex_etf", "K", k, low=2)
    d = check_integer("simplex_etf", "d", d, low=1)
    if d < k - 1:
        raise ValueError(f"simplex_etf: a K-simplex ETF needs d >= K - 1 = {k - 1}; got d={d}")
    m = math.sqrt(k / (k - 1)) * (np.eye(k) - np.ones((k, k)) / k)  # K×K, rank K−1
    u, s, _ = np.linalg.svd(m)
    coords = (u[:, : k - 1] * s[: k - 1]).T  # (K−1)×K: same Gram matrix
    w = np.zeros((d, k))
    w[: k - 1] = coords
    return w if rotation is None else np.asarray(rotation) @ w


@eqx.filter_jit
def _hessian_columns(problem, x, basis_rows):
    """Hess f[b] (flattened) for each row b of ``basis_rows``, as columns: one compiled call
    instead of an op-by-op vmap (seconds per call even on small problems)."""
    unravel = ravel_pytree(x)[1]
    return jax.vmap(lambda b: ravel_pytree(problem.hess_vec(x, unravel(b)))[0], out_axes=1)(
        basis_rows)


class CrossEntropyUFM(AbstractProblem):
    r"""Shared part of the UFMs: logits τWᵀH, cross-entropy with mean reduction, minibatch oracle.

    Subclasses set the geometry (and may add a regularizer through ``_penalty_grad``). A
    subclass may also augment every sample in feature space (``_shifts``): with shifts
    s_1 … s_A (the columns of a d×A matrix S) the loss is the mean over the M = N·A pairs (i, a)

        f(W, H) = (1/M) Σ_{i,a} CE(τWᵀ(h_i + s_a), y_i),

    ∇_W f = (τ/M) Σ_{i,a} (h_i + s_a) r_{ia}ᵀ and ∇_{h_i} f = (τ/M) Σ_a W r_{ia} with
    r_{ia} = softmax(τWᵀ(h_i + s_a)) − e_{y_i}; the oracle draws pairs. Without shifts (A = 1,
    S = 0) this is the plain UFM.
    """

    k: eqx.AbstractVar[int]
    d: eqx.AbstractVar[int]
    n: eqx.AbstractVar[int]
    batch_size: eqx.AbstractVar[int]
    tau: eqx.AbstractVar[jnp.ndarray]
    labels: eqx.AbstractVar[jnp.ndarray]

    def _penalty(self, x):
        return 0.0

    def _penalty_grad(self, x):
        return jax.tree_util.tree_map(jnp.zeros_like, x)

    def _shifts(self, dtype):
        """S (d×A), the feature-space augmentations; ``None`` for none (A = 1)."""
        return None

    # -- shapes, objective, gradients -------------------------------------------------------

    @property
    def n_samples(self) -> int:
        return self.k * self.n

    @property
    def n_augmentations(self) -> int:
        """A, the augmentations per sample (1 without augmentation)."""
        s = self._shifts(jnp.float32)
        return 1 if s is None else int(s.shape[1])

    @property
    def n_pairs(self) -> int:
        """M = N·A, the (sample, augmentation) pairs the oracle draws from."""
        return self.n_samples * self.n_augmentations

    @property
    def shape(self):
        return {"H": (self.d, self.n_samples), "W": (self.d, self.k)}

    def _onehot(self, dtype):
        return jax.nn.one_hot(self.labels, self.k, dtype=dtype).T  # K×N

    def logits(self, x):
        """τWᵀ(h_i + s_a) as a K×N×A array (A = 1 without augmentation)."""
        w = x["W"]
        z = (self.tau.astype(w.dtype) * w.T @ x["H"])[:, :, None]
        s = self._shifts(w.dtype)
        return z if s is None else z + (self.tau.astype(w.dtype) * w.T @ s)[:, None, :]

    def objective(self, x):
        z = self.logits(x)
        true = jnp.take_along_axis(z, self.labels[None, :, None], axis=0)[0]
        return jnp.mean(jax.nn.logsumexp(z, axis=0) - true) + self._penalty(x)

    def residual(self, x):
        """r_{ia} = softmax − one-hot, K×N×A."""
        return self._residual_matrix(x).reshape(self.k, self.n_samples, -1)

    def _residual_matrix(self, x):
        """r as a K × (N·A) matrix, columns in (i, a) order. The gradients work on this matrix:
        XLA's CPU code runs the same operations on the K×N×A array (a trailing axis of length 1
        without augmentation) 3–10× slower."""
        z = self.logits(x)
        k, n, a = z.shape
        onehot = jnp.repeat(self._onehot(z.dtype), a, axis=1) if a > 1 else self._onehot(z.dtype)
        return jax.nn.softmax(z.reshape(k, n * a), axis=0) - onehot

    def _weighted(self, x, c):
        """Σ_{i,a} c_{ia} ∇ℓ_{ia} (c of length M in (i, a) order; ℓ_{ia} includes the penalty)."""
        w = x["W"]
        q = self._residual_matrix(x) * c[None, :]  # K × (N·A)
        a = self.n_augmentations
        qi = q if a == 1 else jnp.sum(q.reshape(self.k, self.n_samples, a), axis=2)  # K×N
        tau = self.tau.astype(w.dtype)
        gw = tau * x["H"] @ qi.T
        s = self._shifts(w.dtype)
        if s is not None:
            gw = gw + tau * s @ jnp.sum(q.reshape(self.k, self.n_samples, a), axis=1).T
        ce = {"H": tau * w @ qi, "W": gw}
        total = jnp.sum(c)
        return jax.tree_util.tree_map(lambda a, r: a + total * r, ce, self._penalty_grad(x))

    def grad(self, x):
        """Closed form (class docstring): (1/M) Σ_{i,a} ∇ℓ_{ia}."""
        dtype = x["W"].dtype
        m = self.n_pairs
        return jax.tree_util.tree_map(lambda a: a / m, self._weighted(x, jnp.ones(m, dtype)))

    def riemannian_grad(self, x):
        """grad f = P_X ∇f, column by column."""
        return self.geometry.project(x, self.grad(x))

    def hess_vec(self, x, v):
        """Riemannian Hessian applied to a tangent vector: P(∇²f[v] − diag(w) v), w = ⟨x, ∇f⟩."""
        g, dg = jax.jvp(self.grad, (x,), (v,))
        w = self.geometry.weingarten(x, g)
        return self.geometry.project(x, jax.tree_util.tree_map(lambda a, wi, vi: a - wi * vi,
                                                               dg, w, v))

    def riemannian_hessian(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(H_T, basis): the Riemannian Hessian in an orthonormal tangent basis, float64.

        H_T = Bᵀ (∇²f − diag(w)) B with B = ``geometry.tangent_basis(x)`` (columns, in
        ``ravel_pytree`` order).
        """
        basis = self.geometry.tangent_basis(x)
        flat = ravel_pytree(x)[0]
        cols = _hessian_columns(self, x, jnp.asarray(basis.T, flat.dtype))
        h = basis.T @ np.asarray(cols, np.float64)
        return 0.5 * (h + h.T), basis

    def most_negative_curvature(self, x) -> tuple[float, dict]:
        """The smallest Riemannian-Hessian eigenvalue at ``x`` and its unit tangent direction."""
        h, basis = self.riemannian_hessian(x)
        e, v = np.linalg.eigh(h)
        unravel = ravel_pytree(x)[1]
        return float(e[0]), unravel(jnp.asarray(basis @ v[:, 0]))

    # -- minibatch oracle -----------------------------------------------------------------

    @property
    def noise(self):
        return MinibatchIndices(self.n_pairs, self.batch_size)

    @property
    def factor_shape(self):
        return (self.n_pairs,)

    def stochastic_grad(self, x, noise):
        dtype = x["W"].dtype
        counts = jnp.zeros(self.n_pairs, dtype).at[noise].add(1.0)
        return jax.tree_util.tree_map(lambda a: a / self.batch_size, self._weighted(x, counts))

    def per_sample_grads(self, x):
        """gₘ = ∇ℓₘ flattened (``ravel_pytree`` order), one row per pair m = (i, a): (M, D)."""
        eye = jnp.eye(self.n_pairs, dtype=x["W"].dtype)
        return jax.vmap(lambda c: ravel_pytree(self._weighted(x, c))[0])(eye)

    def grad_noise_cov(self, x):
        g = self.per_sample_grads(x)
        c = g - jnp.mean(g, axis=0)
        return (c.T @ c) / (self.n_pairs * self.batch_size)

    def grad_noise_factor(self, x, w):
        w = w.reshape(-1)
        s = jnp.sqrt(jnp.asarray(self.n_pairs * self.batch_size, w.dtype))
        full = self._weighted(x, jnp.ones_like(w))  # M ∇f
        part = self._weighted(x, w)
        mean_w = jnp.mean(w)
        return jax.tree_util.tree_map(lambda p, f: (p - mean_w * f) / s, part, full)


class NormalizedUFM(CrossEntropyUFM):
    r"""Cross-entropy UFM on OB(d, K) × OB(d, Kn) (see the module docstring).

    Args:
        k: number of classes K ≥ 2.
        d: feature dimension d ≥ 2.
        n: samples per class n ≥ 1.
        tau: logit scale τ > 0.
        batch_size: samples per oracle call b ≥ 1 (default N: sampling with replacement still
            makes the oracle noisy).
        labels: optional class of each sample, length K·n, each class n times (default: sample
            i has class i // n).
    """

    k: int = eqx.field(static=True)
    d: int = eqx.field(static=True)
    n: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)
    tau: jnp.ndarray
    labels: jnp.ndarray
    geometry: Product = eqx.field(static=True)

    def __init__(self, k, d, n, tau=1.0, *, batch_size=None, labels=None):
        owner = type(self).__name__
        self.k = _int_at_least(owner, "k", k, 2, " (the number of classes K)")
        self.d = _int_at_least(owner, "d", d, 2, " (feature dimension)")
        self.n = _int_at_least(owner, "n", n, 1, " (samples per class)")
        check_positive(owner, "tau", tau, scalar=True)
        self.tau = jnp.asarray(tau)
        nn = self.k * self.n
        self.batch_size = nn if batch_size is None else _int_at_least(owner, "batch_size",
                                                                      batch_size, 1)
        y = np.repeat(np.arange(self.k), self.n) if labels is None else labels
        self.labels = jnp.asarray(check_labels(owner, y, self.k, self.n))
        self.geometry = Product({"W": Oblique(self.d, self.k), "H": Oblique(self.d, nn)})

    # -- known points ---------------------------------------------------------------------

    def optimal_value(self) -> float:
        """f* in closed form (module docstring); raises for d < K − 1 (no simplex ETF)."""
        if self.d < self.k - 1:
            raise ValueError(f"NormalizedUFM.optimal_value: the closed form needs d >= K - 1 = "
                             f"{self.k - 1} (a simplex ETF); got d={self.d}")
        return optimal_value(self.k, float(self.tau))

    def global_minimizer(self, rotation=None) -> dict:
        """W a simplex ETF, H = W[:, y] (self-dual); float64 numpy arrays."""
        w = simplex_etf(self.k, self.d, rotation)
        return {"H": w[:, np.asarray(self.labels)], "W": w}

    def saddle(self, kind: str = "collapsed", *, groups: int = 1, flipped: int = 1,
               rotation=None) -> dict:
        """A critical point that is not a global minimum (module docstring).

        ``kind="collapsed"``: the classes merged into ``groups`` = m equal groups (m divides K,
        1 ≤ m < K, d ≥ m − 1); ``kind="flipped"``: an ETF W with ``flipped`` features of every
        class antipodal to their classifier (1 ≤ flipped ≤ n).
        """
        y = np.asarray(self.labels)
        if kind == "collapsed":
            if not (1 <= groups < self.k and self.k % groups == 0):
                raise ValueError(f"NormalizedUFM.saddle: groups must divide K={self.k} and lie in "
                                 f"[1, K); got {groups}")
            if groups == 1:
                v = np.zeros((self.d, 1))
                v[0, 0] = 1.0
            else:
                v = simplex_etf(groups, self.d)
            if rotation is not None:
                v = np.asarray(rotation) @ v
            cls_group = np.arange(self.k) // (self.k // groups)
            w = v[:, cls_group]
            return {"H": w[:, y], "W": w}
        if kind == "flipped":
            if not 1 <= flipped <= self.n:
                raise ValueError(f"NormalizedUFM.saddle: flipped must lie in [1, n={self.n}]; "
                                 f"got {flipped}")
            w = simplex_etf(self.k, self.d, rotation)
            h = w[:, y].copy()
            for c in range(self.k):
                idx = np.flatnonzero(y == c)[:flipped]
                h[:, idx] *= -1.0
            return {"H": h, "W": w}
        raise ValueError(f"NormalizedUFM.saddle: kind must be 'collapsed' or 'flipped'; got {kind!r}")

    def collapsed_curvature(self) -> float:
        """λ_min = −τ/(K√n) at the fully collapsed point (``saddle("collapsed", groups=1)``)."""
        return -float(self.tau) / (self.k * math.sqrt(self.n))

    def check_start(self, x, name="x0") -> None:
        """Raise ``ValueError`` naming ``name`` if ``x`` is not a point (W, H) with unit columns."""
        if not isinstance(x, dict) or set(x) != {"W", "H"}:
            raise ValueError(f"NormalizedUFM: {name} must be a dict {{'W': (d, K), 'H': (d, K*n)}}; "
                             f"got {type(x).__name__}")
        for key in ("W", "H"):
            a = np.asarray(x[key], np.float64)
            if a.ndim == 2 and np.any(np.linalg.norm(a, axis=0) < 1e-12):
                raise ValueError(f"NormalizedUFM: {name}['{key}'] has zero columns "
                                 f"{np.flatnonzero(np.linalg.norm(a, axis=0) < 1e-12)[:4].tolist()}"
                                 ", which cannot be normalized")
        self.geometry.check_point(x, name, "NormalizedUFM")

    def random_point(self, key, dtype=jnp.float32) -> dict:
        """A uniform random point of OB(d, K) × OB(d, N)."""
        return self.geometry.random_point(key, self.shape, dtype)


__all__ = ["CrossEntropyUFM", "NormalizedUFM", "optimal_value", "simplex_etf", "check_labels"]

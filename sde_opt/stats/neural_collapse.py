r"""Neural-collapse metrics NC1–NC3, exactly as the authors' code computes them (papers.md §5.6).

For features H (d×N) with labels y, class means h̄_k, global mean h_G, classifier W (d×K):

    Σ_W = (1/N) Σ_i (h_i − h̄_{y_i})(h_i − h̄_{y_i})ᵀ,   Σ_B = (1/K) Σ_k (h̄_k − h_G)(h̄_k − h_G)ᵀ,
    E = (I_K − 11ᵀ/K)/√(K − 1),
    NC1 = (1/K) tr(Σ_W Σ_B^†)                    (Moore–Penrose pseudo-inverse),
    NC2 = ‖WᵀW/‖WᵀW‖_F − E‖_F,
    NC3 = ‖WᵀH̄/‖WᵀH̄‖_F − E‖_F,                  H̄ = [h̄_1 … h̄_K] (uncentred, as in the code).

Where the authors' code is wrong (papers.md §5.8) nothing here depends on it; these formulas are
the code's ``compute_loss_acc_nc``. Note that NC1 is 0 when all class means coincide (Σ_B = 0,
Σ_B^† = 0): at a fully collapsed saddle NC1 reads 0 while NC2 and NC3 do not.

Every function is pure JAX, so ``nc_observables(labels, k)`` can be passed to
[`sde_opt.simulate`][sde_opt.simulate] as observables of the position ``{"W", "H"}``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .._checks import check_array, check_instance, check_integer, is_concrete


def _check_k(owner: str, k) -> int:
    return check_integer(owner, "k", k, low=2)


def _check_labels(owner: str, labels, k: int, n=None, name: str = "labels",
                  features: str = "h") -> None:
    """Class indices: a 1-D integer array with entries in [0, k) (and ``n`` of them where given);
    traced labels are left alone."""
    if not is_concrete(labels):
        return
    v = check_array(owner, name, labels, ndim=1)
    if not np.issubdtype(v.dtype, np.integer):
        raise TypeError(f"{owner}: {name} must be integer class indices; got dtype {v.dtype} "
                        f"(e.g. {v.ravel()[0].item()!r})")
    if v.min() < 0 or v.max() >= k:
        bad = v[(v < 0) | (v >= k)][0].item()
        raise ValueError(f"{owner}: every entry of {name} must lie in [0, {k - 1}] (k = {k} "
                         f"classes); got {bad!r}")
    if n is not None and v.size != n:
        raise ValueError(f"{owner}: {name} must have one entry per column of {features} "
                         f"({features} has N = {n} columns); got {v.size} entries")


def _check_matrix(owner: str, name: str, a, *, rows=None, min_cols: int = 1, other: str = "w"):
    """A 2-D real array (NaN allowed: a diverged point's metrics are NaN; traced arrays by their
    shape only)."""
    check_array(owner, name, a, ndim=2, finite=False)
    shape = jnp.shape(a)
    if rows is not None and shape[0] != rows:
        raise ValueError(f"{owner}: {name} must have as many rows as {other} (the feature "
                         f"dimension d = {rows}); got {name} of shape {tuple(shape)}")
    if shape[1] < min_cols:
        raise ValueError(f"{owner}: {name} must have at least {min_cols} columns (classes); got "
                         f"shape {tuple(shape)}")
    return shape


def _check_point(owner: str, x) -> None:
    check_instance(owner, "x", x, dict, "a point {'W': W (d, K), 'H': H (d, N)}")
    if set(x) != {"W", "H"}:
        raise ValueError(f"{owner}: x must be a point {{'W': W, 'H': H}}; got keys {sorted(x)}")


def class_means(h, labels, k: int):
    """H̄ (d×K): the mean feature of every class."""
    k = _check_k("class_means", k)
    n = _check_matrix("class_means", "h", h)[1]
    _check_labels("class_means", labels, k, n)
    onehot = jax.nn.one_hot(labels, k, dtype=h.dtype)  # N×K
    return (h @ onehot) / jnp.sum(onehot, axis=0)


def _etf_target(k: int, dtype):
    return (jnp.eye(k, dtype=dtype) - 1.0 / k) / jnp.sqrt(jnp.asarray(k - 1, dtype))


def nc1(h, labels, k: int):
    """(1/K) tr(Σ_W Σ_B^†)."""
    k = _check_k("nc1", k)
    _check_labels("nc1", labels, k, _check_matrix("nc1", "h", h)[1])
    mu = class_means(h, labels, k)
    n = h.shape[1]
    centred = h - mu[:, labels]
    sw = centred @ centred.T / n
    between = mu - jnp.mean(h, axis=1, keepdims=True)
    sb = between @ between.T / k
    return jnp.trace(sw @ jnp.linalg.pinv(sb, hermitian=True)) / k


def _etf_distance(m, k):
    return jnp.linalg.norm(m / jnp.linalg.norm(m) - _etf_target(k, m.dtype))


def nc2(w):
    """‖WᵀW/‖WᵀW‖_F − E‖_F for the d×K classifier."""
    _check_matrix("nc2", "w", w, min_cols=2)
    return _etf_distance(w.T @ w, w.shape[1])


def nc3(w, h, labels):
    """‖WᵀH̄/‖WᵀH̄‖_F − E‖_F."""
    d, k = _check_matrix("nc3", "w", w, min_cols=2)
    _check_labels("nc3", labels, k, _check_matrix("nc3", "h", h, rows=d)[1])
    return _etf_distance(w.T @ class_means(h, labels, k), k)


def nc_metrics(x, labels, k: int) -> dict:
    """{"nc1", "nc2", "nc3"} at a point ``{"W": W, "H": H}``."""
    owner = "nc_metrics"
    k = _check_k(owner, k)
    _check_point(owner, x)
    _check_matrix(owner, "x['W']", x["W"], min_cols=k)
    if jnp.shape(x["W"])[1] != k:
        raise ValueError(f"{owner}: x['W'] must have k = {k} columns; got shape "
                         f"{tuple(jnp.shape(x['W']))}")
    n = _check_matrix(owner, "x['H']", x["H"], rows=jnp.shape(x["W"])[0], other="x['W']")[1]
    _check_labels(owner, labels, k, n, features="x['H']")
    return {"nc1": nc1(x["H"], labels, k), "nc2": nc2(x["W"]), "nc3": nc3(x["W"], x["H"], labels)}


def nc_observables(labels, k: int) -> dict:
    """Engine observables ``{"nc1": fn, "nc2": fn, "nc3": fn}`` of the position ``{"W", "H"}``."""
    k = _check_k("nc_observables", k)
    _check_labels("nc_observables", labels, k)
    labels = jnp.asarray(labels)
    # Partials of module-level functions (not lambdas): pytrees whose labels are traced, so
    # simulate reuses its compiled program across calls with equal shapes (e.g. a sweep over τ)
    return {"nc1": Partial(_nc1_of, labels, int(k)), "nc2": Partial(_nc2_of),
            "nc3": Partial(_nc3_of, labels)}


def _nc1_of(labels, k, x):
    return nc1(x["H"], labels, k)


def _nc2_of(x):
    return nc2(x["W"])


def _nc3_of(labels, x):
    return nc3(x["W"], x["H"], labels)


__all__ = ["class_means", "nc1", "nc2", "nc3", "nc_metrics", "nc_observables"]

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
from jax.tree_util import Partial


def class_means(h, labels, k: int):
    """H̄ (d×K): the mean feature of every class."""
    onehot = jax.nn.one_hot(labels, k, dtype=h.dtype)  # N×K
    return (h @ onehot) / jnp.sum(onehot, axis=0)


def _etf_target(k: int, dtype):
    return (jnp.eye(k, dtype=dtype) - 1.0 / k) / jnp.sqrt(jnp.asarray(k - 1, dtype))


def nc1(h, labels, k: int):
    """(1/K) tr(Σ_W Σ_B^†)."""
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
    return _etf_distance(w.T @ w, w.shape[1])


def nc3(w, h, labels):
    """‖WᵀH̄/‖WᵀH̄‖_F − E‖_F."""
    k = w.shape[1]
    return _etf_distance(w.T @ class_means(h, labels, k), k)


def nc_metrics(x, labels, k: int) -> dict:
    """{"nc1", "nc2", "nc3"} at a point ``{"W": W, "H": H}``."""
    return {"nc1": nc1(x["H"], labels, k), "nc2": nc2(x["W"]), "nc3": nc3(x["W"], x["H"], labels)}


def nc_observables(labels, k: int) -> dict:
    """Engine observables ``{"nc1": fn, "nc2": fn, "nc3": fn}`` of the position ``{"W", "H"}``."""
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

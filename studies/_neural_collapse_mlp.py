"""The real-network part of the neural-collapse study: an equinox MLP on scikit-learn's digits.

Penultimate features h(x) ∈ ℝᵈ, classifier W (d×K, no bias), trained with optax SGD + momentum
(papers.md §5.7: lr 0.05, momentum 0.9, batch 128, no optimizer weight decay):

* **normalized**: logits τ Wᵀ (h/‖h‖) with the normalization differentiated through, and W's
  columns renormalized after every step (the authors' retraction-style projection);
* **regularized**: logits Wᵀh, loss CE + (λ/2)‖W‖²_F + (λ/2) Σ_batch ‖h‖² (the features summed
  over the batch, as in the authors' code), W *not* renormalized — the authors' code renormalizes
  it in this branch too (papers.md §5.8, bug 4); we do not copy that.

NC metrics (papers.md §5.6) on the training features (τ·h/‖h‖ for the normalized network, as in
the code; NC1 is scale-invariant and NC2/NC3 normalized), training loss and test accuracy are
recorded every epoch.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from sde_opt.stats.neural_collapse import nc_metrics


def load_digits_split(seed: int = 0, test_fraction: float = 0.3):
    """sklearn's 8×8 digits (shipped with scikit-learn, no download), standardized, split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.data.astype(np.float32) / 16.0
    xtr, xte, ytr, yte = train_test_split(x, data.target, test_size=test_fraction,
                                          random_state=seed, stratify=data.target)
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-3
    return (xtr - mu) / sd, ytr.astype(np.int32), (xte - mu) / sd, yte.astype(np.int32)


class Net(eqx.Module):
    body: eqx.nn.MLP
    w: jnp.ndarray  # d×K classifier

    def __init__(self, key, n_in, width, d, k):
        kb, kw = jax.random.split(key)
        self.body = eqx.nn.MLP(n_in, d, width, 2, activation=jax.nn.relu, key=kb)
        w = jax.random.normal(kw, (d, k)) / np.sqrt(d)
        self.w = w / jnp.linalg.norm(w, axis=0, keepdims=True)

    def features(self, x):
        return jax.vmap(self.body)(x)  # N×d


def _logits(net, x, normalized, tau):
    h = net.features(x)
    if normalized:
        h = tau * h / jnp.linalg.norm(h, axis=1, keepdims=True)
    return h @ net.w, h


def _loss(net, x, y, normalized, tau, lam):
    z, h = _logits(net, x, normalized, tau)
    ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, y))
    if normalized:
        return ce
    return ce + 0.5 * lam * jnp.sum(net.w**2) + 0.5 * lam * jnp.sum(h**2)


@functools.lru_cache(maxsize=8)
def _optimizer(lr, momentum):
    return optax.sgd(lr, momentum=momentum)


@eqx.filter_jit
def _step(net, state, xb, yb, normalized, tau, lam, opt):
    g = eqx.filter_grad(_loss)(net, xb, yb, normalized, tau, lam)
    upd, state = opt.update(g, state, eqx.filter(net, eqx.is_array))
    net = eqx.apply_updates(net, upd)
    if normalized:
        net = eqx.tree_at(lambda m: m.w, net, net.w / jnp.linalg.norm(net.w, axis=0, keepdims=True))
    return net, state


@eqx.filter_jit
def _evaluate(net, xtr, ytr, xte, yte, normalized, tau):
    k = net.w.shape[1]
    z, h = _logits(net, xtr, normalized, tau)
    ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, ytr))
    m = nc_metrics({"W": net.w, "H": h.T}, ytr, k)
    zt, _ = _logits(net, xte, normalized, tau)
    acc = jnp.mean(jnp.argmax(zt, axis=1) == yte)
    return jnp.stack([ce, acc, m["nc1"], m["nc2"], m["nc3"]])


def train(seed, *, normalized, epochs, tau=1.0, lam=1e-4, width=128, d=32, lr=0.05,
          momentum=0.9, batch=128, data=None) -> dict:
    """Train one network; returns per-epoch arrays loss, test_acc, nc1, nc2, nc3 (epoch 0 = init).

    The jitted step and evaluation are module-level, so seeds reuse one compilation.
    """
    xtr, ytr, xte, yte = data if data is not None else load_digits_split()
    xtr, ytr, xte, yte = (jnp.asarray(a) for a in (xtr, ytr, xte, yte))
    k = int(ytr.max()) + 1
    net = Net(jax.random.key(seed), xtr.shape[1], width, d, k)
    opt = _optimizer(float(lr), float(momentum))
    state = opt.init(eqx.filter(net, eqx.is_array))
    tau, lam = float(tau), float(lam)
    rng = np.random.default_rng(seed)
    rows = [_evaluate(net, xtr, ytr, xte, yte, normalized, tau)]
    n_train = int(xtr.shape[0])
    for _ in range(epochs):
        perm = rng.permutation(n_train)
        for i in range(0, n_train - batch + 1, batch):
            idx = jnp.asarray(perm[i:i + batch])
            net, state = _step(net, state, xtr[idx], ytr[idx], normalized, tau, lam, opt)
        rows.append(_evaluate(net, xtr, ytr, xte, yte, normalized, tau))
    arr = np.asarray(jnp.stack(rows), np.float64)
    return {name: arr[:, j] for j, name in enumerate(("loss", "test_acc", "nc1", "nc2", "nc3"))}

"""The real-network part of the neural-collapse study: an MLP on scikit-learn's digits.

Penultimate features h(x) ∈ ℝᵈ, a linear classifier W (d×K) **with a bias** b ∈ ℝᴷ (the authors'
ResNet has one), trained with SGD + momentum (optax; papers.md §5.7: momentum 0.9, batch 128, no
optimizer weight decay):

* **normalized**: logits τ Wᵀ(h/‖h‖) + b with the normalization differentiated through, and W's
  columns renormalized after every step (the authors' retraction-style projection);
* **weight-decayed**: logits Wᵀh + b, loss CE + (λ/2)‖W‖²_F + (λ/2) Σ_batch ‖h‖² (the features
  summed over the batch, as in the authors' code), W *not* renormalized — the authors' code
  renormalizes it in this branch too (papers.md §5.8, bug 4); we do not copy that. The bias is
  not decayed.

Every epoch records, on the training set: cross-entropy, accuracy, NC1–NC3 (papers.md §5.6,
on the features the classifier sees: τh/‖h‖ for the normalized network; NC1 is scale-invariant
and NC2/NC3 normalized); and on the held-out test set: accuracy and NC1–NC3 of the test features
(class means of the test features; W as trained).

All runs — both arms, seeds and hyperparameters — share one compiled, vmapped program per
epoch (``lax.scan`` over the minibatches, per-run shuffling from the run's key); the NC metrics
are computed on the host in float64 from the returned features.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sde_opt._checks import check_integer

CHUNK = 8
METRICS = ("loss", "train_acc", "nc1", "nc2", "nc3", "test_acc", "test_nc1", "test_nc2",
           "test_nc3")


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


def check_data(data, owner: str = "neural-collapse MLP"):
    """(x_train, y_train, x_test, y_test) as arrays, with a clear error for NaN/inf inputs, labels
    that are not integers 0..K−1, or mismatched lengths."""
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise ValueError(f"{owner}: data must be (x_train, y_train, x_test, y_test); got "
                         f"{type(data).__name__} of length {len(data) if hasattr(data, '__len__') else '?'}")
    xtr, ytr, xte, yte = (np.asarray(a) for a in data)
    for name, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"{owner}: x_{name} must be (n, features) and y_{name} (n,) with the "
                             f"same n; got shapes {x.shape} and {y.shape}")
        if not np.issubdtype(x.dtype, np.floating) or not np.all(np.isfinite(x)):
            bad = int(np.sum(~np.isfinite(x))) if np.issubdtype(x.dtype, np.floating) else x.size
            raise ValueError(f"{owner}: x_{name} must be finite real numbers; got {bad} NaN/inf "
                             f"(or non-float) entries of {x.size}")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ValueError(f"{owner}: y_{name} must be integer class labels >= 0; got dtype "
                             f"{y.dtype}, min {y.min()}")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"{owner}: x_train and x_test must have the same number of features; got "
                         f"{xtr.shape[1]} and {xte.shape[1]}")
    k = int(ytr.max()) + 1
    if np.bincount(ytr, minlength=k).min() == 0 or yte.max() >= k:
        raise ValueError(f"{owner}: every class 0..{k - 1} must occur in y_train, and y_test must "
                         f"use those classes only")
    return (xtr.astype(np.float32), ytr.astype(np.int32), xte.astype(np.float32),
            yte.astype(np.int32))


def _init(key, n_in, width, d, k):
    """He-initialized MLP n_in → width → width → d (ReLU) and a d×K classifier with unit
    columns, bias 0."""
    ks = jax.random.split(key, 4)
    sizes = [(n_in, width), (width, width), (width, d)]
    layers = [{"w": jax.random.normal(kk, s) * jnp.sqrt(2.0 / s[0]), "b": jnp.zeros(s[1])}
              for kk, s in zip(ks[:3], sizes, strict=True)]
    w = jax.random.normal(ks[3], (d, k))
    return {"layers": layers, "W": w / jnp.linalg.norm(w, axis=0, keepdims=True),
            "bias": jnp.zeros(k)}


def _features(params, x):
    h = x
    for i, layer in enumerate(params["layers"]):
        h = h @ layer["w"] + layer["b"]
        if i < len(params["layers"]) - 1:
            h = jax.nn.relu(h)
    return h  # N×d


def _logits(params, x, normalized, tau):
    """Logits and the features the classifier sees; ``normalized`` is a (traced) 0/1 switch, so
    both arms share one compiled program."""
    h = _features(params, x)
    # the norm of ones in the weight-decayed arm: dead features (h = 0) must not give a NaN
    # gradient through the branch that is not taken
    nrm = jnp.linalg.norm(jnp.where(normalized, h, jnp.ones_like(h)), axis=1, keepdims=True)
    h = jnp.where(normalized, tau * h / nrm, h)
    return h @ params["W"] + params["bias"], h


def _loss(params, x, y, normalized, tau, lam):
    z, h = _logits(params, x, normalized, tau)
    ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, y))
    decay = 0.5 * lam * jnp.sum(params["W"] ** 2) + 0.5 * lam * jnp.sum(h**2)
    return ce + jnp.where(normalized, 0.0, decay)


def _evaluate(params, data, normalized, tau, k):
    """Cross-entropy and accuracies, and the features for the NC metrics (computed on the host,
    ``nc_metrics_host``: an eigen-decomposition inside this compiled loop was seen to stall
    XLA:CPU)."""
    xtr, ytr, xte, yte = data
    z, h = _logits(params, xtr, normalized, tau)
    ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, ytr))
    zt, ht = _logits(params, xte, normalized, tau)
    scalars = jnp.stack([ce, jnp.mean(jnp.argmax(z, 1) == ytr), jnp.mean(jnp.argmax(zt, 1) == yte)])
    return scalars, h, ht, params["W"]


def nc_metrics_host(w, h, labels, k) -> tuple[float, float, float]:
    """NC1–NC3 of features ``h`` (N×d, rows) and classifier ``w`` (d×K) in float64 NumPy: the
    same formulas as ``sde_opt.stats.neural_collapse.nc_metrics`` (tested equal)."""
    h = np.asarray(h, np.float64).T
    w = np.asarray(w, np.float64)
    onehot = np.eye(k)[labels]                    # N×K
    mu = h @ onehot / onehot.sum(0)                # d×K class means
    centred = h - mu[:, labels]
    sw = centred @ centred.T / h.shape[1]
    between = mu - h.mean(1, keepdims=True)
    sb = between @ between.T / k
    # the cutoff jnp.linalg.pinv uses for float32 features (10·d·eps₃₂ relative): Σ_B has rank
    # K − 1 and rounding must not be inverted as if it were a direction of the class means
    rcond = 10 * sb.shape[0] * float(np.finfo(np.float32).eps)
    nc1 = float(np.trace(sw @ np.linalg.pinv(sb, rcond=rcond, hermitian=True)) / k)
    e = (np.eye(k) - 1.0 / k) / math.sqrt(k - 1)

    def etf_distance(m):
        return float(np.linalg.norm(m / np.linalg.norm(m) - e))

    return nc1, etf_distance(w.T @ w), etf_distance(w.T @ mu)


def _run_init(key, lr, data, *, width, d, k, momentum, normalized, tau):
    kinit, kshuf = jax.random.split(key)
    params = _init(kinit, data[0].shape[1], width, d, k)
    state = optax.sgd(lr, momentum=momentum).init(params)
    return (params, state, kshuf), _evaluate(params, data, normalized, tau, k)


def _run_epoch(carry, lr, tau, lam, data, *, normalized, batch, momentum, k):
    """One epoch of one run (shuffle, minibatch SGD + momentum, evaluation)."""
    params, state, key = carry
    xtr, ytr = data[0], data[1]
    n_train = xtr.shape[0]
    n_batches = n_train // batch
    opt = optax.sgd(lr, momentum=momentum)
    key, ekey = jax.random.split(key)

    def step(c, idx):
        params, state = c
        g = jax.grad(_loss)(params, xtr[idx], ytr[idx], normalized, tau, lam)
        upd, state = opt.update(g, state, params)
        params = optax.apply_updates(params, upd)
        w = params["W"]
        params = dict(params, W=jnp.where(normalized, w / jnp.linalg.norm(w, axis=0,
                                                                          keepdims=True), w))
        return (params, state), None

    perm = jax.random.permutation(ekey, n_train)[: n_batches * batch]
    (params, state), _ = jax.lax.scan(step, (params, state), perm.reshape(n_batches, batch))
    return (params, state, key), _evaluate(params, data, normalized, tau, k)



@functools.partial(jax.jit, static_argnames=("width", "d", "k"))
def _init_batched(keys, lr, tau, normalized, data, *, width, d, k, momentum):
    return jax.vmap(lambda kk, l, t, nz: _run_init(kk, l, data, width=width, d=d, k=k,
                                                   momentum=momentum, normalized=nz, tau=t))(
        keys, lr, tau, normalized)


@functools.partial(jax.jit, static_argnames=("batch", "k"))
def _epoch_batched(carry, lr, tau, lam, normalized, data, *, batch, momentum, k):
    return jax.vmap(lambda c, l, t, m, nz: _run_epoch(c, l, t, m, data, normalized=nz,
                                                      batch=batch, momentum=momentum, k=k))(
        carry, lr, tau, lam, normalized)


def _train_batched(keys, lr, tau, lam, data, *, normalized, epochs, width, d, batch, momentum, k):
    """All runs of a chunk, epoch by epoch: one compiled call per epoch; returns (runs,
    epochs + 1, len(METRICS)) with the NC metrics computed on the host."""
    nz = jnp.full(lr.shape, bool(normalized))
    carry, ev = _init_batched(keys, lr, tau, nz, data, width=width, d=d, k=k, momentum=momentum)
    ytr, yte = np.asarray(data[1]), np.asarray(data[3])
    rows = []
    for epoch in range(epochs + 1):
        if epoch:
            carry, ev = _epoch_batched(carry, lr, tau, lam, nz, data, batch=batch,
                                       momentum=momentum, k=k)
        scalars, h, ht, w = (np.asarray(a) for a in ev)
        per_run = []
        for r in range(scalars.shape[0]):
            train = nc_metrics_host(w[r], h[r], ytr, k)
            test = nc_metrics_host(w[r], ht[r], yte, k)
            ce, acc, tacc = scalars[r]
            per_run.append([ce, acc, *train, tacc, *test])
        rows.append(per_run)
    return np.transpose(np.asarray(rows, np.float64), (1, 0, 2))


def train_many(seeds, *, normalized, epochs, lr, tau=1.0, lam=0.0, width=128, d=32,
               momentum=0.9, batch=128, data=None) -> dict:
    """Train one network per entry of ``seeds`` (with per-entry ``lr``, ``tau``, ``lam``: scalars
    or arrays of the same length) in one compiled program.

    Returns ``{metric: array (runs, epochs + 1)}`` for every name in ``METRICS`` (epoch 0 =
    initialization).
    """
    owner = "train_many"
    epochs = check_integer(owner, "epochs", epochs, low=1)
    seeds = np.atleast_1d(np.asarray(seeds))
    if seeds.ndim != 1 or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"{owner}: seeds must be a 1-D array of integers; got {seeds!r}")
    runs = seeds.size
    cols = {}
    for name, v in (("lr", lr), ("tau", tau), ("lam", lam)):
        a = np.broadcast_to(np.asarray(v, np.float32), (runs,))
        if not np.all(np.isfinite(a)) or np.any(a < 0) or (name != "lam" and np.any(a <= 0)):
            raise ValueError(f"{owner}: {name} must be finite and {'>= 0' if name == 'lam' else '> 0'}"
                             f"; got {np.asarray(v)!r}")
        cols[name] = jnp.asarray(a)
    data = check_data(load_digits_split() if data is None else data, owner)
    data_j = tuple(jnp.asarray(a) for a in data)
    static = {"normalized": bool(normalized), "epochs": epochs, "width": int(width), "d": int(d),
              "batch": int(batch), "momentum": float(momentum), "k": int(data[1].max()) + 1}
    # fixed chunks of CHUNK runs (the last one padded): one compiled program per arm, whatever the
    # number of runs
    pad = (-runs) % CHUNK
    idx = np.concatenate([np.arange(runs), np.zeros(pad, int)])
    parts = []
    for start in range(0, runs + pad, CHUNK):
        sel = idx[start:start + CHUNK]
        keys = jax.vmap(jax.random.key)(jnp.asarray(seeds[sel], jnp.uint32))
        parts.append(np.asarray(_train_batched(keys, cols["lr"][sel], cols["tau"][sel],
                                               cols["lam"][sel], data_j, **static)))
    out = np.concatenate(parts)[:runs]
    arr = np.asarray(out, np.float64)
    return {name: arr[:, :, j] for j, name in enumerate(METRICS)}


# ---------------------------------------------------------------------------------------------
# The joint collapse score, per-seed summaries with intervals inside the metric's range
# ---------------------------------------------------------------------------------------------

SCORE_NOTE = ("joint collapse score J = max(NC1/1e-3, NC2/1e-2, NC3/1e-2, train error/1e-3) at the "
              "last epoch (training set; J < 1 means collapsed by every criterion of the UFM "
              "race, with the training error in place of the loss gap); tuned by the mean J over "
              "tuning seeds, compared on fresh seeds by log J")
_SCORE_SCALE = {"nc1": 1e-3, "nc2": 1e-2, "nc3": 1e-2, "train_err": 1e-3}


def joint_score(curves) -> np.ndarray:
    """J per run at the last epoch (``SCORE_NOTE``); +∞ for a run whose training diverged (a NaN
    anywhere in its last epoch), so such a run can never look collapsed."""
    parts = np.stack([curves["nc1"][:, -1] / _SCORE_SCALE["nc1"],
                      curves["nc2"][:, -1] / _SCORE_SCALE["nc2"],
                      curves["nc3"][:, -1] / _SCORE_SCALE["nc3"],
                      (1.0 - curves["train_acc"][:, -1]) / _SCORE_SCALE["train_err"]])
    bad = ~np.all(np.isfinite(parts), axis=0) | ~np.isfinite(curves["loss"][:, -1])
    return np.where(bad, np.inf, np.max(np.where(np.isfinite(parts), parts, np.inf), axis=0))


def _t_interval(v, level=0.95):
    from scipy import stats as sps

    v = np.asarray(v, np.float64)
    m = float(v.mean())
    if v.size < 2:
        return m, m, m
    half = float(sps.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - half, m + half


def positive_interval(v, level=0.95) -> dict:
    """Geometric mean of positive per-seed values with a Student-t interval on the log scale
    (always positive; NC metrics)."""
    v = np.maximum(np.asarray(v, np.float64), np.finfo(np.float64).tiny)
    m, lo, hi = _t_interval(np.log(v), level)
    return {"value": math.exp(m), "ci_low": math.exp(lo), "ci_high": math.exp(hi), "level": level,
            "method": "geometric mean; Student t on log values over seeds", "n": int(v.size)}


def fraction_interval(v, n_items, level=0.95) -> dict:
    """Mean of per-seed fractions (accuracies) with a Student-t interval on the logit scale,
    mapped back, so it lies in (0, 1); a fraction of 0 or 1 is moved by ½ item (the usual
    continuity correction) before the logit."""
    v = np.clip(np.asarray(v, np.float64), 0.5 / n_items, 1 - 0.5 / n_items)
    lg = np.log(v / (1 - v))
    m, lo, hi = _t_interval(lg, level)
    inv = lambda a: 1.0 / (1.0 + math.exp(-a))  # noqa: E731
    return {"value": float(np.mean(np.asarray(v))), "logit_mean": inv(m), "ci_low": inv(lo),
            "ci_high": inv(hi), "level": level,
            "method": "Student t on logit(accuracy) over seeds, mapped back", "n": int(v.size)}


def final_summary(curves, n_test: int = 540, n_train: int = 1257) -> dict:
    """Last-epoch values over seeds: NC metrics (geometric mean, log-t interval), accuracies
    (logit-t interval), the joint score J."""
    out = {m: positive_interval(curves[m][:, -1]) for m in
           ("nc1", "nc2", "nc3", "test_nc1", "test_nc2", "test_nc3", "loss")}
    out["test_acc"] = fraction_interval(curves["test_acc"][:, -1], n_test)
    out["train_acc"] = fraction_interval(curves["train_acc"][:, -1], n_train)
    out["joint_score"] = positive_interval(joint_score(curves))
    return out


def compare_arms(normalized, decayed, level=0.95) -> dict:
    """log J (weight-decayed) − log J (normalized) over seeds: Welch's t interval; the paper's
    "normalized features collapse more" passes iff the interval lies above 0, fails otherwise;
    no verdict ("-") when a seed of either arm diverged (J = ∞, counted in ``diverged_seeds``)."""
    from scipy import stats as sps

    a, b = np.log(joint_score(normalized)), np.log(joint_score(decayed))
    diverged = {"normalized": int(np.sum(~np.isfinite(a))),
                "weight-decayed": int(np.sum(~np.isfinite(b)))}
    extra = {"seeds": int(min(a.size, b.size)), "diverged_seeds": diverged,
             "test_acc": {"normalized": float(np.mean(normalized["test_acc"][:, -1])),
                          "weight-decayed": float(np.mean(decayed["test_acc"][:, -1]))}}
    if any(diverged.values()):
        # a diverged seed has J = ∞: no interval, and no verdict either way — a divergence at the
        # tuned learning rate says the tuning seeds missed an unstable step, not which features
        # collapse more (counted in ``diverged_seeds``, never averaged in)
        value = float(np.mean(b) - np.mean(a)) if np.isfinite(np.mean(a)) else -math.inf
        return {"log_score_difference": {"value": value, "ci_low": None, "ci_high": None,
                                         "level": level, "method": "diverged seeds: no interval"},
                "verdict": "-", **extra}
    diff = float(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else a.size - 1
    q = float(sps.t.ppf(0.5 + level / 2, df))
    est = {"value": diff, "se": se, "ci_low": diff - q * se, "ci_high": diff + q * se,
           "level": level, "method": "Welch t over seeds", "df": float(df)}
    return {"log_score_difference": est, "verdict": "pass" if est["ci_low"] > 0 else "fail",
            **extra,
            "test_nc1": {"normalized": float(np.exp(np.log(normalized["test_nc1"][:, -1]).mean())),
                         "weight-decayed": float(np.exp(np.log(decayed["test_nc1"][:, -1]).mean()))}}

"""scikit-learn's digits for the square-root scaling rule: logistic regression and a small MLP as
[`FiniteSum`][sde_opt.FiniteSum] problems, Adam runs under a scaling rule, and the gradient noise scale.

Data: the 1,797 bundled 8×8 digits (no download), pixels /16, a fixed split of 1,280 training and
517 test images; a fraction of the training labels is replaced by uniform random labels (label
noise keeps the per-example gradients spread out at the optimum, so that the minibatch noise
dominates the gradient over most of training — the regime of the rule).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import sde_opt as so
from sde_opt.theory.adaptive import linear_scaling, square_root_scaling

N_TRAIN = 1280  # divisible by every batch size 2^k ≤ 256, so checkpoints fall on the same epochs
HIDDEN = 16


def digits(label_noise: float, seed: int = 0):
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover
        raise ImportError("the adaptive-sde study's scaling-rule part needs scikit-learn (its "
                          "bundled digits): pip install 'sde_opt[data]'") from e

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    y = y.astype(np.int32)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    tr, te = perm[:N_TRAIN], perm[N_TRAIN:]
    ytr = y[tr].copy()
    flip = rng.random(N_TRAIN) < label_noise
    ytr[flip] = rng.integers(0, 10, int(flip.sum()))
    return x[tr], ytr, x[te], y[te]


def _logits(model: str, p, x):
    if model == "logistic":
        return x @ p["W"] + p["b"]
    h = jnp.tanh(x @ p["W1"] + p["b1"])
    return h @ p["W2"] + p["b2"]


def init_params(model: str):
    if model == "logistic":
        return {"W": jnp.zeros((64, 10)), "b": jnp.zeros(10)}
    rng = np.random.default_rng(1)
    return {"W1": jnp.asarray(rng.standard_normal((64, HIDDEN)) / 8.0, jnp.float32),
            "b1": jnp.zeros(HIDDEN), "W2": jnp.zeros((HIDDEN, 10)), "b2": jnp.zeros(10)}


class Digits:
    """The problem at batch size ``b`` and its evaluation functions (module-level, reused)."""

    def __init__(self, model: str, label_noise: float):
        self.model = model
        self.xtr, self.ytr, self.xte, self.yte = digits(label_noise)
        self.params = init_params(model)

        def loss(p, ex):
            z = _logits(model, p, ex["x"])
            return jax.nn.logsumexp(z) - z[ex["y"]]

        self.loss = loss
        xtr, ytr, xte, yte = map(jnp.asarray, (self.xtr, self.ytr, self.xte, self.yte))

        def train_loss(p):
            z = _logits(model, p, xtr)
            return jnp.mean(jax.nn.logsumexp(z, 1) - jnp.take_along_axis(z, ytr[:, None], 1)[:, 0])

        def test_accuracy(p):
            return jnp.mean((jnp.argmax(_logits(model, p, xte), 1) == yte).astype(jnp.float32))

        self.observables = {"loss": train_loss, "accuracy": test_accuracy}

    def problem(self, batch_size: int):
        return so.FiniteSum(self.loss, {"x": self.xtr, "y": self.ytr}, self.params,
                            batch_size=batch_size)

    def noise_scale(self, flat_params) -> float:
        """The gradient noise scale B_noise = tr Σ₁/‖∇f‖² (Σ₁ the per-example covariance)."""
        prob = self.problem(1)
        p = ravel_pytree(self.params)[1](jnp.asarray(flat_params))
        g = ravel_pytree(prob.grad(p))[0]
        return float(jnp.trace(prob.grad_noise_cov(p)) / jnp.sum(g * g))


def run_rule(data: Digits, rule: str, kappa: int, base: dict, *, epochs: int, saves_per_epoch: int,
             n_paths: int, seed: int, progress=False) -> dict:
    """Adam at batch κB₀ with the hyperparameters of ``rule`` ("sqrt" or "linear") for ``epochs``
    epochs; the training loss and test accuracy of every path at ``saves_per_epoch`` points per
    epoch (the same points in epochs for every κ)."""
    scale = square_root_scaling if rule == "sqrt" else linear_scaling
    h = scale(kappa, eta=base["eta"], eps=base["eps"], beta1=base["beta1"], beta2=base["beta2"])
    b = base["batch"] * kappa
    steps_per_epoch = N_TRAIN // b
    stride = steps_per_epoch // saves_per_epoch
    if stride < 1:
        raise ValueError(f"batch {b}: fewer steps per epoch ({steps_per_epoch}) than saves")
    n = stride * saves_per_epoch * epochs
    alg = so.Adam(data.problem(b), h["eta"], h["beta1"], h["beta2"], h["eps"])
    obs = dict(data.observables)
    obs["flat"] = lambda p: ravel_pytree(p)[0]
    r = so.simulate(alg, data.params, seed, n_paths=n_paths, n_steps=n, observables=obs,
                    stride=stride, progress=progress)
    epoch_axis = r.save_steps * b / N_TRAIN
    return {"epochs": epoch_axis, "loss": r.observables["loss"],
            "accuracy": r.observables["accuracy"], "flat_mean": np.nanmean(r.observables["flat"], 0),
            "diverged": np.int64(r.counts()["diverged"]), "batch": np.int64(b),
            "eta": np.float64(h["eta"]), "beta1": np.float64(h["beta1"]),
            "beta2": np.float64(h["beta2"]), "eps": np.float64(h["eps"]), "steps": np.int64(n)}


def compare_runs(ref: dict, run: dict) -> dict:
    """Per checkpoint (after the start): Δ of the mean loss and accuracy, their SEs (Welch) and z."""
    out = {}
    for key in ("loss", "accuracy"):
        a, b = ref[key][:, 1:], run[key][:, 1:]
        d = np.nanmean(b, 0) - np.nanmean(a, 0)
        se = np.sqrt(np.nanvar(a, 0, ddof=1) / a.shape[0] + np.nanvar(b, 0, ddof=1) / b.shape[0])
        out[key] = {"delta": d.tolist(), "se": se.tolist(),
                    "z": (d / np.where(se > 0, se, math.inf)).tolist()}
    out["max_abs_z"] = float(max(np.max(np.abs(out[k]["z"])) for k in ("loss", "accuracy")))
    return out

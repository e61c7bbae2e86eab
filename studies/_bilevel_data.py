"""The real-data part of the bilevel-escape study: data hyper-cleaning on scikit-learn's bundled
handwritten digits ([`sde_opt.HyperCleaning.digits`][sde_opt.HyperCleaning.digits]; a logistic
lower level, minibatch oracles), with AID, StocBiO and their limits."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import sde_opt as so
from sde_opt.problems.bilevel import digits_split

DIGITS = dict(n_train=100, n_val=100, corrupt=0.3, batch_size=8, seed=0)


def digits_problem():
    return so.HyperCleaning.digits(**DIGITS)


class Observe:
    """Observables of a hyper-cleaning iterate x: the validation loss Φ(x) = f(x, y*(x)), the
    test accuracy of the classifier y*(x), and the mean weight σ(xᵢ) on the corrupted and on
    the clean training examples."""

    def __init__(self, problem):
        split = digits_split(DIGITS["n_train"], DIGITS["n_val"], DIGITS["corrupt"], DIGITS["seed"])
        self.problem = problem
        self.a_test, self.b_test = split[5], split[6]
        self.corrupted = np.asarray(problem.corrupted)

    def functions(self):
        p, a, b = self.problem, jnp.asarray(self.a_test), jnp.asarray(self.b_test)
        bad = jnp.asarray(self.corrupted, jnp.float32)

        def phi(x):
            return p.objective(x)

        def accuracy(x):
            y = p.y_star(x)
            return jnp.mean(jnp.sign(a.astype(x.dtype) @ y) == b.astype(x.dtype))

        def weight_corrupted(x):
            w = jax.nn.sigmoid(x)
            return jnp.sum(w * bad.astype(x.dtype)) / jnp.sum(bad)

        def weight_clean(x):
            w = jax.nn.sigmoid(x)
            return jnp.sum(w * (1 - bad.astype(x.dtype))) / jnp.sum(1 - bad)

        return {"phi": phi, "accuracy": accuracy, "weight_corrupted": weight_corrupted,
                "weight_clean": weight_clean}


def flow(sde, x0, *, h, n_steps, stride):
    """The deterministic limit dX = drift(X) dt (an SDE's drift; its noise is not evaluated) by
    Euler steps of size h: the points every ``stride`` steps, shape (1, times, d)."""
    def body(x, _):
        xs = jax.lax.fori_loop(0, stride, lambda _, z: z + h * sde.drift(z), x)
        return xs, xs

    x0 = jnp.asarray(x0)
    _, seen = jax.jit(lambda z: jax.lax.scan(body, z, None, length=n_steps // stride))(x0)
    return np.concatenate([np.asarray(x0)[None], np.asarray(seen)])[None]


def evaluate(observables, points):
    """{name: values} of the observables at ``points`` (paths, times, d), one compiled call each
    (NaN points — a path stopped — give NaN)."""
    flat = jnp.asarray(points.reshape(-1, points.shape[-1]))
    return {k: np.asarray(jax.jit(jax.vmap(f))(flat)).reshape(points.shape[:2])
            for k, f in observables.items()}


def trajectories(*, beta, D, N, Q, n_steps, stride, n_paths, seed, alpha_scale=1.0):
    """AID (one path), StocBiO (``n_paths``), and their limits from x = 0 (every weight ½):
    the gradient flow of Φ (AID's ``limit()``) and of Φ_Q (the drift of StocBiO's ``limit()``),
    both by Euler steps of β/4, observed every ``stride`` outer steps: {name: {observable:
    (paths, times)}}, times in t = kβ."""
    p = digits_problem()
    alpha = alpha_scale / p.lower_smoothness
    obs = Observe(p).functions()
    x0 = jnp.zeros(p.shape)
    aid, stocbio = so.AID(p, alpha, beta, D=D, N=N), so.StocBiO(p, alpha, beta, D=D, Q=Q)
    points, diverged = {}, {}
    for name, alg, paths in (("aid", aid, 1), ("stocbio", stocbio, n_paths)):
        res = so.simulate(alg, x0, seed, n_paths=paths, n_steps=n_steps,
                          observables={"x": lambda x: x}, stride=stride)
        points[name] = np.asarray(res.observables["x"])
        diverged[name] = int(res.counts()["diverged"])
    for name, alg in (("flow", aid), ("flow_q", stocbio)):
        points[name] = flow(alg.ode_limit(), x0, h=beta / 4, n_steps=4 * n_steps,
                            stride=4 * stride)
    names = list(points)
    stacked = np.concatenate([points[k] for k in names])          # (paths, times, d)
    values = evaluate(obs, stacked)
    out, start = {}, 0
    for k in names:
        n = points[k].shape[0]
        out[k] = {o: v[start:start + n] for o, v in values.items()}
        start += n
        if k in diverged:
            out[k]["diverged"] = diverged[k]
    out["times"] = beta * stride * np.arange(n_steps // stride + 1)
    return out

"""StocBiO's diffusion coefficient against an independent NumPy Monte Carlo (review of issue 19).

The x-update of StocBiO at a frozen x, written from the problem's *data* only (per-example
logistic losses, their gradients, Hessian- and cross-Jacobian-vector products by hand, minibatches
with replacement): D SGD steps on y from the previous y (warm start), the Neumann series with Q
independent Hessian minibatches, an independent cross-Jacobian minibatch and an upper minibatch.
K·Cov(mean of K estimates) over P chains estimates the long-run covariance of ĝ, which the limit's
Σ_Φ must match (the issue's instance: HyperCleaning with its defaults, batch 8, D = 4, Q = 6).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.studies import _bilevel_measure as m


def _sig(t):
    return 1.0 / (1.0 + np.exp(-t))


class NumpyHyperCleaning:
    """g(x, y) = mean_i σ(x_i) log(1 + e^{−b_i a_iᵀy}) + (μ/2)‖y‖², f = mean_j log(1 + e^{−b'_j a'_jᵀy})
    + λ‖x‖²/(2n); every oracle batched over chains (y: (P, d), idx: (P, B))."""

    def __init__(self, p):
        self.a, self.b = np.asarray(p.a, float), np.asarray(p.labels, float)
        self.av, self.bv = np.asarray(p.a_val, float), np.asarray(p.labels_val, float)
        self.mu, self.lam, self.B = float(p.mu), float(p.lam), int(p.batch_size)
        self.n, self.d = self.a.shape

    def y_star(self, x):
        y = np.zeros(self.d)
        for _ in range(60):
            q = _sig(-self.b * (self.a @ y))
            g = (_sig(x) * -self.b * q) @ self.a / self.n + self.mu * y
            h = (self.a.T * (_sig(x) * q * (1 - q))) @ self.a / self.n + self.mu * np.eye(self.d)
            y = y - np.linalg.solve(h, g)
        return y

    def _batch(self, x, y, idx):
        a, b = self.a[idx], self.b[idx]
        return a, b, _sig(-b * np.einsum("pkd,pd->pk", a, y)), x[idx]

    def lower_grad(self, x, y, idx):
        a, b, q, xs = self._batch(x, y, idx)
        return np.einsum("pk,pkd->pd", _sig(xs) * -b * q, a) / self.B + self.mu * y

    def lower_hvp(self, x, y, v, idx):
        a, b, q, xs = self._batch(x, y, idx)
        av = np.einsum("pkd,pd->pk", a, v)
        return np.einsum("pk,pkd->pd", _sig(xs) * q * (1 - q) * av, a) / self.B + self.mu * v

    def lower_cross(self, x, y, v, idx):
        a, b, q, xs = self._batch(x, y, idx)
        c = _sig(xs) * (1 - _sig(xs)) * -b * q * np.einsum("pkd,pd->pk", a, v) / self.B
        out = np.zeros((y.shape[0], self.n))
        np.add.at(out, (np.repeat(np.arange(y.shape[0]), self.B), idx.ravel()), c.ravel())
        return out

    def upper(self, x, y, rng):
        idx = rng.integers(0, self.av.shape[0], (y.shape[0], self.B))
        a, b = self.av[idx], self.bv[idx]
        gy = np.einsum("pk,pkd->pd", -b * _sig(-b * np.einsum("pkd,pd->pk", a, y)), a) / self.B
        return self.lam * x / self.n, gy


def long_run_trace(prob, x, alpha, D, Q, *, chains, K, burn, seed):
    """(tr K·Cov(per-chain means of ĝ), its SE) along the warm-started chain at the frozen x."""
    rng = np.random.default_rng(seed)
    draw = lambda: rng.integers(0, prob.n, (chains, prob.B))  # noqa: E731
    y = np.tile(prob.y_star(x), (chains, 1))
    total = np.zeros((chains, prob.n))
    for k in range(burn + K):
        for _ in range(D):
            y = y - alpha * prob.lower_grad(x, y, draw())
        gx, gy = prob.upper(x, y, rng)
        term, z = gy, alpha * gy
        for _ in range(Q):
            term = term - alpha * prob.lower_hvp(x, y, term, draw())
            z = z + alpha * term
        g = gx - prob.lower_cross(x, y, z, draw())
        if k >= burn:
            total += g
    d = total / K - (total / K).mean(0)
    q = K * np.sum(d * d, axis=1)
    return float(q.sum() / (chains - 1)), float(q.std(ddof=1) / np.sqrt(chains))


@pytest.mark.slow
def test_stocbio_limit_diffusion_matches_an_independent_numpy_monte_carlo():
    p = so.HyperCleaning()                               # n = 40, d = 5, batch 8
    alpha, D, Q, K = 0.5 / p.lower_smoothness, 4, 6, 600
    x = np.zeros(p.shape[0])
    est, se = long_run_trace(NumpyHyperCleaning(p), x, alpha, D, Q, chains=1500, K=K, burn=200,
                             seed=0)
    alg = so.StocBiO(p, alpha, 0.01, D=D, Q=Q)
    with jax.enable_x64(True):
        b = np.asarray(jax.jit(lambda z: alg.limit().diffusion_matrix(z))(jnp.asarray(x)))
    limit = float(np.trace(b @ b.T)) / float(alg.beta)
    _, finite_k = m.long_run_prediction(alg.reduced_problem(), x, K)
    allowance = m.second_order_allowance(alg.reduced_problem(), x)
    assert abs(est - limit) <= 4 * se + finite_k + allowance, (est, se, limit)

    class WithoutHessianNoise(so.HyperCleaning):
        def hessian_samples(self, x, y):
            return None

    old = so.problems.ReducedHypergradient(WithoutHessianNoise(), alpha, D, Q)
    old_limit, _ = m.long_run_prediction(old, x, K)
    assert abs(est - old_limit) > 4 * se + finite_k + allowance + 0.5 * est, (est, old_limit)

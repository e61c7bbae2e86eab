"""NormalizedUFM / RegularizedUFM: closed forms against autodiff, finite differences on the manifold,
an independent (PyTorch) optimization, and the NC metrics against a direct numpy implementation."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import sde_opt as so
from sde_opt.problems.normalized_ufm import optimal_value, simplex_etf
from sde_opt.stats.neural_collapse import nc_metrics, nc_observables


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _point(p, seed=0):
    return p.random_point(jax.random.key(seed), jnp.float64)


def _tangent(p, x, seed=1):
    return p.geometry.random_tangent(jax.random.key(seed), x)


def _dot(a, b):
    return float(ravel_pytree(a)[0] @ ravel_pytree(b)[0])


@pytest.mark.slow
def test_closed_form_gradients_match_autodiff():
    for p in (so.NormalizedUFM(4, 3, 2, 3.0), so.RegularizedUFM(3, 4, 2, 1e-2, 3e-2)):
        x = _point(p) if isinstance(p, so.NormalizedUFM) else p.random_point(jax.random.key(0),
                                                                            jnp.float64, 1.0)
        g, ga = p.grad(x), jax.grad(p.objective)(x)
        for key in ("W", "H"):
            np.testing.assert_allclose(g[key], ga[key], rtol=1e-12, atol=1e-14)


@pytest.mark.slow
def test_riemannian_gradient_matches_finite_differences_along_retraction():
    p = so.NormalizedUFM(3, 4, 2, 2.0)
    x = _point(p)
    v = _tangent(p, x)
    f = lambda t: float(p.objective(p.geometry.retract(jax.tree_util.tree_map(
        lambda a, b: a + t * b, x, v))))
    t = 1e-5
    fd = (f(t) - f(-t)) / (2 * t)
    assert abs(fd - _dot(p.riemannian_grad(x), v)) < 1e-8


@pytest.mark.slow
def test_riemannian_hessian_matches_second_difference_along_geodesics():
    p = so.NormalizedUFM(3, 4, 2, 2.0)
    x = _point(p, 3)
    for seed in (1, 2):
        v = _tangent(p, x, seed)
        f = lambda t: float(p.objective(p.geometry.exp(x, jax.tree_util.tree_map(lambda b: t * b, v))))
        t = 1e-4
        fd = (f(t) - 2 * f(0.0) + f(-t)) / t**2
        assert abs(fd - _dot(v, p.hess_vec(x, v))) < 1e-5 * max(1.0, abs(fd))
    # the matrix form is symmetric and agrees with the operator
    h, basis = p.riemannian_hessian(x)
    c = np.random.default_rng(0).standard_normal(basis.shape[1])
    unravel = ravel_pytree(x)[1]
    hv = ravel_pytree(p.hess_vec(x, unravel(jnp.asarray(basis @ c))))[0]
    np.testing.assert_allclose(basis.T @ np.asarray(hv), h @ c, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("k,d,n,tau", [(3, 2, 2, 1.0), (4, 6, 3, 0.5),
                                        pytest.param(4, 4, 1, 2.0, marks=pytest.mark.slow),
                                        pytest.param(2, 3, 2, 5.0, marks=pytest.mark.slow)])
def test_global_minimizer_attains_the_closed_form(k, d, n, tau):
    p = so.NormalizedUFM(k, d, n, tau)
    x = {a: jnp.asarray(b) for a, b in p.global_minimizer().items()}
    assert abs(float(p.objective(x)) - optimal_value(k, tau)) < 1e-12
    assert float(jnp.linalg.norm(ravel_pytree(p.riemannian_grad(x))[0])) < 1e-12
    h, _ = p.riemannian_hessian(x)
    assert np.linalg.eigvalsh(h).min() > -1e-10  # a minimum: no negative curvature
    m = nc_metrics(x, p.labels, k)
    assert max(float(v) for v in m.values()) < 1e-6


def _torch_minimize(objective, shapes, seed, steps=400):
    import torch

    torch.manual_seed(seed)
    params = [torch.randn(*s, dtype=torch.float64, requires_grad=True) for s in shapes]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=steps, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = objective(*params)
        loss.backward()
        return loss

    opt.step(closure)
    return float(objective(*params).detach())


@pytest.mark.parametrize("k,d,n,tau", [(3, 2, 2, 1.0),
                                        pytest.param(3, 3, 2, 2.0, marks=pytest.mark.slow),
                                        pytest.param(4, 5, 2, 1.5, marks=pytest.mark.slow)])
def test_optimal_value_against_an_independent_torch_optimization(k, d, n, tau):
    import torch

    y = torch.arange(k).repeat_interleave(n)

    def f(u, v):  # W = normalize(U), H = normalize(V): unconstrained, no code shared with sde_opt
        w, h = u / u.norm(dim=0), v / v.norm(dim=0)
        return torch.nn.functional.cross_entropy(tau * (w.T @ h).T, y)

    best = min(_torch_minimize(f, [(d, k), (d, k * n)], s) for s in range(4))
    assert abs(best - so.NormalizedUFM(k, d, n, tau).optimal_value()) < 1e-7


@pytest.mark.slow
def test_regularized_optimal_value_against_an_independent_torch_optimization():
    import torch

    k, d, n, lw, lh = 3, 4, 2, 1e-2, 2e-2
    y = torch.arange(k).repeat_interleave(n)

    def f(w, h):
        return (torch.nn.functional.cross_entropy((w.T @ h).T, y) + 0.5 * lw * (w**2).sum()
                + 0.5 * lh * (h**2).sum())

    best = min(_torch_minimize(f, [(d, k), (d, k * n)], s) for s in range(4))
    p = so.RegularizedUFM(k, d, n, lw, lh)
    assert abs(best - p.optimal_value()) < 1e-7
    x = {a: jnp.asarray(b) for a, b in p.global_minimizer().items()}
    assert abs(float(p.objective(x)) - p.optimal_value()) < 1e-12
    assert float(jnp.linalg.norm(ravel_pytree(p.grad(x))[0])) < 1e-10
    big = so.RegularizedUFM(3, 4, 2, 1.0, 1.0)  # s ≥ 1: the minimizer is W = H = 0
    assert big.optimal_margin() == 0.0 and abs(big.optimal_value() - math.log(3)) < 1e-12


def test_simplex_etf_gram():
    for k, d in ((2, 2), (3, 2), (5, 4), (5, 7)):
        w = simplex_etf(k, d)
        np.testing.assert_allclose(w.T @ w, (k / (k - 1)) * (np.eye(k) - 1 / k), atol=1e-12)


@pytest.mark.slow
def test_constructed_saddles_are_critical_with_negative_curvature():
    p = so.NormalizedUFM(4, 5, 3, 2.0)
    cases = [("collapsed", {"groups": 1}), ("collapsed", {"groups": 2}), ("flipped", {"flipped": 1})]
    for kind, kw in cases:
        x = {a: jnp.asarray(b) for a, b in p.saddle(kind, **kw).items()}
        assert float(jnp.linalg.norm(ravel_pytree(p.riemannian_grad(x))[0])) < 1e-12, kind
        lam, v = p.most_negative_curvature(x)
        assert lam < -0.05, (kind, kw, lam)
        assert abs(_dot(v, v) - 1.0) < 1e-10
        np.testing.assert_allclose(ravel_pytree(p.geometry.project(x, v))[0], ravel_pytree(v)[0],
                                   atol=1e-12)
        assert abs(_dot(v, p.hess_vec(x, v)) - lam) < 1e-10
        assert float(p.objective(x)) > p.optimal_value() + 1e-3
    x = {a: jnp.asarray(b) for a, b in p.saddle("collapsed").items()}
    lam, _ = p.most_negative_curvature(x)
    assert abs(lam - p.collapsed_curvature()) < 1e-12  # −τ/(K√n), derived in the module docstring
    h, _ = p.riemannian_hessian(x)
    e = np.linalg.eigvalsh(h)
    assert np.sum(np.abs(e - lam) < 1e-9) == (p.k - 1) * (p.d - 1)


@pytest.mark.slow
def test_minibatch_oracle_mean_covariance_and_factor_are_exact():
    p = so.NormalizedUFM(3, 3, 2, 2.0, batch_size=1)
    x = _point(p)
    flat = lambda t: np.asarray(ravel_pytree(t)[0])
    # batch size 1: the N draws are equally likely, so mean and covariance are finite sums
    grads = np.stack([flat(p.stochastic_grad(x, jnp.array([i]))) for i in range(p.n_samples)])
    np.testing.assert_allclose(grads.mean(0), flat(p.grad(x)), atol=1e-13)
    cov = np.cov(grads.T, bias=True)
    np.testing.assert_allclose(np.asarray(p.grad_noise_cov(x)), cov, atol=1e-13)
    b = jax.jacfwd(lambda w: ravel_pytree(p.grad_noise_factor(x, w))[0])(jnp.zeros(p.n_samples))
    np.testing.assert_allclose(np.asarray(b @ b.T), cov, atol=1e-13)
    # batch size b: the covariance divides by b
    p4 = so.NormalizedUFM(3, 3, 2, 2.0, batch_size=4)
    np.testing.assert_allclose(np.asarray(p4.grad_noise_cov(x)), cov / 4, atol=1e-13)


def _nc_numpy(w, h, y, k):
    """The authors' compute_loss_acc_nc, written directly in numpy (papers.md §5.6)."""
    n_total = h.shape[1]
    mu = np.stack([h[:, y == c].mean(1) for c in range(k)], 1)
    hg = h.mean(1, keepdims=True)
    sw = sum(np.outer(h[:, i] - mu[:, y[i]], h[:, i] - mu[:, y[i]]) for i in range(n_total)) / n_total
    sb = sum(np.outer(mu[:, c] - hg[:, 0], mu[:, c] - hg[:, 0]) for c in range(k)) / k
    nc1 = np.trace(sw @ np.linalg.pinv(sb)) / k
    e = (np.eye(k) - np.ones((k, k)) / k) / np.sqrt(k - 1)
    ww = w.T @ w
    nc2 = np.linalg.norm(ww / np.linalg.norm(ww) - e)
    wh = w.T @ mu
    nc3 = np.linalg.norm(wh / np.linalg.norm(wh) - e)
    return nc1, nc2, nc3


@pytest.mark.slow
def test_nc_metrics_match_a_direct_numpy_implementation():
    rng = np.random.default_rng(0)
    k, d, n = 4, 6, 5
    y = rng.permutation(np.repeat(np.arange(k), n))
    w, h = rng.standard_normal((d, k)), rng.standard_normal((d, k * n))
    got = nc_metrics({"W": jnp.asarray(w), "H": jnp.asarray(h)}, jnp.asarray(y), k)
    want = _nc_numpy(w, h, y, k)
    for name, v in zip(("nc1", "nc2", "nc3"), want, strict=True):
        np.testing.assert_allclose(float(got[name]), v, rtol=1e-10)
    obs = nc_observables(y, k)
    x = {"W": jnp.asarray(w), "H": jnp.asarray(h)}
    np.testing.assert_allclose(float(obs["nc1"](x)), want[0], rtol=1e-10)


def test_bad_input_errors_name_the_parameter():
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        so.NormalizedUFM(3, 1, 2)
    with pytest.raises(ValueError, match="NormalizedUFM: k must be an integer >= 2"):
        so.NormalizedUFM(1, 3, 2)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        so.NormalizedUFM(3, 3, 0)
    with pytest.raises(ValueError, match="tau"):
        so.NormalizedUFM(3, 3, 2, 0.0)
    with pytest.raises(ValueError, match="labels must be an integer vector of length K\\*n = 6"):
        so.NormalizedUFM(3, 3, 2, labels=np.arange(5))
    with pytest.raises(ValueError, match="exactly n=2 times"):
        so.NormalizedUFM(3, 3, 2, labels=np.array([0, 0, 0, 1, 1, 2]))
    with pytest.raises(ValueError, match="lambda_w"):
        so.RegularizedUFM(3, 3, 2, -1.0, 1.0)
    with pytest.raises(ValueError, match="lambda_h"):
        so.RegularizedUFM(3, 3, 2, 1.0, -1e-3)
    p = so.NormalizedUFM(3, 3, 2)
    x = {a: np.asarray(b) for a, b in p.global_minimizer().items()}
    bad = dict(x, W=2.0 * x["W"])
    with pytest.raises(ValueError, match="unit sphere"):
        p.check_start(bad)
    zero = dict(x, H=x["H"].copy())
    zero["H"][:, 1] = 0.0
    with pytest.raises(ValueError, match="zero columns \\[1\\]"):
        p.check_start(zero)
    with pytest.raises(ValueError, match="unit sphere"):
        so.simulate(so.RiemannianSGD(p, 0.1), bad, 0, n_paths=2, n_steps=2)
    with pytest.raises(ValueError, match="d >= K - 1"):
        so.NormalizedUFM(5, 2, 1).optimal_value()
    # the subclass names itself, not its parent
    with pytest.raises(ValueError, match="^AugmentedUFM: k must be an integer >= 2"):
        so.AugmentedUFM(1, 3, 2)

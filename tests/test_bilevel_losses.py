"""FiniteSumBilevel: a bilevel problem from two per-example losses. Ridge-penalty tuning on
scikit-learn's diabetes data (bundled): y* and the hypergradient against the closed form and
against jaxopt's implicit differentiation (custom_root); pytrees; the minibatch oracles and their
exact covariances by enumeration; an inner smoothness that depends on x."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so

pytest.importorskip("sklearn")


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _split():
    from sklearn.datasets import load_diabetes

    a, b = load_diabetes(return_X_y=True)
    a = (a - a.mean(0)) / a.std(0)
    b = (b - b.mean()) / b.std()
    return (a[:300], b[:300]), (a[300:], b[300:])


def inner(x, y, ex):
    return 0.5 * (ex["a"] @ y - ex["b"]) ** 2 + 0.5 * jnp.exp(x) * y @ y


def outer(x, y, ex):
    return 0.5 * (ex["a"] @ y - ex["b"]) ** 2


def _ridge(n_train=300, n_val=142, **kw):
    (a, b), (av, bv) = _split()
    a, b, av, bv = a[:n_train], b[:n_train], av[:n_val], bv[:n_val]
    return so.FiniteSumBilevel(outer, inner, {"a": av, "b": bv}, {"a": a, "b": b}, jnp.asarray(0.0),
                               jnp.zeros(10), **{"batch_size": 4, **kw})


def _closed_form(x):
    """y*(x) = (AᵀA/n + eˣI)⁻¹Aᵀb/n; dy*/dx = −eˣ H⁻¹ y*; ∇Φ = ∇ᵧf · dy*/dx (NumPy, float64)."""
    (a, b), (av, bv) = _split()
    h = a.T @ a / len(b) + np.exp(x) * np.eye(10)
    y = np.linalg.solve(h, a.T @ b / len(b))
    gy = av.T @ (av @ y - bv) / len(bv)
    return y, -np.exp(x) * gy @ np.linalg.solve(h, y)


def _jaxopt_hypergradient():
    """jaxopt's implicit differentiation of y*(x) defined by ∇ᵧg = 0 (its own linear solve), as
    a compiled function x -> Φ'(x)."""
    from jaxopt.implicit_diff import custom_root
    from jaxopt.linear_solve import solve_lu

    (a, b), (av, bv) = _split()
    a, b, av, bv = map(jnp.asarray, (a, b, av, bv))
    g = lambda y, lam: 0.5 * jnp.mean((a @ y - b) ** 2) + 0.5 * jnp.exp(lam) * y @ y
    optimality = jax.grad(g, argnums=0)

    @custom_root(optimality, solve=solve_lu)      # an exact linear solve (the default CG has tol 1e-6)
    def solve(y_init, lam):
        return jnp.linalg.solve(a.T @ a / len(b) + jnp.exp(lam) * jnp.eye(10), a.T @ b / len(b))

    phi = lambda lam: 0.5 * jnp.mean((av @ solve(None, lam) - bv) ** 2)
    return jax.jit(jax.grad(phi))


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_ridge_hypergradient_equals_the_closed_form_and_jaxopt():
    pytest.importorskip("jaxopt")
    import equinox as eqx

    (_, _), (av, bv) = _split()
    problem = _ridge()
    given = _ridge(y_star=_closed_form_jnp)            # a closed-form y* given by the user

    @eqx.filter_jit
    def values(p, x):
        return (p.y_star(x), p.grad(x), p.objective(x), jax.grad(p.objective)(x),
                jax.jacfwd(p.objective)(x))

    jaxopt_grad = _jaxopt_hypergradient()
    for x in (-3.0, -1.0, 0.5):
        y_ref, g_ref = _closed_form(x)
        xx = jnp.asarray(x)
        y, g, phi, g_rev, g_fwd = values(problem, xx)
        np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g, g_ref, rtol=1e-9)
        np.testing.assert_allclose(g, jaxopt_grad(xx), rtol=1e-9)
        np.testing.assert_allclose(phi, 0.5 * np.mean((av @ y_ref - bv) ** 2), rtol=1e-12)
        # y* is differentiable by the implicit function theorem: autodiff of Φ, reverse and forward
        np.testing.assert_allclose(g_rev, g_ref, rtol=1e-9)
        np.testing.assert_allclose(g_fwd, g_ref, rtol=1e-9)
        np.testing.assert_allclose(values(given, xx)[1], g_ref, rtol=1e-9)


def _closed_form_jnp(x):
    (a, b), _ = _split()
    a, b = jnp.asarray(a), jnp.asarray(b)
    return jnp.linalg.solve(a.T @ a / len(b) + jnp.exp(x) * jnp.eye(10), a.T @ b / len(b))


@pytest.mark.slow
def test_newton_inner_solve_equals_optimistix_on_a_logistic_inner_problem():
    """A nonlinear inner level (ridge-penalized logistic regression): our y* against
    optimistix.root_find (Newton, lineax) on ∇ᵧg = 0, and the hypergradient against jaxopt."""
    pytest.importorskip("jaxopt")
    import optimistix as optx
    from jaxopt.implicit_diff import custom_root
    from jaxopt.linear_solve import solve_lu

    rng = np.random.default_rng(0)
    a, lab = rng.normal(size=(60, 4)), rng.choice([-1.0, 1.0], size=60)
    av, labv = rng.normal(size=(25, 4)), rng.choice([-1.0, 1.0], size=25)

    def logistic(x, y, ex):
        return jnp.logaddexp(0.0, -ex["b"] * (ex["a"] @ y)) + 0.5 * jnp.exp(x) * y @ y

    def val(x, y, ex):
        return jnp.logaddexp(0.0, -ex["b"] * (ex["a"] @ y))

    problem = so.FiniteSumBilevel(val, logistic, {"a": av, "b": labv}, {"a": a, "b": lab},
                                  jnp.asarray(0.0), jnp.zeros(4), batch_size=5)
    x = jnp.asarray(-2.0)
    sol = optx.root_find(lambda y, xx: problem.lower_grad_y(xx, y), optx.Newton(1e-12, 1e-12),
                         jnp.zeros(4), args=x)
    np.testing.assert_allclose(problem.y_star(x), sol.value, rtol=1e-10, atol=1e-12)

    gfun = lambda y, lam: jnp.mean(jax.vmap(lambda ex: logistic(lam, y, ex))(
        {"a": jnp.asarray(a), "b": jnp.asarray(lab)}))

    @custom_root(jax.grad(gfun, argnums=0), solve=solve_lu)
    def solve(y_init, lam):
        return optx.root_find(lambda y, ll: jax.grad(gfun)(y, ll), optx.Newton(1e-12, 1e-12),
                              jnp.zeros(4), args=lam).value

    phi = lambda lam: jnp.mean(jax.vmap(lambda ex: val(lam, solve(None, lam), ex))(
        {"a": jnp.asarray(av), "b": jnp.asarray(labv)}))
    np.testing.assert_allclose(problem.grad(x), jax.grad(phi)(x), rtol=1e-8)


@pytest.mark.slow
def test_pytree_variables_against_jaxopt():
    """Two penalties (features 0–4 and 5–9) in a dict x; weights and an unpenalized intercept in
    a dict y. Hypergradient against jaxopt's custom_root on the same pytrees."""
    pytest.importorskip("jaxopt")
    from functools import partial

    from jaxopt.implicit_diff import custom_root
    from jaxopt.linear_solve import solve_cg

    (a, b), (av, bv) = _split()

    def inner2(x, y, ex):
        r = ex["a"] @ y["w"] + y["c"] - ex["b"]
        return (0.5 * r**2 + 0.5 * jnp.exp(x["lo"]) * y["w"][:5] @ y["w"][:5]
                + 0.5 * jnp.exp(x["hi"]) * y["w"][5:] @ y["w"][5:])

    def outer2(x, y, ex):
        return 0.5 * (ex["a"] @ y["w"] + y["c"] - ex["b"]) ** 2

    x0 = {"lo": jnp.asarray(-1.0), "hi": jnp.asarray(0.5)}
    y0 = {"w": jnp.zeros(10), "c": jnp.asarray(0.0)}
    problem = so.FiniteSumBilevel(outer2, inner2, {"a": av, "b": bv}, {"a": a, "b": b}, x0, y0,
                                  batch_size=4)
    g = problem.grad(x0)
    assert set(g) == {"lo", "hi"}

    data = {"a": jnp.asarray(a), "b": jnp.asarray(b)}
    gfun = lambda y, x: jnp.mean(jax.vmap(lambda ex: inner2(x, y, ex))(data))
    optimality = jax.grad(gfun, argnums=0)

    @custom_root(optimality, solve=partial(solve_cg, tol=1e-15, maxiter=500))   # pytrees: CG
    def solve(y_init, x):                 # an independent inner solver: dense normal equations
        aa = jnp.concatenate([data["a"], jnp.ones((len(b), 1))], axis=1)
        pen = jnp.concatenate([jnp.full(5, jnp.exp(x["lo"])), jnp.full(5, jnp.exp(x["hi"])),
                               jnp.zeros(1)])
        sol = jnp.linalg.solve(aa.T @ aa / len(b) + jnp.diag(pen), aa.T @ data["b"] / len(b))
        return {"w": sol[:10], "c": sol[10]}

    phi = lambda x: jnp.mean(jax.vmap(lambda ex: outer2(x, solve(None, x), ex))(
        {"a": jnp.asarray(av), "b": jnp.asarray(bv)}))
    want = jax.grad(phi)(x0)
    for k in ("lo", "hi"):
        np.testing.assert_allclose(g[k], want[k], rtol=1e-8, atol=1e-12)
    ys = problem.y_star(x0)
    np.testing.assert_allclose(ys["w"], solve(None, x0)["w"], rtol=1e-9, atol=1e-12)


def test_minibatch_oracles_and_exact_covariances_by_enumeration():
    """Batch size 1: averaging the oracle over every index is exact, and the population
    covariance over the indices is the stated Σ (no Monte Carlo)."""
    import equinox as eqx

    (a, b), _ = _split()
    a, b = jnp.asarray(a[:40]), jnp.asarray(b[:40])
    closed = lambda x: jnp.linalg.solve(a.T @ a / 40 + jnp.exp(x) * jnp.eye(10), a.T @ b / 40)
    problem = _ridge(n_train=40, n_val=30, batch_size=1, inner_batch_size=1, y_star=closed)
    x = jnp.asarray(-1.5)
    m, n = problem.n_outer, problem.n_inner
    y = closed(x) + 0.1
    v = jnp.linspace(-1.0, 1.0, 10)

    @eqx.filter_jit
    def values(p):
        out = {"draws": jax.vmap(lambda i: p.stochastic_grad(x, i[None]))(jnp.arange(m)),
               "grad": p.grad(x), "cov": p.grad_noise_cov(x)[0, 0],
               "cols": jax.vmap(lambda w: p.grad_noise_factor(x, w))(jnp.eye(m))}
        for name, f in (("g", lambda i: p.stochastic_lower_grad_y(x, y, i)),
                        ("hvp", lambda i: p.stochastic_lower_hvp(x, y, v, i)),
                        ("cross", lambda i: p.stochastic_lower_cross(x, y, v, i))):
            out[name] = jax.vmap(lambda i, f=f: f(i[None]))(jnp.arange(n))
        out.update(g_exact=p.lower_grad_y(x, y), hvp_exact=p.lower_hvp(x, y, v),
                   cross_exact=p.lower_cross(x, y, v), g_cov=p.lower_grad_cov(x, y))
        return out

    o = values(problem)
    np.testing.assert_allclose(o["draws"].mean(), o["grad"], rtol=1e-10)
    np.testing.assert_allclose(np.var(np.asarray(o["draws"])), o["cov"], rtol=1e-9)
    # the per-example factor: B Bᵀ = Σ
    np.testing.assert_allclose(o["cols"] @ o["cols"], o["cov"], rtol=1e-9)
    # level oracles: inner gradient, HVP and cross product average to the exact ones
    for name in ("g", "hvp", "cross"):
        np.testing.assert_allclose(o[name].mean(0), o[f"{name}_exact"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(np.cov(np.asarray(o["g"]).T, bias=True), o["g_cov"],
                               rtol=1e-9, atol=1e-15)
    # batch size b divides the covariance by b
    np.testing.assert_allclose(_ridge(n_train=40, n_val=30, batch_size=5, y_star=closed).grad_noise_cov(x),
                               problem.grad_noise_cov(x) / 5, rtol=1e-10)


def test_an_inner_smoothness_that_depends_on_x():
    """ℓ(x) = λ_max(AᵀA/n) + eˣ: no inner step is refused at construction (ℓ is unknown until x
    is), ℓ(x) is reported, and AID — with α < 2/ℓ(x) along its path — reaches the minimizer of
    Φ found from the closed-form hypergradient by root finding."""
    from scipy.optimize import brentq

    (a, b), _ = _split()
    lmax = float(np.linalg.eigvalsh(a.T @ a / len(b)).max())
    problem = _ridge(lower_smoothness=lambda x: lmax + jnp.exp(x))
    assert problem.lower_smoothness is None
    np.testing.assert_allclose(problem.lower_smoothness_at(jnp.asarray(0.0)), lmax + 1.0)
    x_star = brentq(lambda x: _closed_form(x)[1], -2.5, -0.5)    # a local minimum of Φ
    x0 = x_star + 1.0
    alpha = 1.0 / (lmax + np.exp(x0 + 0.5))           # < 2/ℓ(x) wherever x ≤ x0 + 0.5
    aid = so.AID(problem, alpha=alpha, beta=30.0, D=20, N=5)
    r = so.simulate(aid, jnp.asarray(x0), key=0, n_paths=2, n_steps=400, observables={"x": lambda x: x},
                    stride=400)
    assert r.counts()["censored"] == 2
    assert np.nanmax(r.observables["x"]) <= x0 + 0.5
    np.testing.assert_allclose(r.final, x_star, atol=2e-3)
    # a constant ℓ is still checked at construction
    with pytest.raises(ValueError, match=r"AID: alpha .* must be < 2/ℓ"):
        so.AID(_ridge(lower_smoothness=2.0), alpha=1.5, beta=1.0)


def test_sgd_on_the_hyperparameter_runs_in_the_engine():
    """SGD on Φ with the minibatch hypergradient (y* solved by Newton in every step, on every path,
    sharded over the test suite's two devices) and its diffusion limit: both run, stay finite and
    move down from x = 0, where Φ' > 0."""
    problem = _ridge(n_train=60, n_val=30, batch_size=8)
    alg = so.sgd(problem, 0.5)
    x0 = jnp.asarray(0.0)
    assert float(problem.grad(x0)) > 0
    for chain in (alg, so.EulerMaruyama(alg.limit(), alg.dt)):
        r = so.simulate(chain, x0, key=0, n_paths=2, n_steps=5)
        assert r.counts()["censored"] == 2 and np.all(np.isfinite(r.final))


@pytest.mark.slow
def test_sgd_on_the_hyperparameter_follows_its_drift():
    """The mean displacement of 16 paths of 20 SGD steps (and of its limit) is the drift to within
    5 SE, plus the drift's change over the range (|Φ''| ≤ 0.05 over |Δx| ≤ 0.5)."""
    problem = _ridge(batch_size=8)
    alg = so.sgd(problem, 0.5)
    x0 = jnp.asarray(0.0)                             # Φ'(0) = 0.032 > 0: x moves down
    sd = float(jnp.sqrt(problem.grad_noise_cov(x0)[0, 0]))
    drift = -0.5 * 20 * float(problem.grad(x0))
    for chain in (alg, so.EulerMaruyama(alg.limit(), alg.dt)):
        r = so.simulate(chain, x0, key=0, n_paths=16, n_steps=20)
        assert r.counts()["censored"] == 16
        se = 0.5 * sd * np.sqrt(20 / 16)
        assert abs(float(np.mean(r.final)) - drift) <= 5 * se + 0.5 * 20 * 0.05 * 0.5


@pytest.mark.parametrize("kw, err, match", [
    (dict(outer_loss=3), TypeError, "outer_loss must be a function"),
    (dict(inner_loss=None), TypeError, "inner_loss must be a function"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(inner_batch_size=1.5), TypeError, "inner_batch_size"),
    (dict(y_star="closed"), TypeError, "y_star must be a function"),
    (dict(y_star=lambda x: jnp.zeros(3)), ValueError, "y_star.* must return a point like y"),
    (dict(lower_smoothness=-1.0), ValueError, "lower_smoothness"),
    (dict(outer_loss=lambda x, y, ex: y), ValueError, "outer_loss must return a scalar"),
    (dict(inner_loss=lambda x, y, ex: y @ ex["zz"]), ValueError, r"inner_loss\(x, y, example\) failed"),
])
def test_bad_input_is_refused_with_a_clear_error(kw, err, match):
    (a, b), (av, bv) = _split()
    args = dict(outer_loss=outer, inner_loss=inner, batch_size=4)
    args.update(kw)
    with pytest.raises(err, match=f"FiniteSumBilevel: {match}"):
        so.FiniteSumBilevel(args.pop("outer_loss"), args.pop("inner_loss"), {"a": av, "b": bv},
                            {"a": a, "b": b}, jnp.asarray(0.0), jnp.zeros(10), **args)

"""The algorithm contract for the bilevel registry entries, run on each entry's own problem and
start (the shared tests/test_contract.py unpacks ``Entry`` as a pair and runs every algorithm on
QuadraticSaddle, which a bilevel algorithm refuses), plus StocBiO's one-step moments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.algorithms import REGISTRY

BILEVEL = ["aid", "perturbed-aid", "stocbio", "stocbio-ineon"]
DETERMINISTIC = {"aid"}  # consumes an unused normal; perturbed AID uses its noise only to kick


def _alg(name, scale=1.0):
    """The entry's algorithm with its real-valued hyperparameters scaled (integer ones, such as
    an interval or an iteration count, are kept)."""
    e = REGISTRY[name]
    kw = {k: v if isinstance(v, int) else v * scale for k, v in e.hyperparameters.items()}
    return e.factory(e.problem(), **kw), e


@pytest.mark.parametrize("name", BILEVEL)
@pytest.mark.slow
def test_jit_vmap_dtype_and_structure(name):
    alg, e = _alg(name)
    x0 = e.start(alg.problem)
    s0 = alg.init(x0)
    z = alg.noise.sample(jax.random.key(0), jnp.float32)
    a = alg.step(s0, z)
    b = jax.jit(lambda c, s, zz: c.step(s, zz))(alg, s0, z)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(s0)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(s0)):
        assert u.shape == v.shape and u.dtype == v.dtype
    keys = jax.random.split(jax.random.key(1), 8)
    states = jax.vmap(lambda k: alg.step(s0, alg.noise.sample(k, jnp.float32)))(keys)
    one = alg.step(s0, alg.noise.sample(keys[3], jnp.float32))
    for bt, leaf in zip(jax.tree_util.tree_leaves(states), jax.tree_util.tree_leaves(one)):
        np.testing.assert_allclose(bt[3], leaf, rtol=1e-5, atol=1e-6)
    if name not in DETERMINISTIC and name != "perturbed-aid":
        assert len(np.unique(np.asarray(states.x), axis=0)) == 8
    with jax.enable_x64(True):
        x64 = jnp.asarray(x0, jnp.float64)
        s = alg.step(alg.init(x64), alg.noise.sample(jax.random.key(0), jnp.float64))
        assert all(l.dtype == jnp.float64 for l in jax.tree_util.tree_leaves(s)
                   if jnp.issubdtype(l.dtype, jnp.floating))
    assert isinstance(alg.limit(), so.sde.AbstractSDE)
    np.testing.assert_allclose(alg.ode_limit().diffusion_matrix(x0), 0.0)


@pytest.mark.slow
def test_no_recompilation_across_hyperparameters():
    for name in BILEVEL:
        traces = []

        @jax.jit
        def run(alg, x0, z):
            traces.append(1)
            return alg.position(alg.step(alg.init(x0), z))

        for scale in (1.0, 0.5, 0.25):
            alg, e = _alg(name, scale)
            run(alg, e.start(alg.problem), alg.noise.sample(jax.random.key(0)))
        assert len(traces) == 1, f"{name} recompiled for new hyperparameter values"


@pytest.mark.slow
def test_stocbio_one_step_moments_from_the_exact_inner_solution():
    """From y = y*(x): E[Δx]/β = −∇Φ_Q(x) and Cov[Δx]/β² = M_Q C_F M_Qᵀ + G_y W G_yᵀ exactly
    (W: the covariance of one warm-started inner error, from the exact inner recursion)."""
    with jax.enable_x64(True):
        p = so.QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.3, sigma_g=0.3)
        alg = so.StocBiO(p, alpha=0.15, beta=0.01, D=4, Q=6)
        x = jnp.array([0.3, -0.5])
        s0 = alg.init(x, p.y_star(x))
        keys = jax.random.split(jax.random.key(3), 20000)
        dx = jax.jit(jax.vmap(lambda k: alg.step(s0, alg.noise.sample(k, jnp.float64)).x - x))(keys)
        dx = np.asarray(dx) / 0.01
        red = alg.reduced_problem()
        mean = -np.asarray(red.grad(x))
        from sde_opt.problems.bilevel import inner_error_covariances
        y, gy = red.inner_sensitivity(x)
        hq = np.asarray(so.problems.bilevel.neumann_inverse(p.lower_hessian(x, y), 0.15, 6))
        m = np.concatenate([np.eye(2), -np.asarray(p.lower_cross_matrix(x, y)) @ hq], 1)
        _, w, _, _ = inner_error_covariances(p, x, 0.15, 4)
        cov = np.asarray(m @ p.upper_grads_cov(x, y) @ m.T + gy @ w @ gy.T)
        se = np.sqrt(np.diag(cov) / dx.shape[0])
        assert np.all(np.abs(dx.mean(0) - mean) < 4 * se)
        emp = np.cov(dx.T)
        se_c = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / dx.shape[0])
        assert np.all(np.abs(emp - cov) < 4 * se_c)


def _problems():
    return {"quadratic": lambda: so.QuadraticBilevel(kappa=5.0, d_y=6, sigma_f=0.1, sigma_g=0.1),
            "softplus": lambda: so.SoftplusBilevel(sigma_f=0.1, sigma_g=0.1),
            "hyper-cleaning": lambda: so.HyperCleaning(n_train=8, n_val=8, dim=3, batch_size=4),
            "digits": lambda: so.HyperCleaning.digits(n_train=20, n_val=20, batch_size=4)}


def _through_simulate(name, algorithm):
    p = _problems()[name]()
    x0 = jnp.full(p.shape, 0.1, jnp.float32)
    alpha = 0.5 / p.lower_smoothness
    with jax.enable_x64(True):  # an eager float64 computation (JAX loops) on the same problem
        assert np.isfinite(float(p.objective(jnp.asarray(x0, jnp.float64))))
    alg = {"aid": lambda: so.AID(p, alpha, 0.05, D=3, N=2),
           "perturbed-aid": lambda: so.PerturbedAID(p, alpha, 0.05, radius=0.1, threshold=1.0,
                                                    interval=2, D=3, N=2),
           "stocbio": lambda: so.StocBiO(p, alpha, 0.05, D=3, Q=2),
           "stocbio-ineon": lambda: so.StocBiOINEON(p, alpha, 0.05, radius=0.01, step=0.1,
                                                    iterations=2, escape_step=0.1, threshold=1.0,
                                                    wait=1, D=3, Q=2)}[algorithm]()
    res = so.simulate(alg, x0, 0, n_paths=3, n_steps=4)
    assert res.final.dtype == jnp.float32 and res.final.shape == (3, *p.shape)
    assert np.all(np.isfinite(res.final)) and res.counts()["diverged"] == 0


def test_softplus_aid_runs_through_simulate():
    """Defect 2: ``simulate(AID(SoftplusBilevel(), …))`` crashed with RuntimeProgramInputMismatch
    (the constructor ran a JAX loop under ``jax.enable_x64``, which left float64 copies of the
    problem's arrays that a later float32 program reused)."""
    _through_simulate("softplus", "aid")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["quadratic", "softplus", "hyper-cleaning", "digits"])
@pytest.mark.parametrize("algorithm", ["aid", "perturbed-aid", "stocbio", "stocbio-ineon"])
def test_every_bilevel_problem_runs_through_simulate(name, algorithm):
    """Every bilevel problem runs every bilevel algorithm through the engine in float32, after a
    float64 computation (a theory function under ``jax.enable_x64``) on the same problem."""
    _through_simulate(name, algorithm)


@pytest.mark.slow
def test_stocbio_limit_diffusion_matches_monte_carlo_on_a_minibatch_problem():
    """Defect 1: StocBiO's limit on a minibatch problem. Its diffusion coefficient Σ_Φ(x) (the
    limit's B Bᵀ/β) against the Monte-Carlo long-run covariance of ĝ along the warm-started
    inner chain at a fixed x, K·Cov(mean of K estimates), on HyperCleaning (batch 4, D = 4,
    Q = 6): within 4 SE plus the exact finite-K correction of the inner part. The limit without
    the noise of the sampled Hessian- and Jacobian-vector products (what ``limit()`` gave before)
    is rejected."""
    from sde_opt.studies import _bilevel_measure as m

    p = so.HyperCleaning(n_train=12, n_val=12, dim=3, batch_size=4)
    alpha, K = 0.2 / p.lower_smoothness, 200
    alg = so.StocBiO(p, alpha, 0.01, D=4, Q=6)
    x = np.random.default_rng(0).standard_normal(12) * 0.5
    est, se = m.long_run_trace(m.frozen_hypergradients(alg, x, n_paths=1000, n_steps=K, burn=60,
                                                       seed=0), K)
    with jax.enable_x64(True):
        b = np.asarray(jax.jit(lambda z: alg.limit().diffusion_matrix(z))(jnp.asarray(x)))
    limit_trace = float(np.trace(b @ b.T)) / float(alg.beta)
    pred, finite_k = m.long_run_prediction(alg.reduced_problem(), x, K)
    assert limit_trace == pytest.approx(pred, rel=1e-6)
    assert abs(est - pred) <= 4 * se + finite_k, (est, se, pred)

    class WithoutHessianNoise(so.HyperCleaning):
        def hessian_samples(self, x, y):
            return None

    old = so.problems.ReducedHypergradient(
        WithoutHessianNoise(n_train=12, n_val=12, dim=3, batch_size=4), alpha, 4, 6)
    old_pred, _ = m.long_run_prediction(old, x, K)
    assert abs(est - old_pred) > 4 * se + finite_k + 0.5 * est, (est, old_pred)

"""RMSprop, Adam and SVAG with their SDEs (Malladi et al. 2022; Li, Malladi & Arora 2021): the regime
the limits are given in, bad input, hand-derived closed forms, and power — a wrong noise scale in
the SDE is rejected by the same checks the study uses."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.problems._base import AbstractProblem
from sde_opt.theory.adaptive import (
    adam_stationary_covariance,
    linear_scaling,
    one_step_excess,
    regime_numbers,
    rmsprop_stationary_covariance,
    square_root_scaling,
)
from sde_opt.validation import adaptive as va

QUAD = so.Quadratic([1.0, 4.0], noise_cov=25.0)          # σ = 5: Σ = I


class NoCovariance(AbstractProblem):
    """A problem whose oracle is fine but which does not define noise_cov."""

    geometry: so.Euclidean = eqx.field(static=True, default=so.Euclidean())

    @property
    def shape(self):
        return (2,)

    def objective(self, x):
        return 0.5 * jnp.sum(x * x)

    def stochastic_grad(self, x, noise):
        return x + noise


# ------------------------------------------------------------------------------ the regime

def test_a_limit_outside_the_papers_regime_names_the_failing_condition():
    with pytest.raises(ValueError, match=r"1 - beta1 <= eta fails \(1 - beta1 = 0.1 > eta = 0.001"):
        so.Adam(QUAD, 1e-3, beta1=0.9, beta2=0.9999).limit()
    with pytest.raises(ValueError, match=r"1 - beta2 <= eta fails"):
        so.Adam(QUAD, 0.01, beta1=0.9999, beta2=0.9).limit()
    with pytest.raises(ValueError, match=r"1 - beta <= eta fails"):
        so.RMSprop(QUAD, 0.01, beta=0.9).limit()
    with pytest.raises(ValueError, match=r"eps > 0 fails"):
        so.RMSprop(QUAD, 0.1, beta=0.99, eps=0.0).limit()
    with pytest.raises(ValueError, match=r"eps > 0 fails"):
        so.Adam(QUAD, 0.1, 0.99, 0.99, eps=0.0).ode_limit()
    so.RMSprop(QUAD, 0.1, beta=0.99, eps=0.0, u0=1.0).limit()      # u₀ > 0 makes P invertible


def test_a_problem_without_noise_covariance_is_refused_by_the_limit_only():
    alg = so.RMSprop(NoCovariance(), 0.1, beta=0.99, eps=1.0)
    so.simulate(alg, jnp.ones(2), 0, n_paths=4, n_steps=3)            # the chain runs
    with pytest.raises(ValueError, match=r"RMSprop.limit: .*NoCovariance has no noise covariance"):
        alg.limit()
    with pytest.raises(ValueError, match=r"Adam.limit: .*noise_cov"):
        so.Adam(NoCovariance(), 0.1, 0.99, 0.99, 1.0).limit()


@pytest.mark.parametrize("thunk, exc, fragments", [
    (lambda: so.RMSprop(QUAD, 0.1, beta=1.0), ValueError, ["RMSprop", "beta", "[0.0, 1.0)", "1.0"]),
    (lambda: so.RMSprop(QUAD, 0.1, beta=-0.1), ValueError, ["beta", "[0.0, 1.0)", "-0.1"]),
    (lambda: so.RMSprop(QUAD, 0.1, beta="0.9"), TypeError, ["beta", "real number", "'0.9'"]),
    (lambda: so.RMSprop(QUAD, 0.1, eps=-1e-8), ValueError, ["eps", "[0.0, inf)", "-1e-08"]),
    (lambda: so.RMSprop(QUAD, 0.0), ValueError, ["eta", "(0.0, inf)", "0.0"]),
    (lambda: so.RMSprop(QUAD, -0.1), ValueError, ["eta", "-0.1"]),
    (lambda: so.RMSprop(QUAD, 0.1, sigma=0.0), ValueError, ["sigma", "(0.0, inf)"]),
    (lambda: so.RMSprop(QUAD, 0.1, u0=-1.0), ValueError, ["u0", "[0.0, inf)", "-1.0"]),
    (lambda: so.Adam(QUAD, 0.1, beta1=1.0), ValueError, ["Adam", "beta1", "[0.0, 1.0)"]),
    (lambda: so.Adam(QUAD, 0.1, beta2=1.5), ValueError, ["Adam", "beta2", "1.5"]),
    (lambda: so.Adam(QUAD, 0.1, eps=-1.0), ValueError, ["Adam", "eps", "-1.0"]),
    (lambda: so.Adam(QUAD, [0.1, 0.2]), ValueError, ["eta", "scalar"]),
    (lambda: so.Adam(QUAD, 0.1, bias_correction="yes"), TypeError, ["bias_correction", "'yes'"]),
    (lambda: so.Adam(so.StreamingPCA([2.0, 1.0]), 0.1), ValueError, ["Adam", "Sphere", "Euclidean"]),
    (lambda: so.RMSprop(so.QuadraticGame(np.eye(1), np.eye(1), np.eye(1)), 0.1), TypeError,
     ["RMSprop", "game"]),
    (lambda: so.svag_sgd(QUAD, 0.1, ell=0.5), ValueError, ["svag_sgd", "ell", "[1.0, inf)", "0.5"]),
    (lambda: so.svag_rmsprop(QUAD, 0.1, 0.99, 1.0, ell=0.0), ValueError, ["svag_rmsprop", "ell"]),
    (lambda: so.algorithms.SVAGOracle(QUAD, 0.5), ValueError, ["SVAGOracle", "amplification"]),
    (lambda: square_root_scaling(0.0, eta=0.1, eps=1.0), ValueError, ["kappa", "(0.0, inf)"]),
    (lambda: square_root_scaling(200, eta=0.1, eps=1.0, beta1=0.99), ValueError,
     ["1 - beta1", "kappa = 200", "[0, 1)"]),
])
def test_bad_input(thunk, exc, fragments):
    with pytest.raises(exc) as e:
        thunk()
    for f in fragments:
        assert f.lower() in str(e.value).lower(), (f, str(e.value))


# --------------------------------------------------------------------- hand-derived forms

def test_stationary_covariances_match_the_one_dimensional_hand_solution():
    r"""1-D: dθ = −(h/P)θ dt − (σ₀√Σ/P) dW gives Var θ = σ₀²Σ/(2Ph); for Adam on (θ, m) the
    Lyapunov equations give b = 0, c = P c₁ h a and c = c₁σ₀²Σ/2, hence the same a."""
    h, c, sigma, s0, e0 = 3.0, 16.0, 2.0, 0.7, 0.4
    sig = c / sigma**2
    p = s0 * math.sqrt(sig) + e0
    want = s0**2 * sig / (2 * p * h)
    assert rmsprop_stationary_covariance([[h]], [[c]], sigma=sigma, sigma0=s0, eps0=e0)[0, 0] \
        == pytest.approx(want, rel=1e-10)
    full = adam_stationary_covariance([[h]], [[c]], sigma=sigma, sigma0=s0, eps0=e0, c1=2.5,
                                      full=True)
    assert full[0, 0] == pytest.approx(want, rel=1e-10)
    assert full[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert full[1, 1] == pytest.approx(2.5 * s0**2 * sig / 2, rel=1e-10)


def test_the_square_root_rule_keeps_the_sde_and_the_linear_rule_does_not():
    eta, eps, b1, b2, sigma = 0.01, 1e-3, 0.999, 0.9999, 1.0
    for kappa in (2.0, 8.0):
        sq = square_root_scaling(kappa, eta=eta, eps=eps, beta1=b1, beta2=b2)
        s = sigma / math.sqrt(kappa)                # the batch ×κ: σ → σ/√κ
        assert sq["eta"] * s == pytest.approx(eta * sigma)                        # σ₀
        assert sq["eps"] * sq["eta"] == pytest.approx(eps * eta)                  # ε₀
        for k in ("beta1", "beta2"):
            assert (1 - sq[k]) / sq["eta"] ** 2 == pytest.approx((1 - {"beta1": b1, "beta2": b2}[k])
                                                                 / eta**2)        # cᵢ
        lin = linear_scaling(kappa, eta=eta, eps=eps, beta1=b1, beta2=b2)
        assert lin["eta"] * s == pytest.approx(eta * sigma * math.sqrt(kappa))   # σ₀ moves


def test_svag_oracle_keeps_the_mean_and_amplifies_the_covariance():
    """Minibatch oracle (non-Gaussian): E g = ∇f and Cov g = L Σ (Monte Carlo, 4 SE)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 2)).astype(np.float32)
    y = rng.standard_normal(30).astype(np.float32)
    fs = so.FiniteSum(lambda p, ex: 0.5 * (ex["x"] @ p - ex["y"]) ** 2, {"x": x, "y": y},
                      jnp.zeros(2), batch_size=3)
    theta = jnp.array([0.3, -0.2])
    for amp in (1.0, 9.0):
        oracle = so.algorithms.SVAGOracle(fs, amp)
        keys = jax.random.split(jax.random.key(1), 100_000)
        g = np.asarray(jax.jit(jax.vmap(lambda k: oracle.stochastic_grad(
            theta, oracle.noise.sample(k))))(keys), np.float64)
        cov = np.asarray(fs.grad_noise_cov(theta), np.float64) * amp
        se = np.sqrt(np.diag(cov) / g.shape[0])
        assert np.all(np.abs(g.mean(0) - np.asarray(fs.grad(theta))) <= 4 * se)
        emp = np.cov(g, rowvar=False)
        se_c = np.sqrt((np.outer(np.diag(emp), np.diag(emp)) + emp**2) / g.shape[0])
        assert np.all(np.abs(emp - cov) <= 4 * se_c + 1e-9), (amp, emp, cov)
        np.testing.assert_allclose(oracle.noise_cov(theta), cov, rtol=1e-5)


def test_svag_chains_have_the_sde_of_their_base_for_every_ell():
    theta = jnp.array([0.4, -0.7])
    sme = so.GradientSDE(QUAD, 1.0, math.sqrt(0.2))
    for ell in (1.0, 3.0):
        lim = so.svag_sgd(QUAD, 0.2, ell).limit()
        np.testing.assert_allclose(lim.drift(theta), sme.drift(theta), rtol=1e-6)
        b, b0 = lim.diffusion_matrix(theta), sme.diffusion_matrix(theta)
        np.testing.assert_allclose(b @ b.T, b0 @ b0.T, rtol=1e-5)
    base = so.RMSprop(QUAD, 0.1, 0.99, 2.0, sigma=5.0).limit()
    state = so.algorithms.RMSpropState(theta, jnp.array([0.5, 1.5]))
    for ell in (1.0, 3.0):
        lim = so.svag_rmsprop(QUAD, 0.1, 0.99, 2.0, ell, sigma=5.0).limit()
        # c₂ = (1 − β)/η² from β stored in float32: 1 − β = 1.1e-3 at ℓ = 3 keeps ~4 digits
        for a, b in zip(jax.tree_util.tree_leaves(lim.drift(state)),
                        jax.tree_util.tree_leaves(base.drift(state)), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-7)
        bl, bb = lim.diffusion_matrix(state).theta, base.diffusion_matrix(state).theta
        np.testing.assert_allclose(bl @ bl.T, bb @ bb.T, rtol=1e-5)


def test_the_limit_starts_where_the_chain_starts():
    x0 = jnp.array([0.5, -0.5])
    for alg in (so.RMSprop(QUAD, 0.1, 0.99, 1.0, sigma=5.0, u0=0.7),
                so.Adam(QUAD, 0.1, 0.99, 0.99, 1.0, sigma=5.0, u0=0.7)):
        em = so.EulerMaruyama(alg.limit(), alg.dt)
        s = em.init(x0)
        s = s.x if isinstance(s, so.sde.TimedState) else s
        view = getattr(alg, "limit_state", lambda z: z)
        for a, b in zip(jax.tree_util.tree_leaves(view(alg.init(x0))),
                        jax.tree_util.tree_leaves(s), strict=True):
            np.testing.assert_array_equal(a, b)
        assert float(alg.dt) == pytest.approx(0.01)


def test_regime_numbers_and_the_excess_refusals():
    alg = so.RMSprop(QUAD, 0.1, 0.99, 1.0, sigma=5.0)
    r = regime_numbers(alg, jnp.array([1.0, 1.0]))        # ∇f = (1, 4), Σ_prob = 25 I
    assert r["noise_dominance"] == pytest.approx(16 / 25)
    assert r["gradient_noise_scale"] == pytest.approx(50 / 17)
    assert r["c_eta"]["beta"] == pytest.approx(0.1, rel=1e-5)
    with pytest.raises(ValueError, match="u > 0"):
        one_step_excess(alg, alg.init(jnp.ones(2)))
    adam = so.Adam(QUAD, 0.1, 0.99, 0.99, 1.0, sigma=5.0, u0=1.0)
    with pytest.raises(ValueError, match="bias_correction=False"):
        one_step_excess(adam, adam.init(jnp.ones(2)))


# ------------------------------------------------------------------------------ power

def _rms_state():
    return so.algorithms.RMSpropState(jnp.array([0.5, -0.3]), jnp.full(2, 0.6))


def test_one_step_check_passes_and_rejects_a_wrong_noise_scale():
    alg = va.rmsprop_family()(0.1)
    good = va.one_step(alg, _rms_state(), n_draws=100_000, seed=3)["verdicts"]
    assert all(v.verdict == "pass" for v in good.values()), [v for v in good.values()]
    bad = va.one_step(alg, _rms_state(), n_draws=100_000, seed=3, noise_factor=1.2)["verdicts"]
    assert bad["trace"].verdict == "fail", bad["trace"]


@pytest.mark.slow
def test_bias_corrected_adam_approaches_its_time_dependent_sde():
    """Adam with bias correction against EM of its time-dependent SDE (same normals): the paired
    difference of E‖θ_T‖² shrinks faster than η (ratio > 2.5 when η halves)."""
    from sde_opt.studies.adaptive_sde import X0, _phi, adam_at

    r = va.weak_error(adam_at, (0.2, 0.1), T=1.0, n_paths=2000, seed=11, phi=_phi, x0=X0)
    big, small = sorted(r["rows"], key=lambda row: -row["eta"])
    assert abs(big["diff"]) / abs(small["diff"]) > 2.5, r["rows"]
    assert abs(small["diff"]) > 4 * small["se"]                   # the difference is resolved


@pytest.mark.slow
def test_weak_order_check_rejects_a_wrong_noise_scale():
    make = va.rmsprop_family()
    kw = dict(T=1.0, n_paths=4000, seed=1, phi=va._phi, x0=np.array([2.0, 1.0], np.float32))
    good = va.weak_order_verdict(va.weak_error(make, (0.2, 0.1, 0.05), **kw), "RMSprop")
    assert good.verdict == "pass", good
    bad = va.weak_order_verdict(va.weak_error(make, (0.2, 0.1, 0.05), noise_factor=1.2, **kw),
                                "RMSprop, noise ×1.2")
    assert bad.verdict == "fail", bad


@pytest.mark.slow
def test_stationary_check_rejects_a_wrong_noise_scale():
    eta, sigma = 0.1, 5.0
    h, c = np.diag([1.0, 4.0]), sigma**2 * np.eye(2)
    alg = so.Adam(so.Quadratic([1.0, 4.0], noise_cov=sigma**2), eta, 1 - 2 * eta**2,
                  1 - eta**2, 0.5 / eta, sigma=sigma)
    kw = dict(n_paths=400, t_burn=5.0, t_total=20.0, seed=5)
    good = va.stationary(alg, h, c, **kw)["verdicts"]
    assert all(v.verdict == "pass" for v in good), good
    bad = va.stationary(alg, h, c, noise_factor=1.2, **kw)["verdicts"]
    assert bad[0].verdict == "fail" and bad[-1].verdict == "fail", bad


def test_the_scaling_rule_headline_passes_deviates_or_fails_by_where_the_rule_breaks():
    from sde_opt.studies.adaptive_sde import Z, scaling_verdict

    def rows(zs):  # κ = 2, 4, 8 inside the validity condition, 16 outside
        out = []
        for kappa, z in zip((2, 4, 8, 16), zs):
            out.append({"rule": "sqrt", "kappa": kappa, "max_abs_z": z, "holds": z <= Z,
                        "inside_validity": kappa <= 8, "kappa_b_over_bnoise": kappa / 160,
                        "worst_epoch": 0.5})
        return {"rows": out, "b_noise_min": 160.0}

    assert scaling_verdict(rows([1.0, 2.0, 3.0, 9.0]))["verdict"] == "pass"  # breaks outside only
    dev = scaling_verdict(rows([1.0, 2.0, 7.3, 10.0]))
    assert dev["verdict"] == "deviation" and dev["holds_up_to"] == 4
    assert dev["holds_up_to_ratio"] == 4 / 160
    assert scaling_verdict(rows([6.0, 7.0, 8.0, 9.0]))["verdict"] == "fail"  # nothing survives

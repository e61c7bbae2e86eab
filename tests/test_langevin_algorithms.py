"""SGLD, SGHMC1, SGHMC2 and the MSGD ↔ SGHMC mapping (issue 4)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import sde_opt as so
from sde_opt.algorithms import REGISTRY, msgd_effective_temperature, sghmc_as_msgd
from sde_opt.engine import trajectory
from sde_opt.noise import Joint, StandardNormal
from sde_opt.stats import iid_mean
from sde_opt.theory.langevin import chain_stationary_covariance

LANGEVIN = ["sgld", "sghmc1", "sghmc2"]


def _x2(x):
    return x[0] ** 2


@pytest.mark.parametrize("name", LANGEVIN)
def test_registered_with_example_kwargs(name):
    factory, kwargs = REGISTRY[name][:2]
    alg = factory(so.DoubleWell(noise_std=0.3), **kwargs)
    assert float(alg.dt) == pytest.approx(kwargs["eta"])
    assert isinstance(alg.noise, StandardNormal)        # Gaussian oracle: fused fast path


@pytest.mark.parametrize("name", LANGEVIN)
@pytest.mark.slow
def test_contract_jit_vmap_dtype_no_recompile(name):
    factory, kwargs = REGISTRY[name][:2]
    p = so.DoubleWell2D(a=1.0, noise_std=0.5)
    alg = factory(p, **kwargs)
    x0 = jnp.array([-1.0, 0.2])
    s = alg.init(x0)
    z = alg.noise.sample(jr.key(0), jnp.float32)
    eager = alg.step(s, z)
    traces = []

    @eqx.filter_jit
    def step(a, s, z):
        traces.append(1)
        return a.step(s, z)

    np.testing.assert_allclose(np.asarray(step(alg, s, z)), np.asarray(eager), rtol=1e-6)
    other = factory(p, **{k: v * 1.5 for k, v in kwargs.items()})
    step(other, s, z)
    assert len(traces) == 1, "new hyperparameters must not recompile"
    assert eager.dtype == jnp.float32 and alg.position(eager).shape == (2,)
    keys = jr.split(jr.key(1), 5)
    zs = jax.vmap(lambda k: alg.noise.sample(k, jnp.float32))(keys)
    out = jax.vmap(alg.step, in_axes=(None, 0))(s, zs)
    assert out.shape == (5, *s.shape)
    with jax.enable_x64(True):
        s64 = alg.init(x0.astype(jnp.float64))
        z64 = alg.noise.sample(jr.key(0), jnp.float64)
        assert alg.step(s64, z64).dtype == jnp.float64


@pytest.mark.slow
def test_algorithms_equal_their_schemes_pathwise():
    """With a Gaussian additive oracle, SGLD/SGHMC1 are Euler–Maruyama of their own limits driven
    by the same draws; with exact gradients SGHMC2 is the exact-OU scheme."""
    with jax.enable_x64(True):
        p = so.DoubleWell(tilt=0.1, noise_std=0.3)
        x0 = jnp.full((4, 1), -0.5)
        z = jr.normal(jr.key(0), (4, 60, 2))
        for alg in (so.SGLD(p, 0.05, 5.0), so.SGHMC1(p, 0.05, 1.3, 5.0)):
            a = trajectory(alg, x0, z)
            b = trajectory(so.EulerMaruyama(alg.limit(), alg.dt), x0, z)
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-12)
        exact = so.DoubleWell(tilt=0.1)
        alg = so.SGHMC2(exact, 0.05, 1.3, 5.0)
        z3 = jr.normal(jr.key(1), (4, 60, 3))
        a = trajectory(alg, x0, z3)
        b = trajectory(so.ExactOU(so.UnderdampedLangevin(exact, 1.3, 5.0), 0.05), x0,
                       z3[..., 1:].reshape(4, 60, 2, 1))
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-12)


@pytest.mark.slow
def test_sghmc2_update_by_hand():
    with jax.enable_x64(True):
        p = so.Quadratic([2.0], noise_cov=0.25)
        eta, g, beta = 0.3, 0.8, 4.0
        alg = so.SGHMC2(p, eta, g, beta)
        x, v, zo, z1, z2 = 0.7, -0.4, 0.9, -1.1, 0.6
        out = alg.step(jnp.array([[x], [v]]), jnp.array([zo, z1, z2]))
        grad = 2.0 * x + 0.5 * zo
        e = math.exp(-g * eta)
        psi1, psi2 = (1 - e) / g, (g * eta + e - 1) / g**2
        c00 = (1 - math.exp(-2 * g * eta)) / (2 * g)
        c01 = (1 - e) ** 2 / (2 * g**2)
        c11 = (eta - 2 * (1 - e) / g + (1 - math.exp(-2 * g * eta)) / (2 * g)) / g**2
        l00 = math.sqrt(c00)
        l10 = c01 / l00
        l11 = math.sqrt(c11 - l10**2)
        amp = math.sqrt(2 * g / beta)
        v_new = e * v - psi1 * grad + amp * l00 * z1
        x_new = x + psi1 * v - psi2 * grad + amp * (l10 * z1 + l11 * z2)
        np.testing.assert_allclose(np.asarray(out)[:, 0], [x_new, v_new], rtol=1e-12)


def test_sghmc1_explicit_and_semi_implicit_by_hand():
    p = so.Quadratic([1.0])
    x, v, z = 0.5, 0.2, 1.3
    for semi in (False, True):
        alg = so.SGHMC1(p, 0.1, 2.0, 8.0, semi_implicit=semi)
        out = np.asarray(alg.step(jnp.array([[x], [v]]), jnp.array([0.0, z])))[:, 0]
        v_new = v - 0.1 * (2.0 * v + x) + math.sqrt(2 * 2.0 * 0.1 / 8.0) * z
        x_new = x + 0.1 * (v_new if semi else v)
        np.testing.assert_allclose(out, [x_new, v_new], rtol=1e-6)


@pytest.mark.slow
def test_minibatch_oracle_uses_joint_noise_and_runs_in_the_engine():
    p = so.RobustRegression.generate(n=32, batch_size=4)
    for alg in (so.SGLD(p, 0.01, 50.0), so.SGHMC1(p, 0.05, 1.0, 50.0),
                so.SGHMC2(p, 0.05, 1.0, 50.0)):
        assert isinstance(alg.noise, Joint)
        r = so.simulate(alg, np.array([-2.0, 0.0], np.float32), 0, n_paths=8, n_steps=20)
        assert r.counts()["censored"] == 8 and np.all(np.isfinite(r.final))


@pytest.mark.parametrize("make, message", [
    (lambda p: so.SGLD(p, 0.0, 1.0), "SGLD: eta must lie in (0.0, inf); got 0.0"),
    (lambda p: so.SGLD(p, 0.1, 0.0), "SGLD: beta must lie in (0.0, inf]; got 0.0"),
    (lambda p: so.SGHMC1(p, -0.1, 1.0, 1.0), "SGHMC1: eta must lie in (0.0, inf); got -0.1"),
    (lambda p: so.SGHMC1(p, 0.1, 0.0, 1.0), "SGHMC1: gamma must lie in (0.0, inf); got 0.0"),
    (lambda p: so.SGHMC1(p, 0.1, 1.0, -3.0), "SGHMC1: beta must lie in (0.0, inf]; got -3.0"),
    (lambda p: so.SGHMC2(p, 0.0, 1.0, 1.0), "SGHMC2: eta must lie in (0.0, inf); got 0.0"),
    (lambda p: so.SGHMC2(p, 0.1, -1.0, 1.0), "SGHMC2: gamma must lie in (0.0, inf); got -1.0"),
    (lambda p: so.SGHMC2(p, 0.1, 1.0, 0.0), "SGHMC2: beta must lie in (0.0, inf]; got 0.0"),
])
def test_bad_hyperparameters_name_parameter_range_and_value(make, message):
    esc = message
    for ch in "()[].":
        esc = esc.replace(ch, "\\" + ch)
    with pytest.raises(ValueError, match=esc):
        make(so.DoubleWell())


def test_beta_infinity_is_allowed_and_injects_no_noise():
    p = so.Quadratic([1.0])
    alg = so.SGLD(p, 0.1, math.inf)
    out = alg.step(jnp.array([1.0]), jnp.array([0.0, 5.0]))
    assert float(out[0]) == pytest.approx(0.9)


def test_langevin_algorithms_reject_spheres():
    with pytest.raises(ValueError, match="SGHMC2: problem must live on ℝᵈ .Langevin dynamics are "
                       "implemented on ℝᵈ only.; got a problem on Sphere"):
        so.SGHMC2(so.StreamingPCA([3.0, 2.0, 1.0]), 0.1, 1.0, 1.0)


@pytest.mark.slow
def test_limits_and_ode_limits():
    p = so.Quadratic([1.0], noise_cov=0.5)
    alg = so.SGHMC1(p, 0.04, 2.0, 5.0)
    lim = alg.limit()
    assert isinstance(lim, so.UnderdampedLangevin)
    B = lim.diffusion_matrix(jnp.zeros((2, 1)))
    assert float(jnp.sum(B[1, 0] ** 2)) == pytest.approx(2 * 2.0 / 5.0 + 0.04 * 0.5, rel=1e-6)
    assert float(jnp.sum(B[0, 0] ** 2)) == 0.0
    ode = alg.ode_limit()
    assert float(jnp.sum(ode.diffusion_matrix(jnp.zeros((2, 1))) ** 2)) == 0.0
    sgld = so.SGLD(p, 0.04, 5.0)
    B = sgld.limit().diffusion_matrix(jnp.zeros(1))
    assert float(jnp.sum(B**2)) == pytest.approx(2 / 5.0 + 0.04 * 0.5, rel=1e-6)


@pytest.mark.slow
def test_msgd_maps_onto_semi_implicit_sghmc_iterate_by_iterate():
    with jax.enable_x64(True):
        p = so.DoubleWell2D(a=1.0, noise_std=0.7)
        msgd = so.MomentumSGD(p, 0.01, 0.9)
        sghmc = so.msgd_as_sghmc(msgd)
        h = math.sqrt(0.01)
        assert float(sghmc.eta) == pytest.approx(h)
        assert float(sghmc.gamma) == pytest.approx(0.1 / h)
        assert sghmc.semi_implicit and math.isinf(float(sghmc.beta))
        x0 = jnp.tile(jnp.array([[-1.0, 0.3]]), (3, 1))
        z = jr.normal(jr.key(4), (3, 200, 2))
        zs = jnp.concatenate([z, jr.normal(jr.key(5), (3, 200, 2))], axis=-1)
        xm = trajectory(msgd, x0, z)
        xs = trajectory(sghmc, x0, zs)
        np.testing.assert_allclose(np.asarray(xm), np.asarray(xs), atol=1e-12)
        # and the displacement m_k equals h·v_k
        sm, ss = msgd.init(x0[0]), sghmc.init(x0[0])
        for k in range(20):
            sm, ss = msgd.step(sm, z[0, k]), sghmc.step(ss, zs[0, k])
        np.testing.assert_allclose(np.asarray(sm.m), h * np.asarray(ss[1]), atol=1e-12)
        back = sghmc_as_msgd(sghmc)
        assert float(back.eta) == pytest.approx(0.01) and float(back.mu) == pytest.approx(0.9)


def test_msgd_mapping_errors():
    with pytest.raises(ValueError, match="ℝᵈ only"):
        so.msgd_as_sghmc(so.MomentumSGD(so.StreamingPCA([3.0, 2.0, 1.0]), 0.01, 0.9))
    with pytest.raises(ValueError, match="sghmc must have beta = inf"):
        sghmc_as_msgd(so.SGHMC1(so.DoubleWell(), 0.1, 1.0, 2.0, semi_implicit=True))
    with pytest.raises(ValueError, match="sghmc must be semi-implicit"):
        sghmc_as_msgd(so.SGHMC1(so.DoubleWell(), 0.1, 1.0, math.inf))


@pytest.mark.slow
def test_msgd_stationary_variance_is_sghmc_at_the_effective_temperature():
    """Heavy ball on ½λx² with gradient noise c (validation-theory §2): Var x = ηc(1+μ)/(λD),
    D = (1−μ)(2(1+μ) − ηλ). Semi-implicit SGHMC with exact gradients at 1/β_eff = ηc/(2(1−μ))
    has exactly that variance (same law), and both tend to the underdamped-Langevin value
    ηc/(2(1−μ)λ) as η → 0."""
    lam, c, eta, mu = 2.0, 0.5, 0.0625, 0.75
    with jax.enable_x64(True):
        msgd = so.MomentumSGD(so.Quadratic([lam], noise_cov=c), eta, mu)
        temp = float(msgd_effective_temperature(msgd, jnp.zeros(1))[0, 0])
        assert temp == pytest.approx(eta * c / (2 * (1 - mu)))
        sghmc = so.msgd_as_sghmc(so.MomentumSGD(so.Quadratic([lam]), eta, mu), beta=1 / temp)
        _, P = chain_stationary_covariance(sghmc, np.zeros(1))
    D = (1 - mu) * (2 * (1 + mu) - eta * lam)
    closed = eta * c * (1 + mu) / (lam * D)
    assert P[0, 0] == pytest.approx(closed, rel=1e-10)
    assert P[1, 1] * math.sqrt(eta) ** 2 == pytest.approx(2 * c * eta**2 / D, rel=1e-10)
    continuous = eta * c / (2 * (1 - mu) * lam)
    assert abs(closed - continuous) / continuous == pytest.approx(
        1 / (1 - eta * lam / (2 * (1 + mu))) - 1, rel=1e-10)
    # Monte Carlo of MSGD itself
    z = jr.normal(jr.key(9), (2048, 1200, 1))
    xs = trajectory(msgd, jnp.zeros((2048, 1)), z, stride=4)[:, 50:, 0]
    e = iid_mean(np.asarray(xs**2).mean(axis=1))
    assert abs(e.value - closed) < 4 * e.se


def _hand_x2(name, oracle_var):
    """Stationary ⟨x²⟩ from the hand-derived one-step matrices (validation/_linear_references.py)
    of SGLD(η=0.5), SGHMC1(η=0.25) and SGHMC2(η=0.5) on U = x²/2, γ = 1, β = 2."""
    from sde_opt.validation import _linear_references as ref

    M, Q = {"SGLD": lambda: ref.sgld(1.0, 0.5, 2.0, oracle_var),
            "SGHMC1": lambda: ref.sghmc1(1.0, 0.25, 1.0, 2.0, oracle_var),
            "SGHMC2": lambda: ref.sghmc2(1.0, 0.5, 1.0, 2.0, oracle_var)}[name]()
    return ref.stationary_covariance(M, Q)[0, 0]


@pytest.mark.parametrize("name, make", [
    ("SGLD", lambda p: so.SGLD(p, 0.5, 2.0)),
    ("SGHMC1", lambda p: so.SGHMC1(p, 0.25, 1.0, 2.0)),
    ("SGHMC2", lambda p: so.SGHMC2(p, 0.5, 1.0, 2.0)),
])
@pytest.mark.slow
def test_noisy_oracle_stationary_variance_matches_lyapunov(name, make):
    """Gaussian oracle (σ² = 1) + injected noise on U = x²/2: exact discrete ⟨x²⟩ (hand-derived
    one-step matrices, not the chain's own linearization) by Monte Carlo, and it differs from both
    the Gibbs value 1/β and the value without oracle noise."""
    alg = make(so.Quadratic([1.0], noise_cov=1.0))
    p, p0 = _hand_x2(name, 1.0), _hand_x2(name, 0.0)
    r = so.simulate(alg, np.zeros(1, np.float32), 7, n_paths=2048, n_steps=800, stride=4,
                    observables={"x2": _x2})
    e = iid_mean(r.observables["x2"][:, r.save_steps > 200].mean(axis=1))
    assert abs(e.value - p) < 4 * e.se
    assert abs(p - p0) > 10 * e.se and abs(p - 0.5) > 10 * e.se

"""Langevin SDEs and their schemes: exact-OU coefficients, splittings, discrete stationary laws."""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import sde_opt as so
from sde_opt.engine import coarsen_normals, trajectory
from sde_opt.sde.exact_ou import (
    exact_ou_coefficients,
    exact_ou_covariance,
    exact_ou_covariance_quadrature,
)
from sde_opt.stats import iid_mean
from sde_opt.stats.rates import loglog_slope
from sde_opt.theory.langevin import chain_linearization, chain_stationary_covariance

SCHEMES = [so.EulerMaruyama, so.ExactOU, so.BAOAB, so.OBABO]


@pytest.mark.parametrize("gamma, h", [(1.0, 0.1), (3.0, 0.5), (0.2, 2.0), (10.0, 2.0),
                                      (1e-3, 0.01), (0.7, 0.7)])
def test_exact_ou_covariance_matches_quadrature(gamma, h):
    with jax.enable_x64(True):
        c00, c01, c11 = (float(c) for c in exact_ou_covariance(gamma, h))
    q = exact_ou_covariance_quadrature(gamma, h)
    np.testing.assert_allclose([c00, c01, c11], [q[0, 0], q[0, 1], q[1, 1]], rtol=1e-9)


@pytest.mark.parametrize("u", [1e-7, 1e-4, 1e-2, 0.3, 0.499, 0.501, 2.0, 30.0])
def test_exact_ou_float32_has_no_cancellation(u):
    """C₁₁'s closed form cancels three orders in γh; the series keeps float32 at ~1e-6."""
    with jax.enable_x64(True):
        ref = [float(c) for c in exact_ou_covariance(jnp.float64(u), jnp.float64(1.0))]
        c64 = exact_ou_coefficients(jnp.float64(u), jnp.float64(1.0))
    got = [float(c) for c in exact_ou_covariance(jnp.float32(u), jnp.float32(1.0))]
    np.testing.assert_allclose(got, ref, rtol=2e-6)
    c32 = exact_ou_coefficients(jnp.float32(u), jnp.float32(1.0))
    for a, b in zip(c32, c64, strict=True):
        assert float(a) == pytest.approx(float(b), rel=3e-6)
    # Cholesky factor reproduces C
    l00, l10, l11 = float(c64.l00), float(c64.l10), float(c64.l11)
    np.testing.assert_allclose([l00**2, l00 * l10, l10**2 + l11**2], ref, rtol=1e-12)


def test_exact_ou_small_friction_limit():
    """γh → 0: ψ₀ → 1, ψ₁ → h, ψ₂ → h²/2 and C(h) → [[h, h²/2], [h²/2, h³/3]] (free particle)."""
    with jax.enable_x64(True):
        h = 0.3
        c = exact_ou_coefficients(1e-9, h)
        cov = exact_ou_covariance(1e-9, h)
    np.testing.assert_allclose([float(c.psi0), float(c.psi1), float(c.psi2)], [1, h, h**2 / 2],
                               rtol=1e-8)
    np.testing.assert_allclose([float(x) for x in cov], [h, h**2 / 2, h**3 / 3], rtol=1e-8)


@pytest.mark.slow
def test_em_on_underdamped_langevin_is_the_explicit_euler_matrix():
    h, g, w2 = 0.2, 0.7, 1.5
    sde = so.UnderdampedLangevin(so.Quadratic([w2]), g, 2.0)
    lin = chain_linearization(so.EulerMaruyama(sde, h), np.zeros(1))
    np.testing.assert_allclose(lin.M, [[1, h], [-h * w2, 1 - g * h]], atol=1e-7)
    np.testing.assert_allclose(lin.N, [[0.0], [math.sqrt(2 * g * h / 2.0)]], atol=1e-7)


@pytest.mark.parametrize("h", [0.1, 0.8, 1.9])
@pytest.mark.slow
def test_splitting_table_exact_marginals(h):
    """validation-theory §5: BAOAB's ⟨x²⟩ and OBABO's ⟨v²⟩ are exact for every stable h."""
    beta, w2 = 2.0, 1.0
    with jax.enable_x64(True):  # hyperparameters stored in float64 (h = 0.8 is not a float32)
        sde = so.UnderdampedLangevin(so.Quadratic([w2]), 1.0, beta)
        _, pb = chain_stationary_covariance(so.BAOAB(sde, h), np.zeros(1))
        _, po = chain_stationary_covariance(so.OBABO(sde, h), np.zeros(1))
    assert pb[0, 0] == pytest.approx(1 / (beta * w2), rel=1e-10)
    assert po[1, 1] == pytest.approx(1 / beta, rel=1e-10)
    assert pb[1, 1] < 1 / beta and po[0, 0] > 1 / (beta * w2)
    assert abs(pb[0, 1]) < 1e-12 and abs(po[0, 1]) < 1e-12
    # BAOAB ⟨v²⟩ bias is O(h²): (1/β)(1 − h²ω²/4) exactly for this scheme
    assert pb[1, 1] == pytest.approx((1 - h**2 * w2 / 4) / beta, rel=1e-10)


def _hand_reference(cls, w2, gamma, beta, h):
    """Independent reference: the scheme's one-step matrices derived by hand from its docstring
    (validation/_linear_references.py), not read off chain.step."""
    from sde_opt.validation import _linear_references as ref

    make = {so.EulerMaruyama: ref.em_underdamped, so.ExactOU: ref.exact_ou, so.BAOAB: ref.baoab,
            so.OBABO: ref.obabo}[cls]
    return ref.stationary_covariance(*make(w2, gamma, beta, h))


@pytest.mark.parametrize("cls", SCHEMES)
@pytest.mark.slow
def test_stationary_moments_match_discrete_lyapunov(cls):
    """Monte Carlo second moments of each scheme on U = x²/2 (h = 0.5, far from continuous)
    against the stationary law of the hand-derived one-step matrices."""
    sde = so.UnderdampedLangevin(so.Quadratic([1.0]), 1.0, 2.0)
    chain = cls(sde, 0.5)
    P = _hand_reference(cls, 1.0, 1.0, 2.0, 0.5)
    r = so.simulate(so.PhaseSpace(chain), np.zeros((1024, 2, 1), np.float32), 5, n_paths=1024,
                    n_steps=600, stride=4,
                    observables={"xx": lambda s: s[0, 0] ** 2, "vv": lambda s: s[1, 0] ** 2})
    sel = r.save_steps > 100
    for key, (i, j) in (("xx", (0, 0)), ("vv", (1, 1))):
        e = iid_mean(r.observables[key][:, sel].mean(axis=1))
        assert abs(e.value - P[i, j]) < 4 * e.se, (cls.__name__, key, e, P[i, j])
    # the continuous value 1/2 is many SEs away for the biased marginals
    if cls in (so.EulerMaruyama, so.ExactOU):
        assert abs(P[0, 0] - 0.5) > 0.1


@pytest.mark.slow
def test_schemes_share_the_limit_pathwise():
    """From one Brownian path, every scheme's state at T approaches the same reference (strong
    convergence to one solution), with error ratios ≈ 2 per halving (order 1)."""
    p = so.DoubleWell(tilt=0.1)
    sde = so.UnderdampedLangevin(p, 1.0, 2.0)
    with jax.enable_x64(True):
        z = jr.normal(jr.key(3), (64, 1024, 2, 1), jnp.float64)
        s0 = jnp.broadcast_to(jnp.array([[-0.5], [0.0]]), (64, 2, 1))
        ref = trajectory(so.PhaseSpace(so.BAOAB(sde, 1 / 1024)), s0, z[:, :, 0])[:, -1]
        for cls in SCHEMES:
            errs = []
            for f in (64, 32, 16):
                zc = coarsen_normals(z, f)
                ch = cls(sde, f / 1024)
                zc = zc if len(ch.noise.shape) == 2 else zc[:, :, 0]
                end = trajectory(so.PhaseSpace(ch), s0, zc)[:, -1]
                errs.append(np.asarray(jnp.sqrt(jnp.sum((end - ref) ** 2, axis=(1, 2)))))
            fit = loglog_slope([64 / 1024, 32 / 1024, 16 / 1024], np.array(errs))
            assert 0.75 < fit.slope < 1.25, (cls.__name__, fit)


def test_scheme_metadata_and_state_layout():
    sde = so.UnderdampedLangevin(so.DoubleWell(), 1.0, 3.0)
    for cls in SCHEMES:
        ch = cls(sde, 0.1)
        s = ch.init(jnp.array([0.4]))
        assert s.shape == (2, 1) and float(s[0, 0]) == pytest.approx(0.4) and float(s[1, 0]) == 0
        assert float(ch.position(s)[0]) == pytest.approx(0.4)
        assert cls.strong_order in (0.5, 1.0) and cls.weak_order in (1.0, 2.0)
    assert so.BAOAB.weak_order == 2.0 and so.OBABO.weak_order == 2.0
    assert so.ExactOU.strong_order == 1.0 and so.ExactOU.weak_order == 1.0
    assert so.BAOAB(sde, 0.1).noise.shape == (1,)
    assert so.OBABO(sde, 0.1).noise.shape == (2, 1) and so.ExactOU(sde, 0.1).noise.shape == (2, 1)


@pytest.mark.slow
def test_langevin_sde_diffusion_includes_gradient_noise():
    p = so.Quadratic([1.0, 2.0], noise_cov=np.diag([0.5, 2.0]))
    eta, gamma, beta = 0.04, 1.5, 4.0
    ud = so.UnderdampedLangevin(p, gamma, beta, grad_noise_scale=math.sqrt(eta))
    x = jnp.zeros(2)
    B = jax.jacfwd(lambda z: ud.velocity_diffusion(x, z))(jnp.zeros(ud.noise_shape))
    np.testing.assert_allclose(np.asarray(B @ B.T), np.diag(2 * gamma / beta + eta * np.array(
        [0.5, 2.0])), rtol=1e-6)
    od = so.OverdampedLangevin(p, beta, grad_noise_scale=math.sqrt(eta))
    B = od.diffusion_matrix(x)
    np.testing.assert_allclose(np.asarray(B @ B.T), np.diag(2 / beta + eta * np.array(
        [0.5, 2.0])), rtol=1e-6)
    assert so.OverdampedLangevin(p, beta).noise_shape == (2,)
    assert od.noise_shape == (4,)


@pytest.mark.parametrize("make, message", [
    (lambda p: so.UnderdampedLangevin(p, 0.0, 1.0),
     "UnderdampedLangevin: gamma must lie in (0.0, inf); got 0.0"),
    (lambda p: so.UnderdampedLangevin(p, 1.0, -2.0),
     "UnderdampedLangevin: beta must lie in (0.0, inf]; got -2.0"),
    (lambda p: so.OverdampedLangevin(p, 0.0), "OverdampedLangevin: beta must lie in (0.0, inf]"),
    (lambda p: so.BAOAB(so.UnderdampedLangevin(p), 0.0), "BAOAB: dt must lie in (0.0, inf)"),
    (lambda p: so.OBABO(so.UnderdampedLangevin(p), -1.0), "OBABO: dt must lie in (0.0, inf)"),
    (lambda p: so.ExactOU(so.UnderdampedLangevin(p), 0.0), "ExactOU: dt must lie in (0.0, inf)"),
])
def test_bad_scheme_parameters(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        make(so.DoubleWell())


def test_schemes_reject_other_sdes_and_spheres():
    with pytest.raises(TypeError, match="ExactOU: sde must be an UnderdampedLangevin"):
        so.ExactOU(so.OverdampedLangevin(so.DoubleWell()), 0.1)
    with pytest.raises(TypeError, match="BAOAB: sde must be an UnderdampedLangevin"):
        so.BAOAB(so.OverdampedLangevin(so.DoubleWell()), 0.1)
    with pytest.raises(ValueError, match="Langevin dynamics are implemented on ℝᵈ only"):
        so.UnderdampedLangevin(so.StreamingPCA([3.0, 2.0, 1.0]))

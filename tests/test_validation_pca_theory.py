"""The finite-d PCA escape theory used by msgd-escape: stable coordinates, exact event, discrete
quantiles (theory.momentum_pca.PCAEscape), checked against independent computations."""

import math

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from sde_opt.theory import momentum_pca as mp

SPECTRUM = (1.0, 0.5, 0.4, 0.32, 0.25, 0.2, 0.15, 0.1, 0.07, 0.05)


def test_d2_has_no_stable_coordinates():
    e = mp.pca_escape(SPECTRUM[:2], 6e-3, 0.5)
    assert e.stable == () and e.stable_variance() == 0.0 and e.stable_shift() == 0.0
    assert e.discrete_exact_event == e.discrete and e.stable_bias() == 0.0


@pytest.mark.parametrize("eta, mu", [(6e-3, 0.5), (6e-4, 0.9), (6e-3, 0.0)])
def test_stable_variance_solves_its_variance_ode(eta, mu):
    """E V_j(τ)² from integrating dv/dt = −2a v + (η κ λ_j/(1−μ)²)(λ_s + λ₁ r² e^{−2λ'(τ−t)})."""
    e = mp.pca_escape(SPECTRUM, eta, mu)
    tau = e.mean * e.eta
    c = 1 / (1 - mu)
    total = 0.0
    for lam_j in SPECTRUM[2:]:
        a = c * (SPECTRUM[1] - lam_j)

        def rhs(t, v, a=a, lam_j=lam_j):
            rate = eta * lam_j * c * c * (SPECTRUM[1] + SPECTRUM[0] * e.radius**2
                                          * math.exp(-2 * e.rate * (tau - t)))
            return -2 * a * v + rate

        total += solve_ivp(rhs, (0, tau), [0.0], rtol=1e-10, atol=1e-14).y[0, -1]
    assert e.stable_variance() == pytest.approx(total, rel=1e-6)
    # the shift: ½ ln(1 + E S) divided by heavy ball's growth per iteration
    b = 1 + mu + eta * e.gap
    log_rho = math.log(0.5 * (b + math.sqrt(b * b - 4 * mu)))
    assert e.stable_shift() == pytest.approx(0.5 * math.log1p(total) / log_rho, rel=1e-6)
    assert 0 < e.stable_bias() < e.stable_shift()


def test_discrete_quantiles_integrate_to_the_leading_discrete_mean():
    """∫₀¹ Q(p) dp of N = ln(r/|W|)/ln ρ + ½ + shift is the leading part of the discrete mean
    (heavy_ball_exit_iterations without its O(σ²) terms), by quadrature of the quantiles."""
    e = mp.pca_escape(SPECTRUM, 6e-3, 0.5)
    mean_q = quad(lambda p: float(e.discrete_quantile(p)), 0, 1, limit=200)[0]
    lead = e.discrete - e.discrete_sigma2_terms + e.stable_shift()
    assert mean_q == pytest.approx(lead, rel=1e-6)
    q = e.discrete_quantile(np.array([0.1, 0.5, 0.9]))
    assert np.all(np.diff(q) > 0)

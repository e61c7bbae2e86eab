"""sde_opt.fit: estimators against known truth (tolerances from their own SEs), bad input, files, CLI.

Synthetic OU traces are drawn from the exact discretization (numpy), so the truth is exact; the
integration with the engine (Euler–Maruyama, momentum SGD) is checked against the exact fit
target of the simulated linear chain (:func:`sde_opt.fit.ou_fit_target`).
"""

import json

import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.fit import (
    Estimate,
    FitResult,
    as_trace,
    fit_effective_lr,
    fit_kramers_moyal,
    fit_ou,
    fit_quadratic_variation,
    gradient_noise_covariance,
    heavy_ball_ou_target,
    load_trace,
    ou_fit_target,
    predicted_diffusion,
    qv_expectation_ou,
    save_trace,
)
from sde_opt.fit._linear import (
    diffusion_from_innovation,
    innovation_operator,
    ou_transition,
    stationary_covariance,
)
from sde_opt.fit.kramers_moyal import bin_index

A2 = np.array([[-1.0, 0.5], [-0.3, -0.6]])
B2 = np.array([[0.8, 0.0], [0.3, 0.5]])
D2 = B2 @ B2.T
M2 = np.array([1.0, -0.5])


def ou_paths(A, D, m, dt, n_steps, n_traces=1, seed=0):
    """Exact OU paths started from the stationary law: (n_traces, n_steps, d)."""
    A, D = np.atleast_2d(A), np.atleast_2d(D)
    d = A.shape[0]
    m = np.zeros(d) if m is None else np.asarray(m, float)
    phi, Q = ou_transition(A, D, dt)
    S = stationary_covariance(A, D)
    rng = np.random.default_rng(seed)
    x = np.empty((n_traces, n_steps, d))
    x[:, 0] = m + rng.standard_normal((n_traces, d)) @ np.linalg.cholesky(S).T
    z = rng.standard_normal((n_traces, n_steps, d)) @ np.linalg.cholesky(Q).T
    for k in range(1, n_steps):
        x[:, k] = m + (x[:, k - 1] - m) @ phi.T + z[:, k]
    return x


def within(est: Estimate, truth, k=4.0):
    err = np.abs(np.asarray(est.value) - truth)
    return np.all(err <= k * np.asarray(est.se)), np.max(err / np.maximum(est.se, 1e-300))


# --- linear algebra -------------------------------------------------------------------------


def test_innovation_map_matches_lyapunov_form_and_inverts():
    dt = 0.3
    phi, Q = ou_transition(A2, D2, dt)
    S = stationary_covariance(A2, D2)
    np.testing.assert_allclose(Q, S - phi @ S @ phi.T, atol=1e-12)
    np.testing.assert_allclose(innovation_operator(A2, dt) @ D2.ravel(), Q.ravel(), atol=1e-12)
    np.testing.assert_allclose(diffusion_from_innovation(A2, Q, dt), D2, atol=1e-10)
    # scalar closed form s²(1 − e^{−2θh})/(2θ)
    _, q = ou_transition([[-1.3]], [[0.7]], 0.2)
    assert q[0, 0] == pytest.approx(0.7 * (1 - np.exp(-2 * 1.3 * 0.2)) / (2 * 1.3), rel=1e-12)


# --- OU maximum likelihood ------------------------------------------------------------------


def test_ou_fit_recovers_parameters_within_its_standard_errors():
    x = ou_paths(A2, D2, M2, 0.2, 20_000, seed=1)
    r = fit_ou(x[0], 0.2)
    for name, truth in [("drift", A2), ("diffusion", D2), ("mean", M2),
                        ("stationary_covariance", stationary_covariance(A2, D2))]:
        ok, worst = within(r[name], truth)
        assert ok, (name, worst)
    # intervals are value ± 1.96 SE
    e = r["drift"]
    np.testing.assert_allclose(e.ci_high - e.value, 1.959964 * e.se, rtol=1e-5)
    assert r.info["stable"] and r["drift"].value.shape == (2, 2)


def test_ou_fit_several_traces_and_coarse_interval():
    # θΔ = 1.5 per unit: far from the small-Δ regime, still exact
    x = ou_paths(A2, D2, M2, 1.5, 1_000, n_traces=20, seed=2)
    r = fit_ou(x, 1.5)
    assert r.info["n_traces"] == 20
    for name, truth in [("drift", A2), ("diffusion", D2), ("mean", M2)]:
        ok, worst = within(r[name], truth)
        assert ok, (name, worst)


def test_ou_scalar_standard_errors_match_validation_theory_7_2():
    th, s2, dt = 1.0, 0.5, 0.2
    x = ou_paths([[-th]], [[s2]], None, dt, 50_000, seed=3)[0]
    r = fit_ou(x, dt, mean=[0.0])
    n = x.shape[0] - 1
    t, s = -r["drift"].value[0, 0], r["diffusion"].value[0, 0]
    a = t * dt
    se_theta = np.sqrt((np.exp(2 * a) - 1) / (n * dt**2))
    se_s2 = np.sqrt(s**2 / n * (2 + (np.exp(2 * a) - 1 - 2 * a) ** 2 / (a**2 * (np.exp(2 * a) - 1))))
    # the SEs use the sample's second and fourth moments; these agree with the Gaussian
    # closed forms up to their own sampling error (a few %)
    assert r["drift"].se[0, 0] == pytest.approx(se_theta, rel=0.06)
    assert r["diffusion"].se[0, 0] == pytest.approx(se_s2, rel=0.06)
    # the §7.2 closed-form point estimators
    phi = np.sum(x[:-1] * x[1:]) / np.sum(x[:-1] ** 2)
    q = np.mean((x[1:] - phi * x[:-1]) ** 2)
    assert t == pytest.approx(-np.log(phi) / dt, rel=1e-9)
    assert s == pytest.approx(2 * t * q / (1 - phi**2), rel=1e-9)


def test_ou_bootstrap_agrees_with_asymptotic_on_a_long_trace():
    x = ou_paths(A2, D2, M2, 0.3, 4_000, seed=4)
    a = fit_ou(x, 0.3)
    b = fit_ou(x, 0.3, ci="bootstrap", n_boot=100, seed=1)
    assert b.info["n_boot_failed"] == 0 and b.info["n_boot"] == 100
    np.testing.assert_allclose(b["drift"].value, a["drift"].value)
    # a bootstrap SD from B = 100 replicates has relative sampling error 1/√(2(B − 1)) ≈ 0.071;
    # the asymptotic (delta-method) SE of the same trace is the target: 4 SE
    rtol = 4 / np.sqrt(2 * 99)
    np.testing.assert_allclose(b["drift"].se, a["drift"].se, rtol=rtol)
    np.testing.assert_allclose(b["diffusion"].se, a["diffusion"].se, rtol=rtol)
    # the basic 95% interval spans the bootstrap 2.5%–97.5% quantiles: width ≈ 2·1.96·SD. Each
    # tail quantile from 100 draws has SE √(p(1−p)/B)/φ(1.96) ≈ 0.27 SD, so the width has
    # relative SE ≈ 0.27·√2/1.96 ≈ 0.10 (Gaussian-like estimates): 4 SE
    width = (b["drift"].ci_high - b["drift"].ci_low) / (2 * 1.959964 * b["drift"].se)
    assert np.all(np.abs(width - 1) < 4 * 0.27 * np.sqrt(2) / (2 * 1.959964)), width


def test_ou_rejects_a_transition_without_real_logarithm():
    rng = np.random.default_rng(0)
    x = np.empty(2000)
    x[0] = 0.0
    for k in range(1, 2000):  # an AR(1) with φ = −0.8: no continuous OU samples like that
        x[k] = -0.8 * x[k - 1] + rng.standard_normal()
    with pytest.raises(ValueError, match="negative real axis"):
        fit_ou(x, 0.1)


@pytest.mark.slow
def test_ou_fit_of_euler_maruyama_trace_hits_the_exact_chain_target():
    """Engine integration: EM of a LinearSDE, fitted at stride 10, against the EM chain's target."""
    h, stride = 0.02, 10
    b = -A2 @ M2  # dX = (A X + b) dt, mean m = −A⁻¹b
    sde = so.LinearSDE(A2, B2, b)
    res = so.simulate(so.EulerMaruyama(sde, h), jnp.asarray(M2, jnp.float32), 0, n_paths=4,
                      n_steps=200_000, observables={"x": lambda x: x}, stride=stride)
    x = res.observables["x"][:, 50:].astype(np.float64)
    target = ou_fit_target(np.eye(2) + h * A2, np.sqrt(h) * B2, np.eye(2), np.eye(2), stride, h)
    r = fit_ou(x, stride * h)
    for name in ("drift", "diffusion"):
        ok, worst = within(r[name], target[name])
        assert ok, (name, worst)
    ok, worst = within(r["mean"], M2)
    assert ok, worst


# --- quadratic variation --------------------------------------------------------------------


def test_qv_bias_is_the_exact_finite_interval_expectation():
    th, s2, dt = 1.0, 1.0, 0.2
    x = ou_paths([[-th]], [[s2]], None, dt, 1_000, n_traces=100, seed=5)
    r = fit_quadratic_variation(x, dt)
    expected = s2 * (1 - np.exp(-th * dt)) / (th * dt)
    assert qv_expectation_ou(-th, s2, dt)[0, 0] == pytest.approx(expected, rel=1e-12)
    ok, worst = within(r["diffusion"], expected)
    assert ok, worst
    # the bias (≈ 10%) is resolved: the plain estimate excludes σ² by far
    assert abs(r["diffusion"].value[0, 0] - s2) > 10 * r["diffusion"].se[0, 0]


def test_qv_drift_correction_removes_the_bias():
    dt = 0.25
    x = ou_paths(A2, D2, M2, dt, 2_000, n_traces=40, seed=6)
    plain = fit_quadratic_variation(x, dt)
    ok, worst = within(plain["diffusion"], qv_expectation_ou(A2, D2, dt))
    assert ok, worst
    assert not within(plain["diffusion"], D2)[0]
    corr = fit_quadratic_variation(x, dt, drift_matrix=A2, mean=M2)
    ok, worst = within(corr["diffusion"], D2)
    assert ok, worst


def test_qv_batch_means_se_agrees_with_iid_se_for_ou_increments():
    x = ou_paths([[-1.0]], [[1.0]], None, 0.05, 40_000, seed=7)
    a = fit_quadratic_variation(x, 0.05)
    b = fit_quadratic_variation(x, 0.05, blocks=40)
    # batch means with 40 blocks: the SE itself has ≈ 11% relative error
    assert b["diffusion"].se[0, 0] == pytest.approx(a["diffusion"].se[0, 0], rel=0.45)
    assert "batch-means" in b["diffusion"].method


# --- Kramers–Moyal --------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.slow
def test_km_raw_moments_equal_kramersmoyal_package_with_bin_sized_kernel(dim):
    km = pytest.importorskip("kramersmoyal").km
    A = A2[:dim, :dim]
    D = D2[:dim, :dim]
    x = ou_paths(A, D, None, 0.1, 100_000, seed=8)[0]
    edges = [np.linspace(-1.5, 1.5, 13)] * dim
    r = fit_kramers_moyal(x, 0.1, bins=edges, correction="none", min_count=2)
    # a kernel narrower than one bin reduces kramersmoyal's kernel estimate to the bin average
    powers = np.eye(dim, dtype=int).tolist() + [(2 * np.eye(dim, dtype=int)[i]).tolist()
                                                for i in range(dim)]
    kmc, _ = km(x, bins=edges, powers=np.array(powers), bw=1e-6)
    ok = r.extras["counts"] >= 2
    for i in range(dim):
        np.testing.assert_allclose(kmc[1 + i][ok] / 0.1, r["drift"].value[..., i][ok], rtol=1e-10,
                                   atol=1e-12)
        # kramersmoyal's D⁽²⁾ = E[ΔX²|x]/(2Δ) after dividing by Δ; the package's D = 2 D⁽²⁾
        np.testing.assert_allclose(2 * kmc[1 + dim + i][ok] / 0.1,
                                   r["diffusion"].value[..., i, i][ok], rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_km_agrees_with_kramersmoyal_kernel_estimate_within_its_ses():
    km = pytest.importorskip("kramersmoyal").km
    x = ou_paths([[-1.0]], [[1.0]], None, 0.05, 200_000, seed=9)[0, :, 0]
    edges = np.linspace(-1.2, 1.2, 25)
    r = fit_kramers_moyal(x, 0.05, bins=[edges], correction="none")
    kmc, _ = km(x[:, None], bins=[edges], powers=2, bw=0.15)
    z1 = (kmc[1] / 0.05 - r["drift"].value[:, 0]) / r["drift"].se[:, 0]
    z2 = (2 * kmc[2] / 0.05 - r["diffusion"].value[:, 0, 0]) / r["diffusion"].se[:, 0, 0]
    assert np.all(np.abs(z1) < 4) and np.all(np.abs(z2) < 4), (z1, z2)


@pytest.mark.slow
def test_km_raw_diffusion_shows_the_exact_spurious_term_and_ou_correction_removes_it():
    th, s2, dt = 2.0, 1.0, 0.1
    x = ou_paths([[-th]], [[s2]], None, dt, 200_000, seed=10)[0]
    edges = [np.linspace(-1.2, 1.2, 9)]
    raw = fit_kramers_moyal(x, dt, bins=edges, correction="none", min_count=500)
    # exact finite-Δ value (validation-theory §7.3) with the in-bin mean of x²
    start = x[:-1]
    idx, _ = bin_index(start, edges)
    x2 = np.array([np.mean(start[idx == b, 0] ** 2) for b in range(8)])
    phi = np.exp(-th * dt)
    exact = (x2 * (1 - phi) ** 2 + s2 * (1 - phi**2) / (2 * th)) / dt
    ok = raw.extras["counts"] >= 500
    err = np.abs(raw["diffusion"].value[:, 0, 0] - exact)[ok]
    assert np.all(err <= 4 * raw["diffusion"].se[:, 0, 0][ok])
    corr = fit_kramers_moyal(x, dt, bins=edges, correction="ou", drift_matrix=[[-th]],
                             min_count=500)
    xm = corr.extras["x_mean"]
    ok_d, w_d = within(_finite(corr["drift"], ok), (-th * xm)[ok])
    ok_s, w_s = within(_finite(corr["diffusion"], ok), s2)
    assert ok_d and ok_s, (w_d, w_s)
    # raw diffusion is biased low (1 − θΔ) by more than 4 SE in the central bins
    centre = np.abs(raw.extras["x_mean"][:, 0]) < 0.3
    assert np.all(raw["diffusion"].value[centre, 0, 0] < s2 - 4 * raw["diffusion"].se[centre, 0, 0])


def _finite(est, ok):
    return Estimate(est.name, est.value[ok], est.se[ok], est.ci_low[ok], est.ci_high[ok])


def test_km_default_ou_correction_uses_fitted_drift_and_reports_it():
    x = ou_paths(A2, D2, None, 0.2, 50_000, seed=11)[0]
    r = fit_kramers_moyal(x, 0.2, bins=6)
    assert r.info["drift_matrix_source"] == "fit_ou on the same trace"
    assert r["drift"].value.shape == (6, 6, 2) and r["diffusion"].value.shape == (6, 6, 2, 2)
    ok = r.extras["counts"] >= 500
    sel = Estimate("d", r["diffusion"].value[ok], r["diffusion"].se[ok], r["diffusion"].ci_low[ok],
                   r["diffusion"].ci_high[ok])
    good, worst = within(sel, D2)
    assert good, worst


def test_km_bad_input():
    x = np.zeros((100, 4)) + np.arange(100)[:, None] * 0.01
    with pytest.raises(ValueError, match="dimension <= 3"):
        fit_kramers_moyal(x, 0.1)
    with pytest.raises(ValueError, match="correction must be one of"):
        fit_kramers_moyal(x[:, :1], 0.1, correction="rydin")


# --- gradient noise, predictions, effective learning rate ----------------------------------


def test_gradient_noise_covariance_from_samples_and_batch_scaling():
    C = np.array([[1.0, 0.3], [0.3, 0.5]])
    rng = np.random.default_rng(12)
    g = rng.standard_normal((20_000, 2)) @ np.linalg.cholesky(C).T + np.array([0.1, -0.2])
    r = gradient_noise_covariance(g, batch_size=8)
    ok, worst = within(r["per_sample_covariance"], C)
    assert ok, worst
    np.testing.assert_allclose(r["covariance"].value, r["per_sample_covariance"].value / 8)
    np.testing.assert_allclose(r.extras["mean"], [0.1, -0.2], atol=4 * 0.01)
    # minibatch rows of size 4 give the same per-sample covariance
    mb = (rng.standard_normal((20_000, 4, 2)) @ np.linalg.cholesky(C).T).mean(axis=1)
    r2 = gradient_noise_covariance(mb, batch_size=8, minibatch_size=4)
    ok, worst = within(r2["covariance"], C / 8)
    assert ok, worst


def test_gradient_noise_finite_population_correction_is_exact():
    rng = np.random.default_rng(13)
    N, b = 40, 10
    data = rng.standard_normal((N, 3)) * [1.0, 2.0, 0.5]
    r = gradient_noise_covariance(data, batch_size=b, population_size=N)
    assert np.all(r["covariance"].se == 0) and "exact" in r["covariance"].method
    # empirical covariance of many minibatch means drawn without replacement
    n = 100_000
    idx = np.argsort(rng.random((n, N)), axis=1)[:, :b]
    means = data[idx].mean(axis=1)
    emp = gradient_noise_covariance(means, batch_size=b, minibatch_size=b)
    ok, worst = within(Estimate("c", emp["covariance"].value, emp["covariance"].se, 0, 0),
                       r["covariance"].value)
    assert ok, worst
    # ... which differs from the with-replacement C/b by the factor (N − b)/(N − 1) = 0.77
    cpop = np.cov(data.T, ddof=0)
    assert not within(Estimate("c", emp["covariance"].value, emp["covariance"].se, 0, 0),
                      cpop / b)[0]


def test_predicted_diffusion_is_the_momentum_sgd_limit():
    C = np.array([[1.0, 0.3], [0.3, 0.5]])
    eta, mu = 0.05, 0.9
    lim = so.MomentumSGD(so.problems.Quadratic([1.0, 0.4], C), eta, mu).limit()
    B = np.asarray(lim.diffusion_matrix(jnp.zeros(2)), np.float64)
    pred = predicted_diffusion(C, eta, mu)
    np.testing.assert_allclose(pred.value, B @ B.T, rtol=1e-5)
    est = Estimate.normal("covariance", C, 0.1 * C)
    p2 = predicted_diffusion(est, eta, mu)
    np.testing.assert_allclose(p2.ci_high, (C + 1.959964 * 0.1 * C) * eta / (1 - mu) ** 2, rtol=1e-5)
    with pytest.raises(ValueError, match="mu must lie in"):
        predicted_diffusion(C, eta, 1.0)


def test_heavy_ball_target_matches_closed_form_stationary_law():
    # the chain agrees with sde_opt.theory's heavy-ball stationary law (non-commuting H, C)
    from sde_opt.theory.heavy_ball import heavy_ball_stationary_covariance

    C = np.array([[1.0, 0.3], [0.3, 0.5]])
    P = heavy_ball_ou_target(np.diag([1.0, 0.4]), C, 0.05, 0.9, 7)["chain_covariance"]
    np.testing.assert_allclose(P, heavy_ball_stationary_covariance([1.0, 0.4], C, 0.05, 0.9),
                               rtol=1e-10, atol=1e-14)
    eta, mu, h, c = 0.05, 0.5, 1.0, 1.0
    t1 = heavy_ball_ou_target([[h]], [[c]], eta, mu, stride=1)
    D = (1 - mu) * (2 * (1 + mu) - eta * h)
    assert t1["stationary_covariance"][0, 0] == pytest.approx(eta * c * (1 + mu) / (h * D), rel=1e-10)
    assert t1["transition"][0, 0] == pytest.approx((1 + mu - eta * h) / (1 + mu), rel=1e-10)
    # long lags: the fitted rate is that of the slow root r₁ of the AR(2) x-process
    r1 = np.max(np.roots([1.0, -(1 + mu - eta * h), mu]))
    t = heavy_ball_ou_target([[h]], [[c]], eta, mu, stride=200)
    assert t["drift"][0, 0] == pytest.approx(np.log(r1) / eta, rel=0.02)
    # at a fixed interval Δ = Kη = 1 the gap to the diffusion limit is O(η): halving η halves it
    gaps = []
    for e in (0.02, 0.01):
        t = heavy_ball_ou_target([[h]], [[c]], e, mu, stride=round(1 / e))
        gaps.append([t["drift"][0, 0] / t["limit_drift"][0, 0] - 1,
                     t["diffusion"][0, 0] / t["limit_diffusion"][0, 0] - 1])
    gaps = np.array(gaps)
    assert np.all(gaps > 0)
    np.testing.assert_allclose(gaps[1] / gaps[0], 0.5, atol=0.1)


@pytest.mark.slow
def test_effective_lr_from_an_sgd_trace_on_a_quadratic():
    H = np.array([1.0, 0.5])
    C = np.array([[1.0, 0.2], [0.2, 0.6]])
    eta = 0.1
    alg = so.sgd(so.problems.Quadratic(H, C), eta)
    res = so.simulate(alg, jnp.zeros(2), 3, n_paths=8, n_steps=100_000,
                      observables={"x": lambda x: x}, stride=5)
    x = res.observables["x"][:, 100:].astype(np.float64)
    r = fit_effective_lr(x, np.diag(H), C, center=np.zeros(2), blocks=10)
    S = heavy_ball_ou_target(np.diag(H), C, eta, 0.0, 1)["stationary_covariance"]
    L = np.diag(H) @ S + S @ np.diag(H)
    exact = np.sum(L * C) / np.sum(C * C)
    ok, worst = within(r["eta_eff"], exact)
    assert ok, worst
    # the exact value exceeds η by the O(η) factor ≈ 1/(1 − ηh/2), here ≈ 4%
    assert exact > eta * 1.02
    assert r["temperature"].value > 0 and r.info["residual"] < 0.2


# --- traces, files, results, CLI ------------------------------------------------------------


def test_trace_shapes_and_bad_input():
    assert as_trace(np.zeros(10), 0.1).x.shape == (1, 10, 1)
    assert as_trace(np.zeros((10, 3)), 0.1).x.shape == (1, 10, 3)
    assert as_trace(np.zeros((2, 10, 3)), 0.1).n_increments == 18
    x = np.arange(20.0)
    with pytest.raises(ValueError, match="NaN"):
        as_trace(np.where(x == 5, np.nan, x), 0.1)
    with pytest.raises(ValueError, match="too short"):
        as_trace(np.zeros(2), 0.1)
    with pytest.raises(ValueError, match="dt is required"):
        as_trace(x, None)
    with pytest.raises(ValueError, match=r"dt must lie in \(0, inf\)"):
        as_trace(x, -1.0)
    with pytest.raises(ValueError, match="non-uniform sampling"):
        as_trace(x, t=np.r_[np.arange(10.0), np.arange(10.0) * 1.5 + 10])
    with pytest.raises(ValueError, match="disagrees"):
        as_trace(x, 0.2, t=np.arange(20) * 0.1)
    with pytest.raises(ValueError, match="shape"):
        as_trace(np.zeros((2, 3, 4, 5)), 0.1)
    assert as_trace(x, t=np.arange(20) * 0.1).dt == pytest.approx(0.1)
    with pytest.raises(ValueError, match="too short"):
        fit_ou(np.arange(12.0), 0.1)


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_file_round_trip(tmp_path, suffix):
    x = ou_paths(A2, D2, M2, 0.1, 50, n_traces=3, seed=14)
    p = save_trace(tmp_path / f"t{suffix}", x, 0.1)
    tr = load_trace(p)
    np.testing.assert_allclose(tr.x, x, rtol=1e-15)
    assert tr.dt == pytest.approx(0.1)
    with pytest.raises(ValueError, match="disagrees"):
        load_trace(p, dt=0.2)


def test_file_layouts_and_errors(tmp_path):
    # npz with t instead of dt, one path (n_steps, d)
    np.savez(tmp_path / "a.npz", x=np.zeros((30, 2)), t=np.arange(30) * 0.5)
    assert load_trace(tmp_path / "a.npz").dt == pytest.approx(0.5)
    np.savez(tmp_path / "b.npz", y=np.zeros(5))
    with pytest.raises(ValueError, match="key 'x'"):
        load_trace(tmp_path / "b.npz")
    # csv without t: needs dt
    (tmp_path / "c.csv").write_text("x0,x1\n" + "\n".join(f"{k},{2 * k}" for k in range(10)))
    with pytest.raises(ValueError, match="dt is required"):
        load_trace(tmp_path / "c.csv")
    assert load_trace(tmp_path / "c.csv", dt=0.1).x.shape == (1, 10, 2)
    (tmp_path / "d.csv").write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match="no header"):
        load_trace(tmp_path / "d.csv", dt=0.1)
    (tmp_path / "e.csv").write_text("t,x0\n0,1\n0.1,2\n0.3,3\n0.4,4\n")
    with pytest.raises(ValueError, match="non-uniform"):
        load_trace(tmp_path / "e.csv")
    (tmp_path / "f.csv").write_text("trace,x0\n0,1\n1,2\n0,3\n1,4\n")
    with pytest.raises(ValueError, match="contiguous"):
        load_trace(tmp_path / "f.csv", dt=1.0)
    with pytest.raises(ValueError, match="unsupported"):
        load_trace(_touch(tmp_path / "g.txt"))


def _touch(p):
    p.write_text("")
    return p


def test_results_are_json_ready_and_readable():
    x = ou_paths(A2, D2, M2, 0.2, 2_000, seed=15)
    r = fit_ou(x, 0.2)
    text = json.dumps(r.as_dict(), allow_nan=False)
    assert "drift" in text and "param_cov" in text
    assert "drift[0,1]" in repr(r) and "95% CI" in repr(r)
    km = fit_kramers_moyal(x, 0.2, bins=5)
    json.dumps(km.as_dict(), allow_nan=False)  # empty bins become null
    assert isinstance(km, FitResult) and km.drift is km["drift"]
    km1 = fit_kramers_moyal(x[0, :, 0], 0.2, bins=5)
    with pytest.raises(ValueError, match="does not broadcast"):
        km1["drift"].covers(np.zeros(5))  # (5,) against (5, 1): an outer product otherwise


@pytest.mark.parametrize("model", ["qv", "ou", "km"])
@pytest.mark.slow
def test_cli_fit_writes_json_and_figure(tmp_path, model, capsys):
    from sde_opt.cli import main

    x = ou_paths(A2[:1, :1], D2[:1, :1], None, 0.1, 3_000, seed=16)[0]
    p = save_trace(tmp_path / "trace.npz", x, 0.1)
    rc = main(["fit", str(p), "--model", model, "--out", str(tmp_path / "out"), "--bins", "12"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "95% " in out and "wrote" in out
    payload = json.loads((tmp_path / "out" / "fit.json").read_text())
    assert payload["model"] == model and payload["trace_info"]["n_steps"] == 3_000
    assert (tmp_path / "out" / "fit.png").stat().st_size > 1000


def test_cli_fit_reports_bad_input(tmp_path, capsys):
    from sde_opt.cli import main

    (tmp_path / "bad.csv").write_text("x0\n1\nnan\n3\n")
    assert main(["fit", str(tmp_path / "bad.csv"), "--dt", "0.1"]) == 2
    assert "NaN" in capsys.readouterr().err


# --- coverage (slow; the validation checks run the full versions) -----------------------------


@pytest.mark.slow
def test_ou_interval_coverage_over_repetitions():
    R, dt = 200, 0.3
    x = ou_paths(A2, D2, M2, dt, 2_000, n_traces=R, seed=17)
    hits = np.array([[fit_ou(xi, dt)[k].covers(v).mean() for k, v in
                      (("drift", A2), ("diffusion", D2), ("mean", M2))] for xi in x])
    cov = hits.mean(axis=0)
    assert np.all(np.abs(cov - 0.95) <= 4 * np.sqrt(0.95 * 0.05 / R)), cov

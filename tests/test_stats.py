"""sde_opt.stats: hand-computed examples, exact identities and coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from sde_opt import stats as S
from sde_opt.engine import CENSORED, DIVERGED, EXITED, SimulationResult

# --------------------------------------------------------------------------- Kaplan–Meier

# times 1 2 2+ 3 4+ 5 5 6+   (+ = censored)
KM_T = [1, 2, 2, 3, 4, 5, 5, 6]
KM_OBS = [1, 1, 0, 1, 0, 1, 1, 0]


def test_kaplan_meier_hand_example():
    km = S.kaplan_meier(KM_T, KM_OBS)
    # at risk / events at the event times 1, 2, 3, 5: 8/1, 7/1, 5/1, 3/2
    assert km.times.tolist() == [1, 2, 3, 5]
    assert km.at_risk.tolist() == [8, 7, 5, 3]
    assert km.events.tolist() == [1, 1, 1, 2]
    s = [7 / 8, 7 / 8 * 6 / 7, 7 / 8 * 6 / 7 * 4 / 5, 7 / 8 * 6 / 7 * 4 / 5 * 1 / 3]
    assert np.allclose(km.survival, s)
    gw = np.cumsum([1 / 56, 1 / 42, 1 / 20, 2 / 3])
    assert np.allclose(km.variance, np.array(s) ** 2 * gw)
    assert km(0.5) == 1.0 and km(2.5) == pytest.approx(0.75) and km(6) == pytest.approx(0.2)
    # restricted mean to 6: 1 + .875 + .75 + .6·2 + .2 = 4.025;
    # A_j = ∫_{t_j}^6 Ŝ = 3.025, 2.15, 1.4, 0.2 → Var = Σ A_j² d_j/(n_j(n_j − d_j))
    mean, se = km.restricted_mean()
    assert mean == pytest.approx(4.025)
    var = 3.025**2 / 56 + 2.15**2 / 42 + 1.4**2 / 20 + 0.2**2 * 2 / 3
    assert se == pytest.approx(math.sqrt(var))
    assert km.quantile(0.5)[0] == 5.0  # first t with Ŝ(t) ≤ 0.5
    lo, hi = km.ci(2.5)
    assert 0 < lo < 0.75 < hi < 1


def test_kaplan_meier_without_censoring_is_the_empirical_law():
    x = np.random.default_rng(0).exponential(size=200)
    km = S.kaplan_meier(x)
    t = np.sort(x)
    ecdf_survival = 1 - np.arange(1, 201) / 200
    assert np.allclose(km.survival, ecdf_survival)
    # Greenwood reduces to the binomial variance S(1 − S)/n
    assert np.allclose(km.variance[:-1], (ecdf_survival * (1 - ecdf_survival) / 200)[:-1])
    assert km.restricted_mean(t[-1])[0] == pytest.approx(x.mean())


@pytest.mark.slow
def test_kaplan_meier_band_coverage():
    # exponential(1) exits, independent exponential(0.5) censoring, horizon 2
    rng = np.random.default_rng(1)
    t0 = 0.7
    # n = 1000 per sample, so that the asymptotic interval's O(1/n) coverage error (≈ 1e-3) is
    # far below the Monte-Carlo SE √(0.95·0.05/2000) ≈ 0.005: 4 SE, no other allowance. A band
    # whose SE were 20 % too small (coverage 0.883) would fail.
    hits, reps, n = 0, 2000, 1000
    for _ in range(reps):
        tau = rng.exponential(size=n)
        cens = np.minimum(rng.exponential(2.0, size=n), 2.0)
        km = S.kaplan_meier(np.minimum(tau, cens), tau <= cens)
        lo, hi = km.ci(t0)
        hits += lo <= math.exp(-t0) <= hi
    cover = hits / reps
    assert abs(cover - 0.95) < 4 * math.sqrt(0.95 * 0.05 / reps)


# --------------------------------------------------------------------------- quantiles


def test_quantile_ci_textbook_median_n10():
    x = np.arange(10.0, 0.0, -1.0)  # 1..10 in reverse
    est, lo, hi = S.quantile_ci(x, 0.5)
    assert (est, lo, hi) == (5.0, 2.0, 9.0)  # (X_(2), X_(9)), coverage 0.9785
    assert S.quantile_ci_coverage(10, 0.5) == pytest.approx(0.978515625)


@pytest.mark.parametrize("n,q", [(25, 0.5), (200, 0.9), (60, 0.1)])
@pytest.mark.slow
def test_quantile_ci_coverage_by_simulation(n, q):
    rng = np.random.default_rng(2)
    truth = sps.expon.ppf(q)
    reps = 3000
    hits = sum(lo <= truth <= hi for _, lo, hi in
               (S.quantile_ci(rng.exponential(size=n), q) for _ in range(reps)))
    exact = S.quantile_ci_coverage(n, q)
    assert exact >= 0.95
    assert abs(hits / reps - exact) < 4 * math.sqrt(exact * (1 - exact) / reps)


def test_quantile_ci_type_one_censoring():
    x = np.random.default_rng(3).exponential(size=500)
    full = S.quantile_ci(x, 0.5)
    horizon = 1.5
    cens = S.quantile_ci(x[x <= horizon], 0.5, n=500, horizon=horizon)
    assert cens == full  # the needed order statistics are all observed
    est, lo, hi = S.quantile_ci(x[x <= horizon], 0.9, n=500, horizon=horizon)
    assert est == np.inf and hi == np.inf and lo == horizon  # only known to exceed the horizon


# --------------------------------------------------------------------------- exit-time summaries


def _result(times, status, dt=0.1):
    steps = np.round(np.asarray(times) / dt).astype(np.int64)
    n = steps.size
    return SimulationResult(steps=steps, status=np.asarray(status, np.int8),
                            event=np.where(np.asarray(status) == EXITED, 0, -1),
                            final=np.zeros((n, 1)), observables={}, save_steps=np.arange(1),
                            dt=dt, n_steps=int(steps.max()))


def test_summary_uncensored_is_sample_mean_with_order_statistics():
    x = np.random.default_rng(4).gamma(3.0, size=1000)
    s = S.exit_time_summary(x, level=0.9)
    z = sps.norm.ppf(0.95)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert s.mean_kind == "mean" and s.restricted_to is None
    assert (s.mean, s.mean_low, s.mean_high) == pytest.approx(
        (x.mean(), x.mean() - z * se, x.mean() + z * se))
    assert s.quantile(0.5) == S.quantile_ci(x, 0.5, level=0.9)
    assert s.quantile_method == "order statistics"
    assert (s.n, s.exited, s.censored, s.diverged) == (1000, 1000, 0, 0)
    d = s.as_dict()
    assert d["quantiles"][0].keys() == {"q", "estimate", "low", "high"}
    assert "mean" in repr(s) and "1000 exited" in repr(s)


def test_summary_from_result_with_censoring_and_divergence():
    rng = np.random.default_rng(5)
    tau = np.round(rng.exponential(size=400), 1) + 0.1
    horizon = 2.0
    status = np.where(tau <= horizon, EXITED, CENSORED)
    times = np.minimum(tau, horizon)
    status[:7] = DIVERGED  # 7 paths blew up at their (early) times
    res = _result(times, status)
    s = S.exit_time_summary(res)
    assert (s.exited, s.censored, s.diverged) == (int((status == EXITED).sum()),
                                                  int((status == CENSORED).sum()), 7)
    assert s.mean_kind == "restricted mean" and s.restricted_to == pytest.approx(horizon)
    assert s.quantile_method == "Kaplan-Meier band"  # divergence censors at random times
    km = S.kaplan_meier(res.times, status == EXITED)
    assert s.mean == pytest.approx(km.restricted_mean()[0])
    assert "lower bound" in repr(s) and "7 diverged" in repr(s)
    # counted as exits instead
    s2 = S.exit_time_summary(res, diverged_as="exited")
    km2 = S.kaplan_meier(res.times, status != CENSORED)
    assert s2.mean == pytest.approx(km2.restricted_mean()[0])
    assert s2.quantile_method == "order statistics"  # only horizon censoring left: type I
    # in steps
    s3 = S.exit_time_summary(res, unit="steps")
    assert s3.mean == pytest.approx(s.mean / 0.1, rel=1e-9)


@pytest.mark.slow
def test_restricted_mean_ci_coverage():
    rng = np.random.default_rng(6)
    horizon = 1.5
    truth = 1 - math.exp(-horizon)  # ∫_0^T e^{−t} dt
    # n = 2000 per sample: the asymptotic interval's O(1/n) coverage error is negligible against
    # the Monte-Carlo SE √(0.95·0.05/1000) ≈ 0.007; 4 SE, no other allowance
    reps, hits = 1000, 0
    for _ in range(reps):
        tau = rng.exponential(size=2000)
        s = S.exit_time_summary(np.minimum(tau, horizon), tau <= horizon)
        hits += s.mean_low <= truth <= s.mean_high
    assert abs(hits / reps - 0.95) < 4 * math.sqrt(0.95 * 0.05 / reps)


def test_summary_bad_input():
    with pytest.raises(ValueError, match="both observed"):
        S.exit_time_summary([1.0, 2.0], [True, True], diverged=[True, False])
    with pytest.raises(ValueError, match="must be finite"):
        S.exit_time_summary([1.0, np.nan])
    with pytest.raises(ValueError, match="diverged_as"):
        S.exit_time_summary([1.0, 2.0], diverged_as="dropped")


# --------------------------------------------------------------------------- stationary moments


def _ar1_paths(rng, n_paths, n, phi):
    """Stationary AR(1), unit variance: x' = φx + √(1 − φ²) ε."""
    x = np.empty((n_paths, n))
    x[:, 0] = rng.standard_normal(n_paths)
    eps = rng.standard_normal((n_paths, n)) * math.sqrt(1 - phi**2)
    for k in range(1, n):
        x[:, k] = phi * x[:, k - 1] + eps[:, k]
    return x


def test_integrated_autocorr_time_of_ar1():
    phi = 0.9
    x = _ar1_paths(np.random.default_rng(7), 100, 5000, phi)
    assert S.integrated_autocorr_time(x) == pytest.approx((1 + phi) / (1 - phi), rel=0.1)
    iid = np.random.default_rng(8).standard_normal((50, 2000))
    assert S.integrated_autocorr_time(iid) == pytest.approx(1.0, abs=0.1)


def _expected_batch_se2(phi, n_paths, n_batches, n):
    """Exact E[SE²] of batch_means and exact Var(grand mean), stationary unit-variance AR(1)."""
    length = n // n_batches
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    gamma = phi**lag
    avg = np.kron(np.eye(n_batches), np.full((1, length), 1.0 / length))
    cov_b = avg @ gamma @ avg.T
    k = n_paths * n_batches
    var_grand = n_paths * cov_b.sum() / k**2
    e_ss = n_paths * np.trace(cov_b) - k * var_grand
    return e_ss / (k - 1) / k, var_grand


@pytest.mark.parametrize("n_paths,n_batches", [(40, 1), (2, 20)])
@pytest.mark.slow
def test_batch_means_standard_error(n_paths, n_batches):
    phi, n, reps = 0.9, 2000, 200  # τ_int = 19; batches of 2000 or 100 saves
    rng = np.random.default_rng(9)
    se2, z = [], []
    for _ in range(reps):
        est = S.batch_means(_ar1_paths(rng, n_paths, n, phi), n_batches=n_batches)
        se2.append(float(est.se) ** 2)
        z.append(float(est.value) / float(est.se))
    expect, var_grand = _expected_batch_se2(phi, n_paths, n_batches, n)
    se2 = np.asarray(se2)
    assert abs(se2.mean() - expect) < 4 * se2.std(ddof=1) / math.sqrt(reps)
    # with batches ≥ 5 τ_int, E[SE²] is within 15% of the true variance of the estimate
    assert expect / var_grand == pytest.approx(1.0, abs=0.15)
    # z = estimate/SE is Student-t with k − 1 degrees of freedom (k batches) scaled by
    # √(var_grand/E SE²): its exact exceedance rate of 1.96, with a 4-SE Monte-Carlo band
    k = n_paths * n_batches
    rate = 2 * sps.t.sf(1.96 * math.sqrt(expect / var_grand), k - 1)
    assert abs(np.mean(np.abs(z) > 1.96) - rate) < 4 * math.sqrt(rate * (1 - rate) / reps)


def test_stationary_covariance_of_a_bivariate_ar1():
    rng = np.random.default_rng(10)
    phi = np.array([[0.9, 0.2], [0.0, 0.7]])
    q = np.array([[1.0, 0.3], [0.3, 0.5]])
    from scipy.linalg import solve_discrete_lyapunov

    P = solve_discrete_lyapunov(phi, q)
    n_paths, n = 200, 1500
    chol = np.linalg.cholesky(q)
    x = np.empty((n_paths, n, 2))
    x[:, 0] = rng.standard_normal((n_paths, 2)) @ np.linalg.cholesky(P).T
    for k in range(1, n):
        x[:, k] = x[:, k - 1] @ phi.T + rng.standard_normal((n_paths, 2)) @ chol.T
    for mean in (None, 0.0):
        est = S.stationary_covariance(x, burn_in=10, mean=mean)
        assert est.value.shape == (2, 2)
        assert np.all(np.abs(est.value - P) < 4 * est.se)
    x[3, 700:] = np.nan
    with pytest.raises(ValueError, match="1 of 200 paths contain non-finite"):
        S.stationary_covariance(x)


def test_iid_covariance_standard_errors():
    rng = np.random.default_rng(11)
    cov = np.array([[2.0, 0.8], [0.8, 1.0]])
    chol = np.linalg.cholesky(cov)
    reps, n = 600, 400
    ests = []
    for _ in range(reps):
        ests.append(S.iid_covariance(rng.standard_normal((n, 2)) @ chol.T))
    values = np.stack([e.value for e in ests])
    rule = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    # the spread of the estimates matches the Gaussian SE rule (sd of an sd: ≈ 1/√(2·reps) rel.)
    assert np.allclose(values.std(axis=0, ddof=1), rule, rtol=4 / math.sqrt(2 * reps))
    assert np.allclose(np.mean([e.se for e in ests], axis=0), rule, rtol=0.02)
    emp = S.iid_covariance(rng.standard_normal((20000, 2)) @ chol.T, gaussian=False)
    assert np.allclose(emp.se, np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / 20000),
                       rtol=0.05)
    m = S.iid_mean(rng.standard_normal((10000, 3)) + 1.0)
    assert np.all(np.abs(m.value - 1.0) < 4 * m.se)
    with pytest.raises(ValueError, match="not finite"):
        S.iid_mean(np.array([1.0, np.inf, 2.0]))


# --------------------------------------------------------------------------- slope fits


def test_slope_fit_exact_line_and_prediction():
    x = np.array([0.1, 0.2, 0.4, 0.8])
    fit = S.slope_fit(x, 3 * x**2)
    assert fit.slope == pytest.approx(2.0) and fit.intercept == pytest.approx(math.log(3))
    assert fit.predict(0.3) == pytest.approx(0.27)
    lin = S.slope_fit(x, 1 + 2 * x, log=False)
    assert (lin.slope, lin.intercept) == pytest.approx((2.0, 1.0))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.slow
def test_slope_fit_interval_coverage(weighted):
    rng = np.random.default_rng(12)
    h = np.array([0.01, 0.02, 0.04, 0.08, 0.16])
    truth = 0.5 * h**1.0
    rel_se = 0.05
    reps, hits, chi2 = 2000, 0, []
    for _ in range(reps):
        y = truth * np.exp(rel_se * rng.standard_normal(h.size))
        fit = S.slope_fit(h, y, y_se=rel_se * y if weighted else None)
        hits += fit.slope_low <= 1.0 <= fit.slope_high
        chi2.append(fit.chi2)
    assert abs(hits / reps - 0.95) < 4 * math.sqrt(0.95 * 0.05 / reps)
    if weighted:
        assert np.mean(chi2) == pytest.approx(3.0, rel=0.1)  # dof = 5 − 2


def test_slope_fit_bad_input():
    with pytest.raises(ValueError, match="x > 0 and y > 0"):
        S.slope_fit([1, 2, 3], [1, -1, 2])
    with pytest.raises(ValueError, match=">= 3 points"):
        S.slope_fit([1, 2], [1, 2])

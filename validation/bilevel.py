"""Bilevel optimization (Huang, Chen, Ji, Ma & Lai, JMLR 2025; papers.md §3): AID, perturbed AID,
StocBiO and its reduced SDE on [`QuadraticBilevel`][sde_opt.QuadraticBilevel], a non-quadratic
lower level ([`SoftplusBilevel`][sde_opt.SoftplusBilevel]) and a minibatch oracle
([`HyperCleaning`][sde_opt.HyperCleaning]).

Claims and their independent references:

* AID's hypergradient with N < d_y conjugate-gradient steps = ∇ₓf − J v_N with v_N the Krylov
  minimizer of the H-norm error (a dense least-squares solve), and its error below the
  Chebyshev bound ‖J H^{−½}‖ c_N ‖v*‖_H;
* AID with warm start contracts its hypergradient error per outer step by (1 − αμ)^D when the
  inner loop limits it (the faster modes' transient, from the spectrum, is the bias), and by at
  most the Chebyshev factor c_N when CG limits it;
* perturbed AID: after the paper's kick x − βξ the escape iteration follows the kicked-linear
  law (``sde_opt.theory.kicked_escape``; bias: the exact nonlinear 1-D map's shift of the mean);
* perturbed AID with the paper's template: the κ-exponent of its iterations to an ε-SOSP equals
  that of Jin et al.'s perturbed GD with the exact ∇Φ (NumPy), on an instance where κ enters
  L_Φ; from generic starts on four strict saddles its iterations grow by 1/|ln(1 − 2β)| per
  e-fold of 1/ε (the contraction at the minima, ∇²Φ = 2I);
* StocBiO's one-step moments from the exact inner solution (mean −∇Φ_Q, covariance from the
  oracle covariances through the implicit function theorem);
* StocBiO's escape time from the saddle → the reduced SDE's exit time (exact 1-D quadrature);
  bias: |EM − continuous| of the linear saddle (the O(β) discretization scale);
* StocBiO's stationary variance at the minimum → the Lyapunov covariance of the reduced SDE with
  the long-run Σ_Φ; bias: |EM − continuous| Lyapunov covariance;
* a non-quadratic lower level (softplus): AID's warm-start rate = max|1 − αλᵢ(∇²ᵧg(x, y*))|^D, and
  StocBiO's long-run covariance of ĝ = the limit's Σ_Φ;
* a minibatch oracle (hyper-cleaning): StocBiO's long-run covariance of ĝ = the limit's Σ_Φ,
  which includes the noise of the sampled Hessian- and Jacobian-vector products;
* StocBiO's drift (softplus with σ_g = 1, hyper-cleaning): the mean of ĝ along the warm-started
  inner chain at a frozen x = the limit's ∇Φ_Q + s, read along the inner shift s (reference: the
  Taylor expansion of E[ḡ(y* + e)] over the chain's stationary law; bias: its fourth-order terms
  from the sigma-point evaluation).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

import sde_opt as so
from sde_opt import stats
from sde_opt.algorithms.aid import aid_hypergradient
from sde_opt.problems.bilevel import inner_error_covariances, neumann_inverse
from sde_opt.studies import _bilevel_measure as m
from sde_opt.studies import _bilevel_rates as rates
from sde_opt.theory import bilevel as tb
from sde_opt.theory import kicked_escape as ke

from ._framework import check, compare, compare_interval

Z = 4.0


# ---------------------------------------------------------------------------------------------
# AID's hypergradient with N < d_y CG steps
# ---------------------------------------------------------------------------------------------


def aid_krylov_verdicts(kappa=100.0, N=5, N_reference=None):
    """AID's ĝ with N CG steps (D large: y exact) against the dense Krylov solution with
    ``N_reference`` steps (default N; a different value is the power test's wrong solver)."""
    nr = N if N_reference is None else N_reference
    with jax.enable_x64(True):
        p = m.quadratic(kappa)
        x = jnp.asarray(m.X_FIXED)
        y = p.y_star(x)
        alpha = jnp.asarray(1.0 / p.lower_smoothness)
        g, _, _, _ = aid_hypergradient(p, x, y, jnp.zeros_like(y), alpha, 1, N)
        h = np.asarray(p.lower_hessian(x, y))
        b = np.asarray(p.upper_grads(x, y)[1])
        krylov = np.stack([np.linalg.matrix_power(h, j) @ b for j in range(nr)], 1)
        q, _ = np.linalg.qr(krylov)                       # an orthonormal basis (conditioning)
        v_n = q @ np.linalg.solve(q.T @ h @ q, q.T @ b)   # the H-norm minimizer over K_N
        j = np.asarray(p.lower_cross_matrix(x, y))
        gx = np.asarray(p.upper_grads(x, y)[0])
        ref = gx - j @ v_n
        exact = np.asarray(p.grad(x))
        g = np.asarray(g)
    rel = float(np.linalg.norm(g - ref) / np.linalg.norm(ref))
    v_star = np.linalg.solve(h, b)
    e, u = np.linalg.eigh(h)
    jh = np.linalg.norm(j @ (u / np.sqrt(e)) @ u.T, 2)    # ‖J H^{−½}‖
    bound = jh * tb.cg_contraction_bound(kappa, N) * math.sqrt(v_star @ h @ v_star)
    err = float(np.linalg.norm(g - exact))
    return [
        compare(f"AID hypergradient with N = {N} < d_y = {p.y_shape[0]} CG steps = ∇ₓf − J v_N, v_N "
                f"the Krylov H-norm minimizer (κ = {kappa:g}; relative difference)", 0.0, rel, 0.0,
                bias=1e-9, note=f"dense reference with {nr} Krylov vectors",
                reference="NumPy least squares over the Krylov space of the dense Hessian",
                bias_source="float64 rounding of N CG steps on a κ = 100 system (1e-9 relative)"),
        compare_interval(f"AID hypergradient error with N = {N} CG steps ≤ ‖JH^(−½)‖ c_N ‖v*‖_H "
                         "(Chebyshev bound)", bound, err, 0.0, bound,
                         note="passes when the measured error is at most the bound"),
    ]


@check("bilevel-aid-hypergradient")
def aid_hypergradient_check():
    return aid_krylov_verdicts()


# ---------------------------------------------------------------------------------------------
# AID's warm-start contraction
# ---------------------------------------------------------------------------------------------


def contraction_verdict(problem, x, alpha, D, N, rounds, D_predicted=None, label=""):
    """The measured GD-limited rate against max|1 − αλᵢ|^D (λᵢ: ∇²ᵧg at y*(x)), bias: the faster
    modes' transient at the measured round (``_bilevel_measure.mode_prediction``).
    ``D_predicted`` ≠ D is the power test's wrong prediction."""
    dp = D if D_predicted is None else D_predicted
    e = m.aid_error_curve(problem, x, alpha, D, N, rounds)
    rate, k = m.tail_rate(e)
    with jax.enable_x64(True):
        xx = jnp.asarray(x, jnp.float64)
        h = np.asarray(jax.jit(lambda z: problem.lower_hessian(z, problem.y_star(z)))(xx))
    lam = np.linalg.eigvalsh(h)
    pred = float(np.max(np.abs(1 - alpha * lam)) ** dp)
    modes = m.mode_prediction(problem, x, alpha, dp, rounds)
    transient = abs(modes[k] / modes[k - 1] - pred)
    return compare(f"warm-start AID error contraction per outer step = max|1 − αλᵢ|^D {label}"
                   f"(D = {D}, N = {N}, round {k})", pred, rate, 0.0,
                   bias=transient + rate * (1e-6 + 1e-14 / e[k]),
                   note="deterministic; λᵢ the spectrum of ∇²ᵧg at y*(x)",
                   reference="the eigenvalues of the dense ∇²ᵧg at the Newton solution y*(x)",
                   bias_source="the faster modes' transient at round k (linearized at y*, from the "
                               "spectrum) + 1e-6 relative + float64 rounding")


@check("bilevel-aid-warm-start-contraction")
def aid_contraction():
    out = []
    for kappa, D in ((10.0, 1), (10.0, 3), (100.0, 10)):
        p = m.quadratic(kappa)
        out.append(contraction_verdict(p, m.X_FIXED, 1.0 / p.lower_smoothness, D, 40, 80,
                                       label=f"(κ = {kappa:g}) "))
    for N in (1, 2, 4):
        p = m.quadratic(10.0)
        e = m.aid_error_curve(p, m.X_FIXED, 1.0 / p.lower_smoothness, 400, N, 60)
        rate, k = m.mean_rate(e)
        bound = tb.cg_contraction_bound(p.lower_smoothness / p.lower_strong_convexity, N)
        out.append(compare_interval(f"CG-limited warm-start AID contraction ≤ Chebyshev bound c_N "
                                    f"(κ=10, D=400, N={N}; geometric mean over rounds 1..{k})",
                                    bound, rate, rate, 1.0,
                                    note="passes when the measured rate ≤ c_N (an upper bound)"))
    return out


# ---------------------------------------------------------------------------------------------
# Perturbed AID: the kicked law, and its rates in κ and ε
# ---------------------------------------------------------------------------------------------

KICK = dict(kappa=10.0, beta=0.2, radius=1e-3, escape_radius=0.1, D=50, N=20)


def kicked_law_verdicts(kick_length=KICK["radius"], n=2048, seed=7):
    """Perturbed AID's kick moves x by at most ``kick_length`` (the algorithm's r is that over β);
    the law is that of a kick of length ≤ KICK['radius'] (a different ``kick_length`` is the power
    test's wrong kick)."""
    k = KICK
    p = m.quadratic(k["kappa"])
    growth = tb.perturbed_aid_escape_growth(p, np.zeros(2), k["beta"])
    law = dict(r=k["radius"], radius=k["escape_radius"], dim=2, growth=growth)
    horizon = int(ke.kicked_escape_quantile(1 - 1e-6, **law)) + 40
    res = m.perturbed_escape(p, beta=k["beta"], radius=kick_length,
                             escape_radius=k["escape_radius"], D=k["D"], N=k["N"], n_paths=n,
                             n_steps=3 * horizon, seed=seed)
    iters = res.steps[res.exited] - 1
    thresholds = m.nonlinear_thresholds(p, k["beta"], k["escape_radius"], horizon)
    nonlin = m.nonlinear_kicked_mean(thresholds, k["radius"], 2)
    pred = ke.kicked_escape_mean(**law)
    est = stats.iid_mean(iters.astype(float))
    grid = np.arange(horizon)
    ecdf = np.searchsorted(np.sort(iters), grid, side="right") / iters.size
    gap = float(np.max(np.abs(ecdf - ke.kicked_escape_cdf(grid, **law))))
    band = math.sqrt(math.log(2 / 6e-5) / (2 * iters.size))
    return [
        compare("perturbed AID mean escape iteration after the kick x − βξ = kicked-linear law",
                pred, float(est.value), float(est.se), bias=abs(nonlin - pred),
                note=f"{res.counts()}",
                reference="the kicked-linear law (incomplete beta function), growth 1 + β|λ_min|",
                bias_source=("the exact 1-D map's shift of the mean escape iteration from the cubic "
                             "term of ∇Φ (nonlinear_kicked_mean)")),
        compare_interval("perturbed AID escape-iteration ECDF within the DKW band of the "
                         "kicked-linear law (sup gap; level 6e-5)", 0.0, gap, gap - band,
                         gap + band)]


@check("bilevel-perturbed-aid-escape")
def perturbed_aid_escape():
    return kicked_law_verdicts()


def kappa_exponent_verdict(kappas=(2.0, 8.0, 32.0), eps=1e-2, n=64, wrong_kick=False, inner=None):
    """The κ-exponent of perturbed AID's mean iterations to an ε-SOSP (template, from the saddle)
    against the exact-gradient perturbed GD's. Both are ∝ L_Φ = 1/β (the template's step): what
    the claim tests is that AID with the paper's inner loops D = ⌈κι⌉, N = ⌈√κι⌉ is as fast as
    the exact hypergradient at every κ. Power tests: ``wrong_kick`` makes the *reference* kick by
    r instead of βr (the pre-fix parametrization); ``inner`` = (D, N) runs an inexact AID."""
    meas, refs = [], []
    for kappa in kappas:
        p = rates.kappa_instance(kappa)
        t, L, _ = rates.template(p, eps)
        horizon = int(60 * L) + 500
        res, _ = rates.perturbed_aid_sosp(p, eps, np.zeros(2), n_paths=n, n_steps=horizon, seed=23,
                                          inner=inner)
        meas.append(res.steps[res.exited].astype(float))
        ref_steps = rates.reference_perturbed_gd(p, eps, np.zeros((4096, 2)), max_steps=horizon,
                                                 seed=24,
                                                 kick_scale=1.0 / t["beta"] if wrong_kick else 1.0)
        refs.append(ref_steps[ref_steps > 0].astype(float))
    a = rates.boot_slope(np.asarray(kappas), meas, 300, seed=1)
    b = rates.boot_slope(np.asarray(kappas), refs, 300, seed=2)
    return compare(f"κ-exponent of perturbed AID's iterations to an ε-SOSP (template, ε = {eps:g}) "
                   "= exact-gradient perturbed GD's", b["slope"], a["slope"],
                   math.hypot(a["se"], b["se"]),
                   note=f"κ = {kappas}; L_Φ ∝ κ^(4/3) + const on this instance; bootstrap SEs",
                   reference="Jin et al.'s perturbed GD with the closed-form ∇Φ, in NumPy")


def eps_slope_verdict(eps_grid=(1e-3, 1e-4, 1e-5), n=128, curvature=2.0):
    """Iterations per e-fold of 1/ε from generic starts (four strict saddles) against
    1/|ln(1 − β·curvature)|; ``curvature`` ≠ 2 is the power test's wrong exponent."""
    p = rates.several_saddles()
    x0 = np.random.default_rng(5).uniform(-1.5, 1.5, (n, 2))
    steps = []
    for eps in eps_grid:
        res, t = rates.perturbed_aid_sosp(p, eps, x0, n_paths=n, n_steps=4000, seed=33)
        steps.append(np.where(res.status == 1, res.steps, -1))
    k = np.array(steps)
    ok = np.all(k > 0, axis=0)
    slope, se = rates.log_slope(eps_grid, k[:, ok].astype(float))
    pred, bias = rates.log_slope_prediction(t["beta"], max(eps_grid), curvature)
    return compare("perturbed AID from generic starts (4 strict saddles): iterations per e-fold of "
                   "1/ε = 1/|ln(1 − 2β)| (the contraction at the minima)", pred, slope, se, bias=bias,
                   bias_source="the cubic term of ∇Φ at the largest ε (log_slope_prediction)",
                   note=f"{int(ok.sum())}/{n} starts reach every ε; β = 1/L_Φ = {t['beta']:.4g}",
                   reference="closed form: ∇²Φ = 2I at the minima of Σ(xᵢ⁴/4 − xᵢ²/2)")


@check("bilevel-sosp-rates")
def sosp_rates():
    return [kappa_exponent_verdict(), eps_slope_verdict()]


# ---------------------------------------------------------------------------------------------
# StocBiO
# ---------------------------------------------------------------------------------------------


@check("bilevel-stocbio-one-step")
def stocbio_one_step():
    with jax.enable_x64(True):
        p = m.quadratic(10.0, sigma_f=0.3, sigma_g=0.3, d_y=8)
        alpha, beta, D, Q = 0.1, 0.01, 4, 6
        alg = so.StocBiO(p, alpha=alpha, beta=beta, D=D, Q=Q)
        x = jnp.array([0.3, -0.5])
        s0 = alg.init(x, p.y_star(x))
        n = 40000
        keys = jax.random.split(jax.random.key(3), n)
        dx = jax.jit(jax.vmap(lambda kk: alg.step(s0, alg.noise.sample(kk, jnp.float64)).x - x))(keys)
        dx = np.asarray(dx) / beta
        red = alg.reduced_problem()
        mean = -np.asarray(red.grad(x))
        y, gy = red.inner_sensitivity(x)
        hq = np.asarray(neumann_inverse(p.lower_hessian(x, y), alpha, Q))
        mq = np.concatenate([np.eye(2), -np.asarray(p.lower_cross_matrix(x, y)) @ hq], 1)
        _, w, _, _ = inner_error_covariances(p, x, alpha, D)
        cov = np.asarray(mq @ p.upper_grads_cov(x, y) @ mq.T + gy @ w @ gy.T)
    out = []
    for i in range(2):
        out.append(compare(f"StocBiO E[Δx_{i + 1}]/β = −∇Φ_Q (from y = y*)", mean[i],
                           float(dx[:, i].mean()), float(np.sqrt(cov[i, i] / n))))
        var = float(dx[:, i].var(ddof=1))
        out.append(compare(f"StocBiO Var[Δx_{i + 1}]/β² = (M_Q C_F M_Qᵀ + G_y W G_yᵀ)_{i + 1}{i + 1}",
                           cov[i, i], var, float(np.sqrt(2.0 / (n - 1)) * cov[i, i]),
                           note="Gaussian SE of a variance (the increment is Gaussian)"))
    return out


@functools.cache
def _escape(beta, n):
    return m.stocbio_saddle_escape(beta, radius=0.3, n_paths=n, seed=17)


@check("bilevel-stocbio-reduced-sde-escape")
def stocbio_reduced_sde_escape():
    out = []
    for beta, n in ((0.03, 2048), (0.01, 2048)):
        res, pr = _escape(beta, n)
        s = stats.exit_time_summary(res, unit="time")
        out.append(compare(f"StocBiO mean escape time from the saddle = reduced SDE (β={beta:g})",
                           pr["pred_time"], s.mean, s.mean_se,
                           bias=abs(pr["em_time"] - pr["linear_time"]),
                           note="reduced SDE: −∇Φ_Q drift (finite-Q bias) and long-run Σ_Φ; bias = "
                                "|EM − continuous| exit time of the linear saddle (O(β))",
                           bias_source=('the O(β) Euler discretization of the linear saddle: '
                                        '|EM − continuous| exit time from the Dawson formulas')))
    return out


def stationary_verdicts(beta=0.01, n=2048, seed=23, one_call=False):
    """StocBiO's stationary variances at the minimum against the Lyapunov covariance of the
    reduced SDE with the long-run Σ_Φ; ``one_call=True`` predicts with the one-call covariance
    (no autocorrelation of successive hypergradients through the warm start) instead: the power
    test's wrong noise model."""
    res, pr = m.stocbio_stationary(beta, n_paths=n, seed=seed)
    f = res.final[res.status != 2]
    pred = pr["pred_one_call"] if one_call else pr["pred"]
    out = []
    for i in range(2):
        v = float(f[:, i].var(ddof=1))
        se = float(np.sqrt(2.0 / (f.shape[0] - 1)) * v)
        out.append(compare(f"StocBiO stationary Var x_{i + 1} at the minimum = Lyapunov covariance of "
                           f"the reduced SDE with the long-run Σ_Φ (β={beta:g})", pred[i, i], v,
                           se, bias=abs(pr["pred_em"][i, i] - pr["pred"][i, i]),
                           note=f"one-call Σ would predict {pr['pred_one_call'][i, i]:.3g}",
                           bias_source=('the O(β) Euler discretization: |EM − continuous| Lyapunov '
                                        'variance of the reduced linear SDE')))
    return out


@check("bilevel-stocbio-stationary-covariance")
def stocbio_stationary():
    return stationary_verdicts()


def diffusion_verdict(alg, x, *, n_paths=1000, K=200, burn=60, seed=0, predicted_by=None,
                      label=""):
    """StocBiO's long-run tr Cov(ĝ) at a frozen x (Monte Carlo along the warm-started inner chain)
    against tr Σ_Φ(x) of the limit; ``predicted_by``: another reduced problem (the power test's
    wrong noise model)."""
    red = alg.reduced_problem() if predicted_by is None else predicted_by
    est, se = m.long_run_trace(m.frozen_hypergradients(alg, x, n_paths=n_paths, n_steps=K, burn=burn,
                                                       seed=seed), K)
    pred, finite_k = m.long_run_prediction(red, x, K)
    allowance = m.second_order_allowance(alg.reduced_problem(), x)
    return compare(f"StocBiO's diffusion coefficient {label}: long-run tr Cov(ĝ) along the "
                   "warm-started inner chain = tr Σ_Φ of its limit", pred, est, se,
                   bias=finite_k + allowance,
                   reference="the dense second moments of the Neumann estimate and the AR(1) inner "
                             "chain (stocbio_call_moments, inner_error_covariances)",
                   bias_source="the finite-K correction of the inner chain (exact) + the second-order "
                               "term of ĝ in the inner error (sigma points × long-run factor)")


def drift_verdict(alg, x, *, n_paths=400, K=100, burn=60, seed=0, without_shift=False, label=""):
    r"""StocBiO's drift at a frozen x: the mean of ĝ along the warm-started inner chain (Monte Carlo,
    per-path means) against the limit's drift field ∇Φ_Q + s, read along u = s/‖s‖ (s the inner
    shift, ``ReducedHypergradient.inner_shift``): measured ⟨E ĝ − ∇Φ_Q, u⟩ against ‖s‖.
    ``without_shift``: predict 0 along u (the limit before the shift, ∇Φ_Q alone): the power
    test's wrong drift."""
    from sde_opt.problems.bilevel import biased_hypergradient

    red = alg.reduced_problem()
    with jax.enable_x64(True):
        xx = jnp.asarray(x, jnp.float64)
        q = np.asarray(jax.jit(lambda z: biased_hypergradient(red.bilevel, z, red.bilevel.y_star(z),
                                                               red.alpha, red.Q))(xx))
        shift = np.asarray(jax.jit(lambda z: red.inner_shift(z))(xx))
    size = float(np.linalg.norm(shift))
    u = shift / size
    means = m.frozen_hypergradients(alg, x, n_paths=n_paths, n_steps=K, burn=burn, seed=seed)
    measured, se = m.drift_along(means, q, u)
    allowance = abs(float((m.sigma_point_shift(red, x) - shift) @ u))
    return compare(f"StocBiO's drift {label}: E[ĝ] along the warm-started inner chain, along the "
                   "inner shift u = s/‖s‖, = ‖s‖ (the limit's drift ∇Φ_Q + s)",
                   0.0 if without_shift else size, measured, se, bias=allowance,
                   note=f"‖s‖ = {size:.3g}; {n_paths} paths × {K} steps after {burn}",
                   reference="Taylor expansion of E[ḡ(y* + e)] over the inner chain's stationary law "
                             "(autodiff second derivatives; the AR(1) covariance S)",
                   bias_source="the fourth-order terms: |⟨sigma-point shift − Taylor shift, u⟩| "
                               "(sigma_point_shift)")


def drift_softplus_setup():
    """Softplus lower level with a large lower-level noise (σ_g = 1), where the inner shift is
    about 9 SE of a 400-path Monte Carlo."""
    p = so.SoftplusBilevel(sigma_f=0.1, sigma_g=1.0)
    return p, np.array([0.3, -0.5]), 0.5 / p.lower_smoothness


@check("bilevel-stocbio-drift")
def stocbio_drift():
    p, x, alpha = drift_softplus_setup()
    h, xh, _ = minibatch_setup()
    return [drift_verdict(so.StocBiO(p, alpha, 0.01, D=4, Q=6), x, label="(softplus lower level)"),
            drift_verdict(so.StocBiO(h, 0.8 / h.lower_smoothness, 0.01, D=4, Q=6), xh,
                          label="(hyper-cleaning, batch 4)")]


def softplus_setup(sigma=0.3):
    """A softplus lower level (d_y = 4, seed 6) whose two smallest curvatures at y*(x) are well
    apart (0.54, 0.88), so that the asymptotic rate shows before float64 rounding."""
    p = so.SoftplusBilevel(d_y=4, seed=6, sigma_f=sigma, sigma_g=sigma)
    return p, np.array([0.3, -0.2]), 0.5 / p.lower_smoothness


@check("bilevel-nonquadratic-lower-level")
def nonquadratic_lower_level():
    p, x, alpha = softplus_setup()
    return [contraction_verdict(p, x, alpha, 2, p.y_shape[0], 120, label="(softplus lower level) "),
            diffusion_verdict(so.StocBiO(p, alpha, 0.01, D=4, Q=6), x,
                              label="(softplus lower level)")]


def minibatch_setup():
    p = so.HyperCleaning(n_train=12, n_val=12, dim=3, batch_size=4)
    return p, np.random.default_rng(0).standard_normal(12) * 0.5, 0.2 / p.lower_smoothness


@check("bilevel-minibatch-oracle")
def minibatch_oracle():
    p, x, alpha = minibatch_setup()
    return [diffusion_verdict(so.StocBiO(p, alpha, 0.01, D=4, Q=6), x,
                              label="(hyper-cleaning, batch 4: sampled Hessian/Jacobian products)")]

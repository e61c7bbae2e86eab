"""Exit from a strict saddle: the linear SDE under Euler–Maruyama, and SGD / heavy ball.

validation-theory.md §3. For dX = λX dt + σ dW from 0, the exact mean exit time from |x| < r is
the Dawson integral (2/λ)∫_0^{r√λ/σ} F; EM with step h exits O(h) later; the law tends to
P(τ ≤ t) = erfc((r√λ/σ) e^{−λt}). SGD at a saddle is EM of that SDE with h = η, σ² = ηc;
heavy ball has the effective step η/(1 − μ) in the diffusion limit but its own discrete growth
rate ln ρ < η λ/(1 − μ) (:func:`sde_opt.theory.heavy_ball_exit_iterations`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

import sde_opt as so
from sde_opt import stats, theory

from ._framework import Z_DEFAULT, Verdict, check, compare, compare_interval

ALPHA = 2.0 * sps.norm.sf(Z_DEFAULT)  # the false-alarm rate of a 4-SE acceptance interval


def _ks_verdict(claim: str, pit_or_sample, cdf=None, *, bias: float = 0.0, note: str = ""):
    """Pass when the KS distance to the law is below its 1 − ALPHA critical value (+ a bias bound).

    Reported as predicted = 0 (the distance under the claim), measured = D, interval
    D ± (D_crit + bias).
    """
    x = np.asarray(pit_or_sample, dtype=float)
    d = float(sps.kstest(x, "uniform" if cdf is None else cdf).statistic)
    half = float(sps.kstwo.isf(ALPHA, x.size)) + bias
    return compare_interval(claim, 0.0, d, d - half, d + half, note=note)


def _randomized_pit(steps, grid_cdf, rng):
    """U = F(n − 1) + V (F(n) − F(n − 1)): exactly uniform when steps ~ the discrete law F."""
    hi, lo = grid_cdf(steps), grid_cdf(steps - 1)
    return lo + rng.uniform(size=steps.size) * (hi - lo)


@check("saddle-exit-sde")
def saddle_exit_sde() -> list[Verdict]:
    lam, sigma, r, h = 1.0, 0.05, 1.0, 0.01
    chain = so.EulerMaruyama(so.LinearSDE([[lam]], sigma), h)
    res = so.simulate(chain, np.zeros(1, np.float32), 31, n_paths=20000, n_steps=3000,
                      events=[so.LeaveBall(np.zeros(1), r)])
    level = 1.0 - ALPHA
    s = stats.exit_time_summary(res, quantiles=(0.5,), level=level)
    counts = f"{s.exited} exited, {s.censored} censored, {s.diverged} diverged"
    dawson = theory.saddle_exit_mean(lam, sigma, r)
    em_correction = (theory.saddle_exit_mean_em(lam, sigma, r, h)
                     - theory.saddle_exit_mean_asymptotic(lam, sigma, r))
    out = [compare(
        f"linear SDE saddle (λ={lam:g}, σ={sigma:g}, r={r:g}) EM h={h:g}: mean exit time = "
        "Dawson + EM correction",
        dawson + em_correction, s.mean, s.mean_se, bias=sigma**2 / (2 * lam**2 * r**2),
        note=f"EM correction {em_correction:.4f} = {em_correction / s.mean_se:.1f} SE "
             f"(Dawson mean alone {dawson:.4f}); bias bound σ²/(2λ²r²): the O(σ²) terms of the "
             f"EM correction; {s.mean_kind}; {counts}")]

    grid_cdf = lambda n: theory.saddle_exit_cdf(n * h, lam, sigma, r, dt=h)  # noqa: E731
    med_pred = h * math.ceil(theory.saddle_exit_quantile(0.5, lam, sigma, r, dt=h) / h - 1e-9)
    est, lo, hi = s.quantile(0.5)
    out.append(compare_interval(
        f"linear SDE saddle EM h={h:g}: median exit time = EM limiting-law median",
        med_pred, est, lo, hi,
        note=f"distribution-free order-statistic interval at level 1 − {ALPHA:.1e}; continuous "
             f"limiting median (1/λ)[ln(r√(2λ)/σ) + 0.39380] = "
             f"{theory.saddle_exit_quantile(0.5, lam, sigma, r):.4f}"))

    pit = _randomized_pit(res.steps.astype(float), grid_cdf, np.random.default_rng(32))
    out.append(_ks_verdict(
        f"linear SDE saddle EM h={h:g}: exit-step law = erfc(r(1+λh)^−n/√(2v_h)) (KS)",
        pit, note="randomized probability integral transform of the discrete law, exactly "
                  f"uniform under the claim; n={res.n_paths}"))
    t_fine = np.linspace(0.0, res.n_steps * h, 200001)
    grid_bias = float(np.max(np.abs(grid_cdf(np.floor(t_fine / h + 1e-9))
                                    - theory.saddle_exit_cdf(t_fine, lam, sigma, r))))
    out.append(_ks_verdict(
        f"linear SDE saddle EM h={h:g}: exit-time law → erfc((r√λ/σ)e^(−λt)) (KS)",
        res.times, lambda t: theory.saddle_exit_cdf(t, lam, sigma, r), bias=grid_bias,
        note=f"bias bound sup|F_h − F| = {grid_bias:.4f}: EM's grid law vs the continuous "
             "limiting law (discretization, not noise)"))
    return out


@check("saddle-exit-sgd-msgd")
def saddle_exit_sgd_msgd() -> list[Verdict]:
    lam, kappa, c, r = 1.0, 1.0, 1.0, 1.0
    problem = so.QuadraticSaddle([-lam, kappa], c)
    out = []
    for name, eta, mu, seed in (("SGD", 0.005, 0.0, 41), ("MSGD", 0.0005, 0.9, 42)):
        alg = so.MomentumSGD(problem, eta, mu)
        res = so.simulate(alg, np.zeros(2, np.float32), seed, n_paths=10000, n_steps=20000,
                          events=[so.LeaveBall(np.zeros(2), r)])
        s = stats.exit_time_summary(res, unit="steps")
        counts = f"{s.exited} exited, {s.censored} censored, {s.diverged} diverged"
        discrete = theory.heavy_ball_exit_iterations(lam, c, eta, r, mu=mu)
        ml = theory.saddle_exit_iterations(lam, c, eta, r, mu=mu)
        # the stable coordinate shrinks the room left in the ball:
        # E ln√(r² − x₂²) ≈ ln r − Var x₂/(2r²), i.e. Var x₂/(2r² ln ρ) iterations earlier
        b = 1.0 + mu + eta * lam
        log_rho = math.log(0.5 * (b + math.sqrt(b * b - 4.0 * mu)))
        var_stable = theory.heavy_ball_moments(kappa, c, eta, mu).var_x
        shift = -var_stable / (2.0 * r * r * log_rho)
        unmodelled = c / (2.0 * lam**2 * r**2)  # O(σ²) terms, in iterations
        eta_eff = eta / (1.0 - mu)
        out.append(compare(
            f"{name} (η={eta:g}, μ={mu:g}) on QuadraticSaddle(−1, 1), c=1, ball r={r:g}: mean "
            "exit iterations = discrete heavy-ball prediction",
            discrete + shift, s.mean, s.mean_se, bias=unmodelled,
            note=f"growth ρⁿ of the unstable coordinate (AR(2); AR(1) at μ=0), "
                 f"ln ρ = {log_rho:.6f} vs η_eff λ = {eta_eff * lam:.6f}; includes the "
                 f"stable-direction shift {shift:.2f}; bias bound c/(2λ²r²) for O(σ²) terms; "
                 f"{counts}"))
        out.append(compare(
            f"{name} (η={eta:g}, μ={mu:g}): mean exit iterations = ML reading "
            f"(1/(2η_eff λ))[ln(4λr²/(η_eff c)) + γ], η_eff={eta_eff:g}",
            ml, s.mean, s.mean_se, bias=abs(discrete + shift - ml) + unmodelled,
            note=f"known bias sources: heavy ball's discrete growth rate ln ρ differs from "
                 f"η_eff λ by a relative {1 - log_rho / (eta_eff * lam):.4f} "
                 f"(≈ μη_eff λ/(1 − μ) + O(η_eff)), the variance of the growing component and the "
                 f"grid overshoot (½ step), the stable coordinate ({shift:.2f} iterations) and "
                 f"O(σ²) terms; total bound {abs(discrete + shift - ml) + unmodelled:.2f} "
                 f"iterations; without it the ML reading is "
                 f"{abs(s.mean - ml) / s.mean_se:.1f} SE away"))
    return out

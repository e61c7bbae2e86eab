r"""Exit time from a strict saddle of a linear SDE, its Euler–Maruyama chain, and SGD / heavy ball.

Setting (validation-theory.md §3): dX = ΛX dt + σ dW with Λ = diag(λ, −κ₂, …), λ > 0, X(0) = 0,
and τ_r = inf{t : |X₁(t)| ≥ r}. The unstable coordinate is decoupled, so the stable ones do not
affect τ_r. Writing X₁(t) = e^{λt} Y_t with Y_t = σ∫_0^t e^{−λs} dW_s → Y_∞ ~ N(0, σ²/(2λ)),
the exit happens when e^{λt}|Y_∞| ≈ r, which gives the limiting law; the exact mean solves
(σ²/2)T'' + λxT' = −1, T(±r) = 0.

Labels are those of validation-theory.md ([derived] unless said otherwise). Dimensionless
radius: R = r√λ/σ; the small-noise regime is R ≫ 1.

ML reading: SGD at a saddle with Hessian eigenvalue −λ and gradient-noise variance c along the
unstable eigenvector is EM of dX = λX dt + √(ηc) dW with h = η (t = kη); heavy ball with
momentum μ has the diffusion limit with λ/(1 − μ) and noise √(ηc)/(1 − μ), i.e. SGD at the
effective step η/(1 − μ).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special
from scipy import special as sp

from .._checks import check_array, check_bool, check_integer, check_scalar

EULER_GAMMA = float(np.euler_gamma)


def _positive(name: str, **values) -> list[float]:
    """Each value a finite real scalar > 0 (a clear error naming it otherwise); returned as
    floats in order."""
    return [check_scalar(name, k, v, 0.0, math.inf, low_closed=False, high_closed=False)
            for k, v in values.items()]


def _momentum(name: str, mu) -> float:
    return check_scalar(name, "mu", mu, 0.0, 1.0, high_closed=False)


# ---------------------------------------------------------------------------------------------
# Continuous time
# ---------------------------------------------------------------------------------------------


def _radial_integrand(u: float, k: int) -> float:
    r"""G_k(u) = ∫_0^u (v/u)^{k−1} e^{−(u² − v²)} dv (= Dawson's F(u) for k = 1)."""
    if k == 1:
        return float(sp.dawsn(u))
    if u == 0.0:
        return 0.0
    # G_k(u) = (1/(2u)) ∫_0^{u²} (1 − s/u²)^{(k−2)/2} e^{−s} ds; e^{−60} is below double precision
    top = min(u * u, 60.0)
    val, _ = integrate.quad(lambda s: (1.0 - s / (u * u)) ** ((k - 2) / 2.0) * math.exp(-s),
                            0.0, top, epsabs=1e-14, epsrel=1e-12, limit=200)
    return val / (2.0 * u)


def saddle_exit_mean(lam, sigma, r, *, k: int = 1) -> float:
    r"""Exact mean exit time E τ_r from the saddle, started at 0.

    k = 1 (one unstable direction, validation-theory.md §3, [derived]):

        E τ_r = (2/λ) ∫_0^{R} F(u) du,   R = r√λ/σ,   F = Dawson's integral (scipy.special.dawsn).

    k ≥ 1 equal unstable directions, exit of the unstable part |X_u| from the ball of radius r
    [derived here from the radial backward equation (σ²/2)(T'' + (k−1)T'/ρ) + λρT' = −1,
    T(r) = 0, T'(0) = 0; it reduces to the line above for k = 1]:

        E τ = (2/λ) ∫_0^{R} G_k(u) du,   G_k(u) = ∫_0^u (v/u)^{k−1} e^{−(u² − v²)} dv.

    Computed by adaptive quadrature (nested for k > 1).

    Args:
        lam: the unstable eigenvalue λ > 0 (dX₁ = λX₁ dt + σ dW).
        sigma: noise σ > 0 per coordinate.
        r: exit radius r > 0.
        k: number of unstable directions sharing λ.
    """
    lam, sigma, r = _positive("saddle_exit_mean", lam=lam, sigma=sigma, r=r)
    k = check_integer("saddle_exit_mean", "k", k, low=1)
    big_r = r * math.sqrt(lam) / sigma
    val, _ = integrate.quad(lambda u: _radial_integrand(u, k), 0.0, big_r, epsabs=1e-13,
                            epsrel=1e-11, limit=500)
    return 2.0 * val / lam


def saddle_exit_mean_from(lam, sigma, r, x0) -> float:
    r"""Exact mean exit time from |x| < r of dX = λX dt + σ dW started at x0 (|x0| < r).

    The backward equation ½σ²T'' + λxT' = −1, T(±r) = 0 gives (module §3, with a lower limit)

        E τ = (2/λ) ∫_{|x0|√λ/σ}^{r√λ/σ} F(u) du,      F = Dawson's integral;

    as σ → 0 (noise vanishing along the unstable direction) it tends to the deterministic
    growth time log(r/|x0|)/λ, which is returned for σ = 0.
    """
    owner = "saddle_exit_mean_from"
    lam, r = _positive(owner, lam=lam, r=r)
    sigma = check_scalar(owner, "sigma", sigma, 0.0, math.inf, high_closed=False)
    x0 = abs(check_scalar(owner, "x0", x0, -r, r, low_closed=False, high_closed=False))
    if sigma == 0:
        if x0 == 0:
            raise ValueError("saddle_exit_mean_from: x0 must be nonzero when sigma = 0 (a path "
                             "started at 0 never leaves); got x0=0.0")
        return math.log(r / x0) / lam
    lo, hi = x0 * math.sqrt(lam) / sigma, r * math.sqrt(lam) / sigma
    val, _ = integrate.quad(special.dawsn, lo, hi, epsabs=1e-13, epsrel=1e-11, limit=500)
    return 2.0 * val / lam


def saddle_exit_mean_asymptotic(lam, sigma, r, *, k: int = 1, correction: bool = True) -> float:
    r"""Small-noise expansion of [`saddle_exit_mean`][sde_opt.theory.saddle_exit_mean] (σ²/(λr²) → 0).

    k = 1 (validation-theory.md §3, [derived]):

        E τ_r = (1/(2λ)) [ln(4λr²/σ²) + γ_E] − σ²/(4λ²r²) + O(σ⁴).

    k unstable directions (validation-theory.md §3 for the leading term, [derived]; the σ² term
    [derived here] from G_k(u) ~ 1/(2u) − (k − 2)/(4u³)):

        E τ = (1/(2λ)) [ln(2λr²/σ²) − ψ(k/2) − ln 2] + (k − 2) σ²/(4λ²r²),

    ψ the digamma function; k = 1 gives the line above. ``correction=False`` drops the σ² term.
    """
    lam, sigma, r = _positive("saddle_exit_mean_asymptotic", lam=lam, sigma=sigma, r=r)
    k = check_integer("saddle_exit_mean_asymptotic", "k", k, low=1)
    correction = check_bool("saddle_exit_mean_asymptotic", "correction", correction)
    lead = (math.log(2.0 * lam * r * r / sigma**2) - float(sp.digamma(k / 2.0))
            - math.log(2.0)) / (2.0 * lam)
    return lead + ((k - 2) * sigma**2 / (4.0 * lam**2 * r**2) if correction else 0.0)


def _em_growth(lam: float, dt: float) -> tuple[float, float]:
    """(ρ, Var Y_∞ / σ²) of EM x' = (1 + λh)x + σ√h Z written as x_n ≈ ρⁿ Y_∞."""
    rho = 1.0 + lam * dt
    return rho, dt / (rho * rho - 1.0)


def saddle_exit_cdf(t, lam, sigma, r, *, dt=None):
    r"""Limiting law of the exit time: P(τ_r ≤ t) ≈ erfc((r√λ/σ) e^{−λt}).

    Equivalently λτ_r − ln(r√(2λ)/σ) ⇒ −ln|Z|, Z ~ N(0, 1) (validation-theory.md §3, [derived]);
    accurate when R = r√λ/σ ≫ 1. Usable directly in a KS test:
    ``scipy.stats.kstest(times, lambda t: saddle_exit_cdf(t, lam, sigma, r))``.

    With ``dt = h``, the law of Euler–Maruyama's exit time on its grid t = nh [derived as in §3]:
    x_n ≈ (1 + λh)ⁿ Y with Y ~ N(0, v_h), v_h = σ²h/((1 + λh)² − 1), so

        P(τ_h ≤ nh) ≈ erfc( r (1 + λh)^{−n} / √(2 v_h) ),

    a step function of t (evaluate it at multiples of h; between grid points this returns the
    smooth interpolation).
    """
    lam, sigma, r = _positive("saddle_exit_cdf", lam=lam, sigma=sigma, r=r)
    t = check_array("saddle_exit_cdf", "t", t, nonempty=False).astype(float)
    if dt is None:
        arg = r * math.sqrt(lam) / sigma * np.exp(-lam * t)
    else:
        (dt,) = _positive("saddle_exit_cdf", dt=dt)
        rho, v = _em_growth(float(lam), float(dt))
        arg = r * np.exp(-np.log(rho) * t / dt) / math.sqrt(2.0 * v * sigma**2)
    return sp.erfc(arg)


def saddle_exit_quantile(p, lam, sigma, r, *, dt=None):
    r"""Quantiles of the limiting law: t_p = (1/λ) ln( r√λ / (σ · erfcinv(p)) ).

    The median is (1/λ)[ln(r√(2λ)/σ) + 0.39380] (0.39380 = −ln of the median of |Z|,
    validation-theory.md §3). With ``dt = h`` the EM law is inverted instead (continuous in t;
    the grid quantile is the next multiple of h).
    """
    lam, sigma, r = _positive("saddle_exit_quantile", lam=lam, sigma=sigma, r=r)
    p = check_array("saddle_exit_quantile", "p", p, nonempty=False, low=0.0, high=1.0,
                    low_closed=False, high_closed=False).astype(float)
    if dt is not None:
        (dt,) = _positive("saddle_exit_quantile", dt=dt)
    a = sp.erfcinv(p)
    if dt is None:
        return np.log(r * math.sqrt(lam) / (sigma * a)) / lam
    rho, v = _em_growth(float(lam), float(dt))
    return dt * np.log(r / (math.sqrt(2.0 * v * sigma**2) * a)) / math.log(rho)


def saddle_exit_variance(lam, *, dt=None) -> float:
    r"""Variance of the limiting law: Var τ_r → π²/(8λ²) (sd ≈ 1.1107/λ, independent of σ and r).

    π²/8 = Var ln|Z| (validation-theory.md §3, [derived]). With ``dt = h`` (EM on its grid):
    h² [π²/(8 ln²(1 + λh)) + 1/12], the 1/12 from rounding up to the grid [derived here].
    """
    (lam,) = _positive("saddle_exit_variance", lam=lam)
    if dt is not None:
        (dt,) = _positive("saddle_exit_variance", dt=dt)
    if dt is None:
        return math.pi**2 / (8.0 * float(lam) ** 2)
    rho = 1.0 + float(lam) * float(dt)
    return float(dt) ** 2 * (math.pi**2 / (8.0 * math.log(rho) ** 2) + 1.0 / 12.0)


# ---------------------------------------------------------------------------------------------
# Discrete chains: Euler–Maruyama, SGD and heavy ball
# ---------------------------------------------------------------------------------------------


def _geometric_exit_steps(rho: float, var_w: float, step_var_w: float, r: float) -> float:
    r"""Mean of N = min{n : |x_n| ≥ r} for x_n ≈ ρⁿ W_n, W_n → W ~ N(0, v), in small noise.

    ``var_w`` = v; ``step_var_w`` = q, the variance of the increment W_{n+1} − W_n times
    ρ^{2n}, so that at the exit ln|x| moves per step by ln ρ plus noise of variance b² = q/r².

    * Leading term: N ≈ ln(r/|W|)/ln ρ with E[−ln|W|] = −½ ln v + (γ_E + ln 2)/2, plus ½ for
      rounding up to the grid (validation-theory.md §3).
    * O(σ²) terms [derived here]: W_N differs from W by the future noise, of variance v(|W|/r)²,
      which gives −v/(2r² ln ρ) (the discrete form of the continuous −σ²/(4λ²r²)); and ln|x| is a
      random walk with drift ln ρ and step variance b², whose mean overshoot over ln r is
      (ln²ρ + b²)/(2 ln ρ) rather than ½ ln ρ, which adds b²/(2 ln²ρ). Together ≈ +b²/(4 ln²ρ).
      The overshoot term assumes the walk is drift-dominated, b ≪ ln ρ.
    """
    log_rho = math.log(rho)
    lead = (0.5 * math.log(r * r / var_w) + 0.5 * (EULER_GAMMA + math.log(2.0))) / log_rho + 0.5
    b2 = step_var_w / (r * r)
    return lead - var_w / (2.0 * r * r * log_rho) + b2 / (2.0 * log_rho**2)


def saddle_exit_mean_em(lam, sigma, r, dt) -> float:
    r"""Mean exit time of Euler–Maruyama x' = (1 + λh)x + σ√h Z from |x| < r, started at 0.

    validation-theory.md §3 [derived, checked by Monte Carlo]: with v_h = σ²/(λ(2 + λh)),

        E τ_h ≈ h [½ ln(r²/v_h) + (γ_E + ln 2)/2] / ln(1 + λh) + h/2 + δ_h,

    where h/2 is the grid overshoot. As h → 0 the leading part tends to
    [`saddle_exit_mean_asymptotic`][sde_opt.theory.saddle_exit_mean_asymptotic] and exceeds it by ≈ h (λ E τ/2
    + 3/4).

    δ_h is the O(σ²) term [derived here; checked against a numerically exact Nyström solution
    of the chain's mean-exit-time equation in ``tests/test_theory.py``]: the discrete analogue of
    the continuous −σ²/(4λ²r²) plus the extra overshoot of the noisy grid walk,
    δ_h ≈ +σ²/(4λ²r²) when the last steps are drift-dominated (h ≫ σ²/(λr)²); in the
    opposite regime the overshoot term fades and δ_h → −σ²/(4λ²r²). The reference's
    "subtract σ²/(4λ²r²)" is therefore right for the SDE but of the wrong sign for EM at
    moderate h. Relative residual: O(σ⁴/(λr²)²) in the drift-dominated regime.
    """
    _positive("saddle_exit_mean_em", lam=lam, sigma=sigma, r=r, dt=dt)
    lam, sigma, r, h = float(lam), float(sigma), float(r), float(dt)
    rho, v = _em_growth(lam, h)
    return h * _geometric_exit_steps(rho, v * sigma**2, sigma**2 * h / rho**2, r)


def heavy_ball_exit_iterations(lam, noise_var, eta, r, *, mu=0.0) -> float:
    r"""Mean iterations for heavy ball (SGD at μ = 0) to reach |x₁| ≥ r from the saddle at 0.

    Along the unstable eigenvector (Hessian eigenvalue −λ, gradient-noise variance c), heavy ball
    in sde_opt's form (m' = μm − ηg, x' = x + m', m₀ = 0) is the AR(2) chain
    x_{n+1} = (1 + μ + ηλ)x_n − μx_{n−1} − η√c Z_n [derived here, by the method of §3's EM
    case]. Its roots are ρ > 1 > ρ₂ = μ/ρ, ρ = ½[(1 + μ + ηλ) + √((1 + μ + ηλ)² − 4μ)], and
    x_n ≈ ρⁿ W_n with W_n → W, Var W = η²c ρ²/((ρ − ρ₂)²(ρ² − 1)). Hence

        E N ≈ [½ ln(r²/Var W) + (γ_E + ln 2)/2] / ln ρ + ½ + O(c/(λ²r²)) iterations,

    the O(σ²) term computed as in [`saddle_exit_mean_em`][sde_opt.theory.saddle_exit_mean_em] (≈ +c/(4λ²r²)
    iterations when drift-dominated). For μ = 0 this is
    [`saddle_exit_mean_em`][sde_opt.theory.saddle_exit_mean_em] with h = η, σ² = ηc, divided by η.

    **The growth rate is not the diffusion limit's.** ln ρ = ηλ/(1 − μ) · (1 − μηλ/(1 − μ)² + …),
    so the ML reading ([`saddle_exit_iterations`][sde_opt.theory.saddle_exit_iterations], rate η_eff λ) is off
    by a relative O(μ η_eff λ/(1 − μ)) — ten times η_eff λ at μ = 0.9.

    Neglected: the stable directions (they shift the exit from a *ball* by about
    −Var x_stable/(2r² ln ρ) iterations), the non-growing ρ₂ component of x (a similar shift),
    and O(σ⁴) terms.

    Args:
        lam: λ > 0, minus the negative Hessian eigenvalue.
        noise_var: c > 0, gradient-noise variance along the unstable eigenvector.
        eta: step size η > 0.
        r: exit radius.
        mu: momentum μ ∈ [0, 1).
    """
    lam, c, eta, r = _positive("heavy_ball_exit_iterations", lam=lam, noise_var=noise_var,
                               eta=eta, r=r)
    mu = _momentum("heavy_ball_exit_iterations", mu)
    b = 1.0 + mu + eta * lam
    rho = 0.5 * (b + math.sqrt(b * b - 4.0 * mu))
    rho2 = mu / rho
    step_var = eta**2 * c / (rho - rho2) ** 2
    var_w = step_var * rho**2 / (rho**2 - 1.0)
    return _geometric_exit_steps(rho, var_w, step_var, r)


def saddle_exit_iterations(lam, noise_var, eta, r, *, mu=0.0) -> float:
    r"""The ML reading: expected SGD / heavy-ball iterations to escape a strict saddle.

    With Hessian eigenvalue −λ, gradient-noise variance c along that eigenvector, step η and
    momentum μ, the diffusion limit is SGD's SDE at the effective step η_eff = η/(1 − μ), and
    (validation-theory.md §3, "ML reading", [derived]; §2 for η_eff)

        E[k] ≈ (1/(2 η_eff λ)) [ ln(4λr²/(η_eff c)) + γ_E ]    ≈ ln(1/η)/(2ηλ) for SGD.

    It neglects the O(η) discretization effects (for those use
    [`heavy_ball_exit_iterations`][sde_opt.theory.heavy_ball_exit_iterations]) and the O(η) noise correction.
    The exact mean of the diffusion limit is ``saddle_exit_mean(λ/(1−μ), √(ηc)/(1−μ), r) / η``.
    """
    _positive("saddle_exit_iterations", lam=lam, noise_var=noise_var, eta=eta, r=r)
    mu = _momentum("saddle_exit_iterations", mu)
    eta_eff = float(eta) / (1.0 - mu)
    lam, c, r = float(lam), float(noise_var), float(r)
    return (math.log(4.0 * lam * r * r / (eta_eff * c)) + EULER_GAMMA) / (2.0 * eta_eff * lam)

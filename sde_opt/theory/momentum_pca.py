r"""Momentum SGD on streaming PCA: the predictions of the diffusion-approximation paper.

Problem ([`StreamingPCA`][sde_opt.StreamingPCA]): Σ = diag(λ₁ > λ₂ > … > λ_d), samples X with
E[(e_iᵀX)²(e_jᵀX)²] = α_ij² = κ λ_i λ_j (i ≠ j; κ = 1 for Gaussian X, (ν−2)/(ν−4) for Student-t),
heavy ball with step η and momentum μ on the unit sphere, time t = kη. Liu, Chen, Zhou & Zhao
(2021), papers.md §1.4–1.6 [derived there; checked here by simulation in ``validation/``]:

* **Phase I (escape from the saddle e_s, s ≥ 2, towards e₁).** In the ratio coordinate
  U = w₁/w_s the ODE is exactly linear, dU/dt = ((λ₁ − λ_s)/(1−μ)) U, and the noise at the
  saddle is α_1s √η/(1−μ). cos²(w, e₁) ≥ ℓ is |U| ≥ r = √(ℓ/(1 − ℓ)) when the other
  coordinates are neglected (exactly: |U| ≥ r√(1 + Σ_j V_j²), V_j = w_j/w_s; the O(η) shift this
  causes is ``PCAEscape.stable_shift``). So the escape is the saddle-exit problem of
  validation-theory.md §3 with

      λ' = (λ₁ − λ_s)/(1 − μ),   σ' = α_1s √η/(1 − μ),   r = √(ℓ/(1 − ℓ)),

  and every exit statistic comes from ``sde_opt.theory.saddle_exit`` (not re-derived here).
  In iterations this depends on (η, μ) only through η_eff = η/(1 − μ) (the collapse), and at
  fixed η momentum shortens the mean by the factor (1 − μ)·(L + ln(1 − μ))/L,
  L = ln(4(λ₁−λ_s) r²/(η α_1s²)) + γ_E — a bit *more* than (1 − μ).
* **Phase III (near e₁).** Each coordinate i ≥ 2 is an OU process with rate (λ₁ − λ_i)/(1 − μ)
  and noise α_1i √η/(1 − μ), so the stationary error floor is

      E[1 − (e₁ᵀw)²] ≈ (η/(2(1 − μ))) Σ_{i≥2} α_1i²/(λ₁ − λ_i)         (O(η²) neglected).

  The discrete heavy ball along each direction is the AR(2) chain of validation-theory.md §2,
  whose exact variance ([`heavy_ball_moments`][sde_opt.theory.heavy_ball_moments]) refines this at finite η.
* **Phases I–II mean error curve.** From the saddle, U_t ~ N(0, V_t) with
  V_t = σ'²(e^{2λ't} − 1)/(2λ') (exact for the linear SDE), the ODE keeps the ratio linear through
  Phase II, and the error is 1/(1 + U²); E[1/(1 + V Z²)] = √π x erfcx(x), x = 1/√(2V).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import special as sp

from .._checks import check_array, check_integer, check_scalar
from .heavy_ball import heavy_ball_moments
from .saddle_exit import (
    heavy_ball_exit_iterations,
    saddle_exit_iterations,
    saddle_exit_mean,
    saddle_exit_mean_em,
    saddle_exit_quantile,
    saddle_exit_variance,
)


def _spectrum(spectrum, owner: str = "momentum_pca") -> np.ndarray:
    lam = check_array(owner, "spectrum", spectrum, ndim=1).astype(np.float64)
    if lam.size < 2 or not np.all(np.diff(lam) < 0) or not lam[-1] > 0:
        raise ValueError(f"{owner}: spectrum must be 1-D, positive and strictly decreasing "
                         f"(d >= 2); got {lam.tolist()}")
    return lam


def _eta_mu(name: str, eta, mu) -> tuple[float, float]:
    eta = check_scalar(name, "eta", eta, 0.0, math.inf, low_closed=False, high_closed=False)
    mu = check_scalar(name, "mu", mu, 0.0, 1.0, high_closed=False)
    return eta, mu


def _kurtosis(name: str, kurtosis) -> float:
    return check_scalar(name, "kurtosis", kurtosis, 1.0, math.inf, high_closed=False)


def _level(name: str, level) -> float:
    return check_scalar(name, "level", level, 0.0, 1.0, low_closed=False, high_closed=False)


def _saddle(name: str, saddle, d: int) -> int:
    return check_integer(name, "saddle", saddle, low=1, high=d - 1)


def _check_pca(name: str, spectrum, eta, mu, kurtosis, level=0.5, saddle=1):
    """Every argument of the Phase-I predictions, checked with ``name`` as the owner."""
    lam = _spectrum(spectrum, name)
    eta, mu = _eta_mu(name, eta, mu)
    return lam, eta, mu, _kurtosis(name, kurtosis), _level(name, level), \
        _saddle(name, saddle, lam.size)


def noise_moments(spectrum, kurtosis: float = 1.0, j: int = 0) -> np.ndarray:
    """α_ij² = κ λ_i λ_j for every i (the i = j entry is returned too but is not a tangent noise)."""
    lam = _spectrum(spectrum, "noise_moments")
    kurtosis = _kurtosis("noise_moments", kurtosis)
    j = check_integer("noise_moments", "j", j, low=0, high=lam.size - 1)
    return kurtosis * lam * lam[j]


def escape_radius(level: float = 0.5) -> float:
    """r with cos²(w, e₁) ≥ ``level`` ⟺ |w₁/w_s| ≥ r (near the saddle): r = √(ℓ/(1 − ℓ))."""
    level = _level("escape_radius", level)
    return math.sqrt(level / (1.0 - level))


@dataclasses.dataclass(frozen=True)
class PCAEscape:
    """Phase-I predictions in iterations (see the module docstring).

    Attributes:
        eta, mu, level: the step, momentum and escape level ℓ (cos² ≥ ℓ).
        rate, noise, radius: λ', σ' (time t = kη) and r of the saddle-exit problem.
        gap, noise_var: λ₁ − λ_s and α_1s².
        stable: ``(λ₁, λ_s, κ, ((λ_j, ...)))`` for the stable coordinates j ∉ {1, s} (those
            with λ_j < λ_s), used by ``stable_variance`` and the ``*_exact_event`` means.
    """

    eta: float
    mu: float
    level: float
    rate: float
    noise: float
    radius: float
    gap: float
    noise_var: float
    stable: tuple = ()

    @property
    def eta_eff(self) -> float:
        return self.eta / (1.0 - self.mu)

    @property
    def mean(self) -> float:
        """Mean iterations of the linearized diffusion limit (exact Dawson integral)."""
        return saddle_exit_mean(self.rate, self.noise, self.radius) / self.eta

    @property
    def asymptotic(self) -> float:
        """The paper's Phase-I count in mean: ((1−μ)/(2ηg)) [ln(4 g r²(1−μ)/(η α²)) + γ_E]."""
        return saddle_exit_iterations(self.gap, self.noise_var, self.eta, self.radius, mu=self.mu)

    @property
    def discrete(self) -> float:
        """Mean iterations of heavy ball's AR(2) chain along e₁ (finite-η growth rate)."""
        return heavy_ball_exit_iterations(self.gap, self.noise_var, self.eta, self.radius,
                                          mu=self.mu)

    def em(self, substeps: int = 1) -> float:
        """Mean iterations of Euler–Maruyama of the limit with step η/``substeps``."""
        return saddle_exit_mean_em(self.rate, self.noise, self.radius,
                                   self.eta / substeps) / self.eta

    @property
    def sd(self) -> float:
        """Standard deviation of the limiting law, π/(√8 λ')/η iterations."""
        return math.sqrt(saddle_exit_variance(self.rate)) / self.eta

    def quantile(self, p):
        """Quantiles of the limiting law, in iterations."""
        return saddle_exit_quantile(p, self.rate, self.noise, self.radius) / self.eta

    # ---- the d − 2 stable coordinates and the exact event cos²(w, e₁) ≥ ℓ [derived here] ----
    #
    # In the ratio coordinates U = w₁/w_s, V_j = w_j/w_s (j ∉ {1, s}) the noise-free flow is
    # exactly linear: dV_j/dt = −a_j V_j, a_j = (λ_s − λ_j)/(1 − μ). The exact event
    # w₁²(1 − ℓ) ≥ ℓ(w_s² + Σ_j w_j²) reads |U| ≥ r √(1 + S), S = Σ_j V_j²: the neglected
    # coordinates *raise* the exit radius, so the escape is later by ½ ln(1 + S(τ)) divided by
    # the growth rate of U. The increment of V_j is (√η/(1 − μ)) x_j (xᵀw)/w_s + O(V), with
    # (xᵀw)/w_s = x_s + x₁U + O(V), so its variance rate is (η/(1−μ)²) κλ_j (λ_s + λ₁U²)
    # (E[x_j² x_s x₁] = 0). Backwards from the exit U(t) ≈ r e^{−λ'(τ − t)}, so from V_j(0) = 0
    #
    #   E V_j(τ)² = (η κ λ_j/(1 − μ)²) [ λ_s (1 − e^{−2a_jτ})/(2a_j)
    #                                    + λ₁ r² (1 − e^{−(2a_j + 2λ')τ})/(2a_j + 2λ') ].
    #
    # Neglected (bounded by ``stable_bias``): the fluctuation of S about its mean (Jensen,
    # ≈ Var S/4 ≪ E S), and the O(V²) increase of U's noise, Σ_j λ_j E V_j²·(λ₁/λ_s)… relative,
    # which moves the exit by at most ¼ Σ_j (λ_j/λ_s) E V_j(τ)² / (growth per iteration).

    def stable_variance(self, tau: float | None = None) -> float:
        """E S(τ) = Σ_j E V_j(τ)² at the exit (time units t = kη); τ defaults to the mean exit."""
        if not self.stable:
            return 0.0
        lam1, lam_s, kappa, lam_j = self.stable
        tau = self.mean * self.eta if tau is None else float(tau)
        c = 1.0 / (1.0 - self.mu)
        lam_j = np.asarray(lam_j, dtype=np.float64)
        a = c * (lam_s - lam_j)
        r2 = self.radius**2
        ev = (self.eta * kappa * lam_j * c * c
              * (lam_s * -np.expm1(-2.0 * a * tau) / (2.0 * a)
                 + lam1 * r2 * -np.expm1(-(2.0 * a + 2.0 * self.rate) * tau) / (2.0 * a + 2.0 * self.rate)))
        return float(np.sum(ev))

    def _growth_per_iteration(self, discrete: bool) -> float:
        if not discrete:
            return self.rate * self.eta
        b = 1.0 + self.mu + self.eta * self.gap
        return math.log(0.5 * (b + math.sqrt(b * b - 4.0 * self.mu)))

    def stable_shift(self, discrete: bool = True) -> float:
        """Iterations added by the stable coordinates and the exact event: ½ ln(1 + E S)/growth."""
        return 0.5 * math.log1p(self.stable_variance()) / self._growth_per_iteration(discrete)

    def stable_bias(self, discrete: bool = True) -> float:
        """Bound on what ``stable_shift`` neglects (see the comment above), in iterations."""
        if not self.stable:
            return 0.0
        lam1, lam_s, kappa, lam_j = self.stable
        es = self.stable_variance()
        # V-dependence of U's noise: relative increase ≤ Σ_j λ_j E V_j² (λ₁ + λ_s)/(λ₁ λ_s)
        rel = es * max(lam_j) * (lam1 + lam_s) / (lam1 * lam_s)
        jensen = 0.5 * es * es  # Var S/4 ≤ (E S)²/2 for a sum of squared centred Gaussians
        return (0.25 * rel + 0.5 * jensen) / self._growth_per_iteration(discrete)

    @property
    def discrete_exact_event(self) -> float:
        """``discrete`` plus ``stable_shift``: heavy ball's AR(2) growth along e₁, the
        d − 2 stable coordinates and the exact event cos²(w, e₁) ≥ ℓ."""
        return self.discrete + self.stable_shift(True)

    @property
    def mean_exact_event(self) -> float:
        """``mean`` (diffusion limit) plus the continuous ``stable_shift``."""
        return self.mean + self.stable_shift(False)

    def _discrete_chain(self) -> tuple[float, float, float]:
        """(ρ, Var W, O(σ²) correction) of heavy ball's AR(2) chain along e₁ (see
        [`heavy_ball_exit_iterations`][sde_opt.theory.heavy_ball_exit_iterations], whose formulas are repeated
        here)."""
        lam, c, eta, mu, r = self.gap, self.noise_var, self.eta, self.mu, self.radius
        b = 1.0 + mu + eta * lam
        rho = 0.5 * (b + math.sqrt(b * b - 4.0 * mu))
        rho2 = mu / rho
        step_var = eta**2 * c / (rho - rho2) ** 2
        var_w = step_var * rho**2 / (rho**2 - 1.0)
        log_rho = math.log(rho)
        sigma2 = -var_w / (2.0 * r * r * log_rho) + step_var / (r * r) / (2.0 * log_rho**2)
        return rho, var_w, sigma2

    def discrete_quantile(self, p) -> np.ndarray:
        """Quantiles of heavy ball's exit iterations (leading order): N = ln(r/|W|)/ln ρ + ½ +
        ``stable_shift``, W ~ N(0, Var W); P(N ≤ n) = P(|Z| ≥ (r/√Var W) ρ^{½ − n})."""
        rho, var_w, _ = self._discrete_chain()
        z = sp.ndtri(1.0 - 0.5 * np.asarray(p, dtype=np.float64))   # P(|Z| ≥ z) = p
        r = self.radius
        return (np.log(r / (math.sqrt(var_w) * z)) / math.log(rho) + 0.5
                + self.stable_shift(True))

    @property
    def discrete_sigma2_terms(self) -> float:
        """The O(σ²) terms included in ``discrete`` (future noise and overshoot), iterations;
        their size bounds the same, unmodelled, terms of ``discrete_quantile``."""
        return self._discrete_chain()[2]

    def as_dict(self, quantiles=(0.1, 0.5, 0.9)) -> dict:
        q = np.atleast_1d(self.quantile(np.asarray(quantiles)))
        return {"eta": self.eta, "mu": self.mu, "eta_eff": self.eta_eff, "level": self.level,
                "mean": self.mean, "asymptotic": self.asymptotic, "discrete": self.discrete,
                "em": self.em(), "sd": self.sd,
                "quantiles": {f"{p:g}": float(v) for p, v in zip(quantiles, q)}}


def pca_escape(spectrum, eta, mu=0.0, *, kurtosis: float = 1.0, saddle: int = 1,
               level: float = 0.5) -> PCAEscape:
    """Phase-I escape from the saddle e_{saddle} (0-based index ≥ 1) towards e₁.

    Args:
        spectrum: λ₁ > … > λ_d > 0.
        eta, mu: step size and momentum.
        kurtosis: κ of the samples (``StreamingPCA.kurtosis``).
        saddle: 0-based index s of the starting saddle e_s (default 1: e₂).
        level: escape when cos²(w, e₁) ≥ ``level``.
    """
    lam, eta, mu, kurtosis, level, saddle = _check_pca("pca_escape", spectrum, eta, mu, kurtosis,
                                                       level, saddle)
    gap = float(lam[0] - lam[saddle])
    a2 = float(noise_moments(lam, kurtosis, saddle)[0])
    others = tuple(float(x) for j, x in enumerate(lam) if j not in (0, saddle) and x < lam[saddle])
    stable = (float(lam[0]), float(lam[saddle]), float(kurtosis), others) if others else ()
    return PCAEscape(eta=eta, mu=mu, level=float(level), rate=gap / (1.0 - mu),
                     noise=math.sqrt(eta * a2) / (1.0 - mu), radius=escape_radius(level),
                     gap=gap, noise_var=a2, stable=stable)


def momentum_escape_factor(spectrum, eta, mu, *, kurtosis: float = 1.0, level: float = 0.5) -> float:
    """E N(η, μ)/E N(η, 0) of the linearized limit — the paper's '(1 − μ)' with its log correction."""
    _check_pca("momentum_escape_factor", spectrum, eta, mu, kurtosis, level)
    a = pca_escape(spectrum, eta, mu, kurtosis=kurtosis, level=level).mean
    b = pca_escape(spectrum, eta, 0.0, kurtosis=kurtosis, level=level).mean
    return a / b


def stationary_error(spectrum, eta, mu=0.0, *, kurtosis: float = 1.0) -> float:
    """The floor (η/(2(1 − μ))) Σ_{i≥2} α_1i²/(λ₁ − λ_i) of E[1 − (e₁ᵀw)²] (diffusion limit)."""
    lam, eta, mu, kurtosis, *_ = _check_pca("stationary_error", spectrum, eta, mu, kurtosis)
    a2 = noise_moments(lam, kurtosis, 0)[1:]
    return eta / (2.0 * (1.0 - mu)) * float(np.sum(a2 / (lam[0] - lam[1:])))


def stationary_error_discrete(spectrum, eta, mu=0.0, *, kurtosis: float = 1.0) -> float:
    """Σ_i Var x_i of heavy ball's AR(2) chain along each e_i near e₁ (exact on the linear model).

    Var x = ηc(1 + μ)/(h(1 − μ)(2(1 + μ) − ηh)), h = λ₁ − λ_i, c = α_1i² (validation-theory.md §2);
    it exceeds [`stationary_error`][sde_opt.theory.pca_stationary_error] by the relative amount ≈ ηh/(2(1 +
    μ)).
    """
    lam, eta, mu, kurtosis, *_ = _check_pca("stationary_error_discrete", spectrum, eta, mu,
                                            kurtosis)
    a2 = noise_moments(lam, kurtosis, 0)[1:]
    return float(sum(heavy_ball_moments(lam[0] - li, c, eta, mu).var_x
                     for li, c in zip(lam[1:], a2)))


def stationary_error_em(spectrum, eta, mu=0.0, *, kurtosis: float = 1.0, substeps: int = 1) -> float:
    """The floor of Euler–Maruyama of the limit with step η/``substeps`` (linear model).

    Per direction an OU process with a = h/(1−μ), s² = ηc/(1−μ)²; EM's variance is
    s²/(a(2 − a·dt)) (validation-theory.md §1.2), relative bias ≈ a·dt/2 = η h/(2(1−μ)·substeps).
    """
    lam, eta, mu, kurtosis, *_ = _check_pca("stationary_error_em", spectrum, eta, mu, kurtosis)
    substeps = check_integer("stationary_error_em", "substeps", substeps, low=1)
    a2 = noise_moments(lam, kurtosis, 0)[1:]
    h = lam[0] - lam[1:]
    a = h / (1.0 - mu)
    s2 = eta * a2 / (1.0 - mu) ** 2
    dt = eta / substeps
    if np.any(a * dt >= 2.0):
        raise ValueError(f"stationary_error_em: eta/substeps must keep Euler–Maruyama stable "
                         f"(a·dt < 2 in every direction); got a·dt up to {float(np.max(a * dt)):.3g}")
    return float(np.sum(s2 / (a * (2.0 - a * dt))))


def mean_error_curve(spectrum, eta, mu, iterations, *, kurtosis: float = 1.0,
                     saddle: int = 1) -> np.ndarray:
    r"""Predicted mean error E[1 − (e₁ᵀw_k)²] from the saddle e_s, at the given iterations.

    Phases I–II: p_k = E[1/(1 + U_k²)] with U_k ~ N(0, V), V = σ'²(e^{2λ't} − 1)/(2λ'), t = kη
    (the linearized SDE for the noise, the exact ratio ODE for the drift); Phase III adds the
    stationary floor f of [`stationary_error`][sde_opt.theory.pca_stationary_error]: error ≈ p + (1 − p) f. A
    composite of the module's predictions, not a fit; it neglects the O(√η) coordinates other than e₁, e_s
    during
    Phases I–II.
    """
    _check_pca("mean_error_curve", spectrum, eta, mu, kurtosis, 0.5, saddle)
    iterations = check_array("mean_error_curve", "iterations", iterations, nonempty=False, low=0.0)
    esc = pca_escape(spectrum, eta, mu, kurtosis=kurtosis, saddle=saddle)
    t = iterations.astype(np.float64) * esc.eta
    # exponent capped where V is astronomically large (p is then 0 to double precision)
    var = esc.noise**2 * np.expm1(np.minimum(2.0 * esc.rate * t, 700.0)) / (2.0 * esc.rate)
    safe = np.where(var > 0, var, 1.0)
    x = 1.0 / np.sqrt(2.0 * safe)
    p = np.where(var > 0, math.sqrt(math.pi) * x * sp.erfcx(x), 1.0)
    f = stationary_error(spectrum, eta, mu, kurtosis=kurtosis)
    return p + (1.0 - p) * f

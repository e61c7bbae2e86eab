"""What RMSprop, Adam and their SVAG chains share: the oracle's noise scale σ, the flat-geometry
requirement and the check that a limit is asked inside the regime Malladi et al. (2022) prove."""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._checks import check_positive, check_range, is_concrete
from ..problems._base import check_problem
from ..sde.adaptive import require_noise_cov


def default_sigma(problem) -> float:
    """The NGOS noise scale σ of a problem's oracle: 1/√b for a minibatch of b examples drawn with
    replacement ([`FiniteSum`][sde_opt.FiniteSum]: Σ is then the per-example covariance), else 1."""
    b = getattr(problem, "batch_size", None)
    return 1.0 / math.sqrt(b) if isinstance(b, int) and b >= 1 else 1.0


def check_adaptive(owner: str, problem, eta, eps, sigma, betas: dict, u0=0.0) -> None:
    """Construction-time checks shared by the adaptive chains (clear errors, shared checkers)."""
    check_problem(owner, problem, game=False)
    if not problem.geometry.is_flat:
        raise ValueError(f"{owner}: the problem lives on {type(problem.geometry).__name__}; "
                         "adaptive methods (and the paper's SDEs) are defined in flat space — use "
                         "a Euclidean problem")
    check_positive(owner, "eta", eta, scalar=True)
    check_range(owner, "eps", eps, 0.0, np.inf, high_closed=False, scalar=True)
    check_positive(owner, "sigma", sigma, scalar=True)
    for name, beta in betas.items():
        check_range(owner, name, beta, 0.0, 1.0, high_closed=False, scalar=True)
    check_range(owner, "u0", u0, 0.0, np.inf, high_closed=False, scalar=True)


class RegimeWarning(UserWarning):
    """A limit requested for an instance far from the asymptotic family its theorem covers."""


def check_regime(owner: str, problem, eta, eps, betas: dict, u0=0.0) -> None:
    r"""Refuse a limit outside the regime of Malladi, Lyu, Panigrahi & Arora (2022), naming the
    failing condition, and warn (``RegimeWarning``) where the limit is defined but the
    instance sits far from the family the theorem is about.

    The paper proves the SDE as η → 0 with σ₀ = ση, ε₀ = εη and cᵢ = (1 − βᵢ)/η² held fixed. A
    single instance is read as a point of that family, and this package asks:

    * ``eps > 0`` (or a start u₀ > 0) — from the optimizers' start u₀ = 0 the SDE's
      preconditioner P = σ₀√u + ε₀ is invertible only with ε₀ > 0 (with ε₀ = 0 its inverse is
      unbounded at t = 0, outside the Lipschitz hypotheses of the theorem);
    * ``1 − beta ≤ eta`` for every averaging constant β (a warning, not an error) — the family has
      1 − β = c η², so the average spans far more than 1/η steps once c η ≤ 1; an average that
      forgets within fewer steps (Adam's customary β₁ = 0.9 with η = 10⁻³) behaves as a fast
      variable at this η. The theorem is asymptotic, so no finite threshold is *the* regime: the
      limit is still returned, and its accuracy is for the user to check (the square-root scaling
      rule moves an instance out of this range as κ grows: 1 − β grows like κ, η like √κ);
    * the problem defines ``noise_cov`` (Σ enters the u equation and the diffusion).

    The state-dependent condition that the gradient noise dominates the gradient
    (|∂ᵢf|² ≪ Σ_prob,ii: the term σ⁻²(∇f)² that the u equation drops) is not checkable without a
    point; ``sde_opt.theory.adaptive.regime_numbers`` evaluates it where the user has one.
    """
    require_noise_cov(f"{owner}.limit", problem)
    if not is_concrete(eta) or not is_concrete(eps):
        return
    e, h = float(np.asarray(eps)), float(np.asarray(eta))
    start = float(np.asarray(u0)) if is_concrete(u0) else 1.0
    if not (e > 0 or start > 0):
        raise ValueError(f"{owner}.limit: outside the regime of Malladi et al. (2022): the condition "
                         f"eps > 0 fails (eps = {e!r}); the SDE's preconditioner σ₀√u + ε₀ is not "
                         "invertible at the start u = 0 when ε₀ = εη = 0 (give eps > 0, or a start u0 > 0)")
    for name, beta in betas.items():
        if not is_concrete(beta):
            continue
        gap = 1.0 - float(np.asarray(beta))
        # on the boundary up to rounding is inside: β is stored in float32, whose spacing near 1
        # (6e-8) is the error of 1 − β (1 − float32(0.997) = 0.00300002 > 0.003)
        if gap > h * (1 + 1e-6) + 1.2e-7:
            warnings.warn(
                f"{owner}.limit: far from the regime of Malladi et al. (2022): the condition "
                f"1 - {name} <= eta fails (1 - {name} = {gap:.4g} > eta = {h:.4g}); the paper's "
                f"SDE describes 1 - {name} = c·eta² with c fixed as eta → 0, i.e. an average over "
                f"many more than 1/eta steps (here it forgets within ~{1 / gap:.3g} steps, "
                f"c·eta = {gap / h:.3g} > 1): check the limit's accuracy at this eta",
                RegimeWarning, stacklevel=3)

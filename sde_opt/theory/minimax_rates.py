r"""Closed forms behind the NC-SC rate claims (study ``minimax-rates``): the largest stable step
ratio on a quadratic NC-SC instance, the lower bound on the ramp, the stationary gradient floor of
minibatch GDA and the batch size that minimizes oracle calls.

**Step-ratio threshold** [derived here]. The instance Q_κ (ℓ-smooth, μ = ℓ/κ strongly concave in
y, nonconvex in x)

    f(x, y) = −(aℓ/2)‖x‖² + b xᵀy − (μ/2)‖y‖²,   b² = 2aℓμ,  0 < a < 1,

has Φ(x) = (b²/μ − aℓ)/2 ‖x‖² = (aℓ/2)‖x‖² (a strict minimum at 0) and f_xx = −aℓ < 0. GDA's
iteration matrix per coordinate pair is T = [[1 + η_x aℓ, −η_x b], [η_y b, 1 − η_yμ]], with
det T = (1 + η_x aℓ)(1 − η_yμ) + η_xη_y b². At η_y = 1/ℓ, det T = 1 − 1/κ + η_x aℓ(1 + 1/κ),
so det T < 1 exactly when

    η_x ℓ < 1/(a(κ + 1))        (= 2/(κ + 1) at a = ½),

and near that point tr T < 2 < 1 + det T, the eigenvalues are complex and ρ(T) = √det T: GDA
converges iff η_x/η_y < 1/(a(κ + 1)). For OGDA and EG ``critical_step_x`` finds the threshold
from the hand-derived iteration matrices
([`iteration_matrix`][sde_opt.theory.iteration_matrix]); it is ≈ 2/κ too.
A ratio of order 1/κ — not 1/κ² — is what stability on this family needs. With η_y = 1/ℓ,
det T < 1 on *every* 1-D quadratic NC-SC instance with ‖∇²f‖ ≤ ℓ and a strict minimum of Φ once
η_x/η_y < 1/(2κ) (det T < 1 ⇔ η_x(a(1 − η_yμ) + η_y b²) < η_yμ, and a ≤ ℓ, η_y b² ≤ ℓ); GDA and EG
are then stable on 20,000 random such instances per κ (``tests/test_minimax_rates_theory.py``),
and so is OGDA at η_y = 1/(2ℓ) — at η_y = 1/ℓ OGDA's y-step alone is unstable when −f_yy is
close to ℓ (the root −(1 + √5)/2 of z² + z − 1), whatever the ratio.

**Ramp lower bound** ([`RampGame`][sde_opt.RampGame] docstring): every step moves x by at most
2εη_x(1 + δ_κ), so K ≥ (‖x₀‖ − x_ε)/(2εη_x(1 + δ_κ)), whatever η_x is.

**Stationary gradient floor** [derived here]. Minibatch GDA on a quadratic game is the linear
chain z⁺ = Tz − Dξ, ξ ~ N(0, Σ/M), D = diag(η_x I, η_y I); its stationary covariance P solves the
discrete Lyapunov equation P = TPTᵀ + DΣDᵀ/M, so E‖∇Φ(x)‖² = tr(H_Φ P_xx H_Φ) = F₁/M.

**Best batch on the ramp** [derived here]. Measured by the papers' stochastic criterion — the
average of ‖∇Φ(x_k)‖² over the iterates so far, E(1/K)Σ_k‖∇Φ(x_k)‖² ≤ ε² — a path from far away
spends K_a iterations on the ramp, where ‖∇Φ‖² ≈ 4ε², then sits at the floor F = F₁/M near the
minimum. With u = F/ε² < 1 the criterion is met after K = K_a(4 − u)/(1 − u) iterations, so the
oracle calls M·K = (F₁/(ε²u))·K_a(4 − u)/(1 − u) are smallest at u* = 4 − √12 ≈ 0.536:

    M* = F₁/(u* ε²),   calls* = M*·K_a(4 − u*)/(1 − u*)

(the floor in the ramp's quadratic tip, curvature ℓ; valid while the floor's spread √(F/ℓ²) is
small against the tip s = 2ε/ℓ, i.e. to O(u*/4) in the gradient).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

from .._checks import check_array, check_integer, check_positive, check_range
from .modified_equations import METHODS, _check_method, _steps, iteration_matrix, spectral_radius

U_STAR = 4.0 - math.sqrt(12.0)


def _check_instance_q(owner, kappa, ell, a):
    check_range(owner, "kappa", kappa, 1.0, np.inf, low_closed=False, high_closed=False,
                scalar=True)
    check_positive(owner, "ell", ell, scalar=True)
    check_range(owner, "a", a, 0.0, 1.0, low_closed=False, high_closed=False, scalar=True)


def _check_gda(owner, J, sigma_cov, eta_x, eta_y, m, batch):
    """J square, 1 ≤ m ≤ its size, both steps > 0, Σ of J's shape, batch ≥ 1 (a real number: the
    floor is read at real batch sizes too)."""
    J, _, _ = _steps(J, eta_x, eta_y, m, owner)
    check_array(owner, "sigma_cov", sigma_cov, shape=J.shape)
    check_range(owner, "batch", batch, 1.0, np.inf, high_closed=False, scalar=True)
    return J


def nc_sc_quadratic_blocks(kappa: float, ell: float = 1.0, a: float = 0.5, d: int = 1):
    """(A, B, C) of the instance Q_κ (module docstring) for [`QuadraticGame`][sde_opt.QuadraticGame]."""
    _check_instance_q("nc_sc_quadratic_blocks", kappa, ell, a)
    d = check_integer("nc_sc_quadratic_blocks", "d", d, low=1)
    mu = ell / kappa
    b = math.sqrt(2.0 * a * ell * mu)
    eye = np.eye(d)
    return -a * ell * eye, b * eye, mu * eye


def gda_critical_step_x(kappa: float, ell: float = 1.0, a: float = 0.5) -> float:
    """The largest stable η_x of GDA on Q_κ at η_y = 1/ℓ: 1/(a(κ + 1)ℓ) (module docstring)."""
    _check_instance_q("gda_critical_step_x", kappa, ell, a)
    return 1.0 / (a * (kappa + 1.0) * ell)


def critical_step_x(method: str, J, eta_y: float, m: int, *, low: float = 1e-9,
                    high: float = 10.0, rtol: float = 1e-10) -> float:
    """The smallest η_x > ``low`` at which the spectral radius of ``method``'s exact iteration
    matrix on V = Jz crosses 1 (stable below), by bisection on log η_x. Raises ``ValueError`` when
    the iteration is unstable at ``low`` or stable on the whole bracket."""
    owner = "critical_step_x"
    _check_method(method, owner, METHODS + ("gdmax",))
    _steps(J, 1.0, eta_y, m, owner)
    check_positive(owner, "low", low, scalar=True)
    check_range(owner, "high", high, float(low), np.inf, low_closed=False, high_closed=False,
                scalar=True)
    check_range(owner, "rtol", rtol, 0.0, 1.0, low_closed=False, high_closed=False, scalar=True)
    rho = lambda ex: spectral_radius(iteration_matrix(method, J, ex, eta_y, m))
    if rho(low) > 1.0:
        raise ValueError(f"critical_step_x: {method} is unstable already at eta_x={low:g}")
    grid = np.geomspace(low, high, 200)
    above = [g for g in grid if rho(g) > 1.0]
    if not above:
        raise ValueError(f"critical_step_x: {method} is stable for every eta_x <= {high:g}")
    hi = above[0]
    lo = grid[np.searchsorted(grid, hi) - 1]
    while hi / lo - 1.0 > rtol:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if rho(mid) <= 1.0 else (lo, mid)
    return float(math.sqrt(lo * hi))


def ramp_lower_bound(r0, *, eps: float, ell: float, eta_x: float, tracking: float,
                     unit_roundoff: float = 0.0):
    """K ≥ (‖x₀‖ − x_ε)/(2εη_x(1 + δ)) on [`RampGame`][sde_opt.RampGame] (x_ε = s/√3, s = 2ε/ℓ;
    ``tracking`` = 1 + δ, [`tracking_factor`][sde_opt.RampGame.tracking_factor]).

    In floating point with unit roundoff u, the stored x_{k+1} = fl(x_k − η_x g) is off by at most
    u‖x_{k+1}‖ ≤ u‖x₀‖ per step (one rounding per coordinate; ‖x‖ decreases along the ramp), so the
    bound holds with the step 2εη_x(1 + δ) + u‖x₀‖ [derived here; the rounding of g itself is a
    relative O(u) of the step, inside the 4u added to it]."""
    owner = "ramp_lower_bound"
    check_array(owner, "r0", r0, low=0.0)
    for name, v in (("eps", eps), ("ell", ell), ("eta_x", eta_x), ("tracking", tracking)):
        check_positive(owner, name, v, scalar=True)
    check_range(owner, "unit_roundoff", unit_roundoff, 0.0, 1.0, high_closed=False, scalar=True)
    x_eps = 2.0 * eps / ell / math.sqrt(3.0)
    r0 = np.asarray(r0, np.float64)
    step = 2.0 * eps * eta_x * tracking * (1.0 + 4.0 * unit_roundoff) + unit_roundoff * r0
    return (r0 - x_eps) / step


def gda_stationary_covariance(J, sigma_cov, eta_x: float, eta_y: float, m: int,
                              batch: int = 1) -> np.ndarray:
    """Stationary covariance of minibatch GDA z⁺ = (I − DJ)z − Dξ, ξ ~ N(0, Σ/M), on a quadratic
    game (discrete Lyapunov equation; raises ``ValueError`` when the iteration is unstable)."""
    J = _check_gda("gda_stationary_covariance", J, sigma_cov, eta_x, eta_y, m, batch)
    n = J.shape[0] - m
    T = iteration_matrix("gda", J, eta_x, eta_y, m)
    if spectral_radius(T) >= 1.0:
        raise ValueError(f"gda_stationary_covariance: GDA is unstable (spectral radius "
                         f"{spectral_radius(T):.6g} >= 1)")
    D = np.diag(np.concatenate([np.full(m, float(eta_x)), np.full(n, float(eta_y))]))
    Q = D @ np.asarray(sigma_cov, np.float64) @ D.T / float(batch)
    return sla.solve_discrete_lyapunov(T, Q)


def gda_gradient_floor(J, phi_hessian, sigma_cov, eta_x: float, eta_y: float, m: int,
                       batch: int = 1) -> float:
    """E‖∇Φ(x)‖² = tr(H_Φ P_xx H_Φ) at stationarity (module docstring): F₁/M."""
    _check_gda("gda_gradient_floor", J, sigma_cov, eta_x, eta_y, m, batch)
    check_array("gda_gradient_floor", "phi_hessian", phi_hessian, shape=(int(m), int(m)))
    P = gda_stationary_covariance(J, sigma_cov, eta_x, eta_y, m, batch)
    H = np.asarray(phi_hessian, np.float64)
    return float(np.trace(H @ P[:m, :m] @ H.T))


def best_batch(floor_one: float, eps: float) -> float:
    """M* = F₁/(u*ε²), u* = 4 − √12: the batch minimizing oracle calls on the ramp (module
    docstring; real-valued — the study's search runs over integers)."""
    check_range("best_batch", "floor_one", floor_one, 0.0, np.inf, high_closed=False, scalar=True)
    check_positive("best_batch", "eps", eps, scalar=True)
    return float(floor_one) / (U_STAR * float(eps) ** 2)


def iterations_at_floor(approach: float, u) -> np.ndarray:
    """K = K_a(4 − u)/(1 − u): iterations until the running mean of ‖∇Φ‖² drops to ε² (u < 1;
    K = inf for u ≥ 1)."""
    check_range("iterations_at_floor", "approach", approach, 0.0, np.inf, high_closed=False,
                scalar=True)
    check_array("iterations_at_floor", "u", u, low=0.0)
    u = np.asarray(u, np.float64)
    return np.where(u < 1.0, approach * (4.0 - u) / np.maximum(1.0 - u, 1e-300), np.inf)


__all__ = ["U_STAR", "nc_sc_quadratic_blocks", "gda_critical_step_x", "critical_step_x",
           "ramp_lower_bound", "gda_stationary_covariance", "gda_gradient_floor", "best_batch",
           "iterations_at_floor"]

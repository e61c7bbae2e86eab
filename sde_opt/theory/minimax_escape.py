r"""Saddle escape in NC-SC minimax: perturbed GDmax (kicked linear law) and stochastic GDA (reduced SDE).

Both use the exact linear iteration z⁺ = T z (+ noise) of a method on a quadratic game
([`sde_opt.theory.modified_equations.iteration_matrix`][sde_opt.theory.iteration_matrix]) at a strict saddle
of Φ. Let ρ > 1 be T's top eigenvalue (real, simple) and w its left eigenvector: then u_k = ⟨w, z_k⟩ obeys the
*scalar* recursion u_{k+1} = ρu_k + ⟨w, noise_k⟩ exactly, whatever the other directions do.

* **Perturbed GDmax** [derived here]: started at the saddle (gradient 0) it kicks at once,
  z₁ = (ξ, y*(0)) with ξ ~ U(B(0, r)) in ℝᵐ, then runs deterministically, u_k = ρ^{k−1}⟨w_x, ξ⟩.
  ⟨w_x, ξ⟩ is ‖w_x‖ times the projection of ξ on a unit vector, so the escape iteration
  K = min{k : |u_{k+1}| ≥ R} has the law of ``sde_opt.theory.kicked_escape_cdf`` with kick radius
  r‖w_x‖ (w normalized to unit length). Without the kick GDmax stays at the saddle exactly.
* **Stochastic GDA** [derived here]: u is an AR(1) chain u⁺ = ρu + e, Var e = wᵀDΣDw (D =
  diag(η_x I, η_y I)), i.e. Euler–Maruyama of du = λ̃u dt + σ̃ dW with h = η_x, λ̃ = (ρ − 1)/η_x,
  σ̃² = Var e/η_x, whose mean exit iteration from |u| < R is
  [`sde_opt.theory.saddle_exit_mean_em`][sde_opt.theory.saddle_exit_mean_em]/h. As
  r = η_y/η_x → ∞ (and η_x → 0), λ̃ → λ_Φ (the negative curvature of Φ) and σ̃² → η_x vᵀCv,
  C = [I, −K]Σ[I, −K]ᵀ — the reduced slow SDE dX = −∇Φ dt + √η_x C^{1/2} dW
  ([`ReducedSDE`][sde_opt.ReducedSDE]) along the unstable eigenvector v of ∇²Φ, whose exit time
  is the Dawson integral ([`sde_opt.theory.saddle_exit_mean`][sde_opt.theory.saddle_exit_mean]).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._checks import check_array, check_instance, check_integer, check_scalar
from ..problems.games import QuadraticGame
from .kicked_escape import kicked_escape_cdf, kicked_escape_mean
from .modified_equations import iteration_matrix
from .saddle_exit import saddle_exit_mean, saddle_exit_mean_em


def unstable_mode(matrix):
    """(ρ, w, v): the top eigenvalue of a real matrix (must be real and > 1), its unit left
    eigenvector w and its right eigenvector v normalized so that ⟨w, v⟩ = 1."""
    m = check_array("unstable_mode", "matrix", matrix, ndim=2).astype(np.float64)
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"unstable_mode: matrix must be square; got shape {m.shape}")
    vals, right = np.linalg.eig(m)
    i = int(np.argmax(np.abs(vals)))
    rho = vals[i]
    if abs(rho.imag) > 1e-10 * abs(rho) or rho.real <= 1.0:
        raise ValueError(f"unstable_mode: matrix must have a real top eigenvalue > 1 (a strict "
                         f"saddle); got {rho}")
    lvals, left = np.linalg.eig(m.T)
    j = int(np.argmin(np.abs(lvals - rho)))
    w = np.real(left[:, j])
    w /= np.linalg.norm(w)
    v = np.real(right[:, i])
    v /= w @ v
    return float(rho.real), w, v


def _game_matrices(game, owner):
    check_instance(owner, "game", game, QuadraticGame,
                   "a QuadraticGame (the closed forms need a quadratic game)")
    J = game.jacobian()
    m = game.dims[0]
    return J, m


@dataclasses.dataclass(frozen=True)
class KickedEscape:
    """The exact escape law of perturbed GDmax from the saddle of a quadratic NC-SC game."""

    growth: float       # ρ
    w: np.ndarray       # unit left eigenvector on (x, y)
    kick_scale: float   # ‖w_x‖
    r: float            # kick radius
    radius: float       # escape level R on |⟨w, z⟩|
    dim: int            # m

    def cdf(self, k):
        """P(K ≤ k), K = escape iteration counted from the first post-kick iterate z₁."""
        return kicked_escape_cdf(k, r=self.r * self.kick_scale, radius=self.radius, dim=self.dim,
                                 growth=self.growth)

    def mean(self) -> float:
        return kicked_escape_mean(r=self.r * self.kick_scale, radius=self.radius, dim=self.dim,
                                  growth=self.growth)


def gdmax_kicked_escape(game, eta_x, eta_y, n_inner, *, r, radius) -> KickedEscape:
    """The kicked-linear escape law of perturbed GDmax on a [`QuadraticGame`][sde_opt.QuadraticGame]."""
    owner = "gdmax_kicked_escape"
    J, m = _game_matrices(game, owner)
    eta_x, eta_y = _steps(owner, eta_x, eta_y)
    n_inner = check_integer(owner, "n_inner", n_inner, low=1)
    r = check_scalar(owner, "r", r, 0.0, math.inf, low_closed=False, high_closed=False)
    radius = check_scalar(owner, "radius", radius, 0.0, math.inf, low_closed=False,
                          high_closed=False)
    rho, w, _ = _unstable(owner, iteration_matrix("gdmax", J, eta_x, eta_y, m, n_inner=n_inner))
    return KickedEscape(rho, w, float(np.linalg.norm(w[:m])), r, radius, m)


def _steps(owner, eta_x, eta_y):
    return (check_scalar(owner, "eta_x", eta_x, 0.0, math.inf, low_closed=False,
                         high_closed=False),
            check_scalar(owner, "eta_y", eta_y, 0.0, math.inf, low_closed=False,
                         high_closed=False))


def _unstable(owner, matrix):
    """unstable_mode of the iteration matrix, its error told in the terms of the caller's
    arguments (the steps decide whether the iteration has a growing mode)."""
    try:
        return unstable_mode(matrix)
    except ValueError as e:
        raise ValueError(f"{owner}: game and steps eta_x, eta_y must give the iteration a real "
                         f"growing mode (a strict saddle); got {e}") from None


@dataclasses.dataclass(frozen=True)
class GDASaddle:
    """Stochastic GDA at the saddle of a quadratic NC-SC game: the exact AR(1) coordinate and
    its reduced-SDE limit (module docstring)."""

    eta_x: float
    growth: float          # ρ of I − DJ
    w: np.ndarray          # unit left eigenvector
    step_var: float        # Var e = wᵀDΣDw
    lam_phi: float         # −λ_min(∇²Φ)
    v_phi: np.ndarray      # its unit eigenvector in x
    sigma_reduced: float   # √(η_x vᵀCv), the reduced SDE's noise along v

    @property
    def lam_discrete(self) -> float:
        return (self.growth - 1.0) / self.eta_x

    @property
    def sigma_discrete(self) -> float:
        return math.sqrt(self.step_var / self.eta_x)

    def mean_iterations_discrete(self, radius) -> float:
        """Mean iterations of the exact AR(1) chain to |⟨w, z⟩| ≥ R (EM formula, small noise)."""
        return saddle_exit_mean_em(self.lam_discrete, self.sigma_discrete, radius, self.eta_x) \
            / self.eta_x

    def mean_time_reduced(self, radius) -> float:
        """The reduced slow SDE's exact mean exit time (Dawson) from |⟨v, X⟩| < R, slow time."""
        return saddle_exit_mean(self.lam_phi, self.sigma_reduced, radius)


def gda_saddle(game, eta_x, eta_y) -> GDASaddle:
    """``GDASaddle`` for a [`QuadraticGame`][sde_opt.QuadraticGame] with C ≻ 0 and an indefinite Φ."""
    owner = "gda_saddle"
    J, m = _game_matrices(game, owner)
    eta_x, eta_y = _steps(owner, eta_x, eta_y)
    n = J.shape[0] - m
    rho, w, _ = _unstable(owner, iteration_matrix("gda", J, eta_x, eta_y, m))
    d = np.diag(np.concatenate([np.full(m, float(eta_x)), np.full(n, float(eta_y))]))
    import jax

    with jax.enable_x64(True):
        sigma = np.asarray(game.noise_cov((np.zeros(m), np.zeros(n))), np.float64)
    step_var = float(w @ d @ sigma @ d @ w)
    hphi = game.phi_matrix()
    e, vecs = np.linalg.eigh(hphi)
    if not e[0] < 0:
        raise ValueError(f"gda_saddle: game must have a strict saddle of Φ at 0; got λ_min(∇²Φ) = "
                         f"{e[0]:.4g}")
    v = vecs[:, 0]
    b, c = np.asarray(game.B, np.float64), np.asarray(game.C, np.float64)
    k = b @ np.linalg.inv(c)
    p = np.hstack([np.eye(m), -k])
    cov = p @ sigma @ p.T
    return GDASaddle(float(eta_x), rho, w, step_var, float(-e[0]), v,
                     math.sqrt(float(eta_x) * float(v @ cov @ v)))


__all__ = ["unstable_mode", "KickedEscape", "gdmax_kicked_escape", "GDASaddle", "gda_saddle"]


def perturbed_gd_double_well_steps(x0, *, c, ell, mu, eps, rho_phi, eta_x, radius, interval,
                                   decrease, threshold, horizon, n_draws=1000, seed=0):
    r"""Iterations of the perturbed-GD rule on the double-well game's closed-form Φ (linear
    coupling, Y = ℝ², [`DoubleWellGame`][sde_opt.DoubleWellGame]) until an ε-local minimax point,
    per start and kick draw — a float64 NumPy recursion written from the rule's statement, not the
    package's step [derived here]:

        Φ(x) = ℓ[−(1 − c²)x₁²/2 + x₁⁴/4 + (1 + c²)x₂²/2],
        stop  = (T steps since the last kick) ∧ Φ(x) − Φ(x̃) > −F   → x ← x̃, the path ends,
        kick  = ¬stop ∧ ‖∇Φ(x)‖ ≤ c_t·ε ∧ (more than T steps since the last kick)
                → x̃ ← x, x ← x − η_x ξ, ξ ~ U(B(0, r)),   else x ← x − η_x∇Φ(x),

    the target checked after each step: ‖∇Φ(x)‖ ≤ ε, λ_min(∇²Φ(x)) ≥ −√(ρ_Φ ε) and
    ‖∇_y f‖ = b‖Δx‖ ≤ ε (y at y*(x) before the step, b = c√(ℓμ)). GDmax's inner loop stands in for
    the exact y*(x): the algorithm's ∇ₓf differs by ≤ b·q^N(b/μ)‖Δx‖, q = (1 − η_yμ)ᴺ.

    Returns a float array (n_starts, n_draws): the iteration at which the target is first met, inf
    where it is not within ``horizon`` (the stop rule fired at the saddle, or the horizon)."""
    x0 = np.asarray(x0, float)
    a, h2, b = ell * (1 - c**2), ell * (1 + c**2), c * math.sqrt(ell * mu)

    def grad(x):
        return np.stack([-a * x[..., 0] + ell * x[..., 0] ** 3, h2 * x[..., 1]], -1)

    def phi(x):
        return -a * x[..., 0] ** 2 / 2 + ell * x[..., 0] ** 4 / 4 + h2 * x[..., 1] ** 2 / 2

    rng = np.random.default_rng(seed)
    x = np.repeat(x0[:, None, :], n_draws, 1)
    since = np.full(x.shape[:2], interval + 1)
    anchor, anchor_v = x.copy(), np.zeros(x.shape[:2])
    done = np.zeros(x.shape[:2], bool)
    steps = np.full(x.shape[:2], np.inf)
    curv = math.sqrt(rho_phi * eps)
    for k in range(int(horizon)):
        g, v = grad(x), phi(x)
        stop = (since == interval) & (v - anchor_v > -decrease) & ~done
        kick = ~stop & ~done & (np.linalg.norm(g, axis=-1) <= threshold * eps) & (since > interval)
        u = rng.normal(size=x.shape)
        xi = (u / np.linalg.norm(u, axis=-1, keepdims=True)
              * (radius * np.sqrt(rng.uniform(size=x.shape[:2])))[..., None])
        xn = np.where(stop[..., None], anchor,
                      np.where(kick[..., None], x - eta_x * xi, x - eta_x * g))
        xn = np.where(done[..., None], x, xn)
        anchor = np.where(kick[..., None], x, anchor)
        anchor_v = np.where(kick, v, anchor_v)
        since = np.where(kick, 0, np.minimum(since + 1, interval + 1))
        target = ((np.linalg.norm(grad(xn), axis=-1) <= eps)
                  & (np.minimum(-a + 3 * ell * xn[..., 0] ** 2, h2) >= -curv)
                  & (b * np.linalg.norm(xn - x, axis=-1) <= eps))
        steps = np.where(target & ~np.isfinite(steps), k + 1.0, steps)
        done |= stop
        x = xn
        if np.all(np.isfinite(steps) | done):
            break
    return steps

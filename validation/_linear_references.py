r"""Hand-derived one-step matrices of the Langevin schemes and algorithms on a harmonic potential.

Independent references for the stationary-law claims: each scheme on U(x) = ω²x²/2 (force
f = −ω²x), with injected noise at inverse temperature β and, for the stochastic-gradient algorithms,
an additive Gaussian oracle g = ω²x + σξ, is a linear chain

    s_{k+1} = M s_k + N z_k,      s = (x, v) (underdamped) or x (overdamped),  z ~ N(0, I),

and its exact stationary covariance solves P = M P Mᵀ + Q with Q = N Nᵀ, solved here by a plain
``scipy.linalg.solve_discrete_lyapunov``. M and Q are written out *by hand* from the update rules
stated in the docstrings of the schemes (and papers.md §2.3 / validation-theory §5) — not read off
the code under test (which ``sde_opt.theory.langevin.chain_linearization`` does by autodiff;
that is used only in the engine self-consistency checks). The exact-OU covariance integrals
∫₀ʰ ψ_iψ_j are computed by numerical quadrature, not from the closed forms in the code.

Every function returns ``(M, Q)`` as float64 arrays.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla
from scipy.integrate import quad


def stationary_covariance(M, Q) -> np.ndarray:
    """P = M P Mᵀ + Q (raises if the chain is unstable)."""
    M, Q = np.atleast_2d(np.asarray(M, float)), np.atleast_2d(np.asarray(Q, float))
    rho = float(np.max(np.abs(np.linalg.eigvals(M))))
    if rho >= 1.0:
        raise ValueError(f"unstable linear chain: spectral radius {rho:.6g}")
    P = sla.solve_discrete_lyapunov(M, Q)
    return 0.5 * (P + P.T)


# ---------------------------------------------------------------- underdamped, state (x, v)

def _kick(w2, tau):
    """B(τ): v ← v + τ f(x) = v − τω²x."""
    return np.array([[1.0, 0.0], [-tau * w2, 1.0]])


def _drift(tau):
    """A(τ): x ← x + τ v."""
    return np.array([[1.0, tau], [0.0, 1.0]])


def _ou(gamma, beta, tau):
    """O(τ): v ← e^{−γτ} v + √((1 − e^{−2γτ})/(2γ)) · √(2γ/β) z  →  (matrix, noise column)."""
    m = np.array([[1.0, 0.0], [0.0, math.exp(-gamma * tau)]])
    n = np.array([[0.0], [math.sqrt((1.0 - math.exp(-2.0 * gamma * tau)) / beta)]])
    return m, n


def em_underdamped(w2, gamma, beta, h):
    """Euler–Maruyama of dX = V dt, dV = −ω²X dt − γV dt + √(2γ/β) dW:
    x' = x + h v,  v' = v + h(−ω²x − γv) + √(2γh/β) z."""
    M = np.array([[1.0, h], [-h * w2, 1.0 - gamma * h]])
    N = np.array([[0.0], [math.sqrt(2.0 * gamma * h / beta)]])
    return M, N @ N.T


def _psi(gamma, t):
    """ψ₀ = e^{−γt}, ψ₁ = (1 − e^{−γt})/γ, ψ₂ = (γt + e^{−γt} − 1)/γ² (the exact-OU docstring)."""
    e = math.exp(-gamma * t)
    return e, (1.0 - e) / gamma, (gamma * t + e - 1.0) / gamma**2


def _psi_cov(gamma, h):
    """∫₀ʰ [ψ₁, ψ₀]ᵀ[ψ₁, ψ₀](u) du by adaptive quadrature, in the state order (x, v): the
    position noise is ∫ψ₁(h − s) dW_s, the velocity noise ∫ψ₀(h − s) dW_s."""
    def p0(u):
        return math.exp(-gamma * u)

    def p1(u):
        return -math.expm1(-gamma * u) / gamma

    opts = dict(epsabs=0.0, epsrel=1e-12, limit=200)
    c11 = quad(lambda u: p1(u) ** 2, 0.0, h, **opts)[0]
    c10 = quad(lambda u: p0(u) * p1(u), 0.0, h, **opts)[0]
    c00 = quad(lambda u: p0(u) ** 2, 0.0, h, **opts)[0]
    return np.array([[c11, c10], [c10, c00]])


def exact_ou(w2, gamma, beta, h, oracle_var=0.0):
    """Exact integration of the linear part with the force frozen at x_k (ExactOU; with an oracle
    g = ω²x + σξ it is SGHMC2):  x' = x + ψ₁v − ψ₂g + ξ',  v' = ψ₀v − ψ₁g + ξ, with (ξ', ξ) of
    covariance (2γ/β) ∫₀ʰ[ψ₁, ψ₀]ᵀ[ψ₁, ψ₀]."""
    p0, p1, p2 = _psi(gamma, h)
    M = np.array([[1.0 - p2 * w2, p1], [-p1 * w2, p0]])
    g = np.array([[-p2], [-p1]])
    Q = (2.0 * gamma / beta) * _psi_cov(gamma, h) + oracle_var * (g @ g.T)
    return M, Q


def sghmc2(w2, eta, gamma, beta, oracle_var):
    """SGHMC2 (step η): ``exact_ou`` with the oracle noise σ² = ``oracle_var``."""
    return exact_ou(w2, gamma, beta, eta, oracle_var)


def sghmc1(w2, eta, gamma, beta, oracle_var):
    """SGHMC1 (explicit, Gao et al.): v' = v − η(γv + ω²x + σξ) + √(2γη/β) z,  x' = x + ηv."""
    M = np.array([[1.0, eta], [-eta * w2, 1.0 - gamma * eta]])
    Q = np.array([[0.0, 0.0], [0.0, eta**2 * oracle_var + 2.0 * gamma * eta / beta]])
    return M, Q


def baoab(w2, gamma, beta, h):
    """B(h/2) A(h/2) O(h) A(h/2) B(h/2) (applied left to right)."""
    pre = _drift(h / 2) @ _kick(w2, h / 2)           # B first, then A
    post = _kick(w2, h / 2) @ _drift(h / 2)          # A first, then B
    mo, no = _ou(gamma, beta, h)
    M = post @ mo @ pre
    N = post @ no
    return M, N @ N.T


def obabo(w2, gamma, beta, h):
    """O(h/2) B(h/2) A(h) B(h/2) O(h/2), the two O's driven by independent normals."""
    mo, no = _ou(gamma, beta, h / 2)
    mid = _kick(w2, h / 2) @ _drift(h) @ _kick(w2, h / 2)
    M = mo @ mid @ mo
    N1 = mo @ mid @ no
    return M, N1 @ N1.T + no @ no.T


# ---------------------------------------------------------------- overdamped, state x

def em_overdamped(w2, beta, h):
    """Euler–Maruyama of dX = −ω²X dt + √(2/β) dW:  x' = (1 − hω²)x + √(2h/β) z."""
    return np.array([[1.0 - h * w2]]), np.array([[2.0 * h / beta]])


def sgld(w2, eta, beta, oracle_var):
    """SGLD: x' = x − η(ω²x + σξ) + √(2η/β) z."""
    return np.array([[1.0 - eta * w2]]), np.array([[eta**2 * oracle_var + 2.0 * eta / beta]])


# ---------------------------------------------------------------- published closed forms

def closed_forms(w2, beta, h):
    """Closed forms of validation-theory §5 at step h (used to test the matrices above):
    BAOAB ⟨x²⟩ = 1/(βω²) and ⟨v²⟩ = (1 − h²ω²/4)/β; OBABO ⟨v²⟩ = 1/β; overdamped EM
    ⟨x²⟩ = 1/(βω²(1 − hω²/2))."""
    return {"baoab_xx": 1.0 / (beta * w2), "baoab_vv": (1.0 - h * h * w2 / 4.0) / beta,
            "obabo_vv": 1.0 / beta, "em_overdamped_xx": 1.0 / (beta * w2 * (1.0 - h * w2 / 2.0))}

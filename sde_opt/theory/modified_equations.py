r"""O(η)-resolution modified equations of GDA, alternating GDA, OGDA and extragradient, and the exact
spectral radii of their linear iterations on bilinear and quadratic games.

Setting. A game field V(z) (V = (∇ₓf, −∇ᵧf)), steps η_x, η_y, ratio r = η_y/η_x, and the
preconditioned field F̃ = (Vₓ, rV_y) with Jacobian J̃, so that every method is z⁺ ≈ z − ηF̃(z) with
η = η_x (time t = kη_x). All four share the first-order limit ż = −F̃. Matching z(t + η) to one step
to O(η²) gives the modified equations [derived here, by Taylor expansion of the exact flow,
z(t+η) = z + ηż + (η²/2)J̃ż·ż-terms; cf. Lu 2022, "O(s^r)-resolution ODEs"]:

    GDA:               ż = −F̃ − (η/2) J̃F̃
    EG and OGDA:       ż = −F̃ + (η/2) J̃F̃
    alternating GDA:   ż = −F̃ − (η/2) J̃F̃ + η J̃_L F̃,   J̃_L = [[0, 0], [r ∂_x V_y, 0]]

(EG: z⁺ = z − ηF̃(z − ηF̃) = z − ηF̃ + η²J̃F̃; OGDA's extrapolation w_{t+1} = w_t − 2ηF̃(w_t) +
ηF̃(w_{t−1}) gives the same O(η²) term; alternating GDA adds η²(0, r∂ₓV_y Fₓ)). The O(η) term is
what tells GDA apart: on a bilinear game (J̃ with eigenvalues ±ib) it makes GDA's ODE expand,
|z| ∝ e^{η b² t/2}, and EG/OGDA's contract, while the first-order ODE only rotates.

Linear games (V = Jz): the iterations are linear maps with hand-derived matrices
([`iteration_matrix`][sde_opt.theory.iteration_matrix]) and the modified equation's linearization predicts the
per-step factor exp(η·eig(−J̃ ∓ (η/2)J̃² …)). For an eigenvalue a of J̃, u = ηa:

    GDA  λ = 1 − u,               log λ = −u − u²/2 + R,   |R| ≤ |u|³/(3(1 − |u|));
    EG   λ = 1 − u + u² = (1 + u³)/(1 + u),  log λ = −u + u²/2 + R,
                                   |R| ≤ |u|³/(1 − |u|³) + |u|³/(3(1 − |u|));
    OGDA λ = ½[(1 − 2u) + √(1 + 4u²)] (principal root of λ² − (1 − 2u)λ − u = 0; the other root
         is O(u)),  λ = 1 − u + u² + S, |S| ≤ |u|⁴/(1 − 4|u|²) (binomial series), so
         |R| ≤ |R_EG| + δ/(1 − δ), δ = |u|⁴/((1 − 4|u|²)(1 − |u| − |u|²)).

Hence log ρ(exact) = log ρ(modified) + O(η³), while the first-order ODE is off by O(η²) (and by
the whole effect on a bilinear game, where it predicts ρ = 1). ``remainder_bound`` returns the
bound max_i |R(u_i)| (|max f − max g| ≤ max |f − g|), valid for max|u| ≤ 1/4.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_array, check_bool, check_choice, check_integer, check_positive, check_scalar
from ..problems._base import AbstractField, check_problem
from ..sde._base import ProblemSDE

METHODS = ("gda", "alternating-gda", "ogda", "extragradient")


def _check_method(method, owner="modified equations", options=METHODS):
    return check_choice(owner, "method", method, options)


def _square(owner, name, matrix) -> np.ndarray:
    a = check_array(owner, name, matrix, ndim=2).astype(np.float64)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{owner}: {name} must be a square matrix; got shape {a.shape}")
    return a


def _steps(J, eta_x, eta_y, m, owner="iteration_matrix"):
    J = _square(owner, "J", J)
    m = check_integer(owner, "m", m, low=1, high=J.shape[0])
    eta_x = check_scalar(owner, "eta_x", eta_x, 0.0, np.inf, low_closed=False, high_closed=False)
    eta_y = check_scalar(owner, "eta_y", eta_y, 0.0, np.inf, low_closed=False, high_closed=False)
    n = J.shape[0] - m
    d = np.diag(np.concatenate([np.full(m, float(eta_x)), np.full(n, float(eta_y))]))
    return J, d, n


def iteration_matrix(method, J, eta_x, eta_y, m, n_inner: int = 1) -> np.ndarray:
    r"""The exact linear map of one step on V(z) = Jz (unconstrained), by hand:

    * GDA: I − DJ (D = diag(η_x I_m, η_y I_n));
    * alternating GDA: [[I − η_xJₓₓ, −η_xJₓᵧ], [−η_yJᵧₓ(I − η_xJₓₓ), I − η_yJᵧᵧ + η_xη_yJᵧₓJₓᵧ]];
    * EG: I − DJ + (DJ)²;
    * OGDA on the state (z, h = Dĝ_prev): [[I − DJ, DJ], [DJ, −DJ]] (2D × 2D);
    * GDmax (``"gdmax"``, N = ``n_inner`` inner steps, G = I − η_yJᵧᵧ):
      y_N = Gᴺy − Σ_{j<N}Gʲ η_yJᵧₓ x, x⁺ = x − η_x(Jₓₓx + JₓᵧY_N), on (x, y) → (x⁺, y_N).
    """
    _check_method(method, "iteration_matrix", METHODS + ("gdmax",))
    n_inner = check_integer("iteration_matrix", "n_inner", n_inner, low=1)
    J, d, n = _steps(J, eta_x, eta_y, m)
    size = J.shape[0]
    eye = np.eye(size)
    k = d @ J
    if method == "gda":
        return eye - k
    if method == "extragradient":
        return eye - k + k @ k
    if method == "ogda":
        return np.block([[eye - k, k], [k, -k]])
    jxx, jxy, jyx, jyy = J[:m, :m], J[:m, m:], J[m:, :m], J[m:, m:]
    if method == "alternating-gda":
        top = np.hstack([np.eye(m) - eta_x * jxx, -eta_x * jxy])
        bot = np.hstack([-eta_y * jyx @ (np.eye(m) - eta_x * jxx),
                         np.eye(n) - eta_y * jyy + eta_x * eta_y * jyx @ jxy])
        return np.vstack([top, bot])
    if method == "gdmax":
        g = np.eye(n) - eta_y * jyy
        gn = np.linalg.matrix_power(g, n_inner)
        s = sum(np.linalg.matrix_power(g, j) for j in range(n_inner))
        yx, yy = -s @ (eta_y * jyx), gn
        top = np.hstack([np.eye(m) - eta_x * (jxx + jxy @ yx), -eta_x * jxy @ yy])
        return np.vstack([top, np.hstack([yx, yy])])
    raise ValueError(f"iteration_matrix: method must be one of {METHODS + ('gdmax',)}; got {method!r}")


def spectral_radius(matrix) -> float:
    """max |eig(M)|."""
    return float(np.max(np.abs(np.linalg.eigvals(_square("spectral_radius", "matrix", matrix)))))


def scaled_jacobian(J, eta_x, eta_y, m) -> np.ndarray:
    """J̃ = (D/η_x) J: the Jacobian of F̃ = (Vₓ, rV_y)."""
    return _scaled_jacobian(J, eta_x, eta_y, m, "scaled_jacobian")


def _scaled_jacobian(J, eta_x, eta_y, m, owner):
    J, d, _ = _steps(J, eta_x, eta_y, m, owner)
    return (d / float(eta_x)) @ J


def modified_log_rate(method, J, eta_x, eta_y, m, *, order: int = 1) -> float:
    r"""log ρ predicted by the linearized modified equation: max Re eig(η·A), A the linear drift.

    ``order=1``: the O(η) modified equation (module docstring); ``order=0``: the shared first-order
    ODE ż = −F̃ (A = −J̃).
    """
    _check_method(method, "modified_log_rate")
    order = check_integer("modified_log_rate", "order", order, low=0, high=1)
    jt = _scaled_jacobian(J, eta_x, eta_y, m, "modified_log_rate")
    eta = float(eta_x)
    if order == 0:
        a = -jt
    elif order == 1:
        sign = -1.0 if method in ("gda", "alternating-gda") else 1.0
        a = -jt + sign * 0.5 * eta * jt @ jt
        if method == "alternating-gda":
            low = np.zeros_like(jt)
            low[m:, :m] = jt[m:, :m]
            a = a + eta * low @ jt
    else:
        raise ValueError(f"modified_log_rate: order must be 0 or 1; got {order!r}")
    return float(np.max(np.real(np.linalg.eigvals(eta * a))))


def exact_log_rate(method, J, eta_x, eta_y, m) -> float:
    """log of the spectral radius of the exact iteration matrix."""
    _check_method(method, "exact_log_rate")
    _steps(J, eta_x, eta_y, m, "exact_log_rate")
    return math.log(spectral_radius(iteration_matrix(method, J, eta_x, eta_y, m)))


def remainder_bound(method, J, eta_x, eta_y, m) -> float:
    r"""max_i |R(u_i)|, u_i = η_x·eig(J̃): the bound on |log ρ(exact) − log ρ(modified)| of the module
    docstring (GDA, EG, OGDA; valid for max|u| ≤ 1/4). Alternating GDA has no closed-form bound
    here (its iteration is not a polynomial in J̃): use the O(η³) slope instead."""
    _check_method(method, "remainder_bound", ("gda", "ogda", "extragradient"))
    jt = _scaled_jacobian(J, eta_x, eta_y, m, "remainder_bound")
    u = np.abs(float(eta_x) * np.linalg.eigvals(jt))
    if np.max(u) > 0.25:
        raise ValueError(f"remainder_bound: eta_x must keep max|η·eig(J̃)| <= 1/4; got "
                         f"{np.max(u):.3g}")
    gda = u**3 / (3.0 * (1.0 - u))
    if method == "gda":
        return float(np.max(gda))
    eg = u**3 / (1.0 - u**3) + gda
    if method == "extragradient":
        return float(np.max(eg))
    delta = u**4 / ((1.0 - 4.0 * u**2) * (1.0 - u - u**2))
    return float(np.max(eg + delta / (1.0 - delta)))


class ModifiedEquation(ProblemSDE):
    r"""The O(η) modified equation of a method as an SDE on z = (x, y) (module docstring):

        dZ = (−F̃ + s(η/2)J̃F̃ [+ ηJ̃_L F̃]) dt − √η_x diag(I, rI) B dW,

    s = −1 (GDA, alternating GDA) or +1 (EG, OGDA), η = η_x, with the two-timescale diffusion of
    [`TwoTimescaleSDE`][sde_opt.TwoTimescaleSDE] (``noise=True``) or none. J̃F̃ is one
    Jacobian–vector product of the field (autodiff).
    """

    problem: AbstractField
    method: str = eqx.field(static=True)
    eta_x: jnp.ndarray
    ratio: jnp.ndarray
    noisy: bool = eqx.field(static=True)

    def __init__(self, problem, method, eta_x, eta_y, noise=False):
        _check_method(method, "ModifiedEquation")
        check_problem("ModifiedEquation", problem, game=True)
        check_positive("ModifiedEquation", "eta_x", eta_x, scalar=True)
        check_positive("ModifiedEquation", "eta_y", eta_y, scalar=True)
        check_bool("ModifiedEquation", "noise", noise)
        self.problem = problem
        self.method = method
        self.eta_x = jnp.asarray(eta_x)
        self.ratio = jnp.asarray(eta_y) / jnp.asarray(eta_x)
        self.noisy = bool(noise)

    def _ftilde(self, z):
        vx, vy = self.problem.field(z)
        return (vx, self.ratio.astype(vy.dtype) * vy)

    def drift(self, z):
        f = self._ftilde(z)
        _, jf = jax.jvp(self._ftilde, (z,), (f,))
        eta = self.eta_x.astype(f[0].dtype)
        sign = -1.0 if self.method in ("gda", "alternating-gda") else 1.0
        out = jax.tree_util.tree_map(lambda a, b: -a + sign * 0.5 * eta * b, f, jf)
        if self.method == "alternating-gda":
            # J̃_L F̃ = (0, r ∂ₓV_y · Fₓ)
            vy_of_x = lambda x: self.ratio.astype(x.dtype) * self.problem.field((x, z[1]))[1]
            _, low = jax.jvp(vy_of_x, (z[0],), (f[0],))
            out = (out[0], out[1] + eta * low)
        return out

    def diffusion(self, z, w):
        bx, by = self.problem.noise_factor(z, w)
        s = jnp.sqrt(self.eta_x).astype(bx.dtype) * (1.0 if self.noisy else 0.0)
        return (-s * bx, -s * self.ratio.astype(by.dtype) * by)

    def linearization(self, z) -> np.ndarray:
        """The Jacobian of the drift at z, (D, D) in ravel order (float64 where enabled)."""
        from jax.flatten_util import ravel_pytree

        flat, unravel = ravel_pytree(z)
        return np.asarray(jax.jacfwd(lambda u: ravel_pytree(self.drift(unravel(u)))[0])(flat))


__all__ = ["METHODS", "iteration_matrix", "spectral_radius", "scaled_jacobian", "modified_log_rate",
           "exact_log_rate", "remainder_bound", "ModifiedEquation"]

r"""Diffusion limits of stochastic gradient descent–ascent: the two-timescale SDE and its slow reduction.

**Two-timescale SDE** ([`TwoTimescaleSDE`][sde_opt.TwoTimescaleSDE]). Stochastic GDA with steps η_x, η_y on a
game with field V = (∇ₓf, −∇ᵧf) and oracle noise ξ (covariance Σ, factor B), in the slow time t = kη_x, with
ratio r = η_y/η_x:

    dX = −Vₓ(X, Y) dt − √η_x (B dW)ₓ,
    dY = −r V_y(X, Y) dt − r√η_x (B dW)_y.

(One step: E Δ/η_x = (−Vₓ, −rV_y), Cov Δ/η_x = D Σ D with D = diag(√η_x, r√η_x).) OGDA and
extragradient share this first-order limit (their O(η) differences are in
``sde_opt.theory.modified_equations``).

**Reduced slow SDE** ([`ReducedSDE`][sde_opt.ReducedSDE]). As r → ∞, Y is slaved to y*(X) and the x-equation
averages over the fast fluctuation δ = Y − y*(X), an OU process dδ ≈ −rHδ dt − r√η_x b_y dW with
H = −∇²_yy f. Since ∫δ dt → −H⁻¹√η_x b_y W, the slow limit is [derived here]

    dX = −∇Φ(X) dt − √η_x (bₓ − K b_y) dW,   K = ∇²_xy f(X, y*) H⁻¹,

i.e. diffusion matrix η_x [I, −K] Σ [I, −K]ᵀ: the noise of the implicit-function (hypergradient)
estimate ∇ₓf̂ − K∇ᵧf̂. With ``noise="x"`` it is the limit of an *exact* inner maximization
(y = y*(x) at every x-step: C = Σₓₓ). The state is (X, Y) with Y = y*(X) carried along
(dY = Dy*(X) dX + ½∇²y*[dX, dX]), so positions have the game's structure. Both need the problem's
closed forms ``phi_grad`` and ``y_star``.

**GDmax's limit** ([`GDmaxSDE`][sde_opt.GDmaxSDE], ``inner_loop_covariance``) [derived here]. GDmax makes
N warm-started noisy ascent steps y ← y + η_y(∇ᵧf + ζ), ζ ~ N(0, Σ_yy), then one descent step
x ← x − η_x(∇ₓf(x, y) + ξ) with an independent draw ξ ~ N(0, Σₓₓ). Write e = y − y*(x),
H = −∇²_yy f, G = ∇²_xy f (at (x, y*(x))) and M = I − η_y H. At fixed x the inner loop is the
linear chain e ← M e − η_y ζ (exact when f is quadratic in y, as in every game of
``sde_opt.problems.games``), so after the N steps of outer step k

    e_k = P e_{k−1} + u_k,   P = M^N,   u_k ~ N(0, Q),   Q = η_y² Σ_{j<N} M^j Σ_yy M^j,

up to the O(η_x) shift of y*(x) between outer steps; and x_{k+1} = x_k − η_x(∇Φ(x_k) + G e_k
+ ξ_k). The noise η_x G e_k does *not* vanish relative to η_x ξ_k as η_x → 0 (e has a stationary
law of size O(√η_y), independent of η_x), and it is correlated over outer steps; over a time t
(t/η_x steps) its sum has covariance η_x t G L Gᵀ with L the long-run covariance of the AR(1)
chain e (the central limit theorem for its additive functional):

    L = Σ_{k∈ℤ} Cov(e_0, e_k) = (I − P)⁻¹ Q (I − P)⁻ᵀ.

Hence the slow limit (time t = kη_x)

    dX = −∇Φ(X) dt − √η_x C(X)^{1/2} dW,   C = Σₓₓ + G L Gᵀ.

In H's eigenbasis (H = U diag(h) Uᵀ, m_i = 1 − η_y h_i, Σ̃ = Uᵀ Σ_yy U) with the geometric sums
s_N(q) = Σ_{j<N} q^j (so 1 − m_i^N = η_y h_i s_N(m_i)):

    L = U L̃ Uᵀ,   L̃_ij = Σ̃_ij F_ij / (h_i h_j),   F_ij = s_N(m_i m_j) / (s_N(m_i) s_N(m_j)).

F = 1 at N = 1: C = Σₓₓ + K Σ_yy Kᵀ, stochastic GDA's reduced noise without its cross term (GDmax
draws x and y from different oracle calls). As N → ∞, F_ij → η_y h_i h_j/(h_i + h_j − η_y h_i h_j):
e_k becomes the inner chain's stationary fluctuation, independent across outer steps, and C does
not fall to Σₓₓ unless also η_y → 0 (``noise="x"`` is that double limit). The limit needs a
stable inner loop, 0 < η_y h_i < 2 (η_y ≤ 1/ℓ in the papers); otherwise e grows geometrically and
C is NaN. Neglected: O(η_x) terms (the lag of y behind y*(x) as x moves), and, for f not
quadratic in y or noise depending on y, O(η_y σ²) drift and covariance corrections from the
third derivatives; a bounded Y is assumed inactive at y*(X) (y* in the interior).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.tree_util import tree_leaves, tree_map

from .._checks import (
    check_array,
    check_bool,
    check_choice,
    check_instance,
    check_integer,
    check_positive,
    is_concrete,
)
from ..problems._base import AbstractField, tree_size, zeros_like_shape
from ._base import ProblemSDE


def _geometric_sums(q, n: int):
    """(s_n(q), qⁿ) elementwise, s_n(q) = Σ_{j<n} q^j, by binary splitting over n's bits
    (s_{2a} = s_a(1 + q^a), s_{a+1} = 1 + q s_a): no cancellation as q → 1, unlike (1 − qⁿ)/(1 − q)."""
    s, p = jnp.zeros_like(q), jnp.ones_like(q)
    for bit in bin(n)[2:]:
        s, p = s * (1 + p), p * p
        if bit == "1":
            s, p = 1 + q * s, q * p
    return s, p


def inner_loop_covariance(h, sigma_yy, eta_y, n_inner: int):
    r"""L = Σ_{k∈ℤ} Cov(e_0, e_k): the long-run covariance of GDmax's inner-loop error
    e = y_N − y* (module docstring), for the curvature H = −∇²_yy f (symmetric, (n, n)), the
    y-oracle covariance Σ_yy, the ascent step η_y and N = ``n_inner`` warm-started steps.

    L = U L̃ Uᵀ with L̃_ij = Σ̃_ij s_N(m_i m_j)/(s_N(m_i) s_N(m_j) h_i h_j), m = 1 − η_y h. NaN
    unless the inner loop is stable (0 < η_y h_i < 2 for every eigenvalue h_i of H).
    """
    owner = "inner_loop_covariance"
    hv = check_array(owner, "h", h, ndim=2)
    if is_concrete(h) and hv.shape[0] != hv.shape[1]:
        raise ValueError(f"{owner}: h must be a square matrix; got shape {hv.shape}")
    check_array(owner, "sigma_yy", sigma_yy, shape=tuple(jnp.shape(h)))
    check_positive(owner, "eta_y", eta_y, scalar=True)
    n_inner = check_integer(owner, "n_inner", n_inner, low=1)
    h, sigma_yy = jnp.asarray(h), jnp.asarray(sigma_yy)
    lam, u = jnp.linalg.eigh(h)
    eta_y = jnp.asarray(eta_y, lam.dtype)
    m = 1.0 - eta_y * lam
    s1, _ = _geometric_sums(m, n_inner)
    s2, _ = _geometric_sums(m[:, None] * m[None, :], n_inner)
    st = u.T @ sigma_yy.astype(lam.dtype) @ u
    lt = st * s2 / ((s1 * lam)[:, None] * (s1 * lam)[None, :])
    stable = jnp.all((eta_y * lam > 0) & (eta_y * lam < 2))
    return jnp.where(stable, u @ lt @ u.T, jnp.nan)


def _check_pair_field(owner, problem):
    """The problem must be a game on a pair (x, y) (each player an array or a pytree)."""
    check_instance(owner, "problem", problem, AbstractField,
                   "a game (an AbstractGame, or any sde_opt field on a pair (x, y))")
    shape = problem.shape
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2 and problem.is_game):
        raise TypeError(f"{owner}: problem must be a game on a pair (x, y) (an AbstractGame); got "
                        f"{type(problem).__name__}, a field on points of shape {shape!r}")


class TwoTimescaleSDE(ProblemSDE):
    r"""dX = −Vₓ dt − √η_x (B dW)ₓ,  dY = −r V_y dt − r√η_x (B dW)_y  (module docstring).

    Args:
        problem: a game (or any field on a pair (x, y); x and y may be pytrees).
        eta_x: the slow step η_x (time unit t = kη_x) — sets the noise level.
        ratio: r = η_y/η_x.
        noise: False for the ODE limit.
    """

    problem: AbstractField
    eta_x: jnp.ndarray
    ratio: jnp.ndarray
    noisy: bool = eqx.field(static=True)

    def __init__(self, problem, eta_x, ratio, noise=True):
        _check_pair_field("TwoTimescaleSDE", problem)
        check_positive("TwoTimescaleSDE", "eta_x", eta_x, scalar=True)
        check_positive("TwoTimescaleSDE", "ratio", ratio, scalar=True)
        check_bool("TwoTimescaleSDE", "noise", noise)
        self.problem = problem
        self.eta_x = jnp.asarray(eta_x)
        self.ratio = jnp.asarray(ratio)
        self.noisy = bool(noise)

    @property
    def additive(self) -> bool:
        return self.problem.additive_noise

    def drift(self, z):
        vx, vy = self.problem.field(z)
        return (tree_map(lambda v: -v, vx), tree_map(lambda v: -self.ratio.astype(v.dtype) * v, vy))

    def diffusion(self, z, w):
        bx, by = self.problem.noise_factor(z, w)
        dtype = tree_leaves(bx)[0].dtype
        s = jnp.sqrt(self.eta_x).astype(dtype) * (1.0 if self.noisy else 0.0)
        r = self.ratio.astype(dtype)
        return (tree_map(lambda b: -s * b, bx), tree_map(lambda b: -s * r * b, by))


class ReducedSDE(ProblemSDE):
    r"""dX = −∇Φ(X) dt − √η_x C(X)^{1/2} dW, Y = y*(X) carried along (module docstring).

    x and y may be pytrees; C is a matrix in ``ravel_pytree`` order of x.

    Args:
        problem: a game with closed-form ``phi_grad`` and ``y_star`` (e.g. the games of
            ``sde_opt.problems.games``).
        eta_x: the slow step (noise level; time t = kη_x).
        noise: ``"gda"`` (C = [I, −K] Σ [I, −K]ᵀ at y*, the r → ∞ limit of stochastic GDA),
            ``"x"`` (C = Σₓₓ at y*, an exact inner maximization) or ``None`` (the ODE
            dX = −∇Φ dt). GDmax's own limit, with its inner loop's noise, is [`GDmaxSDE`][sde_opt.GDmaxSDE].
    """

    problem: AbstractField
    eta_x: jnp.ndarray
    mode: str | None = eqx.field(static=True)

    def __init__(self, problem, eta_x, noise="gda"):
        owner = type(self).__name__
        _check_pair_field(owner, problem)
        check_positive(owner, "eta_x", eta_x, scalar=True)
        if noise is not None:
            check_choice(owner, "noise", noise, ("gda", "x"))
        for name in ("phi_grad", "y_star"):
            if not hasattr(problem, name):
                raise TypeError(f"{owner}: problem must have a closed-form {name} (Φ's gradient and "
                                f"the best response y*); got {type(problem).__name__}")
        # Φ and y* may not exist (a merely concave quadratic game): refuse now, not mid-simulation
        point = zeros_like_shape(problem.shape[0])
        jax.eval_shape(problem.y_star, point)
        jax.eval_shape(problem.phi_grad, point)
        self.problem = problem
        self.eta_x = jnp.asarray(eta_x)
        self.mode = noise

    @property
    def noise_shape(self):
        return (tree_size(self.problem.shape[0]),)

    def _blocks(self, x):
        """(Σ, H, ∇²_yx f) at (x, y*(x)), flat (``ravel_pytree`` order): the oracle covariance
        (D, D), H = −∇²_yy f (n, n) and the cross derivative (n, m)."""
        y = self.problem.y_star(x)
        xf, unx = ravel_pytree(x)
        yf, uny = ravel_pytree(y)
        grad_y = jax.grad(lambda a, b: self.problem.objective((unx(a), uny(b))), argnums=1)
        h = -jax.jacfwd(grad_y, argnums=1)(xf, yf)
        cross = jax.jacfwd(grad_y, argnums=0)(xf, yf)
        sigma = self.problem.noise_cov((x, y)).astype(xf.dtype)
        return sigma, h, cross

    def x_covariance(self, x):
        """C(x), the (m, m) diffusion matrix of X per unit η_x."""
        m = tree_size(self.problem.shape[0])
        dtype = tree_leaves(x)[0].dtype
        if self.mode is None:
            return jnp.zeros((m, m), dtype)
        sigma, h, cross = self._blocks(x)
        if self.mode == "x":
            return sigma[:m, :m]
        k = jnp.linalg.solve(h, cross).T                      # K = ∇²_xy f H⁻¹  (m, n)
        p = jnp.concatenate([jnp.eye(m, dtype=dtype), -k], axis=1)
        return p @ sigma @ p.T

    def _x_root(self, x):
        c = self.x_covariance(x)
        e, v = jnp.linalg.eigh(c)
        return (v * jnp.sqrt(jnp.clip(e, 0.0))) @ v.T

    def _y_star_flat(self, x):
        """(xf ↦ y*(x) flat, x flat, unravel of x, unravel of y)."""
        xf, unx = ravel_pytree(x)
        _, uny = ravel_pytree(self.problem.y_star(x))
        return (lambda a: ravel_pytree(self.problem.y_star(unx(a)))[0]), xf, unx, uny

    def drift(self, z):
        x = z[0]
        ystar, xf, unx, uny = self._y_star_flat(x)
        a = -ravel_pytree(self.problem.phi_grad(x))[0]
        ay = jax.jacfwd(ystar)(xf) @ a
        if self.mode is not None:
            c = self.eta_x.astype(xf.dtype) * self.x_covariance(x)
            hess = jax.jacfwd(jax.jacfwd(ystar))(xf)   # (n, m, m)
            ay = ay + 0.5 * jnp.einsum("kij,ij->k", hess, c)
        return (unx(a), uny(ay))

    def diffusion(self, z, w):
        x = z[0]
        ystar, xf, unx, uny = self._y_star_flat(x)
        if self.mode is None:
            bx = jnp.zeros_like(xf)
        else:
            bx = -jnp.sqrt(self.eta_x).astype(xf.dtype) * (self._x_root(x) @ w.astype(xf.dtype))
        return (unx(bx), uny(jax.jacfwd(ystar)(xf) @ bx))


class GDmaxSDE(ReducedSDE):
    r"""GDmax's diffusion limit: dX = −∇Φ(X) dt − √η_x C(X)^{1/2} dW with the inner loop's noise,

        C = Σₓₓ + G L Gᵀ,   G = ∇²_xy f(X, y*(X)),   L = ``inner_loop_covariance``,

    Y = y*(X) carried along (module docstring for the derivation and what it neglects).

    Args:
        problem: a game with closed-form ``phi_grad`` and ``y_star``.
        eta_x: the outer step (noise level; time t = kη_x).
        eta_y: the inner ascent step (0 < η_y h < 2 for the eigenvalues h of −∇²_yy f).
        n_inner: N ≥ 1 warm-started ascent steps per outer step.
    """

    eta_y: jnp.ndarray
    n_inner: int = eqx.field(static=True)

    def __init__(self, problem, eta_x, eta_y, n_inner):
        super().__init__(problem, eta_x, noise="x")
        self.mode = "gdmax"
        check_positive("GDmaxSDE", "eta_y", eta_y, scalar=True)
        self.n_inner = check_integer("GDmaxSDE", "n_inner", n_inner, low=1)
        self.eta_y = jnp.asarray(eta_y)

    def x_covariance(self, x):
        """C(x) = Σₓₓ + G L Gᵀ, the (m, m) diffusion matrix of X per unit η_x."""
        m = tree_size(self.problem.shape[0])
        sigma, h, cross = self._blocks(x)
        ell = inner_loop_covariance(h, sigma[m:, m:], self.eta_y.astype(h.dtype), self.n_inner)
        return sigma[:m, :m] + cross.T @ ell @ cross


__all__ = ["TwoTimescaleSDE", "ReducedSDE", "GDmaxSDE", "inner_loop_covariance"]

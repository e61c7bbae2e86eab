r"""Bilevel problems min_x Φ(x) = f(x, y*(x)), y*(x) = argmin_y g(x, y), g strongly convex in y.

A bilevel problem is a *minimization* of the reduced objective Φ (Huang, Chen, Ji, Ma & Lai,
JMLR 2025, §3 of the paper digest), so [`AbstractBilevel`][sde_opt.AbstractBilevel] subclasses
[`AbstractProblem`][sde_opt.AbstractProblem]: its field is the hypergradient given by the implicit
function theorem,

    ∇Φ(x) = ∇ₓf(x, y*) − ∇²ₓᵧg(x, y*) [∇²ᵧg(x, y*)]⁻¹ ∇ᵧf(x, y*),

and SGD-type machinery and [`FieldSDE`][sde_opt.FieldSDE] apply to Φ directly. Its
``stochastic_grad`` is the *ideal* unbiased hypergradient oracle (exact y*, exact inverse, noisy
upper-level gradients), whose covariance is exact (``grad_noise_cov``).

The bilevel algorithms (AID, perturbed AID, StocBiO, StocBiO + iNEON) never see Φ: they use the
**level oracles** this class defines, built from gradients and Jacobian-/Hessian-vector products
of g and f (``jax.jvp``/``jax.vjp``; never a dense Hessian):

* ``upper_grads(x, y)`` = (∇ₓf, ∇ᵧf); ``stochastic_upper_grads(x, y, noise)`` (one draw of
  ``upper_noise``);
* ``lower_grad_y(x, y)`` = ∇ᵧg; ``stochastic_lower_grad_y(x, y, noise)`` (one draw of
  ``lower_noise``);
* ``lower_hvp(x, y, v)`` = ∇²ᵧg v (a JVP of ∇ᵧg); ``lower_cross(x, y, v)`` = ∇²ₓᵧg v (a VJP of
  ∇ᵧg with respect to x) and their stochastic versions (draws of ``hessian_noise``).

Default noise model (additive Gaussian, exact covariances): ∇F = ∇f + σ_f ξ, ξ ~ N(0, I) on
(x, y) jointly; ∇ᵧG = ∇ᵧg + σ_g ζ; second derivatives of g exact. Minibatch problems
([`HyperCleaning`][sde_opt.HyperCleaning]) override the oracles and samplers.

The exact reference quantities (``y_star``, Φ, ∇Φ, ∇²Φ) may use dense linear algebra: they are
the closed forms the algorithms are checked against, not part of any algorithm.
"""

from __future__ import annotations

import abc
import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._checks import (
    _show,
    check_array,
    check_instance,
    check_integer,
    check_positive,
    check_range,
    check_real,
    is_concrete,
)
from ..noise import StandardNormal
from ._base import AbstractProblem, is_shape
from .geometry import Euclidean


class StackedIndices(eqx.Module):
    """``n`` independent minibatches of ``batch_size`` indices of {0..n_data−1}, with replacement:
    a draw has shape ``(n, batch_size)``."""

    n_data: int = eqx.field(static=True)
    n: int = eqx.field(static=True)
    batch_size: int = eqx.field(static=True)

    def sample(self, key, dtype=None):
        return jax.random.randint(key, (self.n, self.batch_size), 0, self.n_data)


def _f(a, x):
    """A problem constant cast to the iterate's dtype.

    A NumPy constant is copied (in the iterate's dtype) before JAX sees it: a JAX loop run
    eagerly under ``jax.enable_x64`` (a theory function, a float64 reference) keeps a float64
    device copy of the NumPy arrays its body captures and reuses it when the *same* array object is
    later passed to a float32 program, which then fails with ``RuntimeProgramInputMismatch``
    (JAX 0.10); a fresh copy leaves the problem's own arrays untouched."""
    if isinstance(a, np.ndarray):
        return jnp.asarray(np.array(a, dtype=x.dtype, copy=True))
    return jnp.asarray(a).astype(x.dtype)


def _int(owner: str, name: str, value, low: int) -> int:
    """A Python/NumPy integer ≥ ``low`` (a float such as 2.5 is refused, not truncated)."""
    return check_integer(owner, name, value, low=low)


def _vector(owner: str, name: str, value, size: int, *, positive=False, nonzero=False) -> np.ndarray:
    """A finite real vector of shape (size,) (optionally > 0 or ≠ 0), as float64."""
    v = check_real(owner, name, value).astype(np.float64)
    if v.shape != (size,):
        raise ValueError(f"{owner}: {name} must have shape ({size},); got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{owner}: {name} must be finite; got {v.tolist()}")
    if positive and not np.all(v > 0):
        raise ValueError(f"{owner}: {name} must be > 0 entrywise; got {v.tolist()}")
    if nonzero and not np.all(v != 0):
        raise ValueError(f"{owner}: {name} must be nonzero entrywise; got {v.tolist()}")
    return v


def _noise_level(owner: str, name: str, value) -> np.ndarray:
    check_range(owner, name, value, 0.0, np.inf, high_closed=False, scalar=True)
    return np.asarray(float(value))


class AbstractBilevel(AbstractProblem):
    r"""min_x Φ(x) = f(x, y*(x)) with g(x, ·) strongly convex (module docstring).

    Subclasses provide ``shape`` (of x, ``(d_x,)``), ``y_shape`` (``(d_y,)``), ``upper(x, y)``,
    ``lower(x, y)``, ``y_star(x)``; the noise levels ``sigma_f``, ``sigma_g`` only where they use
    the default additive-noise oracles (a subclass with its own oracles, such as
    [`FiniteSumBilevel`][sde_opt.FiniteSumBilevel], needs neither); optionally
    ``lower_smoothness`` ℓ and ``lower_strong_convexity`` μ where known.
    """

    # ---- the two levels ------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def y_shape(self) -> tuple[int, ...]:
        """Shape of the lower-level variable y."""

    @abc.abstractmethod
    def upper(self, x, y):
        """f(x, y), a scalar."""

    @abc.abstractmethod
    def lower(self, x, y):
        """g(x, y), a scalar, strongly convex in y."""

    @abc.abstractmethod
    def y_star(self, x):
        """y*(x) = argmin_y g(x, y) (closed form or a converged solver)."""

    @property
    def lower_smoothness(self):
        """ℓ, the Lipschitz constant of ∇ᵧg in y (``None`` if unknown)."""
        return None

    @property
    def lower_strong_convexity(self):
        """μ, the strong-convexity modulus of g in y (``None`` if unknown)."""
        return None

    # ---- exact level oracles (autodiff; Hessian-vector products only) ---------------------------
    def upper_grads(self, x, y):
        """(∇ₓf(x, y), ∇ᵧf(x, y))."""
        return jax.grad(self.upper, argnums=(0, 1))(x, y)

    def lower_grad_y(self, x, y):
        """∇ᵧg(x, y)."""
        return jax.grad(self.lower, argnums=1)(x, y)

    def lower_hvp(self, x, y, v):
        """∇²ᵧg(x, y) v: a JVP of ∇ᵧg in y (one HVP)."""
        return jax.jvp(lambda yy: self.lower_grad_y(x, yy), (y,), (v,))[1]

    def lower_cross(self, x, y, v):
        """∇²ₓᵧg(x, y) v ∈ ℝ^{d_x}: a VJP of ∇ᵧg with respect to x (one JVP-type call)."""
        return jax.vjp(lambda xx: self.lower_grad_y(xx, y), x)[1](v)[0]

    # ---- stochastic level oracles (additive Gaussian by default) ---------------------------------
    @property
    def upper_noise(self):
        """Sampler of one upper-level oracle call's noise: N(0, I) of size d_x + d_y."""
        return StandardNormal((self.shape[0] + self.y_shape[0],))

    def lower_noise(self, n: int):
        """Sampler of ``n`` independent lower-gradient calls' noise, stacked on axis 0."""
        return StandardNormal((n, *self.y_shape))

    def hessian_noise(self, n: int):
        """Sampler of ``n`` independent Hessian-vector calls' noise; ``None``: exact second
        derivatives (the additive model)."""
        return None

    def hessian_samples(self, x, y):
        """What one stochastic second-derivative call averages, for the exact covariance of
        StocBiO's estimate: ``None`` when those calls are exact (the additive model), else
        ``(H, J, b)`` with H ``(n, d_y, d_y)`` the per-example ∇²ᵧgᵢ, J ``(n, d_x, d_y)`` the
        per-example ∇²ₓᵧgᵢ (mean over i: ∇²ᵧg and ∇²ₓᵧg) and b the examples one call averages,
        drawn uniformly with replacement. A problem with noisy second derivatives
        (``hessian_noise`` not ``None``) must provide it for StocBiO's diffusion limit."""
        return None

    def stochastic_upper_grads(self, x, y, noise):
        """(∇ₓF, ∇ᵧF) = (∇ₓf, ∇ᵧf) + σ_f ξ."""
        gx, gy = self.upper_grads(x, y)
        s = _f(self.sigma_f, x)
        dx = self.shape[0]
        return gx + s * noise[:dx], gy + s * noise[dx:]

    def stochastic_lower_grad_y(self, x, y, noise):
        """∇ᵧG = ∇ᵧg + σ_g ζ."""
        return self.lower_grad_y(x, y) + _f(self.sigma_g, x) * noise

    def stochastic_lower_hvp(self, x, y, v, noise):
        """∇²ᵧG v (exact in the additive model)."""
        return self.lower_hvp(x, y, v)

    def stochastic_lower_cross(self, x, y, v, noise):
        """∇²ₓᵧG v (exact in the additive model)."""
        return self.lower_cross(x, y, v)

    def upper_grads_cov(self, x, y):
        """Cov of (∇ₓF, ∇ᵧF) as a ``(d_x+d_y, d_x+d_y)`` matrix."""
        n = self.shape[0] + self.y_shape[0]
        return _f(self.sigma_f, x) ** 2 * jnp.eye(n, dtype=x.dtype)

    def lower_grad_cov(self, x, y):
        """Cov of ∇ᵧG, ``(d_y, d_y)``."""
        return _f(self.sigma_g, x) ** 2 * jnp.eye(self.y_shape[0], dtype=x.dtype)

    # ---- exact reduced problem (dense references) ------------------------------------------------
    def lower_hessian(self, x, y):
        """∇²ᵧg(x, y), dense (reference only)."""
        return jax.hessian(self.lower, argnums=1)(x, y)

    def lower_cross_matrix(self, x, y):
        """J = ∇²ₓᵧg(x, y), dense ``(d_x, d_y)`` (reference only)."""
        return jax.jacfwd(lambda xx: self.lower_grad_y(xx, y))(x).T

    def v_star(self, x):
        """v*(x) = [∇²ᵧg]⁻¹ ∇ᵧf at y*(x), the solution the CG loop of AID targets."""
        y = self.y_star(x)
        return jnp.linalg.solve(self.lower_hessian(x, y), self.upper_grads(x, y)[1])

    def objective(self, x):
        return self.upper(x, self.y_star(x))

    def grad(self, x):
        y = self.y_star(x)
        gx, gy = self.upper_grads(x, y)
        v = jnp.linalg.solve(self.lower_hessian(x, y), gy)
        return gx - self.lower_cross_matrix(x, y) @ v

    def hessian(self, x):
        return jax.jacfwd(self.grad)(x)

    @property
    def noise(self):
        return self.upper_noise

    def stochastic_grad(self, x, noise):
        """The ideal unbiased hypergradient oracle: ∇ₓF − J H⁻¹ ∇ᵧF at the exact y*(x)."""
        y = self.y_star(x)
        gx, gy = self.stochastic_upper_grads(x, y, noise)
        v = jnp.linalg.solve(self.lower_hessian(x, y), gy)
        return gx - self.lower_cross_matrix(x, y) @ v

    def grad_noise_cov(self, x):
        """Σ(x) of the ideal oracle: M Cov(∇F) Mᵀ with M = [I, −J H⁻¹] (implicit function theorem)."""
        y = self.y_star(x)
        m = jnp.concatenate([jnp.eye(self.shape[0], dtype=x.dtype),
                             -self.lower_cross_matrix(x, y)
                             @ jnp.linalg.inv(self.lower_hessian(x, y))], axis=1)
        return m @ self.upper_grads_cov(x, y) @ m.T

    def check_lower_step(self, owner: str, alpha) -> None:
        """Raise if the inner step α is ≤ 0 or above the lower level's stability bound 2/ℓ."""
        check_range(owner, "alpha", alpha, 0.0, np.inf, low_closed=False, high_closed=False)
        ell = self.lower_smoothness
        if ell is not None and is_concrete(alpha) and float(np.max(np.asarray(alpha))) >= 2.0 / ell:
            raise ValueError(f"{owner}: alpha (the inner step) must be < 2/ℓ = {2.0 / ell:.6g} for "
                             f"the lower-level gradient descent to be stable (ℓ = {ell:.6g} is the "
                             f"smoothness of g in y); got {float(np.max(np.asarray(alpha)))!r}")


# ------------------------------------------------------------------------------------------------
# Quadratic lower level, nonconvex upper level: everything in closed form
# ------------------------------------------------------------------------------------------------


def _orthogonal(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


class QuadraticBilevel(AbstractBilevel):
    r"""Quadratic lower level and a quartic upper level with strict saddles and local minima.

        g(x, y) = ½ yᵀQy − yᵀBx,     Q = U diag(q) Uᵀ,  q geometric in [μ, ℓ] = [1, κ],
        f(x, y) = Σᵢ (ωᵢ/4) xᵢ⁴ − ½ Σᵢ sᵢ xᵢ² + ½ ‖y‖² + c (Wᵀy)·(Vᵀy),

    with B = U[:, :d_x] diag(b) (U a fixed random rotation), V = U[:, :d_x], W = U[:, d_x:] G
    (G fixed, unit columns), so y*(x) = Q⁻¹Bx = V diag(b/q_{:d_x}) x. The ``spread`` term c
    vanishes at y* (Wᵀy* = 0) and leaves Φ unchanged, but spreads ∇ᵧf = y + c(WVᵀ + VWᵀ)y over
    all eigen-directions of Q, so that CG needs many steps (without it the right-hand side lives
    in d_x modes and CG is exact after d_x steps). The reduced objective is separable:

        Φ(x) = Σᵢ (ωᵢ/4) xᵢ⁴ + ½ Σᵢ γᵢ xᵢ²,    γᵢ = bᵢ²/qᵢ² − sᵢ,

    where sᵢ is set from the requested γ. ∇Φ = ωx³ + γx, ∇²Φ = diag(3ωx² + γ). Critical points:
    xᵢ ∈ {0, ±√(−γᵢ/ωᵢ)} for γᵢ < 0, xᵢ = 0 otherwise; the origin is a strict saddle when γ has
    both signs, with λ_min(∇²Φ(0)) = min γ. The hypergradient of AID, ∇ₓf − (−Bᵀ) v, has
    v* = Q⁻¹ y* (since ∇ᵧf = y).

    The lower level's condition number κ = ℓ/μ is adjustable; Φ does not depend on κ (only the
    cost of the inner solves does), so rates in κ isolate the solver.

    Args:
        kappa: condition number κ ≥ 1 of ∇²ᵧg = Q (eigenvalues geometric from 1 to κ).
        gamma: the curvatures γ of Φ at the origin, shape ``(d_x,)`` (default (−1, 1)).
        omega: quartic coefficients ω > 0, shape ``(d_x,)`` (default 1).
        d_y: lower dimension (≥ d_x; default 20, so that CG does not terminate in a few steps).
        b: coupling coefficients (default 1).
        sigma_f, sigma_g: additive noise of the upper gradients and of ∇ᵧG.
        spread: c, the coefficient of the ∇ᵧf-spreading term (default 1).
        seed: the rotation U and G.
    """

    q: jnp.ndarray
    w: jnp.ndarray
    spread: jnp.ndarray
    u: jnp.ndarray
    qmat: jnp.ndarray
    bmat: jnp.ndarray
    b: jnp.ndarray
    s: jnp.ndarray
    omega: jnp.ndarray
    gamma: jnp.ndarray
    sigma_f: jnp.ndarray
    sigma_g: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, kappa=10.0, gamma=(-1.0, 1.0), omega=None, *, d_y=20, b=None,
                 sigma_f=0.0, sigma_g=0.0, spread=1.0, seed=0):
        name = "QuadraticBilevel"
        check_range(name, "kappa", kappa, 1.0, np.inf, high_closed=False, scalar=True)
        gamma = check_real(name, "gamma", gamma).astype(np.float64)
        if gamma.ndim != 1 or gamma.size == 0:
            raise ValueError(f"{name}: gamma must be a 1-D array (the curvatures of Φ at 0); got "
                             f"shape {gamma.shape}")
        dx = gamma.size
        gamma = _vector(name, "gamma", gamma, dx)
        omega = np.ones(dx) if omega is None else _vector(name, "omega", omega, dx, positive=True)
        d_y = _int(name, "d_y", d_y, dx)
        b = np.ones(dx) if b is None else _vector(name, "b", b, dx, nonzero=True)
        sigma_f = _noise_level(name, "sigma_f", sigma_f)
        sigma_g = _noise_level(name, "sigma_g", sigma_g)
        check_range(name, "spread", spread, low_closed=False, high_closed=False, scalar=True)
        seed = _int(name, "seed", seed, 0)
        q = np.geomspace(1.0, float(kappa), d_y) if d_y > 1 else np.ones(1)
        self.q = np.asarray(q)
        self.u = np.asarray(_orthogonal(d_y, seed))
        g = np.random.default_rng(seed + 1).standard_normal((d_y - dx, dx))
        g = g / np.maximum(np.linalg.norm(g, axis=0, keepdims=True), 1e-300)
        self.w = self.u[:, dx:] @ g
        self.spread = np.asarray(float(spread))
        self.b = np.asarray(b)
        self.s = np.asarray(b**2 / q[:dx] ** 2 - gamma)
        self.omega = np.asarray(omega)
        self.gamma = np.asarray(gamma)
        self.sigma_f = np.asarray(float(sigma_f))
        self.sigma_g = np.asarray(float(sigma_g))
        # the constant second derivatives, formed once in float64 (``lower_hvp``)
        self.qmat = np.asarray(self.q_matrix(np.float64))
        self.bmat = np.asarray(self.b_matrix(np.float64))

    @property
    def shape(self):
        return (self.gamma.shape[0],)

    @property
    def y_shape(self):
        return (self.q.shape[0],)

    @property
    def kappa(self) -> float:
        return float(self.q[-1] / self.q[0])

    @property
    def lower_smoothness(self):
        return float(np.max(np.asarray(self.q)))

    @property
    def lower_strong_convexity(self):
        return float(np.min(np.asarray(self.q)))

    def q_matrix(self, dtype=jnp.float64):
        u = self.u.astype(dtype)
        return (u * self.q.astype(dtype)) @ u.T

    def b_matrix(self, dtype=jnp.float64):
        dx = self.shape[0]
        return self.u[:, :dx].astype(dtype) * self.b.astype(dtype)

    def _py(self, y):
        """P y = y + c (W Vᵀ y + V Wᵀ y)."""
        v, w = _f(self.u, y)[:, : self.shape[0]], _f(self.w, y)
        return y + _f(self.spread, y) * (w @ (v.T @ y) + v @ (w.T @ y))

    def upper(self, x, y):
        v, w = _f(self.u, y)[:, : self.shape[0]], _f(self.w, y)
        return (jnp.sum(_f(self.omega, x) * x**4) / 4 - jnp.sum(_f(self.s, x) * x**2) / 2
                + jnp.sum(y * y) / 2 + _f(self.spread, y) * jnp.sum((w.T @ y) * (v.T @ y)))

    def lower(self, x, y):
        # ½ yᵀQy − yᵀBx with Q = U diag(q) Uᵀ, B = U[:, :dx] diag(b), without forming Q
        uy = _f(self.u, x).T @ y
        return 0.5 * jnp.sum(_f(self.q, x) * uy * uy) - jnp.sum(uy[: self.shape[0]] * _f(self.b, x) * x)

    # closed forms
    def upper_grads(self, x, y):
        return _f(self.omega, x) * x**3 - _f(self.s, x) * x, self._py(y)

    # The second derivatives are constant (∇²ᵧg = Q, ∇²ₓᵧg = −Bᵀ): the level oracles are products
    # with the matrices Q and B formed once, one matrix-vector product per call where autodiff
    # through U diag(q) Uᵀ took two (issue 24). Same maths; float32 rounding differs (≤ a few ulps).
    def lower_grad_y(self, x, y):
        return _f(self.qmat, y) @ y - _f(self.bmat, x) @ x

    def lower_hvp(self, x, y, v):
        return _f(self.qmat, y) @ v

    def lower_cross(self, x, y, v):
        return -(v @ _f(self.bmat, x))

    def y_star(self, x):
        dx = self.shape[0]
        return _f(self.u, x)[:, :dx] @ (_f(self.b, x) / _f(self.q, x)[:dx] * x)

    def v_star(self, x):
        u = _f(self.u, x)
        return u @ ((u.T @ self._py(self.y_star(x))) / _f(self.q, x))

    def objective(self, x):
        return jnp.sum(_f(self.omega, x) * x**4) / 4 + jnp.sum(_f(self.gamma, x) * x**2) / 2

    def grad(self, x):
        return _f(self.omega, x) * x**3 + _f(self.gamma, x) * x

    def hessian(self, x):
        return jnp.diag(3 * _f(self.omega, x) * x**2 + _f(self.gamma, x))

    def lower_hessian(self, x, y):
        return self.q_matrix(x.dtype)

    def lower_cross_matrix(self, x, y):
        return -self.b_matrix(x.dtype).T

    def critical_points(self):
        gamma, omega = np.asarray(self.gamma), np.asarray(self.omega)
        choices = [(0.0, np.sqrt(-g / w), -np.sqrt(-g / w)) if g < 0 else (0.0,)
                   for g, w in zip(gamma, omega)]
        out: dict[str, list] = {"minimum": [], "saddle": [], "maximum": []}
        for p in itertools.product(*choices):
            p = np.array(p)
            h = 3 * omega * p**2 + gamma
            kind = "minimum" if np.all(h > 0) else ("maximum" if np.all(h < 0) else "saddle")
            out[kind].append(p)
        return {k: jnp.asarray(np.array(v)) for k, v in out.items() if v}

    def hessian_lipschitz(self, radius: float) -> float:
        """ρ_Φ on the ball ‖x‖ ≤ radius: ‖∇²Φ(x) − ∇²Φ(x')‖ ≤ 6 max ω · radius ‖x − x'‖."""
        return 6.0 * float(np.max(np.asarray(self.omega))) * radius

    def gradient_lipschitz(self, radius: float) -> float:
        """L_Φ on the ball ‖x‖ ≤ radius: max |γᵢ + 3ωᵢ radius²| ∨ max |γᵢ|."""
        g, w = np.asarray(self.gamma), np.asarray(self.omega)
        return float(max(np.max(np.abs(g + 3 * w * radius**2)), np.max(np.abs(g))))


# ------------------------------------------------------------------------------------------------
# Nonlinear (softplus) lower level: y* needs a solver
# ------------------------------------------------------------------------------------------------


def _newton(grad, hess, y0, steps):
    def body(_, y):
        return y - jnp.linalg.solve(hess(y), grad(y))

    return jax.lax.fori_loop(0, steps, body, y0)


class SoftplusBilevel(AbstractBilevel):
    r"""A softplus lower level (y*(x) needs a solver) under a nonconvex upper level.

        g(x, y) = Σⱼ softplus(cⱼᵀy) + (μ/2)‖y‖² − yᵀBx,      μ-strongly convex, ℓ = μ + ‖C‖²/4,
        f(x, y) = Σᵢ (ωᵢ/4) xᵢ⁴ − ½ Σᵢ sᵢ xᵢ² + ½ ‖y − y*(0)‖²,

    so ∇Φ(0) = 0 (∇ᵧf vanishes at y*(0)); whether the origin is a saddle depends on s and is
    reported by ``critical_points`` from the exact Hessian. y*(x) is computed by Newton's
    method (dense, reference only; ``newton_steps`` iterations from y*(0)); ∇Φ, ∇²Φ follow from the
    implicit function theorem with autodiff.

    Args:
        d_x, d_y, n_terms: dimensions and number of softplus terms (rows of C).
        mu: strong convexity μ > 0.
        s: the upper level's negative quadratic coefficients, shape ``(d_x,)``.
        sigma_f, sigma_g: additive noise levels.
        seed: C and B.
    """

    c: jnp.ndarray
    bmat: jnp.ndarray
    mu: jnp.ndarray
    s: jnp.ndarray
    omega: jnp.ndarray
    y0: jnp.ndarray
    sigma_f: jnp.ndarray
    sigma_g: jnp.ndarray
    newton_steps: int = eqx.field(static=True)
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, d_x=2, d_y=6, n_terms=10, mu=0.5, s=(4.0, 0.0), omega=None, *,
                 sigma_f=0.0, sigma_g=0.0, seed=0, newton_steps=30):
        name = "SoftplusBilevel"
        d_x, d_y = _int(name, "d_x", d_x, 1), _int(name, "d_y", d_y, 1)
        n_terms = _int(name, "n_terms", n_terms, 1)
        check_range(name, "mu", mu, 0.0, np.inf, low_closed=False, high_closed=False, scalar=True)
        s = _vector(name, "s", s, d_x)
        omega = np.ones(d_x) if omega is None else _vector(name, "omega", omega, d_x, positive=True)
        sigma_f = _noise_level(name, "sigma_f", sigma_f)
        sigma_g = _noise_level(name, "sigma_g", sigma_g)
        seed = _int(name, "seed", seed, 0)
        self.newton_steps = _int(name, "newton_steps", newton_steps, 1)
        rng = np.random.default_rng(seed)
        self.c = np.asarray(rng.standard_normal((n_terms, d_y)) / np.sqrt(d_y))
        self.bmat = np.asarray(rng.standard_normal((d_y, d_x)) / np.sqrt(d_y))
        self.mu = np.asarray(float(mu))
        self.s = np.asarray(s)
        self.omega = np.asarray(omega)
        self.sigma_f = sigma_f
        self.sigma_g = sigma_g
        # y*(0) by Newton's method in NumPy (float64): no JAX tracing in the constructor, so that
        # building the problem never changes what later (float32) programs see
        y0 = np.zeros(d_y)
        for _ in range(100):
            t = self.c @ y0
            sig = 1.0 / (1.0 + np.exp(-t))
            grad = self.c.T @ sig + float(mu) * y0
            hess = (self.c.T * (sig * (1 - sig))) @ self.c + float(mu) * np.eye(d_y)
            y0 = y0 - np.linalg.solve(hess, grad)
            if np.linalg.norm(grad) < 1e-15:
                break
        self.y0 = y0

    @property
    def shape(self):
        return (self.bmat.shape[1],)

    @property
    def y_shape(self):
        return (self.bmat.shape[0],)

    @property
    def lower_smoothness(self):
        return float(self.mu) + float(np.linalg.norm(np.asarray(self.c), 2) ** 2) / 4

    @property
    def lower_strong_convexity(self):
        return float(self.mu)

    def upper(self, x, y):
        return (jnp.sum(_f(self.omega, x) * x**4) / 4 - jnp.sum(_f(self.s, x) * x**2) / 2
                + jnp.sum((y - _f(self.y0, x)) ** 2) / 2)

    def lower(self, x, y):
        return (jnp.sum(jax.nn.softplus(_f(self.c, x) @ y)) + _f(self.mu, x) * jnp.sum(y * y) / 2
                - y @ (_f(self.bmat, x) @ x))

    def _solve(self, x, y_init):
        return _newton(lambda y: self.lower_grad_y(x, y), lambda y: self.lower_hessian(x, y),
                       y_init, self.newton_steps)

    def y_star(self, x):
        return self._solve(x, _f(self.y0, x))

    def critical_points(self):
        with jax.enable_x64(True):
            h = np.asarray(jax.jit(lambda z: self.hessian(z))(jnp.zeros(self.shape, jnp.float64)))
        e = np.linalg.eigvalsh(h)
        kind = "minimum" if e.min() > 0 else ("maximum" if e.max() < 0 else "saddle")
        return {kind: jnp.zeros((1, *self.shape))}


# ------------------------------------------------------------------------------------------------
# Data hyper-cleaning on generated data (minibatch oracles)
# ------------------------------------------------------------------------------------------------


def _digits_features():
    """scikit-learn's digits: 2×2-average-pooled 4×4 images, standardized, with an intercept;
    labels +1 for digits ≥ 5, −1 otherwise."""
    from sklearn.datasets import load_digits

    d = load_digits()
    img = d.images.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)
    img = (img - img.mean(0)) / np.maximum(img.std(0), 1e-12)
    return np.concatenate([img, np.ones((len(img), 1))], axis=1), np.where(d.target >= 5, 1.0, -1.0)


def digits_split(n_train: int, n_val: int, corrupt: float, seed: int):
    """(a, labels, a_val, labels_val, corrupted, a_test, labels_test): a random split of the
    digits task of [`HyperCleaning.digits`][sde_opt.HyperCleaning.digits] with a fraction
    ``corrupt`` of the training labels flipped (the test set is the rest, clean)."""
    name = "HyperCleaning.digits"
    a, b = _digits_features()
    n_train, n_val = _int(name, "n_train", n_train, 1), _int(name, "n_val", n_val, 1)
    if n_train + n_val >= len(b):
        raise ValueError(f"{name}: n_train + n_val must be < {len(b)} (the digits); got "
                         f"{n_train + n_val}")
    check_range(name, "corrupt", corrupt, 0.0, 1.0, scalar=True)
    rng = np.random.default_rng(_int(name, "seed", seed, 0))
    perm = rng.permutation(len(b))
    tr, va, te = perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]
    flip = rng.uniform(size=n_train) < corrupt
    return (a[tr], np.where(flip, -b[tr], b[tr]), a[va], b[va], flip, a[te], b[te])


def _hypercleaning_data(owner: str, data):
    """The five arrays of ``data`` (the features of the training and validation sets as real 2-D
    arrays; the shapes and labels are checked by the caller)."""
    if not isinstance(data, (tuple, list)) or len(data) != 5:
        raise TypeError(f"{owner}: data must be a tuple (a, labels, a_val, labels_val, corrupted) "
                        f"of five arrays; got {_show(data)} ({type(data).__name__})")
    a, lab, av, labv, flip = data
    a = check_array(owner, "data", a, ndim=2, finite=False)
    av = check_array(owner, "data", av, ndim=2, finite=False)
    lab, labv = check_real(owner, "data", lab), check_real(owner, "data", labv)
    return a, lab, av, labv, np.asarray(flip)


class HyperCleaning(AbstractBilevel):
    r"""Data hyper-cleaning (Franceschi et al. 2017; Ji, Yang & Liang 2021).

    A logistic classifier y ∈ ℝᵈ is trained on n corrupted examples (a fraction of labels
    flipped) with per-example weights σ(xᵢ); the weights x ∈ ℝⁿ are tuned on clean validation data:

        g(x, y) = (1/n) Σᵢ σ(xᵢ) ℓ(aᵢᵀy, bᵢ) + (μ/2)‖y‖²,      ℓ(t, b) = log(1 + e^{−bt}),
        f(x, y) = (1/m) Σⱼ ℓ(a'ⱼᵀy, b'ⱼ) + (λ/2)‖x‖²·(1/n).

    Stochastic oracles are minibatches with replacement (``batch_size`` examples per call); their
    covariances are exact: (1/b)·(the per-example covariance). y* is computed by Newton's method.
    The data are generated (a random linear teacher, Gaussian features) unless ``data`` is given;
    ``digits`` builds the problem on scikit-learn's bundled handwritten digits.

    Args:
        n_train, n_val, dim: data sizes; corrupt: fraction of flipped training labels.
        mu: the lower level's ridge μ > 0; lam: the upper level's ridge on x.
        batch_size: examples per stochastic call.
        seed: the data.
        data: optional ``(a, labels, a_val, labels_val, corrupted)`` arrays (labels ±1;
            ``corrupted`` marks the flipped training labels); n_train, n_val, dim and corrupt are
            then read from them.
    """

    a: jnp.ndarray
    labels: jnp.ndarray
    a_val: jnp.ndarray
    labels_val: jnp.ndarray
    mu: jnp.ndarray
    lam: jnp.ndarray
    corrupted: jnp.ndarray
    batch_size: int = eqx.field(static=True)
    newton_steps: int = eqx.field(static=True)
    sigma_f: jnp.ndarray = eqx.field(default_factory=lambda: jnp.asarray(0.0))
    sigma_g: jnp.ndarray = eqx.field(default_factory=lambda: jnp.asarray(0.0))
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, n_train=40, n_val=40, dim=5, corrupt=0.3, mu=0.1, lam=1e-2, *,
                 batch_size=8, seed=0, newton_steps=25, data=None):
        name = "HyperCleaning"
        if data is not None:
            a, lab, av, labv, flip = _hypercleaning_data(name, data)
            n_train, dim = a.shape
            n_val = av.shape[0]
        n_train, n_val = _int(name, "n_train", n_train, 1), _int(name, "n_val", n_val, 1)
        dim = _int(name, "dim", dim, 1)
        check_range(name, "mu", mu, 0.0, np.inf, low_closed=False, high_closed=False, scalar=True)
        check_range(name, "lam", lam, 0.0, np.inf, high_closed=False, scalar=True)
        check_range(name, "corrupt", corrupt, 0.0, 1.0, scalar=True)
        batch_size = _int(name, "batch_size", batch_size, 1)
        seed = _int(name, "seed", seed, 0)
        newton_steps = _int(name, "newton_steps", newton_steps, 1)
        if data is None:
            rng = np.random.default_rng(seed)
            w = rng.standard_normal(dim)
            a = rng.standard_normal((n_train, dim))
            av = rng.standard_normal((n_val, dim))
            b = np.sign(a @ w + 0.1 * rng.standard_normal(n_train))
            labv = np.sign(av @ w + 0.1 * rng.standard_normal(n_val))
            flip = rng.uniform(size=n_train) < corrupt
            lab = np.where(flip, -b, b)
        else:
            shapes = {"labels": (lab.shape, (n_train,)), "a_val": (av.shape, (n_val, dim)),
                      "labels_val": (labv.shape, (n_val,)), "corrupted": (flip.shape, (n_train,))}
            for key, (got, want) in shapes.items():
                if got != want:
                    raise ValueError(f"{name}: data's {key} must have shape {want}; got {got}")
            for key, v in (("labels", lab), ("labels_val", labv)):
                if not np.all(np.abs(v) == 1):
                    raise ValueError(f"{name}: data's {key} must be ±1")
            for key, v in (("a", a), ("a_val", av)):
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"{name}: data's {key} (the features) must be finite; got "
                                     f"{int(np.sum(~np.isfinite(v)))} non-finite entries")
        self.a, self.labels = np.asarray(a, np.float64), np.asarray(lab, np.float64)
        self.a_val, self.labels_val = np.asarray(av, np.float64), np.asarray(labv, np.float64)
        self.corrupted = np.asarray(flip, bool)
        self.mu, self.lam = np.asarray(float(mu)), np.asarray(float(lam))
        self.batch_size = int(batch_size)
        self.newton_steps = int(newton_steps)
        self.sigma_f = np.asarray(0.0)
        self.sigma_g = np.asarray(0.0)

    @classmethod
    def digits(cls, n_train=100, n_val=100, corrupt=0.3, mu=0.05, lam=1e-2, *, batch_size=8,
               seed=0, newton_steps=25):
        """Hyper-cleaning on scikit-learn's bundled 8×8 handwritten digits (no download): the
        task "digit ≥ 5" (labels ±1), images average-pooled 2×2 to 16 standardized features
        plus an intercept (d_y = 17), ``n_train`` training examples with a fraction ``corrupt`` of
        labels flipped, ``n_val`` clean validation examples; the remaining examples are the test
        set (``digits_test_set``)."""
        return cls(mu=mu, lam=lam, batch_size=batch_size, seed=seed, newton_steps=newton_steps,
                   data=digits_split(n_train, n_val, corrupt, seed)[:5])

    @property
    def shape(self):
        return (self.a.shape[0],)

    @property
    def y_shape(self):
        return (self.a.shape[1],)

    @property
    def lower_strong_convexity(self):
        return float(self.mu)

    @property
    def lower_smoothness(self):
        n = self.a.shape[0]
        return float(self.mu) + float(np.linalg.norm(np.asarray(self.a), 2) ** 2) / (4 * n)

    # per-example losses
    def _train_terms(self, x, y, idx=None):
        a, b, xx = _f(self.a, y), _f(self.labels, y), x
        if idx is not None:
            a, b, xx = a[idx], b[idx], x[idx]
        return jax.nn.sigmoid(xx) * jax.nn.softplus(-b * (a @ y))

    def _val_terms(self, y, idx=None):
        a, b = _f(self.a_val, y), _f(self.labels_val, y)
        if idx is not None:
            a, b = a[idx], b[idx]
        return jax.nn.softplus(-b * (a @ y))

    def upper(self, x, y):
        return jnp.mean(self._val_terms(y)) + _f(self.lam, x) * jnp.sum(x * x) / (2 * x.shape[0])

    def lower(self, x, y):
        return jnp.mean(self._train_terms(x, y)) + _f(self.mu, y) * jnp.sum(y * y) / 2

    def y_star(self, x):
        return _newton(lambda y: self.lower_grad_y(x, y), lambda y: self.lower_hessian(x, y),
                       jnp.zeros(self.y_shape, x.dtype), self.newton_steps)

    # minibatch oracles
    @property
    def upper_noise(self):
        from ..noise import MinibatchIndices

        return MinibatchIndices(self.a_val.shape[0], self.batch_size)

    def lower_noise(self, n: int):
        return StackedIndices(self.a.shape[0], n, self.batch_size)

    def hessian_noise(self, n: int):
        return StackedIndices(self.a.shape[0], n, self.batch_size)

    def _lower_batch(self, x, y, idx):
        return jnp.mean(self._train_terms(x, y, idx)) + _f(self.mu, y) * jnp.sum(y * y) / 2

    def stochastic_upper_grads(self, x, y, idx):
        gy = jax.grad(lambda yy: jnp.mean(self._val_terms(yy, idx)))(y)
        return _f(self.lam, x) * x / x.shape[0], gy

    def stochastic_lower_grad_y(self, x, y, idx):
        return jax.grad(self._lower_batch, argnums=1)(x, y, idx)

    def stochastic_lower_hvp(self, x, y, v, idx):
        return jax.jvp(lambda yy: self.stochastic_lower_grad_y(x, yy, idx), (y,), (v,))[1]

    def stochastic_lower_cross(self, x, y, v, idx):
        return jax.vjp(lambda xx: self.stochastic_lower_grad_y(xx, y, idx), x)[1](v)[0]

    def hessian_samples(self, x, y):
        idx = jnp.arange(self.shape[0])[:, None]
        hs = jax.vmap(lambda i: jax.hessian(self._lower_batch, argnums=1)(x, y, i))(idx)
        js = jax.vmap(lambda i: jax.jacfwd(
            lambda xx: jax.grad(self._lower_batch, argnums=1)(xx, y, i))(x).T)(idx)
        return hs, js, self.batch_size

    def upper_grads_cov(self, x, y):
        per = jax.vmap(jax.grad(lambda yy, i: self._val_terms(yy, i[None])[0]), (None, 0))(
            y, jnp.arange(self.a_val.shape[0]))
        cy = jnp.cov(per.T, bias=True).reshape(self.y_shape[0], self.y_shape[0]) / self.batch_size
        n = self.shape[0]
        out = jnp.zeros((n + self.y_shape[0],) * 2, x.dtype)
        return out.at[n:, n:].set(cy)

    def lower_grad_cov(self, x, y):
        per = jax.vmap(lambda i: jax.grad(self._lower_batch, argnums=1)(x, y, i[None]))(
            jnp.arange(self.shape[0]))
        return jnp.cov(per.T, bias=True) / self.batch_size

    def stochastic_grad(self, x, idx):
        y = self.y_star(x)
        gx, gy = self.stochastic_upper_grads(x, y, idx)
        v = jnp.linalg.solve(self.lower_hessian(x, y), gy)
        return gx - self.lower_cross_matrix(x, y) @ v

    def critical_points(self):
        return {}


# ------------------------------------------------------------------------------------------------
# The reduced problem of StocBiO: biased drift and the long-run hypergradient covariance
# ------------------------------------------------------------------------------------------------


def check_point_of(owner: str, name: str, point, shape) -> None:
    """``point`` of ``shape``: one finite real array of that shape, or (for a pytree shape) a
    pytree of finite real arrays (traced values are left alone)."""
    if is_shape(shape):
        check_array(owner, name, point, shape=tuple(shape))
        return
    leaves = jax.tree_util.tree_leaves(point)
    if not leaves:
        raise TypeError(f"{owner}: {name} must be a point of shape {shape}; got {point!r:.60}")
    for leaf in leaves:
        check_array(owner, name, leaf)


def _check_reference(owner: str, problem, x, alpha, **counts) -> None:
    """The arguments shared by the dense references below: a bilevel problem, x of its shape
    (finite), a step alpha > 0 and integer counts (``name=(value, low)``)."""
    check_instance(owner, "problem", problem, AbstractBilevel,
                   "a bilevel problem (an AbstractBilevel)")
    check_point_of(owner, "x", x, problem.shape)
    check_positive(owner, "alpha", alpha, scalar=True)
    for name, (value, low) in counts.items():
        check_integer(owner, name, value, low=low)


def _check_y(owner: str, problem, y) -> None:
    check_point_of(owner, "y", y, problem.y_shape)


def neumann_inverse(h, alpha, Q: int):
    r"""H_Q⁻¹ = α Σ_{q=0}^{Q} (I − αH)^q = H⁻¹ (I − (I − αH)^{Q+1}) (dense, by eigendecomposition).

    ``h``: a symmetric square matrix (finite); ``alpha`` > 0; ``Q`` an integer ≥ 0."""
    owner = "neumann_inverse"
    hv = check_array(owner, "h", h, ndim=2)
    if is_concrete(h) and hv.shape[0] != hv.shape[1]:
        raise ValueError(f"{owner}: h must be a square matrix; got shape {hv.shape}")
    check_positive(owner, "alpha", alpha, scalar=True)
    check_integer(owner, "Q", Q, low=0)
    e, u = jnp.linalg.eigh(h)
    a = jnp.asarray(alpha, h.dtype)
    return (u * ((1 - (1 - a * e) ** (Q + 1)) / e)) @ u.T


def _matrix_power_sym(h, alpha, power):
    e, u = jnp.linalg.eigh(h)
    return (u * (1 - jnp.asarray(alpha, h.dtype) * e) ** power) @ u.T


def inner_error_covariances(problem, x, alpha, D: int):
    r"""The inner SGD error e_k = y_k^D − y*(x) of StocBiO at a fixed x (warm start, additive
    lower noise with covariance C_g, quadratic model of g at y*): an AR(1) chain
    e_{k+1} = A e_k + w_k with A = (I − αH)^D and Cov w = W = α² Σ_{t<D} (I − αH)^t C_g (I − αH)^t.

    Returns (A, W, S, L): S the stationary covariance (S = A S Aᵀ + W) and L = (I − A)⁻¹ W (I − A)⁻ᵀ
    the long-run covariance Σ_k Cov(e_0, e_k).
    """
    _check_reference("inner_error_covariances", problem, x, alpha, D=(D, 1))
    y = problem.y_star(x)
    h = problem.lower_hessian(x, y)
    cg_ = problem.lower_grad_cov(x, y)
    # in the eigenbasis of H every matrix series is elementwise (P = I − αH is diagonal there):
    # W'_ij = α² C'_ij (1 − (pᵢpⱼ)^D)/(1 − pᵢpⱼ),  S'_ij = W'_ij/(1 − aᵢaⱼ),  L'_ij = W'_ij/((1−aᵢ)(1−aⱼ))
    e, u = jnp.linalg.eigh(h)
    pe = 1 - jnp.asarray(alpha, h.dtype) * e
    pp = pe[:, None] * pe[None, :]
    geo = jnp.where(jnp.abs(1 - pp) > 1e-12, (1 - pp**D) / jnp.where(jnp.abs(1 - pp) > 1e-12, 1 - pp, 1.0), D)
    ce = u.T @ cg_ @ u
    we = jnp.asarray(alpha, h.dtype) ** 2 * ce * geo
    ae = pe**D
    se = we / (1 - ae[:, None] * ae[None, :])
    le = we / ((1 - ae)[:, None] * (1 - ae)[None, :])
    back = lambda mm: u @ mm @ u.T  # noqa: E731
    s = back(se)
    return back(jnp.diag(ae)), back(we), 0.5 * (s + s.T), back(le)


def stocbio_call_moments(problem, x, y, alpha, Q: int):
    r"""Mean and covariance of one StocBiO estimate ĝ = ∇ₓF − J̃ z at a *given* y (exact).

    z = α Σ_{q=0}^{Q} t_q with t_0 = ∇ᵧF, t_q = (I − αH̃_q) t_{q−1}; the upper draw (∇ₓF, ∇ᵧF),
    the Q Hessian draws H̃_q and the cross draw J̃ are independent. With exact second derivatives
    (the additive model) this is M_Q C_F M_Qᵀ. With minibatch second derivatives
    (``problem.hessian_samples``: b examples per call, with replacement) the second moments follow
    from E[A M Aᵀ] = Ā M Āᵀ + (α²/b)(meanᵢ HᵢMHᵢ − H̄MH̄) for A = I − αH̃, and the same for J̃:

        T_q = E[t_q t_qᵀ] = E[A T_{q−1} Aᵀ],   C_q = E[s_q t_qᵀ] = C_{q−1}Āᵀ + T_q,
        S_q = E[s_q s_qᵀ] = S_{q−1} + C_{q−1}Āᵀ + ĀC_{q−1}ᵀ + T_q      (s_q = Σ_{p≤q} t_p),

    E[zzᵀ] = α² S_Q, E[ĝĝᵀ] = E[∇ₓF∇ₓFᵀ] − E[∇ₓF∇ᵧFᵀ] H_Q⁻¹ J̄ᵀ − (·)ᵀ + E[J̃ zzᵀ J̃ᵀ].
    Dense (a reference for the diffusion limit, not part of the algorithm). Returns (mean, cov).
    """
    _check_reference("stocbio_call_moments", problem, x, alpha, Q=(Q, 0))
    _check_y("stocbio_call_moments", problem, y)
    dx = x.shape[0]
    gx, gy = problem.upper_grads(x, y)
    c = problem.upper_grads_cov(x, y)
    cxx, cxy, cyy = c[:dx, :dx], c[:dx, dx:], c[dx:, dx:]
    h = problem.lower_hessian(x, y)
    jm = problem.lower_cross_matrix(x, y)
    a = jnp.asarray(alpha, h.dtype)
    abar = jnp.eye(h.shape[0], dtype=h.dtype) - a * h
    samples = problem.hessian_samples(x, y)
    if samples is None:
        second = lambda m: abar @ m @ abar.T  # noqa: E731
        cross = lambda m: jm @ m @ jm.T  # noqa: E731
    else:
        hs, js, b = samples
        hs, js = hs.astype(h.dtype), js.astype(h.dtype)

        def second(m):
            spread = jnp.mean(jnp.einsum("nij,jk,nlk->nil", hs, m, hs), 0) - h @ m @ h.T
            return abar @ m @ abar.T + a**2 / b * spread

        def cross(m):
            spread = jnp.mean(jnp.einsum("nij,jk,nlk->nil", js, m, js), 0) - jm @ m @ jm.T
            return jm @ m @ jm.T + spread / b

    t = cyy + jnp.outer(gy, gy)
    cq, sq = t, t
    for _ in range(int(Q)):
        t = second(t)
        sq = sq + cq @ abar.T + abar @ cq.T + t
        cq = cq @ abar.T + t
    hq = neumann_inverse(h, a, Q)
    exy = cxy + jnp.outer(gx, gy)
    mid = exy @ hq @ jm.T
    second_moment = cxx + jnp.outer(gx, gx) - mid - mid.T + cross(a**2 * sq)
    mean = gx - jm @ (hq @ gy)
    cov = second_moment - jnp.outer(mean, mean)
    return mean, 0.5 * (cov + cov.T)


def biased_hypergradient(problem, x, y, alpha, Q: int):
    r"""∇ₓf − J H_Q⁻¹ ∇ᵧf at (x, y): the mean of StocBiO's ĝ at that y (exact second derivatives)."""
    _check_reference("biased_hypergradient", problem, x, alpha, Q=(Q, 0))
    _check_y("biased_hypergradient", problem, y)
    gx, gy = problem.upper_grads(x, y)
    hq = neumann_inverse(problem.lower_hessian(x, y), alpha, Q)
    return gx - problem.lower_cross_matrix(x, y) @ (hq @ gy)


class ReducedHypergradient(AbstractProblem):
    r"""The reduced problem StocBiO's diffusion limit is written on (one SDE for Φ):

        field(x) = E[ĝ] = ∇Φ_Q(x) + s(x),   ∇Φ_Q = ∇ₓf − J H_Q⁻¹ ∇ᵧf at y*(x)
                   (∇Φ plus the finite-Q bias J (H⁻¹ − H_Q⁻¹) ∇ᵧf), s the inner shift
                   (``inner_shift``: the mean of ĝ over the warm-started inner chain's stationary
                   law beyond its value at y*, G_y E[e] + ½ ∂²ḡ/∂y²:S = O(α·noise), zero when the
                   lower level is quadratic and ∇ᵧf linear in y),
        Σ_Φ(x) = E_e[Σ_call(y* + e)] + G_y L G_yᵀ,

    with Σ_call(y) the exact covariance of one estimate at a given y (``stocbio_call_moments``:
    the upper-gradient noise through M_Q = [I, −J H_Q⁻¹] and, on minibatch problems, the noise of
    the sampled Hessian- and Jacobian-vector products), averaged over the stationary inner error e
    (covariance S) to second order in e by the 2d_y points y* ± √d_y S^{1/2}eᵢ (exact when Σ_call is
    quadratic in y; Σ_call does not depend on y on the additive quadratic model), G_y = ∂E[ĝ | y]/∂y
    at y* (how an inner error moves ĝ), and L the long-run covariance of the warm-started inner
    error (``inner_error_covariances``: the errors of successive outer steps are correlated
    through the warm start, so the diffusion sees Σ_k Cov(e_0, e_k)). The estimate's own noise is
    uncorrelated across steps and with the inner errors, so the two parts add. Exact for the
    additive-noise model with g quadratic in y and ∇ᵧf linear in y; neglected: the O(β) lag of the
    warm start behind y*(x_k), the covariance of the second-order term of ĝ in e (O(S²)), the
    multiplicative part of a minibatch ∇ᵧG in the inner recursion, and in the drift the terms of
    third and higher order in e (O(S²); ``inner_shift``).

    ``stochastic_grad`` draws N(field, Σ_Φ): the Gaussian oracle of the reduced SDE.

    Args:
        bilevel: the bilevel problem. alpha: the inner and Neumann step (> 0).
        D: inner SGD steps (integer ≥ 1). Q: Neumann terms (integer ≥ 1).
    """

    bilevel: AbstractBilevel
    alpha: jnp.ndarray
    D: int = eqx.field(static=True)
    Q: int = eqx.field(static=True)
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, bilevel, alpha, D: int, Q: int):
        owner = "ReducedHypergradient"
        if not isinstance(bilevel, AbstractBilevel):
            raise TypeError(f"{owner}: bilevel must be a bilevel problem (an AbstractBilevel); got "
                            f"{type(bilevel).__name__}")
        check_range(owner, "alpha", alpha, 0.0, np.inf, low_closed=False, high_closed=False,
                    scalar=True)
        if (bilevel.hessian_noise(1) is not None
                and type(bilevel).hessian_samples is AbstractBilevel.hessian_samples):
            raise NotImplementedError(
                f"{owner}: {type(bilevel).__name__} has noisy second derivatives (hessian_noise) "
                "but no hessian_samples, so the covariance of StocBiO's Neumann estimate — part of "
                "its diffusion coefficient — cannot be computed; implement hessian_samples(x, y)")
        self.bilevel = bilevel
        self.alpha = jnp.asarray(alpha)
        self.D = _int(owner, "D", D, 1)
        self.Q = _int(owner, "Q", Q, 1)

    @property
    def shape(self):
        return self.bilevel.shape

    def objective(self, x):
        return self.bilevel.objective(x)

    def grad(self, x):
        """E[ĝ] at x with the inner chain at its stationary law: ∇Φ_Q(x) + ``inner_shift(x)``."""
        y = self.bilevel.y_star(x)
        return biased_hypergradient(self.bilevel, x, y, self.alpha, self.Q) + self.inner_shift(x)

    def bias(self, x):
        """The drift correction: field − ∇Φ = J (H⁻¹ − H_Q⁻¹) ∇ᵧf (finite Q) + the inner shift."""
        return self.grad(x) - self.bilevel.grad(x)

    def inner_shift(self, x):
        r"""s(x) = E[ḡ(y* + e)] − ḡ(y*) to second order in the stationary inner error e, with
        ḡ(y) = E[ĝ | y] = ∇ₓf − J H_Q⁻¹ ∇ᵧf at (x, y) (exact: the Neumann, Jacobian and upper
        draws are independent of each other and of y, so E of their product is the product of
        their means):

            s = G_y m + ½ ∂²ḡ/∂y²:S,      m = E[e] = −½ H⁻¹ (∂³ᵧg:S),

        S the stationary covariance of the inner SGD chain at x (``inner_error_covariances``;
        the same for every D) and m its stationary mean: at stationarity E[∇ᵧg(y* + e)] = 0
        (the oracle is unbiased given y), whose second-order expansion gives m. O(α·noise): on a
        non-quadratic lower level or upper level it does not vanish as β → 0 at fixed α, so it is
        part of the limit's drift; exactly zero (autodiff's symbolic zeros) when g is quadratic
        and ∇ᵧf linear in y. Neglected: O(S²) (third and higher moments of e). The bilinear
        forms are ½ Σᵢ D²h(y*)[eᵢ, S eᵢ] = ½ tr(∇²h S): nested JVPs, no square root of S."""
        b = self.bilevel
        y = b.y_star(x)
        _, _, s, _ = inner_error_covariances(b, x, self.alpha, self.D)
        basis = jnp.eye(y.shape[0], dtype=y.dtype)

        def gbar(yy):
            return biased_hypergradient(b, x, yy, self.alpha, self.Q)

        def half_trace(h):
            # one direction at a time (lax.map), as in call_cov: no batched eigendecomposition
            d2 = jax.lax.map(lambda pair: jax.jvp(lambda yy: jax.jvp(h, (yy,), (pair[0],))[1],
                                                  (y,), (pair[1],))[1], (basis, s))
            return 0.5 * jnp.sum(d2, axis=0)

        mean_e = -jnp.linalg.solve(b.lower_hessian(x, y),
                                   half_trace(lambda yy: b.lower_grad_y(x, yy)))
        return jax.jacfwd(gbar)(y) @ mean_e + half_trace(gbar)

    def inner_sensitivity(self, x):
        """(y*, G_y): the exact inner solution and ∂E[ĝ | y]/∂y there."""
        b = self.bilevel
        y = b.y_star(x)
        gy = jax.jacfwd(lambda yy: biased_hypergradient(b, x, yy, self.alpha, self.Q))(y)
        return y, gy

    def call_cov(self, x, inner_cov=None):
        """Σ_call at y*(x) (``stocbio_call_moments``), or its average over an inner error of
        covariance ``inner_cov`` (the 2d_y symmetric points y* ± √d_y S^{1/2}eᵢ)."""
        b = self.bilevel
        y = b.y_star(x)
        if inner_cov is None:
            return stocbio_call_moments(b, x, y, self.alpha, self.Q)[1]
        d = y.shape[0]
        e, u = jnp.linalg.eigh(inner_cov)
        root = u * jnp.sqrt(jnp.maximum(e, 0.0) * d)
        points = jnp.concatenate([y + root.T, y - root.T])
        # one point at a time (lax.map): a batched eigendecomposition inside the engine's step can
        # deadlock jaxlib 0.10's CPU thread pool (the engine refuses it)
        covs = jax.lax.map(lambda yy: stocbio_call_moments(b, x, yy, self.alpha, self.Q)[1], points)
        return jnp.mean(covs, axis=0)

    def grad_noise_cov(self, x):
        _, gy = self.inner_sensitivity(x)
        _, _, s, long_run = inner_error_covariances(self.bilevel, x, self.alpha, self.D)
        out = self.call_cov(x, s) + gy @ long_run @ gy.T
        return 0.5 * (out + out.T)

    def one_call_cov(self, x):
        """Cov of one ĝ with the inner error at its stationary law (no autocorrelation)."""
        _, gy = self.inner_sensitivity(x)
        _, _, s, _ = inner_error_covariances(self.bilevel, x, self.alpha, self.D)
        out = self.call_cov(x, s) + gy @ s @ gy.T
        return 0.5 * (out + out.T)

    def stochastic_grad(self, x, noise):
        return self.grad(x) + self.grad_noise_factor(x, noise)

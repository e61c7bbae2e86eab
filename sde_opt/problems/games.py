r"""Minimax test problems min_x max_y f(x, y) with exact Φ(x) = max_y f(x, y), y*(x), ∇Φ, ∇²Φ.

Every game here lives on z = (x, y) (a tuple of two vectors, geometry ℝᵐ × ℝⁿ) and has the
field V = (∇ₓf, −∇ᵧf) of [`AbstractGame`][sde_opt.AbstractGame]. Oracle: additive Gaussian,

    V̂(z) = V(z) + (σ_x w_x, σ_y w_y)/√b,   w ~ N(0, I),

the mean of a minibatch of b i.i.d. Gaussian oracle calls (exactly that law), so Σ = diag(σ_x² I,
σ_y² I)/b for every z. The noise draw is one flat standard normal of length m + n.

* [`QuadraticGame`][sde_opt.QuadraticGame] — f = ½xᵀAx + xᵀBy − ½yᵀCy: bilinear (A = C = 0: GDA diverges,
  OGDA/EG
  converge), convex–concave (A, C ⪰ 0) or NC-SC (C ≻ 0, A + BC⁻¹Bᵀ indefinite: Φ has a strict
  saddle at 0 and is *exactly* quadratic, the linear model of every saddle escape).
* [`DoubleWellGame`][sde_opt.DoubleWellGame] — NC-SC with strict saddles and minima of Φ, a linear or a
  nonlinear
  (tanh) coupling, κ = ℓ/μ free while Φ stays fixed (linear coupling), optional ball Y.
* [`RampGame`][sde_opt.RampGame] — the lower-bound instance: GDA, OGDA and EG with η_x = 1/(κ²ℓ) need
  Ω(κ²ℓΔε⁻²) iterations to reach ‖∇Φ‖ ≤ ε (derivation in its docstring).

Papers: Mahdavinia, Deng, Li & Mahdavi (NeurIPS 2022) for the NC-SC setting and rates; Huang,
Chen, Ji, Ma & Lai (JMLR 2025) for perturbed GDmax (papers.md §3.7, §4).
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from .._checks import check_integer, check_positive, check_psd, check_range, check_real, is_concrete
from ..geometry import Euclidean, Product
from ..noise import StandardNormal
from ._base import AbstractGame


def _positive(owner, name, v):
    """A finite real scalar > 0, as a float (a clear error naming ``name`` otherwise)."""
    check_positive(owner, name, v, scalar=True)
    return float(v)


def _nonneg(owner, name, v):
    """A finite real scalar >= 0, as a float."""
    check_range(owner, name, v, 0.0, np.inf, high_closed=False, scalar=True)
    return float(v)


def _batch(owner, b):
    return check_integer(owner, "batch_size", b, low=1)


def _unit_interval(owner, name, v):
    """A real scalar in [0, 1) (the coupling c: c ≥ 1 removes the saddle), as a float."""
    check_range(owner, name, v, 0.0, 1.0, high_closed=False, scalar=True)
    return float(v)


def _coupling(owner, coupling):
    if not isinstance(coupling, str) or coupling not in ("linear", "tanh"):
        raise ValueError(f"{owner}: coupling must be 'linear' or 'tanh'; got {coupling!r}")
    return coupling


class GaussianGame(AbstractGame):
    """Shared machinery: shape ((m,), (n,)), the additive Gaussian oracle, the Y projection.

    Subclasses provide ``objective``, ``phi``, ``y_star`` (and may override ``field``); ``phi_grad``
    and ``phi_hessian`` default to autodiff of the closed form ``phi``. ``y_radius`` (None: Y = ℝⁿ)
    makes Y the closed ball of that radius, with projection P_Y.
    """

    dims: tuple = eqx.field(static=True)
    sigma_x: jnp.ndarray
    sigma_y: jnp.ndarray
    batch_size: jnp.ndarray
    y_radius: float | None = eqx.field(static=True)
    geometry: Product = eqx.field(static=True)
    additive_noise: ClassVar[bool] = True

    def _init_oracle(self, owner, m, n, sigma_x, sigma_y, batch_size, y_radius):
        self.dims = (int(m), int(n))
        # arrays, not static: a grid over noise levels or κ compiles once
        self.sigma_x = jnp.asarray(_nonneg(owner, "sigma_x", sigma_x))
        self.sigma_y = jnp.asarray(_nonneg(owner, "sigma_y", sigma_y))
        self.batch_size = jnp.asarray(_batch(owner, batch_size))
        self.y_radius = None if y_radius is None else _positive(owner, "y_radius", y_radius)
        self.geometry = Product((Euclidean(), Euclidean()))

    # ----- shape and oracle -----
    @property
    def shape(self):
        return ((self.dims[0],), (self.dims[1],))

    @property
    def noise(self):
        return StandardNormal((self.dims[0] + self.dims[1],))

    def _scales(self, dtype):
        b = jnp.sqrt(self.batch_size.astype(dtype))
        return self.sigma_x.astype(dtype) / b, self.sigma_y.astype(dtype) / b

    def stochastic_field(self, z, noise):
        vx, vy = self.field(z)
        sx, sy = self._scales(vx.dtype)
        m = self.dims[0]
        w = noise.astype(vx.dtype)
        return (vx + sx * w[:m], vy + sy * w[m:])

    def noise_cov(self, z):
        m, n = self.dims
        sx, sy = self._scales(jax.tree_util.tree_leaves(z)[0].dtype)
        return jnp.diag(jnp.concatenate([jnp.full((m,), sx**2), jnp.full((n,), sy**2)]))

    def noise_factor(self, z, w):
        m = self.dims[0]
        sx, sy = self._scales(jax.tree_util.tree_leaves(z)[0].dtype)
        w = w.reshape(-1)
        return (sx * w[:m], sy * w[m:])

    def with_noise(self, sigma_x=None, sigma_y=None, batch_size=None):
        """A copy with another oracle (σ_x, σ_y, b)."""
        new = self
        for name, v in (("sigma_x", sigma_x), ("sigma_y", sigma_y), ("batch_size", batch_size)):
            if v is not None:
                v = _batch(type(self).__name__, v) if name == "batch_size" else \
                    _nonneg(type(self).__name__, name, v)
                new = eqx.tree_at(lambda g, nm=name: getattr(g, nm), new, jnp.asarray(v))
        return new

    # ----- the constraint set Y -----
    @property
    def y_bounded(self) -> bool:
        return self.y_radius is not None

    def project_y(self, y):
        """P_Y(y): the identity for Y = ℝⁿ, the radial projection onto the ball otherwise."""
        if self.y_radius is None:
            return y
        nrm = jnp.sqrt(jnp.sum(y * y))
        r = jnp.asarray(self.y_radius, y.dtype)
        return y * jnp.minimum(1.0, r / jnp.maximum(nrm, jnp.finfo(y.dtype).tiny))

    def check_start(self, z, owner: str = "game") -> None:
        """Raise ``ValueError`` if a start's y lies outside a bounded Y (concrete values only).

        ``z = (x, y)`` is one start or a batch of starts (y of shape ``(n_paths, n)``, as the
        engine passes them); the message names the first start outside Y."""
        if self.y_radius is None:
            return
        y = z[1]
        if not is_concrete(y):
            return
        nrm = np.linalg.norm(np.asarray(y, np.float64).reshape(-1, self.dims[1]), axis=-1)
        bad = np.flatnonzero(~(nrm <= self.y_radius * (1 + 1e-6)))
        if bad.size:
            where = f" (start {int(bad[0])} of {nrm.size})" if np.ndim(y) > 1 else ""
            raise ValueError(f"{owner}: the start y (x0[1]) must lie in Y = "
                             f"{{‖y‖ ≤ {self.y_radius:g}}}; got ‖y0‖ = {nrm[bad[0]]:.6g}{where}")

    # ----- Φ -----
    def phi(self, x):
        """Φ(x) = max_{y ∈ Y} f(x, y), in closed form."""
        raise NotImplementedError

    def y_star(self, x):
        """y*(x) = argmax_{y ∈ Y} f(x, y), in closed form."""
        raise NotImplementedError

    def phi_grad(self, x):
        """∇Φ(x) = ∇ₓf(x, y*(x)) (Danskin); equals autodiff of the closed form Φ."""
        return jax.grad(self.objective)((x, self.y_star(x)))[0]

    def phi_hessian(self, x):
        """∇²Φ(x) as an (m, m) matrix (autodiff of the closed form Φ)."""
        return jax.hessian(self.phi)(x)

    def phi_critical_points(self) -> dict:
        """``{"minimum": (k, m), "saddle": (k, m), ...}``: the critical points of Φ."""
        return {}

    def critical_points(self) -> dict:
        """Critical points of the game field, as (x, y*(x)) pairs of the critical points of Φ."""
        out = {}
        for kind, xs in self.phi_critical_points().items():
            xs = np.asarray(xs)
            ys = np.stack([np.asarray(self.y_star(jnp.asarray(x))) for x in xs])
            out[kind] = (xs, ys)
        return out

    def grad_norm_phi(self, z):
        """‖∇Φ(x)‖ at the x of a point z = (x, y) (an observable / event function)."""
        g = self.phi_grad(z[0])
        return jnp.sqrt(jnp.sum(g * g))


def _as_matrix(owner, name, a, shape):
    """A real, finite matrix of ``shape`` (a scalar a means a·I), as float64."""
    a = check_real(owner, name, a).astype(np.float64)
    if a.ndim == 0:
        a = a * np.eye(shape[0]) if shape[0] == shape[1] else np.full(shape, float(a))
    if a.shape != shape:
        raise ValueError(f"{owner}: {name} must have shape {shape} (a scalar means a multiple of "
                         f"the identity); got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{owner}: {name} must be finite; got {int(np.sum(~np.isfinite(a)))} "
                         f"NaN/inf entries")
    return a


def _coupling_matrix(owner, b):
    """B as an (m, n) float64 matrix: a vector is one row (m = 1), a scalar is 1×1."""
    b = check_real(owner, "B", b).astype(np.float64)
    if b.ndim > 2:
        raise ValueError(f"{owner}: B must be an (m, n) matrix (a vector means m = 1); got shape "
                         f"{b.shape}")
    b = np.atleast_2d(b)
    if b.size == 0:
        raise ValueError(f"{owner}: B must have m, n >= 1; got shape {b.shape}")
    return _as_matrix(owner, "B", b, b.shape)


class QuadraticGame(GaussianGame):
    r"""f(x, y) = ½ xᵀAx + xᵀBy − ½ yᵀCy (A, C symmetric), field V(z) = J z,

        J = [[A, B], [−Bᵀ, C]].

    * Bilinear (A = C = 0): J is antisymmetric, eigenvalues ±iσᵢ(B). GDA's iteration matrix
      I − ηJ has spectral radius √(1 + η²σ_max²) > 1 (divergence); EG's and OGDA's are < 1.
    * C ≻ 0 (strongly concave in y, μ = λ_min(C)): y*(x) = C⁻¹Bᵀx and
      Φ(x) = ½ xᵀ(A + BC⁻¹Bᵀ)x exactly; ∇Φ = (A + BC⁻¹Bᵀ)x. When A + BC⁻¹Bᵀ is indefinite the
      origin is a strict saddle of Φ (an NC-SC game).

    Args:
        A: (m, m) symmetric (a scalar means a·I).
        B: (m, n).
        C: (n, n) symmetric (a scalar means c·I).
        sigma_x, sigma_y, batch_size: the additive Gaussian oracle (module docstring).
    """

    A: jnp.ndarray
    B: jnp.ndarray
    C: jnp.ndarray
    # λ_min(C) > 0, decided once from the concrete C: Φ and y* exist (static, so that Φ's closed
    # forms can refuse a merely concave game inside jit too)
    strongly_concave: bool = eqx.field(static=True)

    def __init__(self, A, B, C, *, sigma_x=0.0, sigma_y=0.0, batch_size=1):
        owner = "QuadraticGame"
        b = _coupling_matrix(owner, B)
        m, n = b.shape
        a = _as_matrix(owner, "A", A, (m, m))
        c = _as_matrix(owner, "C", C, (n, n))
        scale = max(1.0, float(np.max(np.abs(a))))
        if not np.allclose(a, a.T, atol=1e-10 * scale):
            i, j = np.unravel_index(np.argmax(np.abs(a - a.T)), a.shape)
            raise ValueError(f"{owner}: A must be symmetric; got A[{i}, {j}] = {a[i, j]:.6g} but "
                             f"A[{j}, {i}] = {a[j, i]:.6g}")
        check_psd(owner, "C", c)  # f concave in y
        self._init_oracle(owner, m, n, sigma_x, sigma_y, batch_size, None)
        self.A, self.B, self.C = jnp.asarray(a), jnp.asarray(b), jnp.asarray(c)
        self.strongly_concave = bool(np.linalg.eigvalsh(c).min() > 0)

    @classmethod
    def bilinear(cls, B, **oracle):
        """f = xᵀBy (A = C = 0)."""
        b = _coupling_matrix("QuadraticGame.bilinear", B)
        return cls(np.zeros((b.shape[0],) * 2), b, np.zeros((b.shape[1],) * 2), **oracle)

    def objective(self, z):
        x, y = z
        A, B, C = (jnp.asarray(M, x.dtype) for M in (self.A, self.B, self.C))
        return 0.5 * x @ A @ x + x @ B @ y - 0.5 * y @ C @ y

    def field(self, z):
        x, y = z
        A, B, C = (jnp.asarray(M, x.dtype) for M in (self.A, self.B, self.C))
        return (A @ x + B @ y, C @ y - B.T @ x)

    def jacobian(self) -> np.ndarray:
        """J = [[A, B], [−Bᵀ, C]] (float64), the Jacobian of the field."""
        a, b, c = (np.asarray(M, np.float64) for M in (self.A, self.B, self.C))
        return np.block([[a, b], [-b.T, c]])

    @property
    def mu(self):
        """Strong concavity in y: λ_min(C) (a float; a traced scalar inside jit)."""
        low = jnp.linalg.eigvalsh(self.C).min()
        return float(low) if is_concrete(low) else low

    def _require_sc(self):
        if not self.strongly_concave:
            shown = (f"; here λ_min(C) = {np.linalg.eigvalsh(np.asarray(self.C)).min():.3g}"
                     if is_concrete(self.C) else "")
            raise ValueError("QuadraticGame: Φ(x) = max_y f and y*(x) exist only when C ≻ 0 "
                             f"(strongly concave in y){shown}")

    def _phi_matrix(self, dtype):
        """H_Φ = A + BC⁻¹Bᵀ in ``dtype`` (traceable: the game may be a jit argument)."""
        self._require_sc()
        A, B, C = (jnp.asarray(M, dtype) for M in (self.A, self.B, self.C))
        return A + B @ jnp.linalg.solve(C, B.T)

    def phi_matrix(self) -> np.ndarray:
        """H_Φ = A + BC⁻¹Bᵀ (float64 NumPy for a concrete game)."""
        self._require_sc()
        if not is_concrete(self.A):
            return self._phi_matrix(self.A.dtype)
        a, b, c = (np.asarray(M, np.float64) for M in (self.A, self.B, self.C))
        return a + b @ np.linalg.solve(c, b.T)

    def y_star(self, x):
        self._require_sc()
        B, C = (jnp.asarray(M, x.dtype) for M in (self.B, self.C))
        return jnp.linalg.solve(C, B.T @ x)

    def phi(self, x):
        return 0.5 * x @ self._phi_matrix(x.dtype) @ x

    def phi_grad(self, x):
        return self._phi_matrix(x.dtype) @ x

    def phi_hessian(self, x):
        return self._phi_matrix(x.dtype)

    def phi_critical_points(self):
        w = np.linalg.eigvalsh(self.phi_matrix())
        kind = "minimum" if w.min() > 0 else "maximum" if w.max() < 0 else "saddle"
        return {kind: np.zeros((1, self.dims[0]))}


class DoubleWellGame(GaussianGame):
    r"""An NC-SC game whose Φ is a double well with a strict saddle, κ = ℓ/μ free.

        f(x, y) = φ(x) + b yᵀs(x) − (μ/2)‖y‖²,   b = c√(ℓμ),  x, y ∈ ℝᵈ,
        φ(x) = ℓ [ −x₁²/2 + x₁⁴/4 + Σ_{i≥2} xᵢ²/2 ],

    with coupling s(x) = x (``coupling="linear"``) or s(x) = tanh(x) elementwise (``"tanh"``, a
    nonlinear coupling). Completing the square, f = φ + (b²/2μ)‖s‖² − (μ/2)‖y − u‖² with
    u = (b/μ)s(x) = c√κ s(x), so, with Y = ℝᵈ or the ball ‖y‖ ≤ R (``y_radius``),

        y*(x) = P_Y(u),   Φ(x) = φ(x) + (c²ℓ/2)‖s(x)‖² − (μ/2) dist(u, Y)².

    For Y = ℝᵈ and the linear coupling Φ = ℓ[−(1−c²)x₁²/2 + x₁⁴/4 + (1+c²)Σ_{i≥2}xᵢ²/2] does not
    depend on κ: the saddle 0 (Hessian ℓ·diag(−(1−c²), 1+c², …)) and the minima ±√(1−c²)e₁. With
    tanh, Φ's saddle is still 0 (curvature −ℓ(1 − c²) along e₁) and the minima solve
    −x + x³ + c² tanh(x)sech²(x) = 0 (found by Brent's method, to 1e-13). κ = ℓ/μ can range over any
    number of decades; c < 1 keeps the saddle strict.

    Args:
        d: dimension of x and of y (≥ 1).
        ell: ℓ > 0, the curvature scale of φ.
        mu: μ > 0, strong concavity in y (κ = ℓ/μ).
        c: coupling strength in [0, 1).
        coupling: ``"linear"`` or ``"tanh"``.
        y_radius: None (Y = ℝᵈ) or the radius of the ball Y.
        sigma_x, sigma_y, batch_size: the oracle (module docstring).
    """

    ell: jnp.ndarray
    mu: jnp.ndarray
    c: jnp.ndarray
    coupling: str = eqx.field(static=True)

    def __init__(self, d=2, ell=1.0, mu=0.1, c=0.5, *, coupling="linear", y_radius=None,
                 sigma_x=0.0, sigma_y=0.0, batch_size=1):
        owner = "DoubleWellGame"
        d = check_integer(owner, "d", d, low=1)
        self.ell = jnp.asarray(_positive(owner, "ell", ell))
        self.mu = jnp.asarray(_positive(owner, "mu", mu))  # f strongly concave in y
        self.c = jnp.asarray(_unit_interval(owner, "c", c))  # c ≥ 1 removes the saddle
        self.coupling = _coupling(owner, coupling)
        self._init_oracle(owner, d, d, sigma_x, sigma_y, batch_size, y_radius)

    @property
    def kappa(self) -> float:
        return float(self.ell / self.mu)

    @property
    def b(self):
        return self.c * jnp.sqrt(self.ell * self.mu)

    def _s(self, x):
        return x if self.coupling == "linear" else jnp.tanh(x)

    def phi0(self, x):
        """φ(x), the x-only part."""
        ell = jnp.asarray(self.ell, x.dtype)
        return ell * (-0.5 * x[0] ** 2 + 0.25 * x[0] ** 4 + 0.5 * jnp.sum(x[1:] ** 2))

    def objective(self, z):
        x, y = z
        b, mu = jnp.asarray(self.b, x.dtype), jnp.asarray(self.mu, x.dtype)
        return self.phi0(x) + b * y @ self._s(x) - 0.5 * mu * y @ y

    def field(self, z):
        x, y = z
        ell, b, mu = (jnp.asarray(v, x.dtype) for v in (self.ell, self.b, self.mu))
        dphi = ell * jnp.concatenate([(-x[0] + x[0] ** 3)[None], x[1:]])
        ds = jnp.ones_like(x) if self.coupling == "linear" else 1.0 - jnp.tanh(x) ** 2
        return (dphi + b * ds * y, mu * y - b * self._s(x))

    def _u(self, x):
        return jnp.asarray(self.b / self.mu, x.dtype) * self._s(x)

    def y_star(self, x):
        return self.project_y(self._u(x))

    def phi(self, x):
        u = self._u(x)
        gap = u - self.project_y(u)
        ell, c, mu = (jnp.asarray(v, x.dtype) for v in (self.ell, self.c, self.mu))
        s = self._s(x)
        return self.phi0(x) + 0.5 * c**2 * ell * s @ s - 0.5 * mu * gap @ gap

    def phi_critical_points(self):
        d, c = self.dims[0], float(self.c)
        if self.y_radius is not None:
            # not closed-form in general; the saddle 0 is a critical point for any Y
            return {"saddle": np.zeros((1, d))}
        if self.coupling == "linear":
            a = math.sqrt(1.0 - c * c)
        else:
            g = lambda t: -t + t**3 + c * c * math.tanh(t) / math.cosh(t) ** 2
            a = optimize.brentq(g, 1e-6, 2.0, xtol=1e-14, rtol=1e-14)
        mins = np.zeros((2, d))
        mins[0, 0], mins[1, 0] = a, -a
        return {"saddle": np.zeros((1, d)), "minimum": mins}

    def saddle_curvature(self) -> float:
        """λ = −λ_min(∇²Φ(0)) = ℓ(1 − c²) (both couplings; Y = ℝᵈ or a ball containing 0)."""
        return float(self.ell * (1.0 - self.c**2))


class RampGame(GaussianGame):
    r"""The lower-bound instance: Φ is a pseudo-Huber ramp of slope 2ε, for the target ε.

        f(x, y) = h(x) + b xᵀy − (μ/2)‖y‖² − (b²/2μ)‖x‖²,   b = c√(ℓμ),
        h(x) = 2ε (√(‖x‖² + s²) − s),  s = 2ε/ℓ,

    so y*(x) = (b/μ)x = c√κ x, Φ = h exactly (the last term cancels the coupling's gain), and
    ∇ₓf(x, y) = ∇h(x) + b (y − y*(x)). ∇h has norm 2ε‖x‖/√(‖x‖² + s²) < 2ε and ∇²h ⪯ (2ε/s)I = ℓI;
    ∇f is Lipschitz with a constant ≤ ℓ(1 + c² + c) (the Hessian blocks ∇²h − c²ℓI, c√(ℓμ), −μ).
    ‖∇Φ(x)‖ ≤ ε exactly when ‖x‖ ≤ s/√3 =: x_ε.

    **Derivation of the Ω(κ²ℓΔε⁻²) iteration bound** (GDA, OGDA and EG with η_y = 1/ℓ,
    η_x = 1/(κ²ℓ), started at ‖x₀‖ = Δ/(2ε) + s so that Φ(x₀) − min Φ ≥ Δ, y₀ = y*(x₀)).
    Write e = y − y*(x). Each method moves x by η_x ∇ₓf at some point (the current one for GDA,
    the extrapolated one for EG/OGDA), so ‖x_{t+1} − x_t‖ ≤ η_x (2ε + b‖e‖) with e evaluated there.
    The y-error obeys e_{t+1} = (1 − η_yμ)e_t − (b/μ)(x_{t+1} − x_t) (+ an O(η_y) extrapolation
    term for EG/OGDA), so by induction ‖e‖ ≤ (b/μ)·η_x(2ε + b‖e‖)/(η_yμ), i.e.
    b‖e‖ ≤ 2ε c²η_xℓ κ/(1 − c²η_xℓκ) = 2ε c²/(κ − c²) with the papers' steps. Hence every
    iteration moves x by at most 2εη_x(1 + c²/(κ − c²)) =: 2εη_x(1 + δ_κ), and reaching ‖x‖ ≤ x_ε
    takes at least

        K ≥ (‖x₀‖ − x_ε) / (2εη_x (1 + δ_κ)) ≥ κ²ℓΔ / (4ε²(1 + δ_κ))  iterations,

    i.e. Ω(κ²ε⁻²) for every κ ≥ 1 + c² (the O(κ²ε⁻²) upper bound of Mahdavinia et al. and Lin et al. is
    tight in this step-size regime, papers.md §4.4). The count is also O(κ²ℓΔε⁻²): once ‖x‖ ≫ s,
    ∇h ≈ 2ε x/‖x‖, so K = κ²ℓΔ/(4ε²) (1 + O(s/‖x₀‖) + O(δ_κ)) — the theory line of the study
    (``predicted_iterations``).

    Args:
        d: dimension of x and y.
        eps: the target accuracy ε > 0 (the instance depends on it, as lower-bound instances do).
        ell, mu: ℓ, μ > 0 (κ = ℓ/μ).
        c: coupling in [0, 1).
        sigma_x, sigma_y, batch_size: the oracle.
    """

    eps: jnp.ndarray
    ell: jnp.ndarray
    mu: jnp.ndarray
    c: jnp.ndarray

    def __init__(self, d=1, eps=0.1, ell=1.0, mu=0.1, c=0.5, *, sigma_x=0.0, sigma_y=0.0,
                 batch_size=1):
        owner = "RampGame"
        d = check_integer(owner, "d", d, low=1)
        self.eps = jnp.asarray(_positive(owner, "eps", eps))
        self.ell = jnp.asarray(_positive(owner, "ell", ell))
        self.mu = jnp.asarray(_positive(owner, "mu", mu))  # f strongly concave in y
        self.c = jnp.asarray(_unit_interval(owner, "c", c))
        self._init_oracle(owner, d, d, sigma_x, sigma_y, batch_size, None)

    @property
    def kappa(self) -> float:
        return float(self.ell / self.mu)

    @property
    def s(self):
        return 2.0 * self.eps / self.ell

    @property
    def b(self):
        return self.c * jnp.sqrt(self.ell * self.mu)

    def h(self, x):
        e, s = jnp.asarray(self.eps, x.dtype), jnp.asarray(self.s, x.dtype)
        return 2.0 * e * (jnp.sqrt(x @ x + s * s) - s)

    def objective(self, z):
        x, y = z
        b, mu = jnp.asarray(self.b, x.dtype), jnp.asarray(self.mu, x.dtype)
        return self.h(x) + b * x @ y - 0.5 * mu * y @ y - 0.5 * (b * b / mu) * x @ x

    def field(self, z):
        x, y = z
        e, s = jnp.asarray(self.eps, x.dtype), jnp.asarray(self.s, x.dtype)
        b, mu = jnp.asarray(self.b, x.dtype), jnp.asarray(self.mu, x.dtype)
        dh = 2.0 * e * x / jnp.sqrt(x @ x + s * s)
        return (dh + b * y - (b * b / mu) * x, mu * y - b * x)

    def y_star(self, x):
        return jnp.asarray(self.b / self.mu, x.dtype) * x

    def phi(self, x):
        return self.h(x)

    def phi_grad(self, x):
        e, s = jnp.asarray(self.eps, x.dtype), jnp.asarray(self.s, x.dtype)
        return 2.0 * e * x / jnp.sqrt(x @ x + s * s)

    def phi_critical_points(self):
        return {"minimum": np.zeros((1, self.dims[0]))}

    @property
    def x_eps(self) -> float:
        """‖∇Φ(x)‖ ≤ ε ⇔ ‖x‖ ≤ s/√3."""
        return float(self.s) / math.sqrt(3.0)

    def start_radius(self, delta: float) -> float:
        """‖x₀‖ = Δ/(2ε) + s: then Φ(x₀) − min Φ ≥ Δ."""
        delta = _positive("RampGame.start_radius", "delta", delta)
        return float(delta / (2.0 * self.eps) + self.s)

    def predicted_iterations(self, delta: float, eta_x: float) -> float:
        """The leading-order count Δ/(4 η_x ε²) (= κ²ℓΔ/(4ε²) at η_x = 1/(κ²ℓ))."""
        owner = "RampGame.predicted_iterations"
        delta, eta_x = _positive(owner, "delta", delta), _positive(owner, "eta_x", eta_x)
        return float(delta / (4.0 * eta_x * self.eps**2))

    def tracking_factor(self, eta_x: float, eta_y: float) -> float:
        r"""1 + δ = 1/(1 − η_x b²/(η_yμ²)): GDA's x-speed over GD on Φ in the quasi-steady ramp.

        [derived here] With y lagging y* in steady drift, e = y − y* solves
        e = (1 − η_yμ)e − (b/μ)Δx, so b e = −(b²/(η_yμ²))Δx, and Δx = −η_x(∇h + be) gives
        Δx = −η_x∇h/(1 − η_xb²/(η_yμ²)). At η_y = 1/ℓ, η_x = 1/(κ²ℓ): 1 + δ = κ/(κ − c²).
        """
        owner = "RampGame.tracking_factor"
        eta_x, eta_y = _positive(owner, "eta_x", eta_x), _positive(owner, "eta_y", eta_y)
        q = float(eta_x * self.b**2 / (eta_y * self.mu**2))
        if not q < 1:
            raise ValueError(f"{owner}: needs η_x b²/(η_y μ²) < 1 (eta_x small enough against "
                             f"eta_y); got {q:.3g}")
        return 1.0 / (1.0 - q)

    # a Python loop: refuse counts that would take more than a minute or two
    _MAX_GD_ITERATIONS: ClassVar[int] = 10**8

    def gd_iterations(self, r0: float, eta: float) -> int:
        """Iterations of gradient descent on Φ = h with step ``eta`` from ‖x‖ = r0 until
        ‖∇Φ‖ ≤ ε (a scalar recursion in float64, the radial dynamics; the iterate may cross 0).

        Needs 0 < η < 2/ℓ: h is convex with an ℓ-Lipschitz gradient, and then every step shrinks
        ‖x‖ (η‖∇h‖ < 2‖x‖), so the count is finite. While ‖∇Φ‖ > ε a step moves x by more than
        ηε, so the count is about r0/(ηε) at most; above 10⁸ (minutes of Python) it is refused (use
        ``predicted_iterations``).
        """
        owner = "RampGame.gd_iterations"
        r0 = _nonneg(owner, "r0", r0)
        ell = float(self.ell)
        check_range(owner, "eta", eta, 0.0, 2.0 / ell, low_closed=False, high_closed=False,
                    scalar=True)
        eps, s, eta = float(self.eps), float(self.s), float(eta)
        if r0 / (eta * eps) + 1 > self._MAX_GD_ITERATIONS:
            raise ValueError(f"{owner}: r0/(eta·eps) = {r0 / (eta * eps):.3g} iterations may be "
                             f"needed, above the {self._MAX_GD_ITERATIONS:.0e} this loop runs; "
                             f"use predicted_iterations (or a larger eta)")
        grad = lambda r: 2.0 * eps * r / math.sqrt(r * r + s * s)  # noqa: E731
        r, k, g = r0, 0, grad(r0)
        while abs(g) > eps:  # one gradient per iteration
            r -= eta * g
            k += 1
            g = grad(r)
        return k


class PhiStationary(eqx.Module):
    """Event: fires when ‖∇Φ(x)‖ ≤ ε at the position z = (x, y) (ε-stationarity of Φ, the NC-SC
    target). A module, so that grids over problems and ε reuse one compiled simulation."""

    problem: GaussianGame
    eps: jnp.ndarray

    def __init__(self, problem, eps):
        check_positive("PhiStationary", "eps", eps, scalar=True)
        if not callable(getattr(problem, "phi_grad", None)):
            raise TypeError(f"PhiStationary: problem must be a game with a closed-form phi_grad "
                            f"(∇Φ); got {type(problem).__name__}")
        self.problem = problem
        self.eps = jnp.asarray(eps)

    def __call__(self, z):
        g = self.problem.phi_grad(z[0])
        return jnp.sum(g * g) <= self.eps.astype(g.dtype) ** 2

__all__ = ["GaussianGame", "QuadraticGame", "DoubleWellGame", "RampGame", "PhiStationary"]

r"""Theory for the normalized-feature UFM and SDEs on spheres: saddle linearization, kicked escape,
and the exact one-step factors of the two sphere schemes for Brownian motion.

* **Saddle linearization on the tangent space.** At a critical point x* of
  [`NormalizedUFM`][sde_opt.NormalizedUFM] the manifold SDE of Riemannian SGD (step η, t = kη),
  written in an orthonormal tangent basis, is to first order dU = −Hess U dt − √η Σ_T^{1/2} dW,
  Σ_T = Bᵀ Σ(x*) B. Along the most unstable eigenvector v (Hess v = −λ v) the noise variance is
  c = vᵀΣ(x*)v. At every constructed saddle (collapsed classes, flipped features) c = 0 exactly
  (the per-sample gradients are normal to the spheres, or symmetric across the merged classes),
  so the additive-noise saddle law ([`saddle_exit_mean`][sde_opt.theory.saddle_exit_mean], which needs σ > 0)
  does not apply: started *exactly* at x* Riemannian SGD never leaves along v to first order. What
  the linearized SDE does predict is the escape after a kick ξ uniform in the tangent ball of
  radius r: |⟨x_k − x*, v⟩| grows by ρ = 1 + ηλ per iteration (RGD and, to leading order in η,
  RSGD, whose noise is O(|x − x*|) there), so the escape iteration count has the exact law of
  ``kicked_escape_cdf`` with ``dim`` = the tangent dimension. The unstable
  eigenvalue is degenerate at these saddles (multiplicity (K − 1)(d − 1) when fully collapsed), so
  the escape is measured from the whole unstable eigenspace U, |P_U(x_k − x*)| ≥ R: since
  |P_U ξ|²/r² ~ Beta(k/2, (m − k)/2 + 1) for ξ uniform in the m-ball [derived, the squared norm
  of k coordinates of a uniform point of the unit m-ball],

      P(K ≤ k) = 1 − I_{(R ρ^{−k}/r)²}(k_U/2, (m − k_U)/2 + 1),

  which is ``kicked_escape_cdf`` for k_U = 1.
* **Brownian motion on S^{d−1}** (generator ½Δ): E⟨X_t, x₀⟩ = e^{−(d−1)t/2}. One projected-EM step
  X⁺ = (X + √h Z_T)/‖X + √h Z_T‖ (Z_T a standard normal in the tangent space, ‖Z_T‖² ~ χ²_{d−1})
  gives E[X⁺ | X] = m_h X with m_h = E[(1 + hχ²_{d−1})^{−1/2}]; one geodesic step
  X⁺ = cos(√h‖Z_T‖)X + sin(√h‖Z_T‖) Z_T/‖Z_T‖ gives m_h = E cos(√h χ_{d−1}). Hence after n steps
  E⟨X_n, x₀⟩ = m_hⁿ *exactly* for either scheme [derived], and m_h = 1 − (d−1)h/2 + O(h²)
  (weak order 1). Both are computed here by quadrature over the χ law.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy import integrate, special, stats

from .._checks import (
    _show,
    check_array,
    check_instance,
    check_integer,
    check_key,
    check_positive,
    check_range,
)
from ..geometry import AbstractGeometry
from ..problems._base import check_problem, is_shape
from ..problems.finite_sum import check_point_leaves
from ..sde._base import AbstractSDE


def _check_ufm(owner, problem, exact=False):
    """A UFM (``exact``: a NormalizedUFM, whose objective the independent reference writes out)."""
    from ..problems.normalized_ufm import CrossEntropyUFM, NormalizedUFM

    if exact:
        check_instance(owner, "problem", problem, NormalizedUFM)
    else:
        check_instance(owner, "problem", problem, CrossEntropyUFM,
                       "a UFM (NormalizedUFM, RegularizedUFM or AugmentedUFM)")


def _check_ufm_point(owner, name, problem, x):
    check_instance(owner, name, x, dict, "a point {'W': W (d, K), 'H': H (d, N)}")
    if set(x) != {"W", "H"}:
        raise ValueError(f"{owner}: {name} must be a point {{'W': W, 'H': H}}; got keys "
                         f"{sorted(map(str, x))}")
    for key in ("W", "H"):
        check_array(owner, f"{name}['{key}']", x[key], shape=tuple(problem.shape[key]))


def _check_starts(owner, problem, starts):
    """Points of the problem's structure and shapes, stacked along a leading axis (≥ 1 point)."""
    structure = jax.tree_util.tree_structure(problem.shape, is_leaf=is_shape)
    shapes = jax.tree_util.tree_leaves(problem.shape, is_leaf=is_shape)
    want = (f"points of the problem's structure (shapes {problem.shape}) stacked along a leading "
            "axis")
    try:
        leaves = structure.flatten_up_to(starts)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: starts must be {want}; got {_show(starts)}") from None
    lengths = set()
    for leaf, shape in zip(leaves, shapes, strict=True):
        a = check_array(owner, "starts", leaf, shape=(None, *shape))
        lengths.add(a.shape[0])
    if len(lengths) != 1:
        raise ValueError(f"{owner}: starts must have one leading length (the number of starts); "
                         f"got {sorted(lengths)}")


@dataclasses.dataclass(frozen=True)
class SaddleLinearization:
    """The tangent-space linearization of Riemannian SGD at a critical point.

    Attributes:
        curvatures: Riemannian-Hessian eigenvalues (ascending) in the tangent space.
        lam: λ = −curvatures[0] > 0, the most unstable rate.
        direction: the unit tangent eigenvector v (a pytree like the point).
        multiplicity: how many eigenvalues equal −λ (to 1e-8 relative).
        tangent_dim: dimension of the tangent space.
        noise_along: c = vᵀΣv at the point (batch size of the problem).
        noise_trace: tr Σ_T, the total tangent noise at the point.
    """

    curvatures: np.ndarray
    lam: float
    direction: object
    multiplicity: int
    tangent_dim: int
    noise_along: float
    noise_trace: float
    unstable_basis: np.ndarray = dataclasses.field(repr=False, default=None)

    def growth(self, eta: float) -> float:
        """ρ = 1 + ηλ: per-iteration growth of ⟨x − x*, v⟩ under RGD on the linearization."""
        return 1.0 + float(eta) * self.lam

    def kicked_escape_cdf(self, k, eta, kick, radius):
        """P(K ≤ k): iterations until |P_U(x − x*)| ≥ radius after a tangent kick of radius
        ``kick`` (module docstring)."""
        return kicked_subspace_escape_cdf(k, r=kick, radius=radius, dim=self.tangent_dim,
                                          sub_dim=self.multiplicity, growth=self.growth(eta))

    def kicked_escape_mean(self, eta, kick, radius) -> float:
        """E K for ``kicked_escape_cdf``."""
        return kicked_subspace_escape_mean(r=kick, radius=radius, dim=self.tangent_dim,
                                           sub_dim=self.multiplicity, growth=self.growth(eta))

    def kicked_escape_quantile(self, p, eta, kick, radius):
        """The smallest k with P(K ≤ k) ≥ p."""
        m, ku = self.tangent_dim, self.multiplicity
        a = kick * np.sqrt(special.betaincinv(ku / 2.0, (m - ku) / 2.0 + 1.0, 1.0 - np.asarray(p)))
        return np.maximum(np.ceil(np.log(radius / a) / math.log(self.growth(eta))), 0.0)

    def kicked_escape_time_cdf(self, t, kick, radius):
        """Continuous time (the linearized flow, growth e^{λt}): P(T ≤ t)."""
        s = np.clip(radius * np.exp(-self.lam * np.asarray(t, np.float64)) / kick, 0.0, 1.0) ** 2
        return 1.0 - special.betainc(self.multiplicity / 2.0,
                                     (self.tangent_dim - self.multiplicity) / 2.0 + 1.0, s)



def saddle_linearization(problem, point) -> SaddleLinearization:
    """Linearize Riemannian SGD on ``problem`` at the critical point ``point`` (module docstring)."""
    check_problem("saddle_linearization", problem, game=False)
    check_point_leaves("saddle_linearization", "point", point)
    problem.geometry.check_point(point, "point", "saddle_linearization")
    x = jax.tree_util.tree_map(lambda a: jnp.asarray(a), point)
    h, basis = problem.riemannian_hessian(x)
    e, vecs = np.linalg.eigh(h)
    if not e[0] < 0:
        raise ValueError(f"saddle_linearization: the point has no negative curvature (smallest "
                         f"Riemannian-Hessian eigenvalue {e[0]:.3g})")
    lam = float(-e[0])
    v_flat = basis @ vecs[:, 0]
    unravel = ravel_pytree(x)[1]
    sigma = np.asarray(problem.grad_noise_cov(x), np.float64)
    st = basis.T @ sigma @ basis
    mult = int(np.sum(np.abs(e - e[0]) <= 1e-8 * max(1.0, lam)))
    return SaddleLinearization(
        curvatures=e, lam=lam, direction=unravel(jnp.asarray(v_flat)), multiplicity=mult,
        tangent_dim=int(basis.shape[1]), noise_along=float(v_flat @ sigma @ v_flat),
        noise_trace=float(np.trace(st)), unstable_basis=basis @ vecs[:, :mult])


def _check_kick(owner, r, radius, dim, sub_dim, growth):
    """r (the kick radius) and radius (R, the escape radius) > 0, 1 ≤ sub_dim ≤ dim integers,
    growth > 1."""
    check_positive(owner, "r", r, scalar=True)
    check_positive(owner, "radius", radius, scalar=True)
    dim = check_integer(owner, "dim", dim, low=1)
    check_integer(owner, "sub_dim", sub_dim, low=1, high=dim)
    check_range(owner, "growth", growth, 1.0, np.inf, low_closed=False, high_closed=False,
                scalar=True)


def kicked_subspace_escape_cdf(k, *, r, radius, dim, sub_dim, growth):
    """P(K ≤ k) for |P_U x_k| = ρᵏ|P_U ξ| ≥ R, ξ uniform in the ``dim``-ball of radius r and U of
    dimension ``sub_dim`` (module docstring; ``sub_dim = 1`` is ``kicked_escape_cdf``)."""
    _check_kick("kicked_subspace_escape_cdf", r, radius, dim, sub_dim, growth)
    k = check_array("kicked_subspace_escape_cdf", "k", k, low=0.0).astype(np.float64)
    s = np.clip(radius * growth ** (-np.floor(k)) / r, 0.0, 1.0) ** 2
    return 1.0 - special.betainc(sub_dim / 2.0, (dim - sub_dim) / 2.0 + 1.0, s)


def kicked_subspace_escape_mean(*, r, radius, dim, sub_dim, growth, tol=1e-14) -> float:
    """E K = Σ_{k ≥ 0} P(K > k)."""
    _check_kick("kicked_subspace_escape_mean", r, radius, dim, sub_dim, growth)
    check_range("kicked_subspace_escape_mean", "tol", tol, 0.0, 1.0, low_closed=False,
                high_closed=False, scalar=True)
    total, k = 0.0, 0
    k_max = int(math.ceil(math.log(max(radius / r, 1.0) * 1e16) / math.log(growth))) + 10
    while k <= k_max:
        tail = 1.0 - float(kicked_subspace_escape_cdf(k, r=r, radius=radius, dim=dim,
                                                      sub_dim=sub_dim, growth=growth))
        total += tail
        if tail < tol and radius * growth ** (-k) <= r:
            break
        k += 1
    return total


def uniform_tangent_kick(geometry, point, key, radius, n):
    """``n`` points R(x* + ξ) with ξ uniform in the tangent ball of ``radius`` (a pytree with a
    leading axis n), and the kicks ξ themselves."""
    owner = "uniform_tangent_kick"
    check_instance(owner, "geometry", geometry, AbstractGeometry, "a geometry (e.g. so.Sphere())")
    check_point_leaves(owner, "point", point)
    geometry.check_point(point, "point", owner)
    key = check_key(owner, "key", key)
    check_positive(owner, "radius", radius, scalar=True)
    n = check_integer(owner, "n", n, low=1)
    basis = geometry.tangent_basis(point)
    flat, unravel = ravel_pytree(point)
    m = basis.shape[1]
    kg, ku = jax.random.split(key)
    g = jax.random.normal(kg, (n, m), flat.dtype)
    g = g / jnp.linalg.norm(g, axis=1, keepdims=True)
    r = radius * jax.random.uniform(ku, (n, 1), flat.dtype) ** (1.0 / m)
    xi = (r * g) @ jnp.asarray(basis.T, flat.dtype)
    starts = jax.vmap(lambda d: geometry.retract(unravel(flat + d)))(xi)
    return starts, jax.vmap(unravel)(xi)


def _chi_expectation(fn, dof: int) -> float:
    val, _ = integrate.quad(lambda r: fn(r) * stats.chi.pdf(r, dof), 0.0, np.inf, epsabs=1e-14,
                            epsrel=1e-12, limit=400)
    return float(val)


def sphere_bm_factor(d: int, h: float, scheme: str = "projected") -> float:
    """m_h: one step's factor on E⟨X, x₀⟩ for Brownian motion on S^{d−1} (module docstring)."""
    d = check_integer("sphere_bm_factor", "d", d, low=2)
    check_positive("sphere_bm_factor", "h", h, scalar=True)
    if scheme == "projected":
        return _chi_expectation(lambda r: 1.0 / math.sqrt(1.0 + h * r * r), d - 1)
    if scheme == "geodesic":
        return _chi_expectation(lambda r: math.cos(math.sqrt(h) * r), d - 1)
    raise ValueError(f"sphere_bm_factor: scheme must be 'projected' or 'geodesic'; got {scheme!r}")


def sphere_bm_mean_cosine(d: int, t: float) -> float:
    """E⟨X_t, x₀⟩ = e^{−(d−1)t/2} for Brownian motion on S^{d−1} with generator ½Δ."""
    d = check_integer("sphere_bm_mean_cosine", "d", d, low=2)
    check_range("sphere_bm_mean_cosine", "t", t, 0.0, scalar=True)
    return math.exp(-(d - 1) * t / 2.0)





# ---------------------------------------------------------------------------------------------
# Critical points: Levenberg–Marquardt on grad f, and a classification of every point found
# ---------------------------------------------------------------------------------------------


def _ambient_hessian(problem, x):
    """The Riemannian Hessian as a symmetric ambient matrix P(∇²f − diag(w))P (D×D, ``ravel_pytree``
    order): the tangent Hessian on the tangent space, 0 on the normal directions."""
    geom = problem.geometry
    flat, unravel = ravel_pytree(x)
    h = jax.jacfwd(lambda v: ravel_pytree(problem.hess_vec(x, geom.project(x, unravel(v))))[0])(flat)
    return 0.5 * (h + h.T)


_LM_DAMPING = (1e-4, 1e-2, 1.0, 1e2, 1e4)


def _lm_step(problem, x, _):
    r"""One Levenberg–Marquardt step on the tangent field F(x) = grad f(x), whose Jacobian is the
    Riemannian Hessian H: s = −(H² + μI)⁻¹ H F with μ = c‖F‖ (Yamashita–Fukushima: quadratic
    convergence to critical points that are not isolated, as here), x⁺ = R(x + s); of the damping
    factors c in ``_LM_DAMPING`` the step that lowers ‖F‖ most is taken, none if none lowers it."""
    geom = problem.geometry
    flat, unravel = ravel_pytree(x)
    g = ravel_pytree(problem.riemannian_grad(x))[0]
    gn = jnp.linalg.norm(g)
    e, v = jnp.linalg.eigh(_ambient_hessian(problem, x))
    c = v.T @ g

    def candidate(m):
        s = -v @ (e / (e**2 + m * gn) * c)
        xn = geom.retract(unravel(flat + s))
        return xn, jnp.linalg.norm(ravel_pytree(problem.riemannian_grad(xn))[0])

    xs, norms = jax.vmap(candidate)(jnp.asarray(_LM_DAMPING, flat.dtype))
    i = jnp.argmin(norms)
    better = norms[i] < gn
    x = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a[i], b), xs, x)
    return x, jnp.minimum(norms[i], gn)


@functools.partial(jax.jit, static_argnames=("n_iter",))
def _lm_solve(problem, starts, n_iter):
    def one(x0):
        return jax.lax.scan(functools.partial(_lm_step, problem), x0, None, length=n_iter)

    return jax.vmap(one)(starts)


def find_critical_points(problem, starts, *, n_iter: int = 80):
    """Levenberg–Marquardt on ‖grad f‖ from every start (a pytree with a leading axis).

    Newton-type steps on the gradient field converge to critical points of *any* index (minima
    and saddles alike), which plain descent avoids. Returns ``(points, grad_norms)``: the last
    iterate of every start and ‖grad f‖ there (a start has converged when it is ~0).
    """
    owner = "find_critical_points"
    check_problem(owner, problem, game=False)
    n_iter = check_integer(owner, "n_iter", n_iter, low=1)
    _check_starts(owner, problem, starts)
    points, hist = _lm_solve(problem, starts, n_iter)
    return points, np.asarray(hist[:, -1], np.float64)


@dataclasses.dataclass(frozen=True)
class CriticalPoint:
    """One point of a census: its value, gradient norm, extreme curvatures and class.

    ``kind``: ``"global minimizer"`` (f within ``value_tol`` of f* and no negative curvature),
    ``"strict saddle"`` (λ_min < −``curvature_tol``), ``"neither"`` (critical, λ_min ≥ −tol but
    f above f*: a spurious local minimum or a degenerate saddle — a finding) or
    ``"not converged"`` (‖grad f‖ above ``grad_tol``).
    """

    loss: float
    grad_norm: float
    lambda_min: float
    n_negative: int
    kind: str
    nc: dict


@eqx.filter_jit
def _measures(problem, points):
    """‖grad f‖, f, NC1–NC3 and the spectrum of the ambient Riemannian Hessian (its tangent
    eigenvalues and a 0 for every normal direction) at every point (leading axis)."""
    from sde_opt.stats.neural_collapse import nc_metrics

    def one(x):
        g = ravel_pytree(problem.riemannian_grad(x))[0]
        return (jnp.linalg.norm(g), problem.objective(x),
                jnp.linalg.eigvalsh(_ambient_hessian(problem, x)),
                nc_metrics(x, problem.labels, problem.k))

    return jax.vmap(one)(points)


def _check_tols(owner, grad_tol, curvature_tol, value_tol):
    for name, v in (("grad_tol", grad_tol), ("curvature_tol", curvature_tol),
                    ("value_tol", value_tol)):
        check_positive(owner, name, v, scalar=True)


def _classify(gn, f, eigs, nc, fstar, grad_tol, curvature_tol, value_tol) -> CriticalPoint:
    e = np.asarray(eigs, np.float64)
    scale = max(1.0, float(np.max(np.abs(e))))
    lam = float(e[0])
    nneg = int(np.sum(e < -curvature_tol * scale))
    if not gn <= grad_tol:
        kind = "not converged"
    elif lam < -curvature_tol * scale:
        kind = "strict saddle"
    elif f - fstar <= value_tol * max(1.0, abs(fstar)):
        kind = "global minimizer"
    else:
        kind = "neither"
    return CriticalPoint(float(f), float(gn), lam, nneg, kind, {k: float(v) for k, v in nc.items()})


def classify_critical_point(problem, x, *, grad_tol=1e-9, curvature_tol=1e-6, value_tol=1e-9,
                            f_star=None) -> CriticalPoint:
    """Classify ``x`` by ‖grad f‖, the Riemannian-Hessian spectrum and f − f* (use float64).

    ``lambda_min`` is the smallest eigenvalue of the ambient matrix P(∇²f − diag(w))P, i.e.
    min(λ_min of the tangent Hessian, 0): the normal directions add zeros, which cannot turn a
    saddle into a minimum or back.
    """
    owner = "classify_critical_point"
    _check_ufm(owner, problem)
    _check_ufm_point(owner, "x", problem, x)
    _check_tols(owner, grad_tol, curvature_tol, value_tol)
    if f_star is not None:
        check_range(owner, "f_star", f_star, low_closed=False, high_closed=False, scalar=True)
    points = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None], x)
    gn, f, e, nc = _measures(problem, points)
    fstar = problem.optimal_value() if f_star is None else float(f_star)
    return _classify(float(gn[0]), float(f[0]), e[0], {k: v[0] for k, v in nc.items()}, fstar,
                     grad_tol, curvature_tol, value_tol)


def critical_point_census(problem, starts, *, n_iter: int = 80, grad_tol=1e-9,
                          curvature_tol=1e-6, value_tol=1e-9) -> dict:
    """Find critical points from every start (``find_critical_points``, float64) and classify
    each (``classify_critical_point``, all points in one compiled call).

    Returns ``{"points": [CriticalPoint, …], "counts": {kind: n}, "values": {rounded f: n}}``;
    ``values`` counts the distinct critical values found among converged points (6 digits).
    """
    owner = "critical_point_census"
    _check_ufm(owner, problem)
    _check_starts(owner, problem, starts)
    check_integer(owner, "n_iter", n_iter, low=1)
    _check_tols(owner, grad_tol, curvature_tol, value_tol)
    with jax.enable_x64(True):
        starts = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), starts)
        pts, _ = find_critical_points(problem, starts, n_iter=n_iter)
        gn, f, e, nc = (np.asarray(a) if not isinstance(a, dict) else
                        {k: np.asarray(v) for k, v in a.items()} for a in _measures(problem, pts))
        fstar = problem.optimal_value()
        out = [_classify(float(gn[i]), float(f[i]), e[i], {k: v[i] for k, v in nc.items()},
                         fstar, grad_tol, curvature_tol, value_tol) for i in range(gn.shape[0])]
    kinds = ("global minimizer", "strict saddle", "neither", "not converged")
    counts = {k: sum(p.kind == k for p in out) for k in kinds}
    values: dict = {}
    for p in out:
        if p.kind != "not converged":
            key = f"{p.loss:.6f}"
            values[key] = values.get(key, 0) + 1
    return {"points": out, "counts": counts, "values": dict(sorted(values.items()))}


# ---------------------------------------------------------------------------------------------
# Per-run attainment of f* and collapse; an independent Hessian; the unstable-space exit event
# ---------------------------------------------------------------------------------------------


def min_positive_curvature(problem) -> float:
    """μ⁺: the smallest positive Riemannian-Hessian eigenvalue at the ETF minimizer (float64; the
    zero modes are the rotations of the minimizer set)."""
    _check_ufm("min_positive_curvature", problem)
    with jax.enable_x64(True):
        x = {k: jnp.asarray(v) for k, v in problem.global_minimizer().items()}
        h, _ = problem.riemannian_hessian(x)
    e = np.linalg.eigvalsh(h)
    return float(e[e > 1e-8 * e.max()].min())


def attainment(problem, loss, grad_norm, nc1, nc2, nc3, *, eps: float, grad_tol: float) -> dict:
    r"""Per run: has it reached f* and collapse? (arrays over runs in, booleans out).

    Run i passes when ‖grad f‖_i ≤ ``grad_tol`` and its loss gap and NC1–NC3 are below bounds
    derived from its own gradient, δ_i = ‖grad f‖_i/μ⁺ (μ⁺ = ``min_positive_curvature``, the
    distance to the minimizer set in the quadratic model):

    * f − f* ≤ ‖grad f‖²/(2μ⁺) + 8·eps·max(1, f*)   (the PL inequality of the quadratic model,
      plus the rounding of evaluating f);
    * NC1 ≤ (K − 1)δ²/(KN) + 16·eps·K   (tr Σ_W ≤ δ²/N and ‖Σ_B^†‖ = K − 1 at the ETF);
    * NC2 ≤ 2(2sδ + δ²)/g + 16·eps·K,  s = √(K/(K − 1)), g = K/√(K − 1)   (2‖ΔG‖/‖G‖ with
      ‖ΔG‖ ≤ 2‖W‖₂δ + δ²);  NC3 ≤ twice that (W and the class means both move).

    A run stuck at a saddle has ‖grad f‖ = 0 and f − f* = f(saddle) − f* > 0: it fails (so does a
    run that has not converged, through ``grad_tol``). ``eps``: the machine epsilon of the
    arithmetic that produced the values.
    """
    owner = "attainment"
    _check_ufm(owner, problem)
    runs = None
    for name, a in (("loss", loss), ("grad_norm", grad_norm), ("nc1", nc1), ("nc2", nc2),
                    ("nc3", nc3)):
        # a diverged run's NaN is allowed: it fails every comparison, so the run has not reached
        v = check_array(owner, name, a, ndim=1, finite=False,
                        low=None if name == "loss" else 0.0)
        runs = v.size if runs is None else runs
        if v.size != runs:
            raise ValueError(f"{owner}: {name} must have one value per run like loss ({runs}); "
                             f"got {v.size}")
    check_positive(owner, "eps", eps, scalar=True)
    check_positive(owner, "grad_tol", grad_tol, scalar=True)
    k, nn = problem.k, problem.n_samples
    loss, g, nc1, nc2, nc3 = (np.asarray(a, np.float64) for a in (loss, grad_norm, nc1, nc2, nc3))
    mu = min_positive_curvature(problem)
    fstar = problem.optimal_value()
    delta = g / mu
    s = math.sqrt(k / (k - 1))
    gram = k / math.sqrt(k - 1)
    floor = 16 * eps * k
    bounds = {"gap": g**2 / (2 * mu) + 8 * eps * max(1.0, fstar),
              "nc1": (k - 1) * delta**2 / (k * nn) + floor,
              "nc2": 2 * (2 * s * delta + delta**2) / gram + floor,
              "nc3": 4 * (2 * s * delta + delta**2) / gram + floor}
    ok = {"gap_ok": loss - fstar <= bounds["gap"], "nc1_ok": nc1 <= bounds["nc1"],
          "nc2_ok": nc2 <= bounds["nc2"], "nc3_ok": nc3 <= bounds["nc3"],
          "grad_ok": g <= grad_tol}
    reached = ok["grad_ok"] & ok["gap_ok"] & ok["nc1_ok"] & ok["nc2_ok"] & ok["nc3_ok"]
    return {"reached": reached, **ok, "bounds": bounds, "mu_plus": mu}


def _sphere_complement(x) -> np.ndarray:
    """An orthonormal basis of x⊥ (d × (d − 1)) from the SVD of xᵀ (not the package's QR)."""
    _, _, vt = np.linalg.svd(np.asarray(x, np.float64)[None, :])
    return vt[1:].T


def reference_hessian_eigenvalues(problem, x) -> np.ndarray:
    r"""The Riemannian-Hessian spectrum of a [`NormalizedUFM`][sde_opt.NormalizedUFM] at ``x``,
    computed independently of the package's Hessian code.

    The metric projection R_x(v) = (x + v)/‖x + v‖ (column by column) is a second-order
    retraction, so the Riemannian Hessian at x is the Euclidean Hessian of c ↦ f(R_x(Bc)) at
    c = 0 for any orthonormal tangent basis B (Absil, Mahony & Sepulchre 2008, Prop. 5.5.5). Here
    B comes from the SVD null space of every column, f is the cross-entropy written out directly
    (logits τWᵀH, ``logsumexp``), and the Hessian is jax's forward-over-reverse autodiff in
    float64; ``numpy.linalg.eigvalsh`` gives the eigenvalues (ascending). Nothing of
    ``hess_vec``, ``weingarten``, ``project`` or ``tangent_basis`` is used.
    """
    from jax.scipy.special import logsumexp

    _check_ufm("reference_hessian_eigenvalues", problem, exact=True)
    _check_ufm_point("reference_hessian_eigenvalues", "x", problem, x)
    with jax.enable_x64(True):
        w0, h0 = (np.asarray(x[a], np.float64) for a in ("W", "H"))
        labels = np.asarray(problem.labels)
        tau = float(problem.tau)
        bw = [_sphere_complement(c) for c in w0.T]
        bh = [_sphere_complement(c) for c in h0.T]
        dw = sum(b.shape[1] for b in bw)

        def move(base, blocks, coords):
            cols, j = [], 0
            for c, b in zip(base.T, blocks, strict=True):
                v = c + jnp.asarray(b) @ coords[j:j + b.shape[1]]
                cols.append(v / jnp.sqrt(jnp.sum(v * v)))
                j += b.shape[1]
            return jnp.stack(cols, axis=1)

        def pulled_back(c):
            w = move(w0, bw, c[:dw])
            h = move(h0, bh, c[dw:])
            z = tau * w.T @ h  # K×N
            return jnp.mean(logsumexp(z, axis=0) - z[labels, jnp.arange(z.shape[1])])

        dim = dw + sum(b.shape[1] for b in bh)
        hess = np.asarray(jax.jit(jax.hessian(pulled_back))(jnp.zeros(dim)), np.float64)
    return np.linalg.eigvalsh(0.5 * (hess + hess.T))


def curvature_verdict(package_eigenvalues, reference_eigenvalues, closed_form=None) -> dict:
    """Sign, minimality and (optionally) the closed form of λ_min at a critical point.

    ``tolerance`` = 1e-10 · max(1, ‖Hess‖₂): float64 eigen-decomposition round-off is about
    D·eps·‖Hess‖₂ (≈ 1e-13 for the D ≤ 200 used here), so this allowance is generous and still
    three orders below any curvature of interest. ``sign_ok``: the reference's smallest
    eigenvalue is below −tolerance; ``minimality_ok``: the package's smallest eigenvalue equals
    the reference's smallest (not merely some eigenvalue) and so does its multiplicity.
    """
    owner = "curvature_verdict"
    pkg = np.sort(check_array(owner, "package_eigenvalues", package_eigenvalues, ndim=1)
                  .astype(np.float64))
    ref = np.sort(check_array(owner, "reference_eigenvalues", reference_eigenvalues, ndim=1)
                  .astype(np.float64))
    if closed_form is not None:
        check_range(owner, "closed_form", closed_form, low_closed=False, high_closed=False,
                    scalar=True)
    tol = 1e-10 * max(1.0, float(np.max(np.abs(ref))))
    mult_ref = int(np.sum(np.abs(ref - ref[0]) <= 1e-8 * max(1.0, abs(ref[0]))))
    mult_pkg = int(np.sum(np.abs(pkg - pkg[0]) <= 1e-8 * max(1.0, abs(pkg[0]))))
    out = {"lambda_min_package": float(pkg[0]), "lambda_min_reference": float(ref[0]),
           "tolerance": tol, "sign_ok": bool(ref[0] < -tol),
           "minimality_ok": bool(abs(pkg[0] - ref[0]) <= tol and mult_pkg == mult_ref
                                 and pkg.size == ref.size),
           "multiplicity_reference": mult_ref, "n_negative_reference": int(np.sum(ref < -tol)),
           "closed_form": None if closed_form is None else float(closed_form),
           "closed_form_verdict": None}
    if closed_form is not None:
        out["closed_form_verdict"] = ("pass" if abs(ref[0] - closed_form) <= tol and out["sign_ok"]
                                      else "fail")
    return out


class UnstableExit(eqx.Module):
    """Event: fires when |P_U(x − x*)| ≥ radius, U an orthonormal basis (flattened, ``ravel_pytree``
    order, as columns) of the unstable eigenspace at the saddle x*."""

    center: jnp.ndarray
    basis: jnp.ndarray
    radius: jnp.ndarray

    def __init__(self, center, basis, radius):
        check_point_leaves("UnstableExit", "center", center)
        check_array("UnstableExit", "basis", basis, ndim=2)
        flat = ravel_pytree(center)[0]
        self.center = flat
        self.basis = jnp.asarray(basis, flat.dtype)
        if self.basis.ndim != 2 or self.basis.shape[0] != flat.size:
            raise ValueError(f"UnstableExit: basis must have shape ({flat.size}, m); got "
                             f"{tuple(self.basis.shape)}")
        check_positive("UnstableExit", "radius", radius, scalar=True)
        self.radius = jnp.asarray(radius, flat.dtype)

    def __call__(self, x):
        d = (ravel_pytree(x)[0] - self.center.astype(ravel_pytree(x)[0].dtype)) @ self.basis
        return jnp.sum(d * d) >= self.radius**2



# ---------------------------------------------------------------------------------------------
# One step of Riemannian SGD against its manifold SDE, by exact enumeration
# ---------------------------------------------------------------------------------------------


def _column_norms2(tree):
    """Per-column squared norms (spheres along axis 0 of every leaf), one flat vector."""
    return jnp.concatenate([jnp.sum(a * a, axis=0) for a in jax.tree_util.tree_leaves(tree)])


def one_step_moments(problem, eta, x, sde=None) -> dict:
    r"""The exact mean and covariance of one Riemannian SGD step Δ = x⁺ − x (batch size 1: the
    M equally likely draws are enumerated) against those of its manifold SDE over time η.

    With v = −η P ĝ the tangent step and s = ‖v_j‖² per column (sphere) j, the retraction gives
    exactly x⁺_j − x_j = v_j − (s/2) x_j + r_j with ‖r_j‖ ≤ 3s²/8 + s‖v_j‖/2 (from
    |1/√(1+s) − 1 + s/2| ≤ 3s²/8 and |1/√(1+s) − 1| ≤ s/2) [derived]. Hence

        E Δ = η a(x) − (η²/2) ‖grad f_j‖² x_j + E r,

    where a = −grad f − ½η tr(PΣP)_j x_j is the SDE's ambient drift with its Itô correction
    (``sde.drift``; the noise scale enters here at order η²) and the middle term is the
    deterministic curvature of the retraction (plain GD has it too); and

        ‖Cov Δ − η B Bᵀ‖_F ≤ 2 √(E‖v‖² E‖e‖²) + E‖e‖²,   e = Δ − v, ‖e_j‖ ≤ (s/2)(1 + ‖v_j‖),

    with B = ``sde.diffusion_matrix`` (η B Bᵀ = η² P Σ P for the SME, s = √η). Both bounds are
    O(η³), one order below the terms that a wrong noise scale would change.

    Args:
        problem: a UFM (points ``{"W", "H"}`` with unit columns) with ``batch_size == 1``.
        eta: the step size η.
        x: the point (float64 recommended).
        sde: the SDE to compare with (default: Riemannian SGD's own limit).

    Returns:
        A dict with ``mean_error`` = ‖EΔ − prediction‖, its bound ``mean_bound``,
        ``cov_error`` = ‖CovΔ − ηBBᵀ‖_F and ``cov_bound``, the scale of the noise term
        ``ito_term`` = ‖(η²/2) tr(PΣP)_j x_j‖ and ``cov_scale`` = ‖ηBBᵀ‖_F.
    """
    from sde_opt.algorithms import RiemannianSGD

    owner = "one_step_moments"
    _check_ufm(owner, problem)
    _check_ufm_point(owner, "x", problem, x)
    if sde is not None:
        check_instance(owner, "sde", sde, AbstractSDE, "an SDE (or None for the chain's limit)")
    if problem.batch_size != 1:
        raise ValueError(f"one_step_moments: the enumeration needs batch_size == 1; got "
                         f"{problem.batch_size}")
    check_positive("one_step_moments", "eta", eta, scalar=True)
    alg = RiemannianSGD(problem, eta)
    sde = alg.limit() if sde is None else sde
    x = jax.tree_util.tree_map(jnp.asarray, x)
    flat, unravel = ravel_pytree(x)
    dtype = flat.dtype
    geom = problem.geometry
    eta = jnp.asarray(eta, dtype)
    draws = jnp.arange(problem.n_pairs)[:, None]

    def one(m):
        step = ravel_pytree(alg.step(x, m))[0] - flat
        v = jax.tree_util.tree_map(lambda a: -eta * a,
                                   geom.project(x, problem.stochastic_grad(x, m)))
        sc = _column_norms2(v)
        vn = jnp.sqrt(sc)
        r_bound = jnp.sqrt(jnp.sum((3 * sc**2 / 8 + sc * vn / 2) ** 2))
        e_bound2 = jnp.sum((sc / 2 * (1 + vn)) ** 2)
        return step, ravel_pytree(v)[0], r_bound, e_bound2

    steps, vs, r_b, e_b2 = jax.jit(jax.vmap(one))(draws)
    mean = jnp.mean(steps, axis=0)
    cov = (steps - mean).T @ (steps - mean) / steps.shape[0]
    g = geom.project(x, problem.grad(x))
    curvature = jax.tree_util.tree_map(
        lambda gi, xi: -(eta**2 / 2) * jnp.sum(gi * gi, axis=0, keepdims=True) * xi, g, x)
    drift = sde.drift(x)
    pred = eta * ravel_pytree(drift)[0] + ravel_pytree(curvature)[0]
    tangent = ravel_pytree(jax.tree_util.tree_map(lambda a: eta * a, sde.tangent_drift(x)))[0]
    bmat = jax.tree_util.tree_map(lambda j, xi: j.reshape(xi.size, -1), sde.diffusion_matrix(x), x)
    bmat = jnp.concatenate(jax.tree_util.tree_leaves(bmat), axis=0)
    pred_cov = eta * bmat @ bmat.T
    e_v2 = jnp.mean(jnp.sum(vs * vs, axis=1))
    e_e2 = jnp.mean(e_b2)
    rounding = 64 * float(jnp.finfo(dtype).eps)
    return {"eta": float(eta), "mean_error": float(jnp.linalg.norm(mean - pred)),
            "mean_bound": float(jnp.mean(r_b)) + rounding,
            "ito_term": float(jnp.linalg.norm(eta * ravel_pytree(drift)[0] - tangent)),
            "cov_error": float(jnp.linalg.norm(cov - pred_cov)),
            "cov_bound": float(2 * jnp.sqrt(e_v2 * e_e2) + e_e2) + rounding,
            "cov_scale": float(jnp.linalg.norm(pred_cov)), "draws": int(steps.shape[0])}


__all__ = ["SaddleLinearization", "saddle_linearization", "uniform_tangent_kick",
           "kicked_subspace_escape_cdf", "kicked_subspace_escape_mean",
           "sphere_bm_factor", "sphere_bm_mean_cosine", "find_critical_points",
           "classify_critical_point", "critical_point_census", "CriticalPoint",
           "min_positive_curvature", "attainment", "reference_hessian_eigenvalues",
           "curvature_verdict", "UnstableExit", "one_step_moments"]

r"""The local SDE of momentum SGD at a critical point, for any problem, and what it predicts.

Near a critical point x* (Liu, Chen, Zhou & Zhao 2021; papers.md §1.4), heavy-ball momentum SGD
with step η and momentum μ is, in time t = kη, to leading order the linear SDE

    dU = −(H/(1 − μ)) U dt + (√η/(1 − μ)) Σ^{1/2} dW,       U = Vᵀ(x − x*),

where H is the Hessian and Σ = Σ(x*) the gradient-noise covariance at x*, both restricted to the
tangent space of the problem's geometry, and V an orthonormal eigenbasis of H. On the unit sphere
(streaming PCA) the Hessian is the Riemannian one, P(∇²f − (x*ᵀ∇f) I)P with P = I − x*x*ᵀ, and
Σ is projected by P; in ℝᵈ both are used as they are.

* At a **strict saddle** H has an eigenvalue −λ < 0. The coordinate along its eigenvector v is
  decoupled (H is diagonal in V), dU₁ = (λ/(1−μ)) U₁ dt + (√(ηc)/(1−μ)) dW with c = vᵀΣv, so its
  exit from |U₁| < r is the saddle-exit problem of validation-theory.md §3
  ([`saddle_exit_mean`][sde_opt.theory.saddle_exit_mean] and friends; several unstable directions: the most
  unstable one dominates and is used). The iteration count is the exit time divided by η.
* At a **minimum** (H > 0) U has the stationary covariance S solving
  (H/(1−μ)) S + S (H/(1−μ)) = ηΣ/(1−μ)² (validation-theory.md §1.1, §2), i.e. H S + S H = ηΣ/(1−μ),
  and the mean squared distance E‖x − x*‖² ≈ tr S (η/(2(1−μ))) tr(Σ H⁻¹) when H and Σ commute).

Everything here is the η → 0 limit at fixed μ; the discrete heavy-ball corrections along the
unstable direction are in [`heavy_ball_exit_iterations`][sde_opt.theory.heavy_ball_exit_iterations].
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import check_array, check_scalar
from ..problems._base import check_problem
from ..sde.linear import LinearSDE
from .heavy_ball import heavy_ball_stationary_covariance
from .lyapunov import lyapunov_covariance
from .saddle_exit import (
    heavy_ball_exit_iterations,
    saddle_exit_mean,
    saddle_exit_mean_em,
    saddle_exit_mean_from,
    saddle_exit_quantile,
    saddle_exit_variance,
)


def _sqrtm(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _flat(tree) -> np.ndarray:
    return np.asarray(ravel_pytree(tree)[0], dtype=np.float64)


def _check_point(owner, problem, point):
    """A finite real point (array or pytree) of the problem's shape, as float64 NumPy arrays."""
    leaves = jax.tree_util.tree_leaves_with_path(point)
    if not leaves:
        raise TypeError(f"{owner}: point must be an array (or a pytree of arrays); got {point!r:.60}")
    x = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(point), [
        check_array(owner, "point" + jax.tree_util.keystr(p), a).astype(np.float64)
        for p, a in leaves])
    want = problem.shape
    have = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)), x)
    if have != want:
        raise ValueError(f"{owner}: point must have shape {want}; got {have}")
    return x


def field_jacobian(problem, point) -> np.ndarray:
    r"""The Riemannian Jacobian of the field V at ``point``, ``(D, D)`` in ambient flattened
    coordinates: ∇V − diag(w) with w = ``geometry.weingarten(point, V)`` (to be restricted to the
    tangent space). For a minimization V = ∇f this is the Riemannian Hessian ∇²f − ⟨x, ∇f⟩ I on a
    sphere, symmetrized (it is symmetric on the tangent space); for a game it keeps its rotational
    (antisymmetric) part.
    """
    check_problem("field_jacobian", problem)
    point = _check_point("field_jacobian", problem, point)
    flat, unravel = ravel_pytree(jax.tree_util.tree_map(jax.numpy.asarray, point))
    z = unravel(flat)
    w = _flat(problem.geometry.weingarten(z, problem.field(z)))
    if hasattr(problem, "hessian") and not problem.is_game:
        h = np.asarray(problem.hessian(z), dtype=np.float64)
        h = h - np.diag(w) if np.any(w) else h
        return 0.5 * (h + h.T)
    jac = np.asarray(jax.jacfwd(lambda f: ravel_pytree(problem.field(unravel(f)))[0])(flat),
                     dtype=np.float64)
    return jac - np.diag(w)


@dataclasses.dataclass(frozen=True)
class LocalSDE:
    """The linearization of momentum SGD at a critical point (see the module docstring).

    Attributes:
        point: the critical point x* (ambient coordinates, flattened).
        eta, mu: the step size and momentum.
        curvatures: Hessian eigenvalues h₁ ≤ h₂ ≤ … on the tangent space (ascending).
        directions: ``(D, D')`` the matching unit eigenvectors (columns, ambient coordinates).
        noise_cov: ``(D', D')`` Σ(x*) in the eigenbasis, Vᵀ Σ V.
        sde: the [`LinearSDE`][sde_opt.LinearSDE] of U = Vᵀ(x − x*), in time t = kη.
    """

    point: np.ndarray
    eta: float
    mu: float
    curvatures: np.ndarray
    directions: np.ndarray
    noise_cov: np.ndarray
    sde: LinearSDE

    # -- saddle ----------------------------------------------------------------------------

    @property
    def n_unstable(self) -> int:
        return int(np.sum(self.curvatures < 0))

    def _unstable(self) -> tuple[float, float]:
        if self.n_unstable == 0:
            raise ValueError("LocalSDE: the point has no unstable direction (no negative Hessian "
                             f"eigenvalue; curvatures {np.round(self.curvatures, 6).tolist()})")
        return float(-self.curvatures[0]), float(self.noise_cov[0, 0])

    @property
    def escape_direction(self) -> np.ndarray:
        """The most unstable eigenvector (ambient coordinates)."""
        self._unstable()
        return self.directions[:, 0]

    @property
    def escape_rate(self) -> float:
        """λ/(1 − μ): growth rate of the unstable coordinate in time t = kη."""
        return self._unstable()[0] / (1.0 - self.mu)

    @property
    def escape_noise(self) -> float:
        """√(ηc)/(1 − μ): noise of the unstable coordinate, c = vᵀΣv."""
        return math.sqrt(self.eta * self._unstable()[1]) / (1.0 - self.mu)

    def offset(self, start) -> float:
        """The start's coordinate along the escape direction, vᵀ(start − x*)."""
        return float(self.escape_direction @ (_flat(start) - self.point))

    def exit_time_mean(self, r: float, start=None) -> float:
        """Exact mean time (t = kη) for |vᵀ(x − x*)| to reach ``r`` (Dawson integral, §3).

        From the critical point itself by default; from ``start`` (a point, ambient coordinates)
        otherwise — which is needed where the noise vanishes along the escape direction: the
        escape is then the deterministic growth log(r/|u₀|)/λ' of the start offset u₀.
        """
        if start is None:
            if self.escape_noise == 0:
                raise ValueError("LocalSDE: the noise vanishes along the escape direction, so a "
                                 "path started at the critical point never leaves; pass start= "
                                 "(a point off the critical point)")
            return saddle_exit_mean(self.escape_rate, self.escape_noise, r)
        return saddle_exit_mean_from(self.escape_rate, self.escape_noise, r, self.offset(start))

    def exit_iterations_mean(self, r: float, start=None) -> float:
        """``exit_time_mean`` in iterations (divided by η)."""
        return self.exit_time_mean(r, start) / self.eta

    def exit_iterations_quantile(self, p, r: float):
        """Quantiles of the limiting exit law, in iterations."""
        return saddle_exit_quantile(p, self.escape_rate, self.escape_noise, r) / self.eta

    def exit_iterations_sd(self) -> float:
        """Standard deviation of the limiting exit law, π/(√8 λ') / η, in iterations."""
        return math.sqrt(saddle_exit_variance(self.escape_rate)) / self.eta

    def exit_iterations_discrete(self, r: float) -> float:
        """Mean iterations of the discrete heavy-ball chain along v (AR(2); finite-η corrections)."""
        lam, c = self._unstable()
        return heavy_ball_exit_iterations(lam, c, self.eta, r, mu=self.mu)

    def exit_iterations_em(self, r: float, substeps: int = 1) -> float:
        """Mean exit of Euler–Maruyama of the limit with step η/``substeps``, in iterations."""
        dt = self.eta / substeps
        return saddle_exit_mean_em(self.escape_rate, self.escape_noise, r, dt) / self.eta

    # -- minimum ---------------------------------------------------------------------------

    def stationary_covariance(self) -> np.ndarray:
        """S with H S + S H = ηΣ/(1 − μ), in the eigenbasis (diffusion limit)."""
        a = np.diag(-self.curvatures / (1.0 - self.mu))
        return lyapunov_covariance(a, math.sqrt(self.eta) / (1.0 - self.mu) * _sqrtm(self.noise_cov))

    def stationary_covariance_discrete(self) -> np.ndarray:
        """Exact stationary Cov x of heavy ball on the quadratic model (H, Σ) at this (η, μ)."""
        d = self.curvatures.size
        return heavy_ball_stationary_covariance(np.diag(self.curvatures), self.noise_cov,
                                                self.eta, self.mu)[:d, :d]

    def mean_squared_distance(self, *, discrete: bool = False) -> float:
        """E‖x − x*‖² = tr S in the stationary regime (``discrete``: heavy ball's exact value)."""
        s = self.stationary_covariance_discrete() if discrete else self.stationary_covariance()
        return float(np.trace(s))

    def as_dict(self) -> dict:
        return {"eta": self.eta, "mu": self.mu, "curvatures": self.curvatures.tolist(),
                "noise_variances": np.diag(self.noise_cov).tolist()}


def local_sde(problem, point, eta, mu=0.0) -> LocalSDE:
    r"""The local SDE of momentum SGD (step ``eta``, momentum ``mu``) at the critical point ``point``.

    Works for any problem exposing ``hessian``, ``grad`` and ``grad_noise_cov`` (Euclidean, or
    a single unit sphere). See the module docstring for the model and what it predicts.

    Example — a user's own problem, escape time from a saddle in iterations::

        loc = local_sde(problem, saddle, eta=1e-3, mu=0.9)
        loc.exit_iterations_mean(r=0.5)      # diffusion limit (exact for the linear SDE)
        loc.exit_iterations_discrete(r=0.5)  # with heavy ball's finite-η growth rate

    Args:
        problem: an [`AbstractProblem`][sde_opt.AbstractProblem].
        point: a critical point (shape ``problem.shape``).
        eta: step size η > 0.
        mu: momentum μ ∈ [0, 1).

    Raises:
        ValueError: if ``point`` is not critical (gradient, projected on the tangent space, larger
            than 1e-6 relative), or for η ≤ 0, μ ∉ [0, 1).
    """
    check_problem("local_sde", problem, game=False)
    eta = check_scalar("local_sde", "eta", eta, 0.0, math.inf, low_closed=False, high_closed=False)
    mu = check_scalar("local_sde", "mu", mu, 0.0, 1.0, high_closed=False)
    x = _check_point("local_sde", problem, point)
    xj = jax.tree_util.tree_map(jax.numpy.asarray, x)
    basis = problem.geometry.tangent_basis(xj)
    jac = field_jacobian(problem, xj)
    g = _flat(problem.field(xj)) @ basis
    scale = max(1.0, float(np.abs(jac).max()))
    if np.linalg.norm(g) > 1e-6 * scale:
        raise ValueError(f"local_sde: point must be a critical point; got a point that is not a "
                         f"critical point (tangent gradient norm {np.linalg.norm(g):.3g})")
    h = basis.T @ jac @ basis
    curv, vecs = np.linalg.eigh(0.5 * (h + h.T))
    directions = basis @ vecs
    sigma = np.asarray(problem.noise_cov(xj), dtype=np.float64)
    cov = directions.T @ sigma @ directions
    cov = 0.5 * (cov + cov.T)
    sde = LinearSDE(-curv / (1.0 - mu), math.sqrt(eta) / (1.0 - mu) * _sqrtm(cov))
    return LocalSDE(point=_flat(x), eta=eta, mu=mu, curvatures=curv, directions=directions,
                    noise_cov=cov, sde=sde)

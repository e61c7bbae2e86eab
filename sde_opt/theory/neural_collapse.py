r"""Theory for the normalized-feature UFM and SDEs on spheres: saddle linearization, kicked escape,
and the exact one-step factors of the two sphere schemes for Brownian motion.

* **Saddle linearization on the tangent space.** At a critical point x* of
  :class:`~sde_opt.problems.NormalizedUFM` the manifold SDE of Riemannian SGD (step η, t = kη),
  written in an orthonormal tangent basis, is to first order dU = −Hess U dt − √η Σ_T^{1/2} dW,
  Σ_T = Bᵀ Σ(x*) B. Along the most unstable eigenvector v (Hess v = −λ v) the noise variance is
  c = vᵀΣ(x*)v. At every constructed saddle (collapsed classes, flipped features) c = 0 exactly
  (the per-sample gradients are normal to the spheres, or symmetric across the merged classes),
  so the additive-noise saddle law (:func:`~sde_opt.theory.saddle_exit_mean`, which needs σ > 0)
  does not apply: started *exactly* at x* Riemannian SGD never leaves along v to first order. What
  the linearized SDE does predict is the escape after a kick ξ uniform in the tangent ball of
  radius r: |⟨x_k − x*, v⟩| grows by ρ = 1 + ηλ per iteration (RGD and, to leading order in η,
  RSGD, whose noise is O(|x − x*|) there), so the escape iteration count has the exact law of
  :func:`~sde_opt.theory.kicked_escape_cdf` with ``dim`` = the tangent dimension. The unstable
  eigenvalue is degenerate at these saddles (multiplicity (K − 1)(d − 1) when fully collapsed), so
  the escape is measured from the whole unstable eigenspace U, |P_U(x_k − x*)| ≥ R: since
  |P_U ξ|²/r² ~ Beta(k/2, (m − k)/2 + 1) for ξ uniform in the m-ball [derived, the squared norm
  of k coordinates of a uniform point of the unit m-ball],

      P(K ≤ k) = 1 − I_{(R ρ^{−k}/r)²}(k_U/2, (m − k_U)/2 + 1),

  which is :func:`~sde_opt.theory.kicked_escape_cdf` for k_U = 1.
* **Brownian motion on S^{d−1}** (generator ½Δ): E⟨X_t, x₀⟩ = e^{−(d−1)t/2}. One projected-EM step
  X⁺ = (X + √h Z_T)/‖X + √h Z_T‖ (Z_T a standard normal in the tangent space, ‖Z_T‖² ~ χ²_{d−1})
  gives E[X⁺ | X] = m_h X with m_h = E[(1 + hχ²_{d−1})^{−1/2}]; one geodesic step
  X⁺ = cos(√h‖Z_T‖)X + sin(√h‖Z_T‖) Z_T/‖Z_T‖ gives m_h = E cos(√h χ_{d−1}). Hence after n steps
  E⟨X_n, x₀⟩ = m_hⁿ *exactly* for either scheme [derived], and m_h = 1 − (d−1)h/2 + O(h²)
  (weak order 1). Both are computed here by quadrature over the χ law.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy import integrate, special, stats

from .._checks import check_integer, check_positive, check_range


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
        """E K for :meth:`kicked_escape_cdf`."""
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


def _check_kick(r, radius, dim, sub_dim, growth):
    if not r > 0:
        raise ValueError(f"kicked escape: kick radius r must be > 0; got {r!r}")
    if not radius > 0:
        raise ValueError(f"kicked escape: escape radius R must be > 0; got {radius!r}")
    if not (1 <= sub_dim <= dim):
        raise ValueError(f"kicked escape: sub_dim must lie in [1, dim={dim}]; got {sub_dim!r}")
    if not growth > 1:
        raise ValueError(f"kicked escape: growth factor must be > 1; got {growth!r}")


def kicked_subspace_escape_cdf(k, *, r, radius, dim, sub_dim, growth):
    """P(K ≤ k) for |P_U x_k| = ρᵏ|P_U ξ| ≥ R, ξ uniform in the ``dim``-ball of radius r and U of
    dimension ``sub_dim`` (module docstring; ``sub_dim = 1`` is ``kicked_escape_cdf``)."""
    _check_kick(r, radius, dim, sub_dim, growth)
    k = np.asarray(k, dtype=np.float64)
    s = np.clip(radius * growth ** (-np.floor(k)) / r, 0.0, 1.0) ** 2
    return 1.0 - special.betainc(sub_dim / 2.0, (dim - sub_dim) / 2.0 + 1.0, s)


def kicked_subspace_escape_mean(*, r, radius, dim, sub_dim, growth, tol=1e-14) -> float:
    """E K = Σ_{k ≥ 0} P(K > k)."""
    _check_kick(r, radius, dim, sub_dim, growth)
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


__all__ = ["SaddleLinearization", "saddle_linearization", "uniform_tangent_kick",
           "kicked_subspace_escape_cdf", "kicked_subspace_escape_mean",
           "sphere_bm_factor", "sphere_bm_mean_cosine"]

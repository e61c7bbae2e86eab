r"""The Moreau envelope's gradient, the stationarity measure of nonconvex–concave minimax.

For Φ(x) = max_{y ∈ Y} f(x, y) with f(·, y) ℓ-smooth, Φ is ℓ-weakly convex (Φ + (ℓ/2)‖·‖² is
convex) and may be nonsmooth; Lin, Jin & Jordan (2020) and Mahdavinia et al. (2022) measure
ε-stationarity by the gradient of its Moreau envelope

    Φ_λ(x) = min_u Φ(u) + ‖u − x‖²/(2λ),   ∇Φ_λ(x) = (x − prox_{λΦ}(x))/λ,   λ = 1/(2ℓ),

(papers.md §4.4; the envelope is smooth because the inner problem is ℓ-strongly convex for
λ = 1/(2ℓ)). ‖∇Φ_λ(x)‖ ≤ ε means x is within λε of a point u = prox(x) whose subdifferential
∂Φ(u) contains a vector of norm ≤ ε.

``prox_smooth_plus_norm`` solves the inner proximal problem for Φ = s + β‖·‖ (s smooth, the
form of Φ when f is linear in y on a ball, e.g. f = s(x) + b yᵀx, Y = {‖y‖ ≤ R}: Φ = s + bR‖x‖)
by proximal gradient descent (the prox of β‖·‖ is the group soft-threshold), vectorized over many
points, in float64. The closed form for a quadratic s = −(a/2)‖x‖² [derived here]:
prox(x) = x · max(0, 2ℓ‖x‖ − β)/((2ℓ − a)‖x‖) at λ = 1/(2ℓ), a < 2ℓ.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_array, check_callable, check_integer, check_positive, check_range


def group_soft_threshold(v, t):
    """prox of t‖·‖ at each row of v: v·max(0, 1 − t/‖v‖)."""
    check_array("group_soft_threshold", "v", v, ndim=(1, 2), finite=False)
    _nonneg("group_soft_threshold", t=t)
    v = np.asarray(v, np.float64)
    nrm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v * np.maximum(0.0, 1.0 - t / np.maximum(nrm, 1e-300))


def _nonneg(owner, **values):
    for name, v in values.items():
        check_range(owner, name, v, 0.0, np.inf, high_closed=False, scalar=True)


def _check_prox(owner, x, lam, smooth_grad, lipschitz, beta, weak_convexity, n_iter, tol):
    check_array(owner, "x", x, ndim=(1, 2), finite=False)  # a diverged row gives NaN
    check_positive(owner, "lam", lam, scalar=True)
    check_callable(owner, "smooth_grad", smooth_grad, "a function (the gradient of s)")
    _nonneg(owner, lipschitz=lipschitz, beta=beta, weak_convexity=weak_convexity)
    if n_iter is not None:
        check_integer(owner, "n_iter", n_iter, low=1)
    check_range(owner, "tol", tol, 0.0, 1.0, low_closed=False, high_closed=False, scalar=True)
    if not 1.0 / lam > float(weak_convexity):
        raise ValueError(f"{owner}: needs 1/lam > weak_convexity; got lam={lam!r}, "
                         f"weak_convexity={weak_convexity!r}")


def prox_smooth_plus_norm(x, lam: float, smooth_grad, lipschitz: float, beta: float, *,
                          weak_convexity: float, n_iter: int | None = None, tol: float = 1e-12):
    """argmin_u s(u) + β‖u‖ + ‖u − x‖²/(2λ) for each row of ``x`` (shape (n, d)).

    Args:
        x: points, (n, d) (or (d,)).
        lam: λ > 0 with 1/λ > ``weak_convexity`` (the inner problem is then strongly convex).
        smooth_grad: ∇s, vectorized over rows (numpy, float64).
        lipschitz: a Lipschitz constant of ∇s on the region the iterates visit.
        beta: β ≥ 0.
        weak_convexity: ρ ≥ 0 with s + (ρ/2)‖·‖² convex.
        n_iter: iterations of proximal gradient (default: enough for ``tol`` by the linear rate
            1 − m/L of a strongly convex problem, m = 1/λ − ρ, L = lipschitz + 1/λ).

    Returns:
        (prox, gap): the minimizers and the norm of the last proximal-gradient step per row (a
        bound on the distance to the exact minimizer times L/m).
    """
    _check_prox("prox_smooth_plus_norm", x, lam, smooth_grad, lipschitz, beta, weak_convexity,
                n_iter, tol)
    x = np.atleast_2d(np.asarray(x, np.float64))
    m = 1.0 / lam - float(weak_convexity)
    big_l = float(lipschitz) + 1.0 / lam
    if n_iter is None:
        n_iter = int(np.ceil(np.log(tol) / np.log1p(-m / big_l))) + 1
    u = x.copy()
    step = 1.0 / big_l
    gap = np.zeros(len(x))
    for _ in range(n_iter):
        g = smooth_grad(u) + (u - x) / lam
        new = group_soft_threshold(u - step * g, step * beta)
        gap = np.linalg.norm(new - u, axis=-1)
        u = new
    return u, gap


def moreau_gradient_norm(x, lam: float, smooth_grad, lipschitz: float, beta: float, *,
                         weak_convexity: float, **kw) -> np.ndarray:
    """‖∇Φ_λ(x)‖ = ‖x − prox_{λΦ}(x)‖/λ for Φ = s + β‖·‖, per row of ``x`` (``kw``: ``n_iter``,
    ``tol`` of ``prox_smooth_plus_norm``)."""
    _check_prox("moreau_gradient_norm", x, lam, smooth_grad, lipschitz, beta, weak_convexity,
                kw.get("n_iter"), kw.get("tol", 1e-12))
    x = np.atleast_2d(np.asarray(x, np.float64))
    u, _ = prox_smooth_plus_norm(x, lam, smooth_grad, lipschitz, beta,
                                 weak_convexity=weak_convexity, **kw)
    return np.linalg.norm(x - u, axis=-1) / lam


def quadratic_prox(x, a: float, beta: float, ell: float):
    """The closed form prox at λ = 1/(2ℓ) for s = −(a/2)‖x‖² (module docstring), per row
    (a < 2ℓ, β ≥ 0)."""
    owner = "quadratic_prox"
    check_array(owner, "x", x, ndim=(1, 2), finite=False)  # a diverged row gives NaN
    check_positive(owner, "ell", ell, scalar=True)
    check_range(owner, "a", a, -np.inf, 2.0 * float(ell), low_closed=False, high_closed=False,
                scalar=True)
    _nonneg(owner, beta=beta)
    x = np.atleast_2d(np.asarray(x, np.float64))
    nrm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x * np.maximum(0.0, 2 * ell * nrm - beta) / ((2 * ell - a) * np.maximum(nrm, 1e-300))


__all__ = ["group_soft_threshold", "prox_smooth_plus_norm", "moreau_gradient_norm",
           "quadratic_prox"]

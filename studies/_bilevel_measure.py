"""Measurements shared by the bilevel-escape study and the bilevel validation checks: AID's
warm-start contraction (A), perturbed AID's kicked escape (B), StocBiO against its reduced SDE
(G), and StocBiO's diffusion coefficient at a frozen x (Monte Carlo).

Each function runs the package's algorithms (through [`sde_opt.simulate`][sde_opt.simulate] where paths are
random) and returns plain numbers/arrays; the predictions they are compared with come from
``sde_opt.theory.bilevel`` and ``sde_opt.theory.kicked_escape``. The rates in ε and κ and
iNEON are in ``._bilevel_rates``, the digits problem in ``._bilevel_data``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

import sde_opt as so
from sde_opt.algorithms.aid import aid_hypergradient
from sde_opt.theory import bilevel as tb

D_Y = 20
X_FIXED = (0.5, 0.3)


def quadratic(kappa, *, sigma_f=0.0, sigma_g=0.0, d_y=D_Y):
    return so.QuadraticBilevel(kappa=kappa, gamma=(-1.0, 1.0), d_y=d_y, sigma_f=sigma_f,
                               sigma_g=sigma_g, seed=0)


# ---------------------------------------------------------------------------------------------
# A. AID's hypergradient error at a fixed x, warm vs cold start
# ---------------------------------------------------------------------------------------------


def aid_error_curve(problem, x, alpha, D: int, N: int, K: int, warm: bool = True) -> np.ndarray:
    """‖ĝ_k − ∇Φ(x)‖ for k = 1..K outer rounds of AID at a fixed x (float64), from y = v = 0."""
    with jax.enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        a = jnp.asarray(alpha, jnp.float64)
        exact = problem.grad(x)
        zeros = jnp.zeros(problem.y_shape, jnp.float64)

        def body(carry, _):
            y, v = carry
            if not warm:
                y, v = zeros, zeros
            g, y, v, _ = aid_hypergradient(problem, x, y, v, a, D, N)
            return (y, v), jnp.linalg.norm(g - exact)

        run = jax.jit(lambda: jax.lax.scan(body, (zeros, zeros), None, length=K)[1])
        return np.asarray(run())


def mode_prediction(problem, x, alpha, D: int, K: int) -> np.ndarray:
    """The GD-limited error curve ‖ĝ_k − ∇Φ(x)‖ of warm-started AID (CG exact), k = 1..K, from the
    lower level's spectrum at y*(x) alone (a formula, not a simulation): linearized at y*, the
    inner error after k rounds is Σᵢ uᵢ(uᵢᵀe₀)(1 − αλᵢ)^{Dk} (λᵢ, uᵢ: eigenpairs of ∇²ᵧg(x, y*),
    e₀ = y⁰ − y* = −y* from y⁰ = 0), and ĝ's error is G_y times it (G_y = ∂ĝ/∂y at y* with the
    exact adjoint). Exact for a quadratic lower level; for another, asymptotically (the early
    rounds, far from y*, are nonlinear). Its round-to-round ratio shows the transient of the
    faster modes, the bias of the measured rate."""
    with jax.enable_x64(True):
        xx = jnp.asarray(x, jnp.float64)

        def parts(z):
            y = problem.y_star(z)
            exact = lambda yy: (problem.upper_grads(z, yy)[0] - problem.lower_cross_matrix(z, yy)  # noqa: E731
                                @ jnp.linalg.solve(problem.lower_hessian(z, yy),
                                                   problem.upper_grads(z, yy)[1]))
            return y, problem.lower_hessian(z, y), jax.jacfwd(exact)(y)

        y, h, gy = (np.asarray(v, np.float64) for v in jax.jit(parts)(xx))
    lam, u = np.linalg.eigh(h)
    amp = gy @ (u * (u.T @ (-y)))                     # column i: G_y uᵢ (uᵢᵀ e₀)
    k = np.arange(1, K + 1)[:, None]
    return np.linalg.norm((amp[None] * ((1 - alpha * lam) ** (D * k))[:, None, :]).sum(-1), axis=1)


def tail_rate(errors, floor: float = 1e-8) -> tuple[float, int]:
    """e_k/e_{k−1} at the last k with e_k above ``floor``·e_1 (the measured contraction) and k
    (the floor keeps float64 rounding of ‖ĝ − ∇Φ‖, ~1e-16·‖∇Φ‖, below 1e-7 of e_k)."""
    e = np.asarray(errors)
    ok = np.nonzero(e > floor * e[0])[0]
    k = int(ok[-1]) if ok.size else 1
    k = max(k, 1)
    return float(e[k] / e[k - 1]), k


def mean_rate(errors, floor: float = 1e-8) -> tuple[float, int]:
    """(e_k/e_1)^{1/(k−1)} up to the last k above ``floor``·e_1: the geometric-mean contraction,
    the estimate of the asymptotic rate that the CG bound limits (single ratios of the ĝ error
    may exceed c_N: the bound holds for the H-norm of the CG error, not for each step of its
    projection Bᵀ(v − v*))."""
    e = np.asarray(errors)
    ok = np.nonzero(e > floor * e[0])[0]
    k = max(int(ok[-1]) if ok.size else 1, 1)
    return float((e[k] / e[0]) ** (1.0 / k)), k


# ---------------------------------------------------------------------------------------------
# B. Perturbed AID at a strict saddle
# ---------------------------------------------------------------------------------------------


class AbsCoordinate:
    """Event |x_i| ≥ level (a plain callable for the engine)."""

    def __init__(self, i: int, level: float):
        self.i, self.level = i, level

    def __call__(self, x):
        return jnp.abs(x[self.i]) >= self.level


def perturbed_escape(problem, *, beta, radius, escape_radius, D, N, n_paths, n_steps, seed,
                     alpha=None):
    """Steps until |x₁| ≥ R for perturbed AID started at the saddle 0 (one kick, at step 1).
    ``radius``: the kick's length bound (the algorithm's r is radius/β: the kick is x − βξ)."""
    alpha = 1.0 / problem.lower_smoothness if alpha is None else alpha
    alg = so.PerturbedAID(problem, alpha=alpha, beta=beta, radius=radius / beta, threshold=1e-6,
                          interval=10**6, D=D, N=N)
    res = so.simulate(alg, jnp.zeros(problem.shape), seed, n_paths=n_paths, n_steps=n_steps,
                      events=[AbsCoordinate(0, escape_radius)])
    return res


def unperturbed_stays(problem, *, beta, D, N, n_steps) -> float:
    """max_k ‖x_k‖ for AID (no kick) started exactly at the saddle 0."""
    alg = so.AID(problem, 1.0 / problem.lower_smoothness, beta, D=D, N=N)
    step = jax.jit(lambda s, z: alg.step(s, z))
    s = alg.init(jnp.zeros(problem.shape))
    worst = 0.0
    for _ in range(n_steps):
        s = step(s, jnp.zeros(1))
        worst = max(worst, float(jnp.linalg.norm(s.x)))
    return worst


def nonlinear_thresholds(problem, beta, escape_radius, k_max: int) -> np.ndarray:
    """a_k: the smallest |u₀| from which the exact 1-D map u ← u − β(ω u³ + γ u) along the unstable
    coordinate reaches |u| ≥ R within k steps (k = 0..k_max), by bisection (numpy, float64).
    With a_k the kicked law becomes P(K ≤ k) = 1 − I_{(a_k/r)²}(½, (n+1)/2) — exact for the
    separable quartic Φ with an exact hypergradient."""
    g, w = float(problem.gamma[0]), float(problem.omega[0])

    def reach(u0):
        u, k = u0, 0
        while u < escape_radius and k <= k_max:
            u = u - beta * (w * u**3 + g * u)
            k += 1
        return k

    out = np.empty(k_max + 1)
    for k in range(k_max + 1):
        lo, hi = 0.0, escape_radius
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if reach(mid) <= k else (mid, hi)
        out[k] = hi
    return out


def nonlinear_kicked_mean(thresholds, r: float, dim: int) -> float:
    """E K for the exact 1-D map: Σ_k P(K > k) with P(K > k) = I_{(a_k/r)²}(½, (n+1)/2)."""
    s = np.clip(np.asarray(thresholds) / r, 0, 1) ** 2
    return float(np.sum(special.betainc(0.5, (dim + 1) / 2.0, s)))


# ---------------------------------------------------------------------------------------------
# G. StocBiO against its reduced SDE
# ---------------------------------------------------------------------------------------------

SDE_NOISE = dict(sigma_f=0.1, sigma_g=1.0)
SDE_D, SDE_Q, SDE_KAPPA = 5, 10, 10.0


def sde_problem():
    return quadratic(SDE_KAPPA, **SDE_NOISE)


def stocbio_saddle_escape(beta, *, radius, n_paths, seed, horizon_factor=4.0):
    """StocBiO from (x, y) = (0, y*(0) = 0): exit of |x₁| ≥ radius; with the reduced-SDE
    prediction (exact 1-D quadrature of the nonlinear reduced drift along x₁) and its EM bias."""
    p = sde_problem()
    alpha = 1.0 / p.lower_smoothness
    alg = so.StocBiO(p, alpha=alpha, beta=beta, D=SDE_D, Q=SDE_Q)
    with jax.enable_x64(True):
        red = so.problems.ReducedHypergradient(p, alpha, SDE_D, SDE_Q)
        lam, sigma = tb.reduced_unstable_noise(red, jnp.zeros(2), beta)
        w = float(p.omega[0])
        pred_t = tb.diffusion_exit_mean_1d(lambda x: -lam * x**2 / 2 + w * x**4 / 4, sigma, radius)
        lin_t = tb.saddle_exit_mean(lam, sigma, radius)
        em_t = tb.saddle_exit_mean_em(lam, sigma, radius, beta)
    n_steps = int(horizon_factor * pred_t / beta) + 50
    res = so.simulate(alg, jnp.zeros(2), seed, n_paths=n_paths, n_steps=n_steps,
                      events=[AbsCoordinate(0, radius)])
    return res, dict(lam=lam, sigma=sigma, pred_time=pred_t, linear_time=lin_t, em_time=em_t)


def stocbio_stationary(beta, *, n_paths, seed, relax=8.0):
    """Final positions of StocBiO started at the minimum (1, 0) after ``relax``/λ_min time units,
    with the reduced SDE's Lyapunov covariance (long-run Σ_Φ) and the one-call alternative."""
    p = sde_problem()
    alpha = 1.0 / p.lower_smoothness
    x_min = np.array([1.0, 0.0])
    alg = so.StocBiO(p, alpha=alpha, beta=beta, D=SDE_D, Q=SDE_Q)
    with jax.enable_x64(True):
        red = so.problems.ReducedHypergradient(p, alpha, SDE_D, SDE_Q)
        # the minimum of Φ_Q (shifted from x_min by the finite-Q bias): Newton on ∇Φ_Q
        xm = jnp.asarray(x_min)
        for _ in range(20):
            xm = xm - jnp.linalg.solve(jax.jacfwd(red.grad)(xm), red.grad(xm))
        a, sig = tb.reduced_linearization(red, xm)
        from sde_opt.theory import em_stationary_covariance, lyapunov_covariance
        chol = np.linalg.cholesky(beta * sig)
        pred = lyapunov_covariance(a, chol)
        pred_em = em_stationary_covariance(a, chol, beta)
        one = np.asarray(red.one_call_cov(xm))
        pred_one = lyapunov_covariance(a, np.linalg.cholesky(beta * one))
    lam_min = float(np.min(np.linalg.eigvalsh(-a)))
    n_steps = int(relax / (lam_min * beta))
    res = so.simulate(alg, jnp.asarray(np.asarray(xm), jnp.float32), seed, n_paths=n_paths,
                      n_steps=n_steps)
    return res, dict(x_min=np.asarray(xm), pred=pred, pred_em=pred_em, pred_one_call=pred_one)


# ---------------------------------------------------------------------------------------------
# StocBiO's diffusion coefficient: the long-run covariance of ĝ at a frozen x (Monte Carlo)
# ---------------------------------------------------------------------------------------------


def frozen_hypergradients(alg, x, *, n_paths, n_steps, burn, seed):
    """Per-path means of StocBiO's ĝ_k over ``n_steps`` outer steps at a *fixed* x (the inner y
    warm-started from step to step, from y*(x), after ``burn`` steps), in float64: shape
    (n_paths, d_x). K·Cov(means) estimates the long-run covariance Σ_k Cov(ĝ_0, ĝ_k), the
    diffusion coefficient of StocBiO's limit."""
    from sde_opt.algorithms.stocbio import stocbio_hypergradient, stocbio_parts
    from sde_opt.noise import unjoin

    p = alg.problem
    parts = stocbio_parts(p, alg.D, alg.Q)
    with jax.enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        y0 = jax.jit(lambda z: p.y_star(z))(x)

        def one(key):
            def body(y, k):
                draws = unjoin(parts, alg.noise.sample(k, jnp.float64))
                g, y, _ = stocbio_hypergradient(p, x, y, alg.alpha.astype(jnp.float64), alg.D,
                                                alg.Q, draws)
                return y, g

            keys = jax.random.split(key, burn + n_steps)
            y, _ = jax.lax.scan(body, y0, keys[:burn])
            _, gs = jax.lax.scan(body, y, keys[burn:])
            return gs.mean(0)

        keys = jax.random.split(jax.random.key(seed), n_paths)
        return np.asarray(jax.jit(jax.vmap(one))(keys))


def long_run_trace(means, n_steps):
    """(tr K·Cov(means), its standard error) from per-path means over K = ``n_steps`` steps."""
    m = np.asarray(means, np.float64)
    d = m - m.mean(0)
    q = n_steps * np.sum(d * d, axis=1)
    return float(q.sum() / (len(q) - 1)), float(q.std(ddof=1) / np.sqrt(len(q)))


def long_run_prediction(reduced, x, n_steps):
    """The limit's Σ_Φ(x) and the finite-K correction of the inner part: (tr Σ_Φ, |tr G(L − L_K)Gᵀ|)
    with L_K = S + Σ_{j<K} (1 − j/K)(A^jS + SA^{jᵀ}) the K-step version of the long-run covariance
    of the warm-started inner error (what K·Cov(mean) of a stationary chain estimates)."""
    from sde_opt.problems.bilevel import inner_error_covariances

    with jax.enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        sig = np.asarray(jax.jit(lambda z: reduced.grad_noise_cov(z))(x))
        a, _, s, long_run = (np.asarray(v) for v in jax.jit(
            lambda z: inner_error_covariances(reduced.bilevel, z, reduced.alpha, reduced.D))(x))
        gy = np.asarray(jax.jit(lambda z: reduced.inner_sensitivity(z)[1])(x))
    lk, ap = s.copy(), np.eye(len(s))
    for j in range(1, n_steps):
        ap = ap @ a
        lk += (1 - j / n_steps) * (ap @ s + s @ ap.T)
    return float(np.trace(sig)), float(abs(np.trace(gy @ (long_run - lk) @ gy.T)))


def second_order_allowance(reduced, x) -> float:
    r"""The size of what the limit's Σ_Φ neglects at second order in the inner error e: the
    covariance of the conditional mean E[ĝ | y* + e] beyond its linear part, tr(V − G_y S G_yᵀ)
    with V its covariance over the 2d_y symmetric points y* ± √d_y S^{1/2}eᵢ, times the long-run
    factor tr L/tr S of the warm-started inner chain (the bias allowance of the diffusion claim)."""
    from sde_opt.problems.bilevel import biased_hypergradient, inner_error_covariances

    p = reduced.bilevel
    with jax.enable_x64(True):
        def value(z):
            _, _, s, long_run = inner_error_covariances(p, z, reduced.alpha, reduced.D)
            y, gy = reduced.inner_sensitivity(z)
            e, u = jnp.linalg.eigh(s)
            root = u * jnp.sqrt(jnp.maximum(e, 0.0) * y.shape[0])
            pts = jnp.concatenate([y + root.T, y - root.T])
            means = jax.vmap(lambda yy: biased_hypergradient(p, z, yy, reduced.alpha, reduced.Q))(pts)
            c = means - means.mean(0)
            v = c.T @ c / pts.shape[0]
            return jnp.abs(jnp.trace(v - gy @ s @ gy.T)) * jnp.trace(long_run) / jnp.trace(s)

        return float(jax.jit(value)(jnp.asarray(x, jnp.float64)))


def sigma_point_shift(reduced, x) -> np.ndarray:
    r"""The inner shift of ``ReducedHypergradient.inner_shift`` evaluated on the 2d_y symmetric
    points y* ± √d_y S^{1/2}eᵢ instead of by second derivatives: equal to it to O(S) and differing
    by the fourth-order terms — its gap to ``inner_shift`` sizes what the second-order shift
    neglects (the bias allowance of the drift claim)."""
    from sde_opt.problems.bilevel import biased_hypergradient, inner_error_covariances

    p = reduced.bilevel
    with jax.enable_x64(True):
        def value(z):
            _, _, s, _ = inner_error_covariances(p, z, reduced.alpha, reduced.D)
            y = p.y_star(z)
            e, u = jnp.linalg.eigh(s)
            root = u * jnp.sqrt(jnp.maximum(e, 0.0) * y.shape[0])
            pts = jnp.concatenate([y + root.T, y - root.T])
            gbar = lambda yy: biased_hypergradient(p, z, yy, reduced.alpha, reduced.Q)  # noqa: E731
            curv = jnp.mean(jax.lax.map(gbar, pts), 0) - gbar(y)
            mg = jnp.mean(jax.lax.map(lambda yy: p.lower_grad_y(z, yy), pts), 0)
            mean_e = -jnp.linalg.solve(p.lower_hessian(z, y), mg)
            return jax.jacfwd(gbar)(y) @ mean_e + curv

        return np.asarray(jax.jit(value)(jnp.asarray(x, jnp.float64)))


def drift_along(means, origin, direction) -> tuple[float, float]:
    """(mean, SE) of ⟨m − origin, u⟩ over per-path means m of ĝ (``frozen_hypergradients``; the
    path means carry the chain's autocorrelation, so their spread gives the SE)."""
    u = np.asarray(direction, np.float64)
    proj = (np.asarray(means, np.float64) - np.asarray(origin, np.float64)) @ u
    return float(proj.mean()), float(proj.std(ddof=1) / np.sqrt(proj.size))

"""Rates of the bilevel-escape study: perturbed AID's iterations to an ε-second-order stationary
point against κ (C) and ε (D), StocBiO + iNEON against StocBiO at equal oracle budgets (E) and
StocBiO + iNEON's complexity against ε and κ (F).

The predictions of C and D come from an independent NumPy implementation of Jin et al.'s
perturbed gradient descent with the *exact* ∇Φ of [`QuadraticBilevel`][sde_opt.QuadraticBilevel] (closed
form; the kick drawn from its own generator), and from closed forms of Φ's spectrum.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np

import sde_opt as so

BALL = 1.5          # L_Φ and ρ_Φ on ‖x‖ ≤ 1.5 (the minima of the landscapes are at |xᵢ| = 1)
DELTA_PHI = 0.25    # Φ(saddle) − Φ(minimum) on the landscapes below (an upper bound for D)


# ---------------------------------------------------------------------------------------------
# The landscapes and the event
# ---------------------------------------------------------------------------------------------


def kappa_instance(kappa: float, d_y: int = 4, **noise) -> so.QuadraticBilevel:
    r"""A quadratic bilevel problem on which κ enters Φ's smoothness.

    g = ½yᵀQy − yᵀBx with Q's eigenvalues geometric in [μ, ℓ] = [1, κ] and B = U[:, :2] diag(1, κ)
    (the coupling of x₂ at the largest value ℓ-smoothness allows); the upper level f is fixed
    (s = (2, 0): f = Σ xᵢ⁴/4 − x₁² + ½‖y‖² + …). Then y*₂ = (κ/q₂) x₂ and

        Φ(x) = x₁⁴/4 − x₁²/2 + x₂⁴/4 + (κ²/q₂²) x₂²/2,     q₂ = κ^{1/(d_y−1)},

    a strict saddle at 0 (curvature −1), minima at (±1, 0), and L_Φ ≈ κ^{2−2/(d_y−1)} + 6.75 on the
    ball of radius 1.5 (κ^{4/3} for d_y = 4): a quadratic lower level gives L_Φ = O(κ²) at most
    (the paper's O(κ³) comes from the third derivatives of g). ``noise``: ``sigma_f``, ``sigma_g``.
    """
    q = np.geomspace(1.0, kappa, d_y)
    return so.QuadraticBilevel(kappa=kappa, gamma=(-1.0, kappa**2 / q[1] ** 2), b=(1.0, kappa),
                               d_y=d_y, **noise)


def several_saddles(kappa: float = 10.0) -> so.QuadraticBilevel:
    """Φ = Σᵢ (xᵢ⁴/4 − xᵢ²/2): a maximum at 0, four strict saddles (±1, 0), (0, ±1) (curvature
    −1), four minima (±1, ±1) with ∇²Φ = 2I."""
    return so.QuadraticBilevel(kappa=kappa, gamma=(-1.0, -1.0), d_y=20)


def smoothness(problem) -> tuple[float, float]:
    """(L_Φ, ρ_Φ) on the ball of radius ``BALL``."""
    return problem.gradient_lipschitz(BALL), problem.hessian_lipschitz(BALL)


class SOSP(eqx.Module):
    """Event ‖∇Φ(x)‖ ≤ ε and λ_min(∇²Φ(x)) ≥ −√(ρ_Φ ε) (closed forms of QuadraticBilevel), on the
    position or on the first entry of a (x, calls) position."""

    problem: so.QuadraticBilevel
    eps: float = eqx.field(static=True)
    tol: float = eqx.field(static=True)

    def __init__(self, problem, eps, rho):
        self.problem, self.eps, self.tol = problem, float(eps), math.sqrt(rho * eps)

    def __call__(self, pos):
        x = pos[0] if isinstance(pos, tuple) else pos
        p = self.problem
        grad_ok = jnp.linalg.norm(p.grad(x)) <= self.eps
        lam = jnp.min(3 * p.omega.astype(x.dtype) * x**2 + p.gamma.astype(x.dtype))
        return grad_ok & (lam >= -self.tol)


def sosp_mask(problem, x, eps, rho):
    """NumPy version of ``SOSP`` for points ``x`` of shape (M, d)."""
    w, g = np.asarray(problem.omega), np.asarray(problem.gamma)
    grad = w * x**3 + g * x
    lam = np.min(3 * w * x**2 + g, axis=1)
    return (np.linalg.norm(grad, axis=1) <= eps) & (lam >= -math.sqrt(rho * eps))


def template(problem, eps, kappa=None):
    """The paper's parameters for perturbed AID on ``problem`` (L_Φ, ρ_Φ on the ball)."""
    L, rho = smoothness(problem)
    t = so.algorithms.perturbed_aid_template(eps=eps, L=L, rho=rho, delta_phi=DELTA_PHI,
                                             dim=problem.shape[0],
                                             kappa=problem.kappa if kappa is None else kappa)
    return t, L, rho


# ---------------------------------------------------------------------------------------------
# C, D. Perturbed AID to an ε-SOSP, and the exact-gradient reference
# ---------------------------------------------------------------------------------------------


def perturbed_aid_sosp(problem, eps, x0, *, n_paths, n_steps, seed, inner=None):
    """Steps of perturbed AID (the paper's template, α = 1/ℓ) until the first ε-SOSP;
    ``inner`` = (D, N) replaces the template's inner loops (a power test's inexact AID)."""
    t, _, rho = template(problem, eps)
    if inner is not None:
        t = dict(t, D=inner[0], N=inner[1])
    alg = so.PerturbedAID(problem, alpha=1.0 / problem.lower_smoothness, **t)
    res = so.simulate(alg, jnp.asarray(x0, jnp.float32), seed, n_paths=n_paths, n_steps=n_steps,
                      events=[SOSP(problem, eps, rho)])
    return res, t


def reference_perturbed_gd(problem, eps, x0, *, max_steps, seed, kick_scale=1.0):
    """Jin et al.'s perturbed GD with the exact ∇Φ = ωx³ + γx, in NumPy (float64), with the
    paper's template and the rule of ``sde_opt.algorithms._perturbation`` — an independent
    implementation, its kicks from its own generator. Returns the step of the first ε-SOSP per
    start (−1 if none within ``max_steps``). ``x0``: (M, d) starts. ``kick_scale`` multiplies the
    kick (1/β gives the pre-fix kick of length r instead of βr: a deliberately wrong reference)."""
    t, _, rho = template(problem, eps)
    w, g = np.asarray(problem.omega), np.asarray(problem.gamma)
    grad = lambda x: w * x**3 + g * x  # noqa: E731
    phi = lambda x: np.sum(w * x**4 / 4 + g * x**2 / 2, axis=1)  # noqa: E731
    rng = np.random.default_rng(seed)
    x = np.array(x0, np.float64)
    m, d = x.shape
    b, T, F = t["beta"], t["interval"], t["decrease"]
    since = np.full(m, T + 1)
    anchor, anchor_val = x.copy(), np.full(m, np.inf)
    done = np.zeros(m, bool)
    steps = np.full(m, -1)
    for k in range(1, max_steps + 1):
        gk, val = grad(x), phi(x)
        stop = (since == T) & (val - anchor_val > -F)
        kick = ~stop & (np.linalg.norm(gk, axis=1) <= t["threshold"]) & (since > T)
        u = rng.standard_normal((m, d))
        xi = kick_scale * t["radius"] * rng.uniform(size=(m, 1)) ** (1 / d) * u / np.linalg.norm(u, axis=1,
                                                                                      keepdims=True)
        new = np.where(stop[:, None], anchor, np.where(kick[:, None], x - b * xi, x - b * gk))
        anchor = np.where(kick[:, None], x, anchor)
        anchor_val = np.where(kick, val, anchor_val)
        since = np.where(kick, 0, np.minimum(since + 1, T + 1))
        x = np.where(done[:, None], x, new)
        done |= stop
        hit = sosp_mask(problem, x, eps, rho) & (steps < 0)
        steps[hit] = k
        if np.all(steps >= 0):
            break
    return steps


def boot_slope(x, samples, n_boot, seed=0, log_x=True):
    """Least-squares slope of log(mean) against log x (or against x) with a path-bootstrap SE and
    95% percentile interval; ``samples``: one array of per-path values per x."""
    rng = np.random.default_rng(seed)
    xs = np.log(np.asarray(x, float)) if log_x else np.asarray(x, float)

    def fit(means):
        return float(np.polyfit(xs, np.log(means), 1)[0])

    means = np.array([s.mean() for s in samples])
    slope = fit(means)
    boots = np.array([fit(np.array([rng.choice(s, s.size).mean() for s in samples]))
                      for _ in range(n_boot)])
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"slope": slope, "se": float(boots.std(ddof=1)), "ci_low": float(lo),
            "ci_high": float(hi)}


EPS_LINEAR = 1e-3   # the ln(1/ε) slope is fitted on ε ≤ this (the linear regime at the minima)


def log_slope_prediction(beta, eps_max, curvature=2.0):
    r"""(b, bias): b = 1/|ln(1 − cβ)| iterations per e-fold of 1/ε at minima with ∇²Φ = cI, and
    the bias of a fit on ε ≤ ``eps_max`` from the cubic term of ∇Φ = x³ − x: at x = ±1 + d,
    d' = d(1 − 2β − 3βd + O(d²)), so the per-step log-contraction is |ln(1 − 2β)| ± 3β|d|/(1 − 2β)
    with |d| ≤ ε/2; bias = |1/(|ln(1 − 2β)| − 3β(ε_max/2)/(1 − 2β)) − b|."""
    a = abs(math.log(1 - curvature * beta))
    delta = 3 * beta * (eps_max / 2) / (1 - 2 * beta)
    return 1.0 / a, abs(1.0 / (abs(math.log(1 - 2 * beta)) - delta) - 1.0 / abs(math.log(1 - 2 * beta)))


def log_slope(eps, per_path_steps):
    """Slope b of K = a + b ln(1/ε) from per-path steps at each ε (the same starts at every ε),
    with the SE of the mean of the per-path least-squares slopes."""
    z = np.log(1.0 / np.asarray(eps, float))
    k = np.asarray(per_path_steps, float)            # (levels, paths)
    zc = z - z.mean()
    per = (zc[:, None] * (k - k.mean(0))).sum(0) / np.sum(zc**2)
    return float(per.mean()), float(per.std(ddof=1) / np.sqrt(per.size))


# ---------------------------------------------------------------------------------------------
# E, F. StocBiO and StocBiO + iNEON with their oracle calls
# ---------------------------------------------------------------------------------------------


class Counted(so.AbstractChain):
    """A bilevel algorithm whose position is (x, upper-level oracle calls so far): events and the
    final position see the calls, so escape costs are read in oracle calls. Start it at
    (x0, 0.0)."""

    alg: so.AbstractChain

    def __init__(self, alg):
        self.alg = alg

    @property
    def dt(self):
        return self.alg.dt

    @property
    def noise(self):
        return self.alg.noise

    def init(self, start):
        return self.alg.init(start[0])

    def step(self, state, noise):
        return self.alg.step(state, noise)

    def position(self, state):
        x = self.alg.position(state)
        return x, state.counts[0].astype(x.dtype)


class LeaveCoordinate(eqx.Module):
    """|x₁| ≥ R on a (x, calls) position."""

    radius: float = eqx.field(static=True)

    def __call__(self, pos):
        return jnp.abs(pos[0][0]) >= self.radius


def escape_costs(alg, *, radius, budget, n_paths, seed, x0=None):
    """Upper-level oracle calls (hypergradient estimates) until |x₁| ≥ ``radius`` from the saddle,
    censored at ``budget`` calls: (costs, observed). Every engine step costs at least one call, so
    ``budget`` steps reach the budget on every path."""
    x0 = jnp.zeros(alg.problem.shape) if x0 is None else x0
    res = so.simulate(Counted(alg), (x0, jnp.zeros(())), seed, n_paths=n_paths,
                      n_steps=int(budget),
                      events=[LeaveCoordinate(radius)])
    calls = np.asarray(res.final[1], float)
    observed = (res.status == 1) & (calls <= budget)
    return np.where(observed, calls, float(budget)), observed, res.counts()


def mean_cost_ratio(a, obs_a, b, obs_b, budget):
    """log of the ratio of restricted mean costs E min(cost, budget) (Kaplan–Meier, both arms
    censored at the same budget) with its delta-method SE: a comparison of the whole escape-cost
    distributions up to the budget (equal to the ratio of mean costs when no path is censored)."""
    from sde_opt import stats

    ma, sa = stats.kaplan_meier(a, obs_a).restricted_mean(budget)
    mb, sb = stats.kaplan_meier(b, obs_b).restricted_mean(budget)
    return math.log(ma / mb), math.hypot(sa / ma, sb / mb), (ma, sa), (mb, sb)


def ineon_pair(problem, *, alpha, beta, D, Q, radius, step, iterations, escape_step, threshold,
               grow=10.0, wait=10):
    """(StocBiO, StocBiO + iNEON) with the same α, β, D, Q."""
    plain = so.StocBiO(problem, alpha=alpha, beta=beta, D=D, Q=Q)
    ineon = so.StocBiOINEON(problem, alpha=alpha, beta=beta, radius=radius, step=step,
                            iterations=iterations, escape_step=escape_step, threshold=threshold,
                            grow=grow, wait=wait, D=D, Q=Q)
    return plain, ineon


def ineon_template(problem, eps, sigma):
    r"""StocBiO + iNEON's parameters at accuracy ε (the NEON mechanism of papers.md §3.6 with
    Jin et al.'s constants; [recalled, unverified]): β = η = 1/L_Φ, threshold ε, η_nc = √(ε/ρ_Φ),
    a direction found when ‖u‖ ≥ η_nc/2 (grow 10, r = η_nc/20), T′ = ⌈(L_Φ/√(ρ_Φ ε))·ι⌉,
    D = Q = ⌈κι⌉, and a minibatch of S = ⌈(4σ/ε)²⌉ calls per oracle (the additive noise σ becomes
    σ/√S ≤ ε/4, the paper's batch sizes O(ε⁻²))."""
    t, L, rho = template(problem, eps)
    iota = math.log(problem.shape[0] * L * DELTA_PHI / (rho * eps * 0.1))
    eta_nc = math.sqrt(eps / rho)
    return dict(beta=1.0 / L, step=1.0 / L, threshold=eps, escape_step=eta_nc,
                radius=eta_nc / 20.0, grow=10.0,
                iterations=int(math.ceil(L / math.sqrt(rho * eps) * iota)),
                D=int(math.ceil(problem.kappa * iota)), Q=int(math.ceil(problem.kappa * iota)),
                batch=int(math.ceil((4 * sigma / eps) ** 2)), wait=1), rho


def ineon_sosp(problem_fn, eps, sigma, *, n_paths, n_steps, seed):
    """StocBiO + iNEON (``ineon_template``) from the saddle until the first ε-SOSP: (steps,
    upper calls, lower calls, observed, template). ``problem_fn(sigma_f, sigma_g)`` builds the
    problem with the minibatch noise σ/√S."""
    base = problem_fn(0.0, 0.0)
    t, rho = ineon_template(base, eps, sigma)
    s = sigma / math.sqrt(t["batch"])
    p = problem_fn(s, s)
    kw = {k: v for k, v in t.items() if k != "batch"}
    alg = so.StocBiOINEON(p, alpha=1.0 / p.lower_smoothness, **kw)
    res = so.simulate(Counted(alg), (jnp.zeros(2), jnp.zeros(())), seed, n_paths=n_paths,
                      n_steps=n_steps, events=[SOSP(p, eps, rho)])
    upper = np.asarray(res.final[1], float) * t["batch"]
    return res.steps, upper, upper * t["D"], res.status == 1, t

"""Neural collapse with normalized features (Yaras et al. 2022; papers.md §5) and SDEs on spheres.

Claims: f* = log(1 + (K−1)e^{−τK/(K−1)}) reached by Riemannian GD from random starts; NC1–NC3 = 0
there; the most negative Riemannian-Hessian eigenvalue at the fully collapsed saddle is −τ/(K√n);
the weak order of projected and geodesic Euler–Maruyama for Brownian motion on S^{d−1}
(E⟨X_t, x₀⟩ = e^{−(d−1)t/2}, and the exact discrete E⟨X_n, x₀⟩ = m_hⁿ); the stationary law of the
sphere SDE for a linear potential (von Mises–Fisher); and the escape from a saddle after a tangent
kick against the linearized manifold dynamics (sde_opt.theory.neural_collapse).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import sde_opt as so
from sde_opt import stats
from sde_opt.problems.sphere_potential import vmf_mean_cosine
from sde_opt.stats.neural_collapse import nc_observables
from sde_opt.theory import neural_collapse as nct

from ._framework import Verdict, check, compare, compare_interval

F32 = float(np.finfo(np.float32).eps)
UFM_CASES = [(4, 3, 5, 2.0), (4, 4, 5, 2.0), (4, 8, 5, 2.0), (6, 10, 3, 5.0)]  # d = K−1, K, > K


def _grad_norm(problem):
    return lambda x: jnp.sqrt(sum(jnp.sum(a * a) for a in
                                  jax.tree_util.tree_leaves(problem.riemannian_grad(x))))


def _min_positive_curvature(problem) -> float:
    """μ⁺: the smallest positive Riemannian-Hessian eigenvalue at the ETF minimizer (the zero
    modes are the rotations of the minimizer set)."""
    with jax.enable_x64(True):
        x = {k: jnp.asarray(v) for k, v in problem.global_minimizer().items()}
        h, _ = problem.riemannian_hessian(x)
    e = np.linalg.eigvalsh(h)
    return float(e[e > 1e-8 * e.max()].min())


def run_rgd(problem, *, n_runs, n_steps, eta=1.0, seed=0, stride=None):
    """Riemannian GD from ``n_runs`` uniform random starts, batched in one engine call."""
    keys = jax.random.split(jax.random.key(seed), n_runs)
    x0 = jax.vmap(lambda k: problem.random_point(k))(keys)
    obs = dict(nc_observables(problem.labels, problem.k))
    obs["loss"] = problem.objective
    obs["grad_norm"] = _grad_norm(problem)
    return so.simulate(so.RiemannianGD(problem, eta), x0, seed, n_paths=n_runs, n_steps=n_steps,
                       observables=obs, stride=stride or n_steps)


def _final(res, name):
    return np.asarray(res.observables[name][:, -1], np.float64)


def attained_claims(problem, res, label) -> list[Verdict]:
    """f* and NC1–NC3 at the attained solutions, with the bias bounds of the module docstring of
    ``ufm_optimal_value``."""
    k, nn = problem.k, problem.n_samples
    loss, g = _final(res, "loss"), _final(res, "grad_norm")
    mu = _min_positive_curvature(problem)
    delta = float(g.max()) / mu  # distance to the minimizer set (quadratic model)
    fstar = problem.optimal_value()
    n_runs = loss.size
    far = int(np.sum(loss - fstar > 1e-4))
    counts = res.counts()
    out = [compare(
        f"UFM {label}: Riemannian GD from {n_runs} random starts reaches f* = "
        "log(1+(K−1)e^{−τK/(K−1)})",
        fstar, float(loss.mean()), float(loss.std(ddof=1) / math.sqrt(n_runs)),
        bias=delta**2 * mu / 2 + 8 * F32 * max(1.0, fstar) + 1e-7,
        note=f"{far} of {n_runs} runs above f* + 1e-4 (a spurious minimum would show here); "
             f"engine counts {counts}; bias = ½μ⁺δ² with δ = max‖grad f‖/μ⁺ = {delta:.2g} "
             f"(μ⁺ = {mu:.3g}) plus float32 evaluation 8·eps·f*",
        bias_source=('distance left to the minimizer set from the final gradient and curvature (δ²μ/2) '
                     '+ float32 rounding'))]
    s = math.sqrt(k / (k - 1))
    gram = k / math.sqrt(k - 1)
    floor = 16 * F32 * k
    bias = {"nc1": (k - 1) * delta**2 / (k * nn) + 1e-9,
            "nc2": 2 * (2 * s * delta + delta**2) / gram + floor,
            "nc3": 4 * (2 * s * delta + delta**2) / gram + floor}
    why = {"nc1": "(K−1)δ²/(KN): tr Σ_W ≤ δ²/N and ‖Σ_B^†‖ = K−1 at the ETF",
           "nc2": "2‖ΔG‖/‖G‖, ‖ΔG‖ ≤ 2‖W‖₂δ + δ², plus float32 16·eps·K",
           "nc3": "twice the NC2 bound (W and the class means both move), plus float32"}
    for name in ("nc1", "nc2", "nc3"):
        v = _final(res, name)
        out.append(compare(f"UFM {label}: {name.upper()} = 0 at the attained solution", 0.0,
                           float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)),
                           bias=bias[name], note=f"max over runs {v.max():.3g}; bias {why[name]}",
        bias_source=('per metric: the distance left to the collapsed solution (final gradient over '
                     'curvature) + float32 rounding')))
    return out


@check("nc-ufm-optimal-value")
def ufm_optimal_value() -> list[Verdict]:
    """Riemannian GD (η = 1, float32, 3000 steps) from 32 uniform random starts for
    (K, d, n, τ) with d = K − 1, d = K and d > K."""
    out = []
    for k, d, n, tau in UFM_CASES:
        p = so.NormalizedUFM(k, d, n, tau)
        res = run_rgd(p, n_runs=32, n_steps=3000)
        out += attained_claims(p, res, f"(K={k}, d={d}, n={n}, τ={tau:g})")
    return out


def _second_difference(problem, x, v, t=1e-4):
    f = lambda s: float(problem.objective(problem.geometry.exp(
        x, jax.tree_util.tree_map(lambda b: s * b, v))))
    return (f(t) - 2 * f(0.0) + f(-t)) / t**2, t


@check("nc-saddle-curvature")
def saddle_curvature() -> list[Verdict]:
    """Most negative Riemannian-Hessian eigenvalue at constructed saddles: the closed form
    −τ/(K√n) at the fully collapsed point; at the others the second difference of f along the
    geodesic in the returned direction (an independent evaluation of the objective only)."""
    out = []
    with jax.enable_x64(True):
        for k, d, n, tau in [(3, 3, 2, 2.0), (4, 5, 3, 1.0), (5, 4, 4, 10.0)]:
            p = so.NormalizedUFM(k, d, n, tau)
            x = {a: jnp.asarray(b) for a, b in p.saddle("collapsed").items()}
            lam, _ = p.most_negative_curvature(x)
            out.append(compare(f"collapsed saddle (K={k}, d={d}, n={n}, τ={tau:g}): λ_min(Hess) = "
                               "−τ/(K√n)", p.collapsed_curvature(), lam, 0.0, bias=1e-10,
                               note="float64 eigendecomposition; bias = round-off",
        bias_source='float64 eigendecomposition round-off'))
        p = so.NormalizedUFM(4, 5, 3, 2.0)
        for kind, kw in (("collapsed", {"groups": 2}), ("flipped", {"flipped": 1})):
            x = {a: jnp.asarray(b) for a, b in p.saddle(kind, **kw).items()}
            lam, v = p.most_negative_curvature(x)
            fd, t = _second_difference(p, x, v)
            gn = float(jnp.linalg.norm(ravel_pytree(p.riemannian_grad(x))[0]))
            out.append(compare(f"{kind} saddle {kw} (K=4, d=5, n=3, τ=2): λ_min < 0 equals the "
                               "geodesic second difference of f", fd, lam, 0.0,
                               bias=1e-5 * max(1.0, abs(fd)),
                               note=f"‖grad f‖ = {gn:.1e} (critical); λ_min = {lam:.6f}; bias = "
                                    f"O(t²) truncation of the central difference, t = {t:g}",
        bias_source='the O(h²) error of the geodesic second difference (h-dependent, 1e-5 relative)'))
    return out


def _bm_run(scheme, d, h, t_end, n_paths, seed):
    prob = so.SphereLinearPotential(np.zeros(d))
    sde = so.FieldSDE(prob, 1.0, 1.0)
    chain = (so.EulerMaruyama if scheme == "projected" else so.GeodesicEulerMaruyama)(sde, h)
    x0 = np.zeros(d, np.float32)
    x0[-1] = 1.0
    n = int(round(t_end / h))
    res = so.simulate(chain, x0, seed, n_paths=n_paths, n_steps=n)
    c = np.asarray(res.final, np.float64)[:, -1]
    return float(c.mean()), float(c.std(ddof=1) / math.sqrt(c.size)), res.counts()


@check("sphere-sde-weak-order")
def sphere_weak_order() -> list[Verdict]:
    """Brownian motion on S² (d = 3, T = 1): E⟨X_n, x₀⟩ against the exact discrete m_hⁿ for each h,
    and the weak-order slope of the error against e^{−(d−1)T/2}."""
    d, t_end, n_paths = 3, 1.0, 200_000
    grids = {"projected": [1 / 16, 1 / 32, 1 / 64], "geodesic": [1 / 2, 1 / 4, 1 / 8]}
    exact = nct.sphere_bm_mean_cosine(d, t_end)
    out = []
    for scheme, hs in grids.items():
        errs, ses, exact_errs = [], [], []
        for i, h in enumerate(hs):
            m, se, counts = _bm_run(scheme, d, h, t_end, n_paths, 11 + i)
            disc = nct.sphere_bm_factor(d, h, scheme) ** int(round(t_end / h))
            out.append(compare(f"{scheme} EM, Brownian motion on S², h={h:g}: E⟨X_n, x₀⟩ = m_hⁿ "
                               "(exact discrete)", disc, m, se,
                               note=f"limit e^(−(d−1)T/2) = {exact:.5f}; {counts}"))
            errs.append(abs(m - exact))
            ses.append(se)
            exact_errs.append(abs(disc - exact))
        fit = stats.slope_fit(hs, errs, y_se=ses)
        local = stats.slope_fit(hs, exact_errs).slope
        out.append(compare_interval(
            f"{scheme} EM on S²: weak order 1 (slope of |E⟨X_T,x₀⟩ − e^(−T)| against h)", 1.0,
            fit.slope, fit.slope_low - abs(local - 1), fit.slope_high + abs(local - 1),
            note=f"h = {hs}; 95% CI widened by |slope of the exact discrete errors − 1| = "
                 f"{abs(local - 1):.3f} (pre-asymptotic curvature at these h)"))
    return out


@check("sphere-sde-vmf-stationary")
def sphere_vmf_stationary() -> list[Verdict]:
    """dX = P a dt − P dW on S² (a = e₁, s = 1): stationary E⟨X, e₁⟩ = I_{3/2}(2)/I_{1/2}(2) (vMF
    with κ = 2‖a‖/s² = 2). Each scheme at h and h/2, Richardson-extrapolated (2m_{h/2} − m_h), so
    the O(h) bias cancels; T = 8 ≫ the relaxation time 1/(1 + …) from x₀ = e₃."""
    d, kappa, n_paths, t_end = 3, 2.0, 100_000, 8.0
    a = np.zeros(d)
    a[0] = kappa / 2.0
    prob = so.SphereLinearPotential(a)
    sde = so.FieldSDE(prob, 1.0, 1.0)
    x0 = np.zeros(d, np.float32)
    x0[-1] = 1.0
    pred = vmf_mean_cosine(d, kappa)
    out = []
    for name, cls in (("projected", so.EulerMaruyama), ("geodesic", so.GeodesicEulerMaruyama)):
        vals = []
        for i, h in enumerate((0.04, 0.02)):
            res = so.simulate(cls(sde, h), x0, 21 + i, n_paths=n_paths, n_steps=int(t_end / h))
            c = np.asarray(res.final, np.float64)[:, 0]
            vals.append((c.mean(), c.std(ddof=1) / math.sqrt(c.size)))
        (m1, s1), (m2, s2) = vals
        rich, se = 2 * m2 - m1, math.sqrt(4 * s2**2 + s1**2)
        out.append(compare(f"{name} EM on S², linear potential: stationary E⟨X, â⟩ = vMF "
                           f"A_3(κ={kappa:g}) (Richardson over h = 0.04, 0.02)", pred, rich, se,
                           note=f"raw means {m1:.4f} (h=0.04), {m2:.4f} (h=0.02); the O(h²) "
                                "remainder is below the SE"))
    return out


def escape_setup(k=3, d=3, n=2, tau=2.0, batch_size=6):
    """The fully collapsed saddle, its linearization and the unstable-subspace escape event."""
    p = so.NormalizedUFM(k, d, n, tau, batch_size=batch_size)
    with jax.enable_x64(True):
        lin = nct.saddle_linearization(p, {a: jnp.asarray(b) for a, b in p.saddle("collapsed").items()})
    xs = {a: jnp.asarray(b, jnp.float32) for a, b in p.saddle("collapsed").items()}
    xf = ravel_pytree(xs)[0]
    basis = jnp.asarray(lin.unstable_basis, jnp.float32)

    def event(radius):
        return lambda x: jnp.linalg.norm((ravel_pytree(x)[0] - xf) @ basis) >= radius

    return p, lin, xs, event


def escape_run(alg, starts, event, n_steps, seed=3):
    res = so.simulate(alg, starts, seed, n_paths=jax.tree_util.tree_leaves(starts)[0].shape[0],
                      n_steps=n_steps, events=[event])
    return res


@check("nc-saddle-escape")
def saddle_escape() -> list[Verdict]:
    """Escape from the collapsed saddle (K = 3, d = 3, n = 2, τ = 2; λ = τ/(K√n), unstable
    multiplicity 4 of 18 tangent dimensions) after a uniform tangent kick of radius 1e-3, until
    |P_U(x − x*)| ≥ 0.02, η = 0.05: mean iterations against the kicked law of the linearization."""
    eta, kick, radius, n_paths = 0.05, 1e-3, 0.02, 4000
    p, lin, xs, event = escape_setup()
    starts, _ = nct.uniform_tangent_kick(p.geometry, xs, jax.random.key(1), kick, n_paths)
    pred = lin.kicked_escape_mean(eta, kick, radius)
    out = []
    for alg in (so.RiemannianGD(p, eta), so.RiemannianSGD(p, eta)):
        res = escape_run(alg, starts, event(radius), 4000)
        k = res.steps[res.exited].astype(np.float64)
        counts = res.counts()
        out.append(compare(
            f"{type(alg).__name__} escape from the collapsed saddle after a tangent kick: mean "
            "iterations = kicked law of the linearized dynamics (ρ = 1 + ηλ)",
            pred, float(k.mean()), float(k.std(ddof=1) / math.sqrt(k.size)),
            note=f"{counts}; minibatch noise along the unstable space at x*: c = "
                 f"{lin.noise_along:.1e}, tr Σ_T = {lin.noise_trace:.1e} (vanishes, so the "
                 "additive-noise Dawson law does not apply); linearization error is O(R²) "
                 "relative, below the SE at R = 0.02 (the study's R sweep)"))
    return out

"""Langevin stationary laws: exact discrete moments on a harmonic potential, and the approach of the
x-marginal to the Gibbs law on a double well as the step shrinks (issue 4, validation-theory §5)."""

from __future__ import annotations

import numpy as np

import sde_opt as so
from sde_opt.sde.langevin import PhaseSpace
from sde_opt.stats import iid_mean
from sde_opt.theory.langevin import chain_stationary_covariance, gibbs_expectations

from ._framework import check, compare

# Harmonic U = ω²x²/2 with ω² = 1, γ = 1, β = 2 (continuous ⟨x²⟩ = ⟨v²⟩ = 1/2) and a large step,
# so that every scheme's discretization bias is many standard errors wide.
_OMEGA2, _GAMMA, _BETA, _H = 1.0, 1.0, 2.0, 0.5
_N_PATHS, _BURN, _AVG, _STRIDE = 2048, 200, 1000, 5


def _xx(s):
    return s[0, 0] ** 2


def _vv(s):
    return s[1, 0] ** 2


def _xv(s):
    return s[0, 0] * s[1, 0]


def _x2(x):
    return x[0] ** 2


def _time_average_moments(chain, observables, start, seed):
    """Per-path time averages over the stationary window (i.i.d. across paths) → mean ± SE."""
    r = so.simulate(chain, start, seed, n_paths=_N_PATHS, n_steps=_BURN + _AVG,
                    observables=observables, stride=_STRIDE)
    c = r.counts()
    sel = r.save_steps > _BURN
    out = {k: iid_mean(v[:, sel].mean(axis=1)) for k, v in r.observables.items()}
    return out, c


def _underdamped_verdicts(label, chain, seed):
    _, P = chain_stationary_covariance(chain, np.zeros(1))
    start = np.zeros((_N_PATHS, 2, 1), np.float32)
    est, counts = _time_average_moments(PhaseSpace(chain), {"xx": _xx, "vv": _vv, "xv": _xv},
                                        start, seed)
    out = []
    for key, (i, j), cont in [("xx", (0, 0), 1 / (_BETA * _OMEGA2)), ("vv", (1, 1), 1 / _BETA),
                              ("xv", (0, 1), 0.0)]:
        e = est[key]
        name = {"xx": "⟨x²⟩", "vv": "⟨v²⟩", "xv": "⟨xv⟩"}[key]
        out.append(compare(
            f"{label}: stationary {name} = discrete-Lyapunov value (harmonic, h={_H})",
            P[i, j], e.value, e.se,
            note=f"continuous value {cont:g}; counts {counts}"))
    return out


@check("langevin-harmonic-exact-moments")
def harmonic_exact_moments():
    """Each scheme/algorithm on U = x²/2 is linear: its exact stationary covariance solves
    P = M P Mᵀ + N Nᵀ with M, N read off the chain by autodiff; Monte Carlo must match it."""
    p = so.Quadratic([_OMEGA2])
    sde = so.UnderdampedLangevin(p, _GAMMA, _BETA)
    out = []
    for seed, (label, chain) in enumerate([
        ("Euler–Maruyama (underdamped)", so.EulerMaruyama(sde, _H)),
        ("exact-OU", so.ExactOU(sde, _H)),
        ("BAOAB", so.BAOAB(sde, _H)),
        ("OBABO", so.OBABO(sde, _H)),
        ("SGHMC1 (σ²=1 oracle)", so.SGHMC1(so.Quadratic([_OMEGA2], 1.0), _H / 2, _GAMMA, _BETA)),
        ("SGHMC2 (σ²=1 oracle)", so.SGHMC2(so.Quadratic([_OMEGA2], 1.0), _H, _GAMMA, _BETA)),
    ]):
        out += _underdamped_verdicts(label, chain, 100 + seed)
    # overdamped: Euler–Maruyama = SGLD with exact gradients, and SGLD with a noisy oracle
    for seed, (label, chain) in enumerate([
        ("Euler–Maruyama (overdamped)", so.EulerMaruyama(so.OverdampedLangevin(p, _BETA), _H)),
        ("SGLD (σ²=1 oracle)", so.SGLD(so.Quadratic([_OMEGA2], 1.0), _H, _BETA)),
    ]):
        _, P = chain_stationary_covariance(chain, np.zeros(1))
        est, counts = _time_average_moments(chain, {"x2": _x2}, np.zeros(1, np.float32),
                                            200 + seed)
        e = est["x2"]
        out.append(compare(f"{label}: stationary ⟨x²⟩ = discrete-Lyapunov value (h={_H})",
                           P[0, 0], e.value, e.se,
                           note=f"continuous value {1 / (_BETA * _OMEGA2):g}; counts {counts}"))
    return out


@check("langevin-splitting-table")
def splitting_table():
    """validation-theory §5: BAOAB's ⟨x²⟩ and OBABO's ⟨v²⟩ are exact for every stable h; the other
    marginal is biased (BAOAB ⟨v²⟩ too small, OBABO ⟨x²⟩ too large). Deterministic (Lyapunov)."""
    p = so.Quadratic([_OMEGA2])
    out = []
    for h in (0.25, 0.5, 1.0, 1.5):
        sde = so.UnderdampedLangevin(p, _GAMMA, _BETA)
        _, pb = chain_stationary_covariance(so.BAOAB(sde, h), np.zeros(1))
        _, po = chain_stationary_covariance(so.OBABO(sde, h), np.zeros(1))
        exact_x, exact_v = 1 / (_BETA * _OMEGA2), 1 / _BETA
        out.append(compare(f"BAOAB ⟨x²⟩ exact for every h (h={h})", exact_x, pb[0, 0], 0.0,
                           bias=1e-10, note=f"BAOAB ⟨v²⟩ = {pb[1, 1]:.6g} (< {exact_v:g})"))
        out.append(compare(f"OBABO ⟨v²⟩ exact for every h (h={h})", exact_v, po[1, 1], 0.0,
                           bias=1e-10, note=f"OBABO ⟨x²⟩ = {po[0, 0]:.6g} (> {exact_x:g})"))
        if not (pb[1, 1] < exact_v and po[0, 0] > exact_x):
            out.append(compare(f"bias signs at h={h}: BAOAB ⟨v²⟩ < 1/β, OBABO ⟨x²⟩ > 1/(βω²)",
                               1.0, 0.0, 0.0, note="sign of the biased marginal is wrong"))
    return out


# Tilted double well V = x⁴/4 − x²/2 + 0.1x at β = 3 (βΔV ≈ 0.75: fast mixing), γ = 1.
_DW_TILT, _DW_BETA, _DW_GAMMA = 0.1, 3.0, 1.0
_DW_STEPS = (0.1, 0.05)
_DW_PATHS, _DW_BURN_T, _DW_AVG_T = 2048, 20.0, 100.0


def _x(x):
    return x[0]


def _per_path_moments(chain, h, seed):
    n_burn, n_avg = int(round(_DW_BURN_T / h)), int(round(_DW_AVG_T / h))
    stride = max(1, int(round(0.5 / h)))
    r = so.simulate(chain, np.array([-1.0], np.float32), seed, n_paths=_DW_PATHS,
                    n_steps=n_burn + n_avg, observables={"x": _x, "x2": _x2}, stride=stride)
    sel = r.save_steps > n_burn
    return {k: v[:, sel].mean(axis=1) for k, v in r.observables.items()}, r.counts()


@check("langevin-gibbs-limit")
def gibbs_limit():
    """On a tilted double well the x-marginal of every scheme tends to the Gibbs law ∝ e^{−βV}:
    the Richardson extrapolation of ⟨x⟩_h and ⟨x²⟩_h (steps h, h/2, the scheme's declared weak
    order p) matches the Gibbs moments by quadrature; per-path combinations give the SE."""
    p = so.DoubleWell(tilt=_DW_TILT)
    gibbs = gibbs_expectations(p.potential, _DW_BETA, {"x": lambda x: x, "x2": lambda x: x**2},
                               -5.0, 5.0)
    under = so.UnderdampedLangevin(p, _DW_GAMMA, _DW_BETA)
    schemes = [("Euler–Maruyama (overdamped)",
                lambda h: so.EulerMaruyama(so.OverdampedLangevin(p, _DW_BETA), h), 1.0),
               ("Euler–Maruyama (underdamped)", lambda h: so.EulerMaruyama(under, h), 1.0),
               ("exact-OU", lambda h: so.ExactOU(under, h), so.ExactOU.weak_order),
               ("BAOAB", lambda h: so.BAOAB(under, h), so.BAOAB.weak_order),
               ("OBABO", lambda h: so.OBABO(under, h), so.OBABO.weak_order)]
    out = []
    for i, (label, make, order) in enumerate(schemes):
        runs = [_per_path_moments(make(h), h, 300 + 10 * i + j) for j, h in enumerate(_DW_STEPS)]
        counts = [c for _, c in runs]
        w = 2.0**order
        for key, name in (("x", "⟨x⟩"), ("x2", "⟨x²⟩")):
            coarse, fine = runs[0][0][key], runs[1][0][key]
            rich = iid_mean((w * fine - coarse) / (w - 1))
            raw = [iid_mean(coarse).value - gibbs[key], iid_mean(fine).value - gibbs[key]]
            out.append(compare(
                f"{label}: Richardson(p={order:g}) {name} at h→0 = Gibbs (β={_DW_BETA:g})",
                gibbs[key], rich.value, rich.se,
                note=f"bias at h={_DW_STEPS[0]}: {raw[0]:+.4f}, at h={_DW_STEPS[1]}: "
                     f"{raw[1]:+.4f} (SE ≈ {iid_mean(fine).se:.4f}); counts {counts}"))
    return out


@check("sghmc-msgd-mapping")
def msgd_mapping():
    """papers.md §1.8: heavy-ball MSGD (η_M, μ) is semi-implicit SGHMC with h = √η_M,
    γ = (1 − μ)/√η_M; its gradient noise c acts as the temperature 1/β_eff = η_M c/(2(1 − μ)).
    (i) iterates coincide (float64, same oracle draws); (ii) MSGD's closed-form stationary Var x
    (validation-theory §2) equals the discrete-Lyapunov Var x of noiseless-gradient SGHMC at
    β_eff; (iii) Monte Carlo of MSGD matches it; the underdamped-Langevin value at β_eff is its
    η → 0 limit."""
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    from sde_opt.algorithms import msgd_effective_temperature
    from sde_opt.engine import trajectory

    lam, c, eta, mu = 2.0, 0.5, 0.0625, 0.75
    out = []
    with jax.enable_x64(True):
        p2 = so.DoubleWell2D(a=1.0, noise_std=0.7)
        msgd2 = so.MomentumSGD(p2, 0.01, 0.9)
        x0 = jnp.tile(jnp.array([[-1.0, 0.3]]), (8, 1))
        z = jr.normal(jr.key(4), (8, 500, 2))
        zs = jnp.concatenate([z, jnp.zeros_like(z)], axis=-1)
        gap = float(jnp.max(jnp.abs(trajectory(msgd2, x0, z)
                                    - trajectory(so.msgd_as_sghmc(msgd2), x0, zs))))
        out.append(compare("MSGD iterates = semi-implicit SGHMC(h=√η, γ=(1−μ)/√η) iterates "
                           "(max |Δx| over 8 paths × 500 steps, float64)", 0.0, gap, 0.0,
                           bias=1e-10, note="2-D double well, η = 0.01, μ = 0.9, σ = 0.7"))
        msgd = so.MomentumSGD(so.Quadratic([lam], noise_cov=c), eta, mu)
        temp = float(msgd_effective_temperature(msgd, jnp.zeros(1))[0, 0])
        sghmc = so.msgd_as_sghmc(so.MomentumSGD(so.Quadratic([lam]), eta, mu), beta=1 / temp)
        _, P = chain_stationary_covariance(sghmc, np.zeros(1))
    D = (1 - mu) * (2 * (1 + mu) - eta * lam)
    closed = eta * c * (1 + mu) / (lam * D)
    continuous = temp / lam
    out.append(compare("MSGD closed-form Var x = SGHMC at β_eff = 2(1−μ)/(η c), exact gradients "
                       "(discrete Lyapunov)", closed, P[0, 0], 0.0, bias=1e-10 * closed,
                       note=f"underdamped Langevin at β_eff: {continuous:.6g} (the η → 0 limit)"))
    zz = jr.normal(jr.key(9), (_N_PATHS, 1200, 1))
    xs = np.asarray(trajectory(msgd, jnp.zeros((_N_PATHS, 1)), zz, stride=4))[:, 50:, 0]
    e = iid_mean((xs**2).mean(axis=1))
    out.append(compare("MSGD Monte Carlo stationary Var x = closed form (λ=2, c=0.5, η=1/16, "
                       "μ=3/4)", closed, e.value, e.se,
                       note=f"underdamped-Langevin value {continuous:.5g} differs by "
                            f"{(closed - continuous) / e.se:.1f} SE"))
    return out

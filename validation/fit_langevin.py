r"""Fitting an overdamped Langevin trace in a double well: Kramers–Moyal recovers the nonlinear drift
and the diffusion bin by bin (95% intervals cover), and the realized variance shows its O(Δ) bias.

Model: dX = −V'(X) dt + √(2ε) dW, V = x⁴/4 − x²/2, ε = 0.5 (b² = 2ε = 1, barrier/ε = 0.5, so
paths cross often), simulated by Euler–Maruyama with step h and saved every K steps (Δ = Kh).
With a = −V', the conditional moments of the EM chain to first order in Δ (Itô–Taylor over the K
sub-steps; the (1 − 1/K) factors are EM's own, → 1 as h → 0) are

    E[ΔX | x]/Δ      = a + (Δ/2)(1 − 1/K)(a a' + ε a'') + O(Δ²),
    Var[ΔX | x]/Δ    = b² (1 + (1 − 1/K) Δ a') + O(Δ²),
    E[ΔX²]/Δ (QV)    = b² + Δ E_π[a² + (1 − 1/K) b² a'] + O(Δ²)   (continuous: b² − Δ E_π[a²]).

Bin-level targets average these over the stationary density π ∝ exp(−V/ε) within each bin (by
quadrature), plus Δ·Var_π(a | bin) for the within-bin spread of the conditional mean.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from scipy.integrate import trapezoid

import sde_opt
from sde_opt.fit import fit_kramers_moyal, fit_quadratic_variation
from sde_opt.problems import Euclidean
from sde_opt.sde import AbstractSDE

from ._fit_common import coverage, fit_all, pooled, traces
from ._framework import check, compare
from .fit_km import _pad

EPS = 0.5


class DoubleWellLangevin(AbstractSDE):
    """dX = (X − X³) dt + √(2ε) dW: overdamped Langevin in V = x⁴/4 − x²/2."""

    eps: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True, default=Euclidean())

    def __init__(self, eps):
        self.eps = jnp.asarray(eps)

    @property
    def noise_shape(self):
        return (1,)

    @property
    def additive(self) -> bool:
        return True

    def drift(self, x):
        return x - x**3

    def diffusion(self, x, z):
        return jnp.sqrt(2 * self.eps).astype(x.dtype) * z


def _a(x):
    return x - x**3, 1 - 3 * x**2, -6 * x, -6.0 + 0 * x


def _stationary_grid(eps, n=40_001, lim=4.0):
    x = np.linspace(-lim, lim, n)
    w = np.exp(-(x**4 / 4 - x**2 / 2) / eps)
    return x, w / trapezoid(w, x)


def _bin_average(f, x, p, lo, hi):
    s = (x >= lo) & (x <= hi)
    return trapezoid(f[s] * p[s], x[s]) / trapezoid(p[s], x[s])


@check("fit-langevin")
def langevin():
    """Double well, ε = 0.5, EM h = 0.002, Δ = 0.01, 200 replicates of T = 200."""
    h, K, n, R = 0.002, 5, 20_000, 200
    dt = h * K
    b2 = 2 * EPS
    rng = np.random.default_rng(4)
    x0 = rng.choice([-1.0, 1.0], size=(R, 1)) + 0.3 * rng.standard_normal((R, 1))
    x = traces(sde_opt.EulerMaruyama(DoubleWellLangevin(EPS), h), x0, 14, R, n + 500, K)[:, 500:]

    xs, p = _stationary_grid(EPS)
    a, a1, a2, a3 = _a(xs)
    f = 1 - 1 / K
    drift_loc = a + 0.5 * dt * f * (a * a1 + EPS * a2)
    edges = np.linspace(-1.8, 1.8, 19)
    t_drift, t_diff = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        t_drift.append(_bin_average(drift_loc, xs, p, lo, hi))
        mean_a = _bin_average(a, xs, p, lo, hi)
        var_a = _bin_average((a - mean_a) ** 2, xs, p, lo, hi)
        t_diff.append(b2 * (1 + f * dt * _bin_average(a1, xs, p, lo, hi)) + dt * var_a)
    t_drift, t_diff = np.array(t_drift), np.array(t_diff)

    kms = fit_all(fit_kramers_moyal, x, dt, bins=[edges], correction="variance", min_count=200)
    hits_a, hits_d = [], []
    for r in kms:
        ok = r.extras["counts"] >= 200
        hits_a.append(r["drift"].covers(t_drift[:, None])[ok, 0])
        hits_d.append(r["diffusion"].covers(t_diff[:, None, None])[ok, 0, 0])

    ea2 = trapezoid(a**2 * p, xs)
    qv_pred = b2 + dt * trapezoid((a**2 + f * b2 * a1) * p, xs)
    g3 = 6 * a**2 * a1 + 7 * b2 * a * a2 + 4 * b2 * a1**2 + 2 * b2**2 * a3
    second = dt**2 / 6 * trapezoid(g3 * p, xs)
    qvs = fit_all(fit_quadratic_variation, x, dt)
    mean, se = pooled([q["diffusion"].value[0, 0] for q in qvs])
    edge_bias = t_diff[0] / b2 - 1
    return [
        coverage("Langevin KM drift x − x³: per-bin 95% CI coverage", _pad(hits_a),
                 "targets: bin averages under π of a + (Δ/2)(1−1/K)(a a' + ε a'')"),
        coverage("Langevin KM diffusion: per-bin 95% CI coverage", _pad(hits_d),
                 f"targets b²(1 + (1−1/K)Δ E[a'|bin]) + ΔVar(a|bin); {100 * edge_bias:.1f}% "
                 "at the outer bins"),
        compare("Langevin QV mean of 200 fits = b² + Δ E_π[a² + (1−1/K) b² a']", qv_pred, mean, se,
                bias=abs(second),
                reference="first-order Itô–Taylor expansion of E[(ΔX)²]/Δ under the Gibbs law, by "
                          "quadrature (derived in this module)",
                bias_source="the truncated Δ² term (Δ²/6)E_π[g₃] of the same expansion, computed "
                            "by quadrature",
                note=f"b² = {b2:g}; continuous first order b² − ΔE[a²] = {b2 - dt * ea2:.5f}; "
                     f"allowance = the Δ² term {second:.2g}"),
    ]

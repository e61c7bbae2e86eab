"""Stationary covariance of an OU process under Euler–Maruyama: exact EM law and its O(h) bias.

validation-theory.md §1: the continuous stationary covariance S solves A S + S Aᵀ + BBᵀ = 0; EM
with step h has S_h solving A S_h + S_h Aᵀ + h A S_h Aᵀ + BBᵀ = 0, so S_h − S ≈ h δ with
A δ + δ Aᵀ = −A S Aᵀ (scalar dX = −aX dt + s dW: relative bias ah/(2 − ah) ≈ ah/2).
Design rule §0: h is chosen so that the EM bias is ≥ 10 SE, so that the simulation tells "EM
implemented correctly" (S_h) apart from "exact stepping" (S).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

import sde_opt as so
from sde_opt import stats, theory

from ._framework import check, compare

# A non-normal drift (eigenvalues −1, −2, strong coupling) and a full diffusion matrix.
A = np.array([[-1.0, 3.0], [0.0, -2.0]])
B = np.array([[1.0, 0.0], [-0.5, 0.5]])
ENTRIES = ((0, 0), (0, 1), (1, 1))


def _stationary_second_moment(sde, h, *, n_paths, t_burn, t_total, stride, seed):
    """Time-averaged E[X Xᵀ] of EM(sde, h) after a burn-in (the stationary mean is 0)."""
    d = sde.A.shape[0]
    res = so.simulate(so.EulerMaruyama(sde, h), np.zeros(d, np.float32), seed, n_paths=n_paths,
                      n_steps=int(round(t_total / h)), observables={"x": lambda x: x},
                      stride=stride)
    n_div = res.counts()["diverged"]
    if n_div:
        raise RuntimeError(f"{n_div} of {res.n_paths} OU paths diverged")
    burn = int(round(t_burn / h / stride))
    return stats.stationary_covariance(res.observables["x"], burn_in=burn, mean=0.0)


@check("lyapunov-covariance")
def lyapunov_covariance():
    h = 0.1
    est = _stationary_second_moment(so.LinearSDE(A, B), h, n_paths=2000, t_burn=6.0,
                                    t_total=106.0, stride=5, seed=11)
    s_cont = theory.lyapunov_covariance(A, B)
    s_em = theory.em_stationary_covariance(A, B, h)
    delta = sla.solve_continuous_lyapunov(A, -A @ s_cont @ A.T)  # first-order bias / h
    # the expansion S_h = S + hδ + h²δ₂ + h³δ₃ + … of the EM Lyapunov equation: order by order,
    # Aδ_{k+1} + δ_{k+1}Aᵀ = −Aδ_kAᵀ. The claim is the second-order bias hδ + h²δ₂; its allowance
    # is the truncated tail, bounded by 2h³|δ₃| (next term ×2) and verified to bound the exact
    # remainder S_h − S − hδ − h²δ₂
    delta2 = sla.solve_continuous_lyapunov(A, -A @ delta @ A.T)
    delta3 = sla.solve_continuous_lyapunov(A, -A @ delta2 @ A.T)
    second = h * delta + h * h * delta2
    allowance = 2 * h**3 * np.abs(delta3)
    if not np.all(np.abs(s_em - s_cont - second) <= allowance):
        raise RuntimeError("lyapunov-covariance: 2h³|δ₃| does not bound the O(h³) remainder")
    out = []
    for i, j in ENTRIES:
        out.append(compare(
            f"OU (non-normal A, d=2) EM h={h:g}: stationary Cov[{i},{j}] = exact EM Lyapunov S_h",
            s_em[i, j], est.value[i, j], est.se[i, j],
            reference="EM Lyapunov equation A S + S Aᵀ + h A S Aᵀ + BBᵀ = 0 (validation-theory "
                      "§1.2, derived from x' = (I + hA)x + √h B z), solved by scipy",
            note="S_h solves A S + S Aᵀ + h A S Aᵀ + BBᵀ = 0 (validation-theory.md §1.2); "
                 "batch means over 2000 paths × 100 time units after a burn-in of 6"))
    for i, j in ENTRIES:
        z = abs(est.value[i, j] - s_cont[i, j]) / est.se[i, j]
        z1 = abs(est.value[i, j] - s_cont[i, j] - h * delta[i, j]) / est.se[i, j]
        out.append(compare(
            f"OU EM h={h:g}: bias Cov[{i},{j}] − S_cont = second-order expansion hδ + h²δ₂",
            second[i, j], est.value[i, j] - s_cont[i, j], est.se[i, j],
            bias=allowance[i, j],
            reference="expansion of the EM Lyapunov equation in h: Aδ + δAᵀ = −A S Aᵀ, "
                      "Aδ₂ + δ₂Aᵀ = −AδAᵀ (continuous Lyapunov solves, scipy)",
            bias_source="the truncated O(h³) tail: 2h³|δ₃|, Aδ₃ + δ₃Aᵀ = −Aδ₂Aᵀ (next order "
                        "×2; checked to bound the exact remainder)",
            note=f"first-order hδ = {h * delta[i, j]:.5g} is {z1:.1f} SE away (its O(h²) term is "
                 f"resolved); the continuous value S_cont={s_cont[i, j]:.5g} is {z:.0f} SE away"))
    return out


@check("em-stationary-bias")
def em_stationary_bias():
    """Scalar OU dX = −aX dt + s dW: EM's relative variance bias ah/(2 − ah)."""
    a, s = 1.0, 1.0
    exact = s * s / (2 * a)
    out = []
    for h, n_paths, seed in ((0.2, 2000, 21), (0.05, 4000, 22)):
        est = _stationary_second_moment(so.LinearSDE([[-a]], s), h, n_paths=n_paths, t_burn=6.0,
                                        t_total=106.0, stride=max(1, int(round(0.25 / h))),
                                        seed=seed)
        rel, se = float(est.value[0, 0]) / exact - 1.0, float(est.se[0, 0]) / exact
        pred = a * h / (2 - a * h)
        out.append(compare(
            f"scalar OU EM a·h={a * h:g}: relative stationary-variance bias = ah/(2 − ah)",
            pred, rel, se,
            reference="closed form: EM variance s²/(a(2 − ah)) (validation-theory §1.2)",
            note=f"first-order ah/2 = {a * h / 2:.4g} is {abs(pred - a * h / 2) / se:.1f} SE from "
                 f"the exact value; exact stepping (bias 0) is {abs(rel) / se:.0f} SE away"))
    return out

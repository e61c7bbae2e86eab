r"""Heavy-ball momentum SGD is SGHMC: the exact change of variables (papers.md §1.8).

Heavy-ball MSGD with step η_M and momentum μ,

    m_{k+1} = μ m_k − η_M g(X_k),   X_{k+1} = X_k + m_{k+1},

is the semi-implicit (symplectic-Euler) SGHMC1 with step h, friction γ and no injected noise,

    V_{k+1} = V_k − h(γ V_k + g(X_k)),   X_{k+1} = X_k + h V_{k+1},

under h = √η_M, γ = (1 − μ)/√η_M (so hγ = 1 − μ) and m_k = h V_k: the iterates X_k coincide
exactly. The gradient noise (covariance Σ_g, contributing η_M² Σ_g per step to m) then plays the
role of the injected noise 2(1 − μ)η_M/β of SGHMC: an effective temperature

    1/β_eff = η_M Σ_g / (2(1 − μ)),

and MSGD with Gaussian gradient noise has the same law as noiseless-gradient semi-implicit SGHMC at
β_eff. In the limit η_M → 0 at fixed γ both are underdamped Langevin at that temperature
(validation-theory §2(b)), whose stationary Var x on a quadratic is η_M c/(2(1 − μ)λ).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._checks import check_array, check_instance, check_range
from .momentum_sgd import MomentumSGD
from .sghmc1 import SGHMC1


def msgd_as_sghmc(msgd: MomentumSGD, beta=jnp.inf) -> SGHMC1:
    """The SGHMC whose iterates X_k equal those of ``msgd`` (driven by the same oracle draws).

    Returns ``SGHMC1(problem, eta=√η_M, gamma=(1 − μ)/√η_M, beta=beta, semi_implicit=True)``;
    with the default β = ∞ no noise is injected and the identity is exact (MSGD's displacement
    m_k equals h·V_k). A finite ``beta`` adds Langevin noise on top of the oracle's.
    """
    check_instance("msgd_as_sghmc", "msgd", msgd, MomentumSGD)
    check_range("msgd_as_sghmc", "beta", beta, 0.0, np.inf, low_closed=False, scalar=True)
    if not msgd.problem.geometry.is_flat:
        raise ValueError("msgd_as_sghmc: msgd must run in ℝᵈ (the mapping holds in ℝᵈ only); got "
                         f"a problem on {type(msgd.problem.geometry).__name__}")
    h = jnp.sqrt(msgd.eta)
    return SGHMC1(msgd.problem, eta=h, gamma=(1.0 - msgd.mu) / h, beta=beta, semi_implicit=True)


def sghmc_as_msgd(sghmc: SGHMC1) -> MomentumSGD:
    """The inverse map: semi-implicit, noiseless (β = ∞) SGHMC1 with 0 < γη ≤ 1 as MomentumSGD
    (η_M = η², μ = 1 − γη)."""
    check_instance("sghmc_as_msgd", "sghmc", sghmc, SGHMC1)
    if not sghmc.semi_implicit:
        raise ValueError("sghmc_as_msgd: sghmc must be semi-implicit (only that SGHMC1 is "
                         "heavy-ball momentum SGD); got semi_implicit=False")
    if np.isfinite(float(sghmc.beta)):
        raise ValueError("sghmc_as_msgd: sghmc must have beta = inf (MSGD injects no noise); got "
                         f"beta={float(sghmc.beta)!r}")
    mu = 1.0 - sghmc.gamma * sghmc.eta
    if not 0.0 <= float(mu) < 1.0:
        raise ValueError(f"sghmc_as_msgd: sghmc must have 0 < γη ≤ 1 so that μ = 1 − γη ∈ [0, 1); "
                         f"got γη = {float(sghmc.gamma * sghmc.eta)!r}")
    return MomentumSGD(sghmc.problem, sghmc.eta**2, mu)


def msgd_effective_temperature(msgd: MomentumSGD, x):
    """1/β_eff = η_M Σ_g(x) / (2(1 − μ)) as a ``(D, D)`` matrix (a scalar times I for isotropic
    additive noise): the temperature at which MSGD's gradient noise acts as SGHMC's injected
    noise."""
    owner = "msgd_effective_temperature"
    check_instance(owner, "msgd", msgd, MomentumSGD)
    x = check_array(owner, "x", x)
    shape = msgd.problem.shape
    if isinstance(shape, tuple) and x.shape != shape:
        raise ValueError(f"{owner}: x must be a point of shape {shape}; got shape {x.shape}")
    return msgd.eta * msgd.problem.grad_noise_cov(jnp.asarray(x)) / (2.0 * (1.0 - msgd.mu))

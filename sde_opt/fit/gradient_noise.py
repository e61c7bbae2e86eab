r"""Gradient-noise covariance from gradient samples, and the diffusion it predicts for (momentum) SGD.

**Covariance of one stochastic gradient.** The package's Σ(θ) (``AbstractProblem.grad_noise_cov``)
is the covariance of *one* stochastic gradient as the optimizer uses it — for minibatch SGD, of a
minibatch gradient. From per-sample gradients ∇ℓ_i(θ) with covariance C (Mandt, Hoffman & Blei
2017; validation-theory §1.1):

    Σ_b = C / b                                  minibatch of b drawn with replacement (or from
                                                 an infinite stream);
    Σ_b = (C_N / b) · (N − b)/(N − 1)            b drawn without replacement from N examples,
                                                 C_N the population covariance (1/N normalization).

(The second is the finite-population correction; for b ≪ N the two agree.) From gradients of
independent minibatches of size b₀ the covariance is measured directly at b₀ and rescaled to b by
the same formulas.

**Predicted diffusion.** Heavy-ball momentum SGD θ_{k+1} = θ_k − η g_k + μ(θ_k − θ_{k−1}) has,
in the package's time t = kη, the diffusion limit ([`MomentumSGD`][sde_opt.MomentumSGD]`.limit()`, a
[`GradientSDE`][sde_opt.FieldSDE] with drift scale 1/(1 − μ) and noise scale √η/(1 − μ))

    dX = −∇f(X)/(1 − μ) dt + (√η/(1 − μ)) Σ_b^{1/2} dW,   diffusion matrix  D = η Σ_b/(1 − μ)²;

μ = 0 is SGD's SME with D = η Σ_b (Li, Tai & E 2017). A trace saved every ``stride`` steps has
Δ = stride·η in this time; in time s = k (steps) the diffusion is η² Σ_b/(1 − μ)² instead.

**Intervals.** Entry-wise Var(Ĉ_ij) ≈ Var((g_i − ḡ_i)(g_j − ḡ_j))/n from the samples' fourth
moments (no Gaussian assumption), computed as ((G∘G)ᵀ(G∘G))/n − C∘C without forming n·D² products.
When the rows are the *whole* dataset (``population_size == n``) the covariance at that θ is
exact and its interval has zero width (the uncertainty then lies in θ, not in Σ).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_array, check_bool, check_integer, check_level, check_psd, check_scalar
from ..stats import Estimate
from ._result import FitResult


def _batch_factor(b: int, population_size: int | None, replacement: bool = False) -> float:
    """Σ_b = factor · C_pop: 1/b, times (N − b)/(N − 1) without replacement from N."""
    if population_size is None or replacement:
        return 1.0 / b
    N = int(population_size)
    return (N - b) / (b * (N - 1))


def gradient_noise_covariance(grads, batch_size: int = 1, *, minibatch_size: int | None = None,
                              population_size: int | None = None, replacement: bool = False,
                              basis=None,
                              level: float = 0.95) -> FitResult:
    """Covariance Σ_b of a minibatch gradient of size ``batch_size`` from gradient samples.

    Args:
        grads: ``(n, D)`` gradients at one point θ: per-example gradients ∇ℓ_i(θ)
            (``minibatch_size=None``) or gradients of n independent minibatches of size
            ``minibatch_size``.
        batch_size: the batch size b the optimizer uses (Σ is returned at this b).
        minibatch_size: the batch size of the rows, if they are minibatch gradients.
        population_size: N, the dataset size (``None``: an infinite stream). If the rows are
            per-example gradients and ``population_size == n``, they are taken as the whole
            dataset (exact covariance C_N, zero-width interval).
        replacement: whether a minibatch draws its b examples from the N with replacement
            (Σ_b = C_N/b) or without (the default: the finite-population correction).
        basis: optional ``(D, k)`` matrix; the covariance of the projected gradients gᵀ·basis
            (k × k) is returned (e.g. top Hessian eigenvectors).
        level: coverage of the intervals.

    Returns:
        FitResult (model ``"gradient-noise"``) with estimates ``covariance`` (Σ_b) and
        ``per_sample_covariance`` (C; for minibatch rows, Σ_{b₀} converted back), and
        ``extras["mean"]``, the mean gradient (≈ ∇f(θ); ≈ 0 at a minimum).
    """
    owner = "gradient_noise_covariance"
    level = check_level(owner, level)
    g = check_array(owner, "grads", grads, ndim=(1, 2)).astype(np.float64)
    if g.ndim == 1:
        g = g[:, None]
    n = g.shape[0]
    if n < 3:
        raise ValueError(f"{owner}: grads must hold at least 3 gradient samples; got {n}")
    b = check_integer(owner, "batch_size", batch_size, low=1)
    replacement = check_bool(owner, "replacement", replacement)
    if population_size is not None:
        population_size = check_integer(owner, "population_size", population_size, low=1)
    if minibatch_size is not None:
        minibatch_size = check_integer(owner, "minibatch_size", minibatch_size, low=1)
    if population_size is not None and not replacement and not (b <= int(population_size)):
        raise ValueError(f"{owner}: batch_size must lie in [1, population_size={population_size}]; "
                         f"got {b}")
    if basis is not None:
        basis = check_array(owner, "basis", basis, ndim=(1, 2)).astype(np.float64)
        if basis.ndim == 1:
            basis = basis[:, None]
        if basis.shape[0] != g.shape[1]:
            raise ValueError(f"{owner}: basis must have shape ({g.shape[1]}, k); got {basis.shape}")
        g = g @ basis
    mean = g.mean(axis=0)
    G = g - mean
    full = minibatch_size is None and population_size is not None and int(population_size) == n
    ddof = 0 if full else 1
    cov = G.T @ G / (n - ddof)
    G2 = G * G
    var = np.clip((G2.T @ G2) / n - (G.T @ G / n) ** 2, 0.0, None) / n
    se = np.zeros_like(cov) if full else np.sqrt(var)

    if minibatch_size is None:
        per_sample, se_ps = cov, se
        source = "per-example gradients" + (" (whole dataset: exact)" if full else "")
    else:
        b0 = int(minibatch_size)
        if population_size is not None and not replacement and b0 >= int(population_size):
            raise ValueError(f"{owner}: minibatch_size must be < population_size (full-batch "
                             f"gradients carry no gradient noise); got {b0} >= {population_size}")
        f0 = _batch_factor(b0, population_size, replacement)
        per_sample, se_ps = cov / f0, se / f0
        source = f"gradients of independent minibatches of size {b0}"
    to_b = _batch_factor(b, population_size, replacement)
    method = "sample covariance; " + ("exact (whole dataset)" if full else "fourth-moment SE")
    sampling = ("an infinite stream" if population_size is None else
                f"{'with' if replacement else 'without'} replacement from N={int(population_size)}")
    info = {"n_samples": n, "batch_size": b, "rows": source, "sampling": sampling,
            "dim": int(g.shape[1]), "projected": basis is not None,
            "scaling": "Sigma_b = C/b" if population_size is None or replacement
            else "Sigma_b = (C_N/b)(N-b)/(N-1)"}
    est = {
        "covariance": Estimate.normal("covariance", per_sample * to_b, se_ps * to_b, level,
                                      method),
        "per_sample_covariance": Estimate.normal("per_sample_covariance", per_sample, se_ps,
                                                 level, method),
    }
    return FitResult("gradient-noise", est, info, {"mean": mean})


def predicted_diffusion(sigma_g, eta, mu=0.0, *, level: float = 0.95) -> Estimate:
    """D = η Σ_g/(1 − μ)²: the diffusion matrix of (momentum) SGD's limit in time t = kη.

    This is ``GradientSDE`` of ``MomentumSGD(problem, eta, mu).limit()`` with Σ_g the covariance
    of one stochastic gradient (``noise_scale² · Σ``). Its drift is −∇f/(1 − μ); for a trace
    saved every ``stride`` steps compare with a fit at Δ = stride·η.

    For momentum, an OU fit of a *position* trace approaches this D only when the sampling
    interval is much longer than the velocity's memory, stride ≫ μ/(1 − μ) steps (the limit
    drops the velocity); at shorter strides the fit sees the heavy-ball chain's own correlation.
    The reference for a fit at any stride is
    [`sde_opt.fit.heavy_ball_ou_target`][sde_opt.fit.heavy_ball_ou_target] — the exact drift and diffusion of
    the sampled heavy-ball chain on a quadratic.

    Args:
        sigma_g: Σ_g as an array, an [`Estimate`][sde_opt.stats.Estimate] (its interval is scaled along) or
            the
            FitResult of [`gradient_noise_covariance`][sde_opt.fit.gradient_noise_covariance].
        eta: step size η > 0.
        mu: momentum μ ∈ [0, 1).
    """
    owner = "predicted_diffusion"
    eta = check_scalar(owner, "eta", eta, 0.0, np.inf, low_closed=False, high_closed=False)
    mu = check_scalar(owner, "mu", mu, 0.0, 1.0, high_closed=False)
    level = check_level(owner, level)
    if isinstance(sigma_g, FitResult):
        sigma_g = sigma_g["covariance"]
    factor = eta / (1.0 - mu) ** 2
    if isinstance(sigma_g, Estimate):
        return sigma_g.scaled(factor, "predicted_diffusion")
    s = check_array(owner, "sigma_g", sigma_g, ndim=(0, 2)).astype(np.float64)
    check_psd(owner, "sigma_g", np.atleast_2d(s))
    return Estimate.normal("predicted_diffusion", s * factor, np.zeros_like(s), level,
                           "eta Sigma/(1-mu)^2 (Sigma given exactly)")

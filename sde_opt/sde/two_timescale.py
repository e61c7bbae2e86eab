r"""Diffusion limits of stochastic gradient descent–ascent: the two-timescale SDE and its slow reduction.

**Two-timescale SDE** (:class:`TwoTimescaleSDE`). Stochastic GDA with steps η_x, η_y on a game
with field V = (∇ₓf, −∇ᵧf) and oracle noise ξ (covariance Σ, factor B), in the slow time
t = kη_x, with ratio r = η_y/η_x:

    dX = −Vₓ(X, Y) dt − √η_x (B dW)ₓ,
    dY = −r V_y(X, Y) dt − r√η_x (B dW)_y.

(One step: E Δ/η_x = (−Vₓ, −rV_y), Cov Δ/η_x = D Σ D with D = diag(√η_x, r√η_x).) OGDA and
extragradient share this first-order limit (their O(η) differences are in
:mod:`sde_opt.theory.modified_equations`).

**Reduced slow SDE** (:class:`ReducedSDE`). As r → ∞, Y is slaved to y*(X) and the x-equation
averages over the fast fluctuation δ = Y − y*(X), an OU process dδ ≈ −rHδ dt − r√η_x b_y dW with
H = −∇²_yy f. Since ∫δ dt → −H⁻¹√η_x b_y W, the slow limit is [derived here]

    dX = −∇Φ(X) dt − √η_x (bₓ − K b_y) dW,   K = ∇²_xy f(X, y*) H⁻¹,

i.e. diffusion matrix η_x [I, −K] Σ [I, −K]ᵀ: the noise of the implicit-function (hypergradient)
estimate ∇ₓf̂ − K∇ᵧf̂. It is GDmax's limit too with ``noise="x"`` (the x-oracle noise at y*; the
inner loop's O(η_y) y-fluctuation is dropped). The state is (X, Y) with Y = y*(X) carried along
(dY = Dy*(X) dX + ½∇²y*[dX, dX]), so positions have the game's structure. Both need the problem's
closed forms ``phi_grad`` and ``y_star``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._checks import check_bool, check_choice, check_instance, check_positive
from ..problems._base import AbstractField
from ._base import AbstractSDE


def _check_pair_field(owner, problem):
    """A game, or any field on a pair (x, y) of array players."""
    check_instance(owner, "problem", problem, AbstractField,
                   "a game (an AbstractGame, or any sde_opt field on a pair (x, y))")
    shape = problem.shape
    if not (isinstance(shape, tuple) and len(shape) == 2
            and all(isinstance(s, tuple) for s in shape)):
        raise TypeError(f"{owner}: problem must be a game on a pair (x, y) (an AbstractGame); got "
                        f"{type(problem).__name__}, a field on points of shape {shape!r}")


class TwoTimescaleSDE(AbstractSDE):
    r"""dX = −Vₓ dt − √η_x (B dW)ₓ,  dY = −r V_y dt − r√η_x (B dW)_y  (module docstring).

    Args:
        problem: a game (or any field on a pair (x, y)).
        eta_x: the slow step η_x (time unit t = kη_x) — sets the noise level.
        ratio: r = η_y/η_x.
        noise: False for the ODE limit.
    """

    problem: AbstractField
    eta_x: jnp.ndarray
    ratio: jnp.ndarray
    noisy: bool = eqx.field(static=True)

    def __init__(self, problem, eta_x, ratio, noise=True):
        _check_pair_field("TwoTimescaleSDE", problem)
        check_positive("TwoTimescaleSDE", "eta_x", eta_x, scalar=True)
        check_positive("TwoTimescaleSDE", "ratio", ratio, scalar=True)
        check_bool("TwoTimescaleSDE", "noise", noise)
        self.problem = problem
        self.eta_x = jnp.asarray(eta_x)
        self.ratio = jnp.asarray(ratio)
        self.noisy = bool(noise)

    @property
    def geometry(self):
        return self.problem.geometry

    @property
    def noise_shape(self):
        return self.problem.factor_shape

    @property
    def point_shape(self):
        return self.problem.shape

    @property
    def additive(self) -> bool:
        return self.problem.additive_noise

    def drift(self, z):
        vx, vy = self.problem.field(z)
        return (-vx, -self.ratio.astype(vy.dtype) * vy)

    def diffusion(self, z, w):
        bx, by = self.problem.noise_factor(z, w)
        s = jnp.sqrt(self.eta_x).astype(bx.dtype) * (1.0 if self.noisy else 0.0)
        return (-s * bx, -s * self.ratio.astype(by.dtype) * by)


class ReducedSDE(AbstractSDE):
    r"""dX = −∇Φ(X) dt − √η_x C(X)^{1/2} dW, Y = y*(X) carried along (module docstring).

    Args:
        problem: a game with closed-form ``phi_grad`` and ``y_star`` (e.g. the games of
            :mod:`sde_opt.problems.games`).
        eta_x: the slow step (noise level; time t = kη_x).
        noise: ``"gda"`` (C = [I, −K] Σ [I, −K]ᵀ at y*, the r → ∞ limit of stochastic GDA),
            ``"x"`` (C = Σₓₓ at y*, GDmax with an exact inner loop) or ``None`` (the ODE
            dX = −∇Φ dt).
    """

    problem: AbstractField
    eta_x: jnp.ndarray
    mode: str | None = eqx.field(static=True)

    def __init__(self, problem, eta_x, noise="gda"):
        _check_pair_field("ReducedSDE", problem)
        check_positive("ReducedSDE", "eta_x", eta_x, scalar=True)
        if noise is not None:
            check_choice("ReducedSDE", "noise", noise, ("gda", "x"))
        for name in ("phi_grad", "y_star"):
            if not hasattr(problem, name):
                raise TypeError(f"ReducedSDE: problem must have a closed-form {name} (Φ's "
                                f"gradient and the best response y*); got {type(problem).__name__}")
        self.problem = problem
        self.eta_x = jnp.asarray(eta_x)
        self.mode = noise

    @property
    def geometry(self):
        return self.problem.geometry

    @property
    def noise_shape(self):
        return (self.problem.shape[0][0],)

    @property
    def point_shape(self):
        return self.problem.shape

    def x_covariance(self, x):
        """C(x), the (m, m) diffusion matrix of X per unit η_x."""
        m = self.problem.shape[0][0]
        dtype = x.dtype
        if self.mode is None:
            return jnp.zeros((m, m), dtype)
        y = self.problem.y_star(x)
        sigma = self.problem.noise_cov((x, y)).astype(dtype)
        if self.mode == "x":
            return sigma[:m, :m]
        grad_y = lambda xx, yy: jax.grad(self.problem.objective, argnums=0)((xx, yy))[1]
        h = -jax.jacfwd(lambda yy: grad_y(x, yy))(y)          # −∇²_yy f  (n, n)
        cross = jax.jacfwd(lambda xx: grad_y(xx, y))(x)       # ∇²_yx f   (n, m)
        k = jnp.linalg.solve(h, cross).T                      # K = ∇²_xy f H⁻¹  (m, n)
        p = jnp.concatenate([jnp.eye(m, dtype=dtype), -k], axis=1)
        return p @ sigma @ p.T

    def _x_root(self, x):
        c = self.x_covariance(x)
        e, v = jnp.linalg.eigh(c)
        return (v * jnp.sqrt(jnp.clip(e, 0.0))) @ v.T

    def drift(self, z):
        x = z[0]
        a = -self.problem.phi_grad(x)
        jac = jax.jacfwd(self.problem.y_star)(x)
        ay = jac @ a
        if self.mode is not None:
            c = self.eta_x.astype(x.dtype) * self.x_covariance(x)
            hess = jax.jacfwd(jax.jacfwd(self.problem.y_star))(x)   # (n, m, m)
            ay = ay + 0.5 * jnp.einsum("kij,ij->k", hess, c)
        return (a, ay)

    def diffusion(self, z, w):
        x = z[0]
        if self.mode is None:
            bx = jnp.zeros_like(x)
        else:
            bx = -jnp.sqrt(self.eta_x).astype(x.dtype) * (self._x_root(x) @ w.astype(x.dtype))
        jac = jax.jacfwd(self.problem.y_star)(x)
        return (bx, jac @ bx)


__all__ = ["TwoTimescaleSDE", "ReducedSDE"]

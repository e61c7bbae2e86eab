r"""Riemannian gradient descent: the full-gradient step on a product of spheres."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from .riemannian_sgd import RiemannianSGD, riemannian_gradient_step


class NoNoise(eqx.Module):
    """An empty draw (shape ``(0,)``) for a deterministic chain.

    Not a ``StandardNormal((0,))``: the engine's fast normal generator divides by the draw size
    (``engine/_rng.py``, ``_epoch_key``), so a zero-size standard normal raises
    ``ZeroDivisionError`` there.
    """

    def sample(self, key, dtype=jnp.float32):
        return jnp.zeros((0,), dtype)


class RiemannianGD(RiemannianSGD):
    r"""x_{k+1} = R_{x_k}(−η grad f(x_k)),  grad f = P_x ∇f (papers.md §5.5, "RGD").

    [`RiemannianSGD`][sde_opt.RiemannianSGD] with the exact gradient. Deterministic: the noise is
    an empty draw (shape ``(0,)``). Time per step t = kη; the limit
    is the Riemannian gradient flow dX = −P_X ∇f(X) dt (a [`FieldSDE`][sde_opt.FieldSDE] with
    s = 0), of which this is the retracted Euler scheme. Not in ``REGISTRY``: the contract suite
    requires the noise to reach the state, which a deterministic method cannot satisfy.

    Args:
        problem: the objective, on its geometry.
        eta: step size η > 0.
    """

    @property
    def noise(self):
        return NoNoise()

    def step(self, state, noise):
        return riemannian_gradient_step(self.problem.geometry, state, self.problem.grad(state),
                                        self.eta)

    def limit(self):
        return self.ode_limit()

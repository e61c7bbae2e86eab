"""A small GAN-like game whose generator is a pytree, and the same game on a flat array.

Moment-matching GAN on ℝᵈ: real data N(m, diag(s²)); generator G(w) = a ⊙ w + b (w ~ N(0, I)),
its parameters x = {"a": (d,), "b": (d,)} (or the flat x = (a, b) ∈ ℝ²ᵈ); a quadratic
discriminator D(u) = vᵀu + ½ Σᵢ qᵢuᵢ² with parameters y = (v, q) ∈ ℝ²ᵈ and an L2 penalty λ:

    f(x, y) = E D(real) − E D(G(w)) − (λ/2)‖y‖²
            = vᵀ(m − b) + ½ qᵀ(m² + s² − b² − a²) − (λ/2)‖y‖²,

strongly concave in y, so by hand y*(x) = ((m − b)/λ, (m² + s² − b² − a²)/(2λ)) and
Φ(x) = ‖m − b‖²/(2λ) + ‖m² + s² − b² − a²‖²/(8λ), minimal at b = m, a² = s² (the generator
matches the data's first two moments). Oracle: additive Gaussian noise (σₓ, σ_y) on one flat draw
of length 4d, the x-part unravelled in ``ravel_pytree`` order (a then b), so that the dict and the
flat game see the same numbers and every algorithm must give the same iterates on both.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import sde_opt as so

D = 2
M = np.array([1.0, -0.5])
S = np.array([0.8, 1.2])
LAM = 1.0


class MomentGAN(so.AbstractGame):
    """The moment-matching GAN (module docstring); ``dict_generator`` picks x's structure."""

    dict_generator: bool = eqx.field(static=True, default=True)
    sigma_x: float = 0.3
    sigma_y: float = 0.2
    geometry: so.AbstractGeometry = eqx.field(static=True, default=so.Product(
        (so.Euclidean(), so.Euclidean())))

    @property
    def shape(self):
        gen = {"a": (D,), "b": (D,)} if self.dict_generator else (2 * D,)
        return (gen, (2 * D,))

    @property
    def noise(self):
        return so.StandardNormal((4 * D,))

    @property
    def factor_shape(self):
        return (4 * D,)

    def _ab(self, x):
        return (x["a"], x["b"]) if self.dict_generator else (x[:D], x[D:])

    def _x(self, flat):
        """A flat (2d,) vector as this game's x."""
        return {"a": flat[:D], "b": flat[D:]} if self.dict_generator else flat

    def objective(self, z):
        x, y = z
        a, b = self._ab(x)
        m, s = jnp.asarray(M, a.dtype), jnp.asarray(S, a.dtype)
        v, q = y[:D], y[D:]
        return v @ (m - b) + 0.5 * q @ (m**2 + s**2 - b**2 - a**2) - 0.5 * LAM * y @ y

    def stochastic_field(self, z, noise):
        gx, gy = self.field(z)
        w = noise.astype(gy.dtype)
        flat_x, unravel = ravel_pytree(gx)
        return (unravel(flat_x + self.sigma_x * w[:2 * D]), gy + self.sigma_y * w[2 * D:])

    def noise_cov(self, z):
        dtype = z[1].dtype
        return jnp.diag(jnp.concatenate([jnp.full((2 * D,), self.sigma_x**2, dtype),
                                         jnp.full((2 * D,), self.sigma_y**2, dtype)]))

    def noise_factor(self, z, w):
        w = w.reshape(-1).astype(z[1].dtype)
        return (self._x(self.sigma_x * w[:2 * D]), self.sigma_y * w[2 * D:])

    # ----- closed forms, by hand -----
    def y_star(self, x):
        a, b = self._ab(x)
        m, s = jnp.asarray(M, a.dtype), jnp.asarray(S, a.dtype)
        return jnp.concatenate([(m - b) / LAM, (m**2 + s**2 - b**2 - a**2) / (2 * LAM)])

    def phi(self, x):
        a, b = self._ab(x)
        m, s = jnp.asarray(M, a.dtype), jnp.asarray(S, a.dtype)
        r = m**2 + s**2 - b**2 - a**2
        return (m - b) @ (m - b) / (2 * LAM) + r @ r / (8 * LAM)

    def phi_grad(self, x):
        a, b = self._ab(x)
        m, s = jnp.asarray(M, a.dtype), jnp.asarray(S, a.dtype)
        r = m**2 + s**2 - b**2 - a**2
        ga, gb = -a * r / (2 * LAM), -(m - b) / LAM - b * r / (2 * LAM)
        return {"a": ga, "b": gb} if self.dict_generator else jnp.concatenate([ga, gb])


def gan_start(game, dtype=jnp.float32):
    """A start away from the equilibrium, as the game's (x, y)."""
    flat = jnp.asarray([0.5, 0.6, 0.2, 0.1], dtype)
    return (game._x(flat), jnp.asarray([0.1, -0.2, 0.05, 0.0], dtype))

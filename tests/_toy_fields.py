"""Small pytree problems for the contract suite: a game on (x, y) ∈ ℝ² × ℝ³ and a problem on
(W, H) ∈ OB(3, 2) × OB(3, 4). Closed forms are written out by hand (no autodiff) so tests that use
them are independent of the field machinery.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

import sde_opt as so

A = np.array([[-1.0, 0.3], [0.3, 0.5]])           # ∇ₓₓf: a saddle in x
C = np.array([[1.0, 0.0, 0.5], [0.0, -1.0, 0.2]])  # coupling ∇ₓᵧf
MU = 2.0                                            # strong concavity in y


class ToyGame(so.AbstractGame):
    """f(x, y) = ½ xᵀAx + xᵀCy − (μ/2)‖y‖², additive oracle noise σ² I on both players."""

    sigma: float = 0.3
    geometry: so.AbstractGeometry = eqx.field(static=True, default=so.Euclidean())

    @property
    def shape(self):
        return ((2,), (3,))

    @property
    def noise(self):
        return so.StandardNormal((5,))

    @property
    def factor_shape(self):
        return (5,)

    def objective(self, z):
        x, y = z
        return 0.5 * x @ jnp.asarray(A, x.dtype) @ x + x @ jnp.asarray(C, x.dtype) @ y - 0.5 * MU * y @ y

    def field_by_hand(self, z):
        x, y = z
        return (A @ x + C @ y, -(C.T @ x - MU * y))

    def stochastic_field(self, z, noise):
        gx, gy = self.field(z)
        return (gx + self.sigma * noise[:2], gy + self.sigma * noise[2:])

    def noise_cov(self, z):
        return self.sigma ** 2 * jnp.eye(5, dtype=z[0].dtype)

    def noise_factor(self, z, w):
        return (self.sigma * w[:2], self.sigma * w[2:])


P_W = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]])
P_H = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])


class ToyOblique(so.AbstractProblem):
    """f(W, H) = −⟨P_W, W⟩ − ⟨P_H, H⟩ on OB(3, 2) × OB(3, 4) (minimum: the normalized columns of
    P_W, P_H), additive oracle noise σ² I."""

    sigma: float = 0.2
    geometry: so.AbstractGeometry = eqx.field(
        static=True, default=so.Product({"H": so.Oblique(3, 4), "W": so.Oblique(3, 2)}))

    @property
    def shape(self):
        return {"H": (3, 4), "W": (3, 2)}

    @property
    def noise(self):
        return so.StandardNormal((18,))

    @property
    def factor_shape(self):
        return (18,)

    def objective(self, z):
        w, h = z["W"], z["H"]
        return -jnp.sum(jnp.asarray(P_W, w.dtype) * w) - jnp.sum(jnp.asarray(P_H, h.dtype) * h)

    def stochastic_grad(self, z, noise):
        g = self.grad(z)
        # ravel_pytree order: "H" (12 entries) then "W" (6)
        return {"H": g["H"] + self.sigma * noise[:12].reshape(3, 4),
                "W": g["W"] + self.sigma * noise[12:].reshape(3, 2)}

    def grad_noise_cov(self, z):
        return self.sigma ** 2 * jnp.eye(18, dtype=z["W"].dtype)

    def grad_noise_factor(self, z, w):
        return {"H": self.sigma * w[:12].reshape(3, 4), "W": self.sigma * w[12:].reshape(3, 2)}

    def minimum(self):
        return {"H": P_H / np.linalg.norm(P_H, axis=0), "W": P_W / np.linalg.norm(P_W, axis=0)}


def game_start():
    return (jnp.array([0.2, -0.1]), jnp.array([0.1, 0.0, -0.3]))


def oblique_start():
    g = so.Oblique()
    return {"H": g.retract(jnp.asarray(P_H + 0.5 * np.arange(12).reshape(3, 4) % 3 - 0.7)),
            "W": g.retract(jnp.asarray(P_W[::-1].copy()))}

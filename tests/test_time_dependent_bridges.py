"""Time-dependent SDEs through the diffrax and torchsde bridges (issue 21 §4).

Three checks for each bridge, all path by path:

* the package's own time-dependent limit (:class:`~sde_opt.AnnealedMomentumSGD` with a step-size
  switch) solved by the peer's Euler equals :class:`~sde_opt.EulerMaruyama` driven by the same
  Brownian increments, to rounding, on both sides of the switch;
* the peer's own time-dependent test problem — diffrax's ``get_time_sde`` (``test/helpers.py``:
  MLP drift, diffusion Σⱼ fⱼ(t) Mⱼ with f = (sin t, cos 2t, 1), t ∈ [0.3, 15]) and torchsde's
  ``ExAdditive`` (``tests/problems.py``: f = b/√(1+t) − y/(2+2t), g = ab/√(1+t)) — written as an
  :class:`~sde_opt.sde.AbstractSDE` and solved through the bridge equals the peer solving its own
  definition with the same Brownian path, to rounding, and EM started at the same t0;
* ExAdditive has the exact solution y_t = (y₀ + b t + a b Σⱼ Wⱼ(t)) / √(1+t) (substitute
  u = √(1+t) y: du = b dt + a b Σ dWⱼ), and Euler on additive noise has strong order 1: the
  fitted order of the bridge's error against it is 1 within its CI (a solver given the t = 0
  equation, as before this fix, does not converge at all).
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import sde_opt as so
from sde_opt.engine import trajectory
from sde_opt.problems import Euclidean
from sde_opt.sde import AbstractSDE, GridBrownianPath, solve_diffrax
from sde_opt.sde.euler_maruyama import TimedState


def _squareplus(x):
    return 0.5 * (x + jnp.sqrt(x**2 + 4))


class DiffraxTimeSDE(AbstractSDE):
    """diffrax's ``get_time_sde`` test problem: dY = ½ mlp(Y) dt + Σⱼ fⱼ(t) Mⱼ dW, f = (sin t,
    cos 2t, 1) (additive, time-dependent noise)."""

    mlp: eqx.nn.MLP
    mx: jnp.ndarray
    geometry: Euclidean = eqx.field(static=True)
    time_dependent = True

    def __init__(self, mlp, mx):
        self.mlp, self.mx, self.geometry = mlp, mx, Euclidean()

    @property
    def noise_shape(self):
        return (self.mx.shape[-1],)

    def drift(self, x, t=0.0):
        return 0.5 * self.mlp(x)

    def diffusion_matrix(self, x, t=0.0):
        ft = jnp.array([jnp.sin(t), jnp.cos(2 * t), 1.0], x.dtype)
        return jnp.tensordot(ft, self.mx, axes=1)

    def diffusion(self, x, z, t=0.0):
        return self.diffusion_matrix(x, t=t) @ z


def diffrax_time_problem(noise_dim=2, dtype=jnp.float64):
    """As in diffrax's test helpers (key 5678): the MLP, the matrices and y0."""
    driftkey, diffusionkey, ykey = jr.split(jr.PRNGKey(5678), 3)
    mlp = eqx.nn.MLP(in_size=3, out_size=3, width_size=8, depth=1, activation=_squareplus,
                     key=driftkey)
    mlp = jax.tree_util.tree_map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, mlp)
    mx = jr.normal(diffusionkey, (3, 3, noise_dim), dtype=dtype)
    y0 = jr.normal(ykey, (3,), dtype=dtype)

    def terms(bm):  # diffrax's own definition of the problem
        drift = lambda t, y, args: 0.5 * mlp(y)
        diffusion = lambda t, y, args: jnp.tensordot(
            jnp.array([jnp.sin(t), jnp.cos(2 * t), 1.0], dtype), mx, axes=1)
        return diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))

    return DiffraxTimeSDE(mlp, mx), y0, terms


class ExAdditive(AbstractSDE):
    """torchsde's ``ExAdditive`` test problem: dY = (b/√(1+t) − Y/(2+2t)) dt + (ab/√(1+t)) Σⱼ dWⱼ."""

    a: jnp.ndarray
    b: jnp.ndarray
    m: int = eqx.field(static=True)
    geometry: Euclidean = eqx.field(static=True)
    time_dependent = True

    def __init__(self, a, b, m):
        self.a, self.b, self.m, self.geometry = a, b, m, Euclidean()

    @property
    def noise_shape(self):
        return (self.m,)

    @property
    def additive(self):
        return True

    def drift(self, x, t=0.0):
        return self.b / jnp.sqrt(1.0 + t) - x / (2.0 + 2.0 * t)

    def diffusion_matrix(self, x, t=0.0):
        col = self.a * self.b / jnp.sqrt(1.0 + t)
        return jnp.broadcast_to(col[:, None], (col.shape[0], self.m))

    def diffusion(self, x, z, t=0.0):
        return self.diffusion_matrix(x, t=t) @ z

    def exact(self, y0, t, w):
        """y_t from y_0 = y0 at t = 0, given W(t) (shape ``(m,)``)."""
        return (y0 + self.b * t + self.a * self.b * jnp.sum(w)) / jnp.sqrt(1.0 + t)


def _ex_additive(d=3, m=2):
    rng = np.random.default_rng(0)
    sig = lambda v: 1 / (1 + np.exp(-v))
    return ExAdditive(jnp.asarray(sig(rng.normal(size=d))), jnp.asarray(sig(rng.normal(size=d))), m)


def _em_paths(sde, x0, z, dt, t0=0.0):
    chain = so.EulerMaruyama(sde, dt, t0=t0)
    return np.asarray(trajectory(chain, x0, z))


def _diffrax_bridge_paths(sde, x0, z, dt, t0=0.0):
    n = z.shape[1]

    def one(x, zz):
        bm = GridBrownianPath.from_normals(zz, dt, t0=t0)
        sol = solve_diffrax(sde, x, t0 + n * dt, dt, brownian=bm, t0=t0,
                            saveat=diffrax.SaveAt(t0=True, steps=True))
        return jax.vmap(sde.position)(sol.ys[: n + 1])

    return np.asarray(jax.vmap(one)(x0, z))


def _annealed_limit():
    problem = so.QuadraticSaddle([-1.0, 0.5, 2.0], 0.3)
    return so.AnnealedMomentumSGD(problem, eta=[0.02, 0.002], mu=[0.5, 0.9], boundaries=[40]).limit()


def test_euler_maruyama_takes_a_start_time():
    sde = _annealed_limit()  # its stage switches at t = 40 · 0.02 = 0.8
    chain = so.EulerMaruyama(sde, 0.02, t0=0.8)
    state = chain.init(jnp.ones(3))
    assert isinstance(state, TimedState)
    z = jnp.zeros(3)
    late = chain.step(state, z).x
    stage1 = so.EulerMaruyama(
        so.AnnealedMomentumSGD(so.QuadraticSaddle([-1.0, 0.5, 2.0], 0.3), eta=[0.02, 0.002],
                               mu=[0.5, 0.9], boundaries=[40]).limit(stage=1), 0.02)
    np.testing.assert_allclose(late, stage1.step(jnp.ones(3), z), rtol=1e-6)
    with pytest.raises(TypeError, match="t0"):
        so.EulerMaruyama(sde, 0.02, t0="0")


def test_diffrax_solves_the_annealed_limit_like_euler_maruyama_across_the_switch():
    with jax.enable_x64(True):
        sde = _annealed_limit()
        k1, k2 = jr.split(jr.key(3))
        x0 = 0.3 * jr.normal(k1, (6, 3), jnp.float64)
        z = jr.normal(k2, (6, 100, 3), jnp.float64)
        ours = _em_paths(sde, x0, z, 0.02)
        theirs = _diffrax_bridge_paths(sde, x0, z, 0.02)
        at_t0 = _diffrax_bridge_paths(sde.__class__(sde.problem, sde.drift_scale(0.0),
                                                    sde.noise_scale(0.0)), x0, z, 0.02)
    scale = np.abs(ours).max()
    assert scale > 0.1
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-12 * scale)
    # power: the t = 0 equation (what the bridge integrated before) departs after the switch
    assert np.abs(at_t0[:, -1] - ours[:, -1]).max() > 1e3 * 1e-12 * scale


@pytest.mark.slow
def test_diffrax_time_sde_through_the_bridge_equals_diffrax_and_euler_maruyama():
    with jax.enable_x64(True):
        sde, y0, terms = diffrax_time_problem()
        t0, dt, n = 0.3, 0.05, 200
        z = jr.normal(jr.key(7), (4, n, 2), jnp.float64)
        x0 = jnp.broadcast_to(y0, (4, 3))
        ours = _em_paths(sde, x0, z, dt, t0=t0)
        bridge = _diffrax_bridge_paths(sde, x0, z, dt, t0=t0)

        def peer(zz):
            bm = GridBrownianPath.from_normals(zz, dt, t0=t0)
            sol = diffrax.diffeqsolve(terms(bm), diffrax.Euler(), t0, t0 + n * dt, dt, y0,
                                      saveat=diffrax.SaveAt(t0=True, steps=True), max_steps=n + 1)
            return sol.ys[: n + 1]

        theirs = np.asarray(jax.vmap(peer)(z))
    scale = np.abs(theirs).max()
    assert scale > 0.5
    np.testing.assert_allclose(bridge, theirs, rtol=0, atol=1e-11 * scale)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-11 * scale)


def _strong_errors(sde, y0, exact_at_t1, t1, n_fine, levels, n_paths, key):
    """E|X_h(t1) − X(t1)| of the bridge's diffrax Euler at h = t1 / (n_fine / 2^l)."""
    z = jr.normal(key, (n_paths, n_fine, *sde.noise_shape), jnp.float64)
    h_fine = t1 / n_fine
    exact = np.asarray(jax.vmap(exact_at_t1)(jnp.sum(z, axis=1) * jnp.sqrt(h_fine)))
    errs = []
    for level in levels:
        k = 2**level
        h = h_fine * k
        zc = jnp.sum(z.reshape(n_paths, n_fine // k, k, -1), axis=2) / jnp.sqrt(k)
        end = _diffrax_bridge_paths(sde, jnp.broadcast_to(y0, (n_paths, *y0.shape)), zc, h)[:, -1]
        errs.append(np.linalg.norm(end - exact, axis=-1))
    return np.array(errs)  # (levels, paths)


@pytest.mark.slow
def test_ex_additive_through_diffrax_converges_at_strong_order_one():
    with jax.enable_x64(True):
        sde = _ex_additive()
        y0 = jnp.array([0.1, 0.2, 0.3])
        t1 = 1.0
        levels = [0, 1, 2, 3]
        errs = _strong_errors(sde, y0, lambda w: sde.exact(y0, t1, w), t1, 256, levels, 200,
                              jr.key(11))
    h = t1 / 256 * 2.0 ** np.array(levels)
    mean = errs.mean(axis=1)
    # the order fitted on the mean errors, with its SE by the delta method over paths
    x = np.log(h) - np.log(h).mean()
    slope = float(np.sum(x * np.log(mean)) / np.sum(x * x))
    grad = (x / np.sum(x * x)) / mean  # ∂slope/∂meanᵢ
    cov = np.cov(errs) / errs.shape[1]
    se = float(np.sqrt(grad @ cov @ grad))
    # Euler's strong order for additive noise is 1; the pre-asymptotic curvature over these three
    # octaves is O(h) relative (the next term of the expansion), at most 0.05 in the slope here
    assert abs(slope - 1.0) <= 4 * se + 0.05, (slope, se)


@pytest.mark.torch
@pytest.mark.slow
def test_torchsde_solves_ex_additive_and_the_annealed_limit_like_its_own_problem_and_em():
    torch = pytest.importorskip("torch")
    torchsde = pytest.importorskip("torchsde")
    from sde_opt.sde import replay_brownian_from_normals, to_torchsde

    class TorchExAdditive(torch.nn.Module):  # torchsde's own definition (tests/problems.py)
        noise_type, sde_type = "additive", "ito"

        def __init__(self, a, b, m):
            super().__init__()
            self.a, self.b, self.m = torch.from_numpy(a), torch.from_numpy(b), m

        def f(self, t, y):
            return self.b / torch.sqrt(1.0 + t) - y / (2.0 + 2.0 * t)

        def g(self, t, y):
            fill = self.a * self.b / torch.sqrt(1.0 + t)
            return fill.unsqueeze(0).unsqueeze(-1).repeat(y.size(0), 1, self.m)

    n, dt = 100, 0.01
    with jax.enable_x64(True):
        for sde, x0 in ((_ex_additive(), jnp.array([0.1, 0.2, 0.3])), (_annealed_limit(), 0.3 * jnp.ones(3))):
            z = jr.normal(jr.key(5), (5, n, *sde.noise_shape), jnp.float64)
            x0s = jnp.broadcast_to(x0, (5, 3))
            ours = _em_paths(sde, x0s, z, dt)
            bm = replay_brownian_from_normals(np.asarray(z), dt)
            ts = torch.arange(n + 1, dtype=torch.float64) * dt
            y0 = torch.from_numpy(np.array(x0s))
            with torch.no_grad():
                bridge = torchsde.sdeint(to_torchsde(sde, (3,)), y0, ts, bm=bm, method="euler", dt=dt)
                bridge = bridge.numpy().swapaxes(0, 1)
                scale = np.abs(ours).max()
                np.testing.assert_allclose(bridge, ours, rtol=0, atol=1e-12 * scale)
                if isinstance(sde, ExAdditive):
                    own = TorchExAdditive(np.array(sde.a), np.array(sde.b), sde.m)
                    theirs = torchsde.sdeint(own, y0, ts, bm=bm, method="euler", dt=dt)
                    np.testing.assert_allclose(bridge, theirs.numpy().swapaxes(0, 1), rtol=0,
                                               atol=1e-12 * scale)

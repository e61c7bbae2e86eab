"""Sphere/Oblique/Product: log map, geodesic distance and vector transport against geoopt and
pymanopt; clear errors for bad points and axes; RiemannianMomentum's transport and its first step
against geoopt's default buffer; the diffrax bridge's O(h) drift off the sphere."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _pair(seed, shape=(4, 5), axis=-1):
    g = so.Sphere(axis)
    with jax.enable_x64(True):
        x = g.random_point(jax.random.key(seed), shape, jnp.float64)
        y = g.random_point(jax.random.key(seed + 1), shape, jnp.float64)
    return g, x, y


def test_log_inverts_exp_and_has_the_geodesic_length():
    with jax.enable_x64(True):
        g, x, y = _pair(0)
        v = g.log(x, y)
        np.testing.assert_allclose(np.asarray(g.exp(x, v)), np.asarray(y), atol=1e-13)
        np.testing.assert_allclose(np.sum(np.asarray(v * x), axis=-1), 0.0, atol=1e-13)  # tangent
        np.testing.assert_allclose(float(g.dist(x, y)), float(jnp.sqrt(jnp.sum(v * v))), rtol=1e-13)
        np.testing.assert_allclose(float(g.dist(x, y)), float(g.dist(y, x)), rtol=1e-13)
        assert float(g.dist(x, x)) == 0.0 and float(jnp.max(jnp.abs(g.log(x, x)))) == 0.0
        # nearly equal points: atan2 keeps the digits that arccos would lose
        t = 1e-9
        z = g.exp(x, g.project(x, t * jax.random.normal(jax.random.key(3), x.shape,
                                                        jnp.float64)))
        np.testing.assert_allclose(float(g.dist(x, z)),
                                   float(jnp.sqrt(jnp.sum(g.log(x, z) ** 2))), rtol=1e-12)


def test_sphere_log_dist_transport_match_geoopt():
    import geoopt
    import torch

    with jax.enable_x64(True):
        g, x, y = _pair(5, (6, 3))
        u = g.project(x, jax.random.normal(jax.random.key(9), x.shape, jnp.float64))
    s = geoopt.Sphere()
    tx, ty, tu = (torch.tensor(np.asarray(a)) for a in (x, y, u))
    np.testing.assert_allclose(np.asarray(g.log(x, y)), s.logmap(tx, ty).numpy(), atol=1e-12)
    per_sphere = s.dist(tx, ty).numpy()
    np.testing.assert_allclose(float(g.dist(x, y)), math.sqrt(np.sum(per_sphere**2)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.transport(x, y, u)), s.transp(tx, ty, tu).numpy(),
                               atol=1e-13)


def test_oblique_and_product_match_pymanopt():
    from pymanopt.manifolds import Oblique, Product

    # pymanopt's jax backend switches jax_enable_x64 on globally when it is imported: back off
    jax.config.update("jax_enable_x64", False)
    with jax.enable_x64(True):
        ob = so.Oblique(4, 3)
        prod = so.Product({"W": so.Oblique(4, 3), "H": so.Oblique(4, 6)})
        shape = {"W": (4, 3), "H": (4, 6)}
        x = prod.random_point(jax.random.key(0), shape, jnp.float64)
        y = prod.random_point(jax.random.key(1), shape, jnp.float64)
        u = prod.random_tangent(jax.random.key(2), x)
    pm = Oblique(4, 3)
    np.testing.assert_allclose(np.asarray(ob.log(x["W"], y["W"])),
                               pm.log(np.asarray(x["W"]), np.asarray(y["W"])), atol=1e-12)
    np.testing.assert_allclose(float(ob.dist(x["W"], y["W"])),
                               pm.dist(np.asarray(x["W"]), np.asarray(y["W"])), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(ob.transport(x["W"], y["W"], u["W"])),
                               pm.transport(np.asarray(x["W"]), np.asarray(y["W"]),
                                            np.asarray(u["W"])), atol=1e-13)
    pp = Product([Oblique(4, 3), Oblique(4, 6)])
    xs, ys = [np.asarray(x[k]) for k in ("W", "H")], [np.asarray(y[k]) for k in ("W", "H")]
    np.testing.assert_allclose(float(prod.dist(x, y)), pp.dist(xs, ys), rtol=1e-12)
    logs = pp.log(xs, ys)
    got = prod.log(x, y)
    for k, ref in zip(("W", "H"), logs, strict=True):
        np.testing.assert_allclose(np.asarray(got[k]), ref, atol=1e-12)


def test_euclidean_maps_are_the_flat_ones():
    e = so.Euclidean()
    x, y, v = jnp.arange(3.0), jnp.ones(3), jnp.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(e.log(x, y), y - x)
    assert float(e.dist(x, y)) == pytest.approx(float(jnp.linalg.norm(y - x)))
    np.testing.assert_allclose(e.transport(x, y, v), v)


def test_distance_to_the_collapse_configuration():
    """dist on the UFM's product: 0 at a global minimizer, positive at the collapsed saddle, and
    invariant under a common rotation (the metric is)."""
    with jax.enable_x64(True):
        p = so.NormalizedUFM(3, 3, 2, 2.0)
        m = {a: jnp.asarray(b) for a, b in p.global_minimizer().items()}
        s = {a: jnp.asarray(b) for a, b in p.saddle("collapsed").items()}
        assert float(p.geometry.dist(m, m)) == 0.0
        d = float(p.geometry.dist(m, s))
        q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
        rot = jax.tree_util.tree_map(lambda a: jnp.asarray(q) @ a, (m, s))
        assert d > 0.5
        assert float(p.geometry.dist(*rot)) == pytest.approx(d, rel=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: so.Sphere(axis=5).project(jnp.ones((2, 3)), jnp.ones((2, 3))), "axis=5 is out of range"),
    (lambda: so.Sphere(axis=5).check_point(np.ones((2, 3)) / math.sqrt(3)), "axis=5 is out of range"),
    (lambda: so.Sphere().retract(0), "a point must be an array with a sphere axis"),
    (lambda: so.Sphere().tangent_basis(0), "a point must be an array with a sphere axis"),
    (lambda: so.Sphere().retract(jnp.zeros(3)), "zero vector"),
    (lambda: so.Sphere().tangent_basis(np.zeros(3)), "zero vector"),
    (lambda: so.Sphere().dist(jnp.array([1.0, 0, 0]), jnp.zeros(3)), "y has a zero vector"),
    (lambda: so.Sphere().log(jnp.zeros(3), jnp.array([1.0, 0, 0])), "x has a zero vector"),
    (lambda: so.Oblique().dist(jnp.eye(3), jnp.zeros((3, 3))), "zero vector.* at 3 of 3"),
    (lambda: so.Sphere(axis="a"), "axis must be an integer"),
    (lambda: so.Sphere(axis=1.5), "axis must be an integer"),
])
def test_bad_sphere_input_is_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_the_axis_error_also_fires_under_jit():
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        jax.jit(so.Sphere(axis=2).retract)(jnp.ones((2, 3)))


@pytest.mark.slow
def test_momentum_buffer_is_transported_and_geoopt_starts_its_buffer_at_the_gradient():
    """Our buffer starts at 0 and is carried by geometry.transport (= P_y); geoopt's default
    buffer starts at the Euclidean gradient, so the first steps differ (documented), by exactly
    the extra μ∇f in the first update."""
    import geoopt
    import torch

    with jax.enable_x64(True):
        p = so.NormalizedUFM(3, 4, 2, 2.0, batch_size=6)
        x = p.random_point(jax.random.key(0), jnp.float64)
        idx = jnp.arange(6)
        alg = so.RiemannianMomentum(p, 0.3, 0.7)
        s = alg.step(alg.init(x), idx)
        for key in ("W", "H"):  # the stored buffer is tangent at the new point
            np.testing.assert_allclose(np.sum(np.asarray(s.m[key] * s.x[key]), axis=0), 0.0,
                                       atol=1e-13)
        sphere = geoopt.Sphere()
        params = {k: geoopt.ManifoldParameter(torch.tensor(np.asarray(v).T), manifold=sphere)
                  for k, v in x.items()}
        opt = geoopt.optim.RiemannianSGD(list(params.values()), lr=0.3, momentum=0.7)
        g = p.stochastic_grad(x, idx)
        for k, prm in params.items():
            prm.grad = torch.tensor(np.asarray(g[k]).T.copy())
        opt.step()
        gap = max(float(np.max(np.abs(prm.detach().numpy().T - np.asarray(s.x[k]))))
                  for k, prm in params.items())
        assert gap > 1e-3  # geoopt's first step uses μ∇f + grad f, ours grad f


@pytest.mark.slow
def test_diffrax_drifts_off_the_sphere_by_order_h_as_documented():
    """diffrax_bridge docstring: with the Itô-corrected drift, E‖X_1‖² − 1 ≈ h(d−1)²/4 for Brownian
    motion on S² (O(h), not O(1)): 0.0156 at h = 1/64, half that at h = 1/128."""
    from sde_opt.sde.diffrax_bridge import solve_diffrax

    sde = so.FieldSDE(so.SphereLinearPotential(np.zeros(3)), 1.0, 1.0)
    x0 = jnp.array([0.0, 0.0, 1.0])
    keys = jax.random.split(jax.random.key(0), 20_000)
    for h in (1 / 64, 1 / 128):
        ys = jax.jit(jax.vmap(lambda k, h=h: solve_diffrax(sde, x0, 1.0, h, k,
                                                            brownian="unsafe").ys[-1]))(keys)
        r2 = np.asarray(jnp.sum(ys**2, -1), np.float64)
        predicted = (1 + h * h) ** round(1 / h) - 1  # ∏(1 + h²(d−1)²/4) with d = 3
        assert abs(r2.mean() - 1 - predicted) < 4 * r2.std() / math.sqrt(r2.size), (h, r2.mean())

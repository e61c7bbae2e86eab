"""theory.neural_collapse: the kicked subspace law and the sphere schemes' one-step factors."""

import math

import numpy as np

from sde_opt.theory.kicked_escape import kicked_escape_cdf, sample_uniform_ball
from sde_opt.theory.neural_collapse import (
    kicked_subspace_escape_cdf,
    kicked_subspace_escape_mean,
    sphere_bm_factor,
)


def test_subspace_law_reduces_to_the_single_direction_law():
    k = np.arange(0, 400)
    a = kicked_subspace_escape_cdf(k, r=1e-3, radius=0.02, dim=18, sub_dim=1, growth=1.02)
    b = kicked_escape_cdf(k, r=1e-3, radius=0.02, dim=18, growth=1.02)
    np.testing.assert_allclose(a, b, atol=1e-14)


def test_subspace_law_against_direct_sampling_of_the_linear_iteration():
    rng = np.random.default_rng(0)
    dim, sub, r, radius, rho = 12, 3, 1e-3, 0.05, 1.03
    xi = sample_uniform_ball(rng, 200_000, dim, r)
    u0 = np.linalg.norm(xi[:, :sub], axis=1)
    steps = np.maximum(np.ceil(np.log(radius / u0) / math.log(rho)), 0)
    mean = kicked_subspace_escape_mean(r=r, radius=radius, dim=dim, sub_dim=sub, growth=rho)
    assert abs(steps.mean() - mean) < 4 * steps.std() / math.sqrt(steps.size)
    for q in (50, 100, 150):
        emp = np.mean(steps <= q)
        th = float(kicked_subspace_escape_cdf(q, r=r, radius=radius, dim=dim, sub_dim=sub,
                                              growth=rho))
        assert abs(emp - th) < 4 * math.sqrt(th * (1 - th) / steps.size) + 1e-4


def test_sphere_factors_have_weak_order_one():
    for d in (3, 5):
        for scheme in ("projected", "geodesic"):
            h = 1e-3
            m = sphere_bm_factor(d, h, scheme)
            assert abs(m - (1 - (d - 1) * h / 2)) < 2 * d * d * h * h
    # d = 3, geodesic: E cos(√h χ₂) = 1 − √(h/2)·D(√(h/2))·2 with Dawson D (closed form for χ₂)
    from scipy.special import dawsn

    h = 0.3
    want = 1.0 - 2.0 * math.sqrt(h / 2) * dawsn(math.sqrt(h / 2))
    assert abs(sphere_bm_factor(3, h, "geodesic") - want) < 1e-10

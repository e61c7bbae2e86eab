"""The kicked-linear escape law against a direct Monte-Carlo of the kick (numpy, independent)."""

import numpy as np
import pytest

from sde_opt.theory.kicked_escape import (
    kicked_escape_cdf,
    kicked_escape_mean,
    kicked_escape_quantile,
    sample_uniform_ball,
)


@pytest.mark.parametrize("dim", [1, 3, 10])
def test_law_matches_monte_carlo_of_the_kick(dim):
    rng = np.random.default_rng(dim)
    r, big_r, rho, n = 0.01, 0.5, 1.05, 200_000
    u = np.abs(sample_uniform_ball(rng, n, dim, r)[:, 0])
    k = np.ceil(np.log(big_r / u) / np.log(rho))
    for kk in np.quantile(k, [0.1, 0.5, 0.9]):
        p = kicked_escape_cdf(kk, r=r, radius=big_r, dim=dim, growth=rho)
        assert abs(np.mean(k <= kk) - p) < 5 * np.sqrt(p * (1 - p) / n)
    se = k.std() / np.sqrt(n)
    assert abs(k.mean() - kicked_escape_mean(r=r, radius=big_r, dim=dim, growth=rho)) < 5 * se
    assert abs(kicked_escape_quantile(0.5, r=r, radius=big_r, dim=dim, growth=rho) - np.median(k)) <= 1


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"kicked_escape_cdf: r must lie in \(0.0, inf\); got 0.0"):
        kicked_escape_cdf(3, r=0.0, radius=1.0, dim=2, growth=1.1)
    with pytest.raises(ValueError, match=r"kicked_escape_cdf: growth must lie in \(1.0, inf\); got 1.0"):
        kicked_escape_cdf(3, r=0.1, radius=1.0, dim=2, growth=1.0)

"""Power of bilevel-escape's row E (review of issue 19): the verdict "StocBiO + iNEON escapes the
strict saddle with fewer oracle calls than StocBiO" (σ = 1e-3) is decided by iNEON's
negative-curvature extraction, not by the jump alone or by the budget: an iNEON whose power step
runs on I + η∇²Φ (it extracts the most *positive* curvature and jumps along the stable
direction) is rejected with the same components, budget and rule as the study."""

import math

import equinox as eqx
import pytest

from sde_opt.studies import _bilevel_rates as rates
from sde_opt.studies import bilevel_escape as be


@pytest.mark.slow
def test_ineon_row_rejects_an_ineon_that_extracts_the_stable_direction():
    e = be.ESCAPE
    sigma = 1e-3
    budget = int(6 * max(be._escape_setup(s)[3] for s in (1e-3, be.DEVIATION_SIGMA)))
    p, alpha, noise, _ = be._escape_setup(sigma)
    plain, ineon = rates.ineon_pair(p, alpha=alpha, beta=e["beta"], D=e["D"], Q=e["Q"],
                                    radius=e["ineon_radius"], step=e["beta"],
                                    iterations=e["iterations"], escape_step=e["jump"],
                                    threshold=3 * noise, wait=e["wait"])
    wrong = eqx.tree_at(lambda a: a.step_size, ineon, -ineon.step_size)
    costs = {name: rates.escape_costs(alg, radius=e["radius"], budget=budget, n_paths=256,
                                      seed=seed)[:2]
             for name, alg, seed in (("stocbio", plain, 41), ("ineon", ineon, 42),
                                     ("wrong", wrong, 43))}
    verdicts = {}
    for name in ("ineon", "wrong"):
        log_ratio, se, _, _ = rates.mean_cost_ratio(*costs[name], *costs["stocbio"], budget)
        lo, hi = math.exp(log_ratio - be.Z * se), math.exp(log_ratio + be.Z * se)
        verdicts[name] = be._ineon_verdict(sigma, lo, hi)["verdict"]
    assert verdicts == {"ineon": "pass", "wrong": "fail"}, verdicts

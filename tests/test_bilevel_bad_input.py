"""Bad input of the bilevel family (issue 19): every parameter named in the error, with what was
expected and what was given."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.theory import bilevel as tb

NAN = float("nan")


@pytest.mark.parametrize("kw, err, match", [
    ({"gamma": (NAN, 1.0)}, ValueError, "gamma must be finite"),
    ({"gamma": "a"}, TypeError, "gamma"),
    ({"spread": NAN}, ValueError, "spread must lie in"),
    ({"b": (1.0, NAN)}, ValueError, "b must be finite"),
    ({"b": (1.0, 0.0)}, ValueError, "b must be nonzero"),
    ({"sigma_g": NAN}, ValueError, r"sigma_g must lie in \[0.0, inf\); got nan"),
    ({"sigma_f": -1.0}, ValueError, r"sigma_f must lie in \[0.0, inf\); got -1.0"),
    ({"d_y": 0}, ValueError, r"d_y must lie in \[2, inf\)"),
    ({"d_y": 5.0}, TypeError, "d_y must be an integer"),
    ({"omega": (1.0,)}, ValueError, r"omega must have shape \(2,\); got shape \(1,\)"),
    ({"omega": (1.0, -1.0)}, ValueError, "omega must be > 0"),
    ({"kappa": 0.5}, ValueError, "kappa"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_quadratic_bilevel(kw, err, match):
    with pytest.raises(err, match=match):
        so.QuadraticBilevel(**kw)


@pytest.mark.parametrize("kw, err, match", [
    ({"s": (NAN, 0.0)}, ValueError, "s must be finite"),
    ({"sigma_g": NAN}, ValueError, "sigma_g"),
    ({"sigma_f": -1.0}, ValueError, "sigma_f"),
    ({"d_y": 0}, ValueError, r"d_y must lie in \[1, inf\)"),
    ({"n_terms": 0}, ValueError, "n_terms"),
    ({"omega": (1.0, 1.0, 1.0)}, ValueError, r"omega must have shape \(2,\)"),
    ({"omega": (1.0, 0.0)}, ValueError, "omega must be > 0"),
    ({"newton_steps": 0}, ValueError, "newton_steps"),
    ({"newton_steps": -3}, ValueError, "newton_steps"),
    ({"mu": 0.0}, ValueError, "mu"),
])
def test_softplus_bilevel(kw, err, match):
    with pytest.raises(err, match=match):
        so.SoftplusBilevel(**kw)


@pytest.mark.parametrize("kw, err, match", [
    ({"n_train": 0}, ValueError, "n_train"),
    ({"n_train": 2.5}, TypeError, "n_train must be an integer; got 2.5"),
    ({"dim": 0}, ValueError, "dim"),
    ({"lam": -1.0}, ValueError, "lam"),
    ({"seed": -1}, ValueError, "seed"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"newton_steps": 0}, ValueError, "newton_steps"),
])
def test_hyper_cleaning(kw, err, match):
    with pytest.raises(err, match=match):
        so.HyperCleaning(**kw)


@pytest.mark.parametrize("kw, err, match", [
    ({"alpha": -1.0}, ValueError, "alpha"),
    ({"D": 2.5}, TypeError, "D must be an integer; got 2.5"),
    ({"Q": 0}, ValueError, "Q"),
])
def test_reduced_hypergradient(kw, err, match):
    args = dict(alpha=0.05, D=2, Q=2) | kw
    with pytest.raises(err, match=match):
        so.problems.ReducedHypergradient(so.QuadraticBilevel(d_y=4), **args)


def test_reduced_hypergradient_refuses_noisy_hessians_it_cannot_describe():
    class NoSamples(so.HyperCleaning):
        def hessian_samples(self, x, y):
            return super(so.HyperCleaning, self).hessian_samples(x, y)

    class Hidden(so.HyperCleaning):
        pass

    Hidden.hessian_samples = so.problems.AbstractBilevel.hessian_samples
    with pytest.raises(NotImplementedError, match="hessian_samples"):
        so.problems.ReducedHypergradient(Hidden(n_train=6, dim=2), 0.1, 2, 2)
    with pytest.raises(NotImplementedError, match="hessian_samples"):
        so.StocBiO(Hidden(n_train=6, dim=2), 0.1, 0.1).limit()


def test_algorithms():
    p = so.QuadraticBilevel(kappa=10.0, d_y=4)
    with pytest.raises(TypeError, match="warm_start must be True or False; got 'no'"):
        so.AID(p, 0.05, 0.1, warm_start="no")
    with pytest.raises(ValueError, match="alpha must be a scalar"):
        so.AID(p, [0.05, 0.05], 0.1)
    with pytest.raises(ValueError, match="beta must be a scalar"):
        so.StocBiO(p, 0.05, [0.1, 0.2])
    for bad in (2.5, math.inf, "a", None):
        with pytest.raises(TypeError, match="interval"):
            so.PerturbedAID(p, 0.05, 0.1, radius=0.1, threshold=0.1, interval=bad)
    with pytest.raises(ValueError, match="interval"):
        so.PerturbedAID(p, 0.05, 0.1, radius=0.1, threshold=0.1, interval=0)
    with pytest.raises(ValueError, match="decrease"):
        so.PerturbedAID(p, 0.05, 0.1, radius=0.1, threshold=0.1, decrease=0.0)
    common = dict(radius=0.1, step=0.1, escape_step=0.1, threshold=0.1)
    with pytest.raises(TypeError, match="iterations must be an integer; got 2.5"):
        so.StocBiOINEON(p, 0.05, 0.1, iterations=2.5, **common)
    with pytest.raises(TypeError, match="wait must be an integer; got 1.5"):
        so.StocBiOINEON(p, 0.05, 0.1, iterations=3, wait=1.5, **common)
    with pytest.raises(ValueError, match=r"y0 \(the inner start\) must have shape \(4,\); got \(3,\)"):
        so.AID(p, 0.05, 0.1).init(jnp.zeros(2), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"y0 .* must have shape \(4,\)"):
        so.StocBiO(p, 0.05, 0.1).init(jnp.zeros(2), jnp.zeros((4, 1)))
    # a wrongly shaped x0 (review of issue 19: a raw broadcasting error before)
    for alg in (so.AID(p, 0.05, 0.1), so.StocBiO(p, 0.05, 0.1),
                so.PerturbedAID(p, 0.05, 0.1, radius=0.1, threshold=0.1),
                so.StocBiOINEON(p, 0.05, 0.1, iterations=3, **common)):
        with pytest.raises(ValueError, match=r"x0 \(the upper-level start\) must have shape "
                                             r"\(2,\); got \(3,\)"):
            alg.init(jnp.zeros(3))


def test_hyper_cleaning_data_must_be_finite():
    a, lab = np.ones((4, 2)), np.array([1.0, -1.0, 1.0, -1.0])
    av, labv = np.ones((3, 2)), np.array([1.0, -1.0, 1.0])
    so.HyperCleaning(data=(a, lab, av, labv, np.zeros(4, bool)))
    bad = a.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"data's a \(the features\) must be finite; got 1 "):
        so.HyperCleaning(data=(bad, lab, av, labv, np.zeros(4, bool)))
    with pytest.raises(ValueError, match=r"data's a_val .* must be finite"):
        so.HyperCleaning(data=(a, lab, np.full((3, 2), np.inf), labv, np.zeros(4, bool)))


def test_theory():
    with pytest.raises(ValueError, match=r"gd_contraction: D must lie in \[1, inf\)"):
        tb.gd_contraction(0.1, 1.0, 10.0, D=-1)
    with pytest.raises(ValueError, match="cg_contraction_bound: kappa must lie in"):
        tb.cg_contraction_bound(0.5, 3)
    with pytest.raises(ValueError, match=r"cg_contraction_bound: N must lie in \[1, inf\)"):
        tb.cg_contraction_bound(10.0, N=-1)
    with pytest.raises(ValueError, match="perturbed_aid_escape_growth: beta"):
        tb.perturbed_aid_escape_growth(so.QuadraticBilevel(d_y=4), np.zeros(2), beta=-1.0)
    with pytest.raises(ValueError, match="dim"):
        so.algorithms.perturbed_aid_template(eps=0.1, L=1.0, rho=1.0, delta_phi=1.0, dim=0)
    with pytest.raises(ValueError, match="kappa"):
        so.algorithms.perturbed_aid_template(eps=0.1, L=1.0, rho=1.0, delta_phi=1.0, dim=2,
                                             kappa=0.5)

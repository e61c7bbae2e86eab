"""Bad input to the minimax problems and algorithms (issue 18's list), table-driven as in
tests/test_bad_input.py: each case raises the exception type with a message that names the
parameter, what was expected and the value given."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sde_opt as so
from sde_opt.problems.nonconvex_concave import ConcaveWellGame
from sde_opt.sde.two_timescale import GDmaxSDE

QG = so.QuadraticGame(np.eye(2), np.ones((2, 1)), np.eye(1), sigma_x=0.1, sigma_y=0.1)
DW = so.DoubleWellGame(2, mu=0.2, sigma_x=0.1, sigma_y=0.1)
BALL = so.DoubleWellGame(2, mu=0.2, y_radius=0.3, sigma_x=0.1, sigma_y=0.1)
RAMP = so.RampGame(1, eps=0.1, ell=1.0, mu=0.1)
CW = ConcaveWellGame(2, 1.0, 1.0, 0.2)
GOOD = (jnp.zeros(2), jnp.array([0.1, 0.0]))
OUTSIDE = (jnp.zeros(2), jnp.array([0.3, 0.3]))          # ‖y‖ = 0.42 > 0.3
PER_PATH = (jnp.zeros((4, 2)), jnp.array([[0.1, 0.0], [0.0, 0.1], [0.4, 0.0], [0.0, 0.0]]))

GAME_ALGORITHMS = {
    "GDA": lambda g, **kw: so.GDA(g, **kw),
    "OGDA": lambda g, **kw: so.OGDA(g, **kw),
    "Extragradient": lambda g, **kw: so.Extragradient(g, **kw),
    "GDmax": lambda g, **kw: so.GDmax(g, n_inner=2, **kw),
    "PerturbedGDmax": lambda g, **kw: so.PerturbedGDmax(g, n_inner=2, radius=0.01, eps=0.1, **kw),
}


def _sim(alg, z0):
    return lambda: so.simulate(alg, z0, 0, n_paths=4, n_steps=3)


CASES = [
    # --- QuadraticGame: matrices --------------------------------------------------------------
    ("QG NaN B", lambda: so.QuadraticGame(1.0, np.nan, 1.0), ValueError, ["B", "finite", "NaN"]),
    ("QG inf A", lambda: so.QuadraticGame(np.inf, 1.0, 1.0), ValueError, ["A", "finite", "NaN/inf"]),
    ("QG NaN C", lambda: so.QuadraticGame(1.0, 1.0, [[np.nan]]), ValueError, ["C", "finite"]),
    ("QG 3-D B", lambda: so.QuadraticGame(1.0, np.ones((2, 2, 2)), 1.0), ValueError,
     ["B", "(m, n) matrix", "(2, 2, 2)"]),
    ("QG empty B", lambda: so.QuadraticGame(1.0, np.ones((0, 2)), 1.0), ValueError, ["B", "(0, 2)"]),
    ("QG A shape", lambda: so.QuadraticGame(np.eye(3), np.ones((2, 1)), 1.0), ValueError,
     ["A", "shape (2, 2)", "(3, 3)"]),
    ("QG C shape", lambda: so.QuadraticGame(np.eye(2), np.ones((2, 1)), np.eye(2)), ValueError,
     ["C", "shape (1, 1)", "(2, 2)"]),
    ("QG B str", lambda: so.QuadraticGame(1.0, "B", 1.0), TypeError, ["B", "real", "'B'"]),
    ("QG A None", lambda: so.QuadraticGame(None, 1.0, 1.0), TypeError, ["A", "real", "None"]),
    ("QG A asymmetric", lambda: so.QuadraticGame([[1.0, 2.0], [0.0, 1.0]], np.ones((2, 1)), 1.0),
     ValueError, ["A", "symmetric", "A[0, 1] = 2"]),
    ("QG C not PSD", lambda: so.QuadraticGame(1.0, 1.0, -1.0), ValueError,
     ["C", "positive semi-definite", "-1"]),
    ("QG bilinear NaN", lambda: so.QuadraticGame.bilinear([[np.nan]]), ValueError, ["B", "finite"]),
    ("QG sigma_x negative", lambda: so.QuadraticGame(1.0, 1.0, 1.0, sigma_x=-1.0), ValueError,
     ["sigma_x", "[0.0, inf)", "-1.0"]),
    ("QG sigma_y str", lambda: so.QuadraticGame(1.0, 1.0, 1.0, sigma_y="0.1"), TypeError,
     ["sigma_y", "real number", "'0.1'"]),
    ("QG batch_size float", lambda: so.QuadraticGame(1.0, 1.0, 1.0, batch_size=2.5), TypeError,
     ["batch_size", "integer", "2.5"]),
    ("QG with_noise negative", lambda: QG.with_noise(sigma_x=-0.1), ValueError,
     ["sigma_x", "-0.1"]),
    # --- DoubleWellGame / RampGame: parameters --------------------------------------------------
    ("DW c str", lambda: so.DoubleWellGame(2, c="0.5"), TypeError, ["c", "real number", "'0.5'"]),
    ("DW mu None", lambda: so.DoubleWellGame(2, mu=None), TypeError, ["mu", "real number", "None"]),
    ("DW ell list", lambda: so.DoubleWellGame(2, ell=[1.0, 2.0]), ValueError,
     ["ell", "scalar", "(2,)"]),
    ("DW mu NaN", lambda: so.DoubleWellGame(2, mu=float("nan")), ValueError, ["mu", "(0.0, inf)", "nan"]),
    ("DW c 1", lambda: so.DoubleWellGame(2, c=1.0), ValueError, ["c", "[0.0, 1.0)", "1.0"]),
    ("DW d float", lambda: so.DoubleWellGame(2.0), TypeError, ["d", "integer", "2.0"]),
    ("DW d 0", lambda: so.DoubleWellGame(0), ValueError, ["d", "[1, inf)", "0"]),
    ("DW coupling", lambda: so.DoubleWellGame(2, coupling="quadratic"), ValueError,
     ["coupling", "'linear' or 'tanh'", "'quadratic'"]),
    ("DW coupling list", lambda: so.DoubleWellGame(2, coupling=["tanh"]), ValueError,
     ["coupling", "['tanh']"]),
    ("DW y_radius str", lambda: so.DoubleWellGame(2, y_radius="1"), TypeError,
     ["y_radius", "real number", "'1'"]),
    ("DW y_radius 0", lambda: so.DoubleWellGame(2, y_radius=0.0), ValueError,
     ["y_radius", "(0.0, inf)", "0.0"]),
    ("Ramp eps str", lambda: so.RampGame(1, eps="0.1"), TypeError, ["eps", "real number", "'0.1'"]),
    ("Ramp mu None", lambda: so.RampGame(1, mu=None), TypeError, ["mu", "None"]),
    ("Ramp c list", lambda: so.RampGame(1, c=[0.1]), ValueError, ["c", "scalar", "(1,)"]),
    ("Ramp eps 0", lambda: so.RampGame(1, eps=0.0), ValueError, ["eps", "(0.0, inf)", "0.0"]),
    ("Adv mu str", lambda: so.AdversarialLogistic(n=8, d=2, mu="1"), TypeError, ["mu", "'1'"]),
    ("Adv n float", lambda: so.AdversarialLogistic(n=8.0, d=2), TypeError, ["n", "integer", "8.0"]),
    # --- RampGame's helpers -----------------------------------------------------------------------
    ("gd_iterations eta 0", lambda: RAMP.gd_iterations(1.0, 0.0), ValueError,
     ["gd_iterations", "eta", "(0.0, 2.0)", "0.0"]),
    ("gd_iterations eta negative", lambda: RAMP.gd_iterations(1.0, -0.1), ValueError,
     ["eta", "-0.1"]),
    ("gd_iterations eta too big", lambda: RAMP.gd_iterations(1.0, 2.5), ValueError,
     ["eta", "(0.0, 2.0)", "2.5"]),
    ("gd_iterations r0 NaN", lambda: RAMP.gd_iterations(float("nan"), 0.5), ValueError,
     ["r0", "[0.0, inf)", "nan"]),
    ("gd_iterations r0 str", lambda: RAMP.gd_iterations("1", 0.5), TypeError, ["r0", "'1'"]),
    ("gd_iterations too long", lambda: RAMP.gd_iterations(1.0, 1e-10), ValueError,
     ["r0/(eta·eps)", "predicted_iterations"]),
    ("predicted_iterations eta_x 0", lambda: RAMP.predicted_iterations(1.0, 0.0), ValueError,
     ["predicted_iterations", "eta_x", "(0.0, inf)", "0.0"]),
    ("predicted_iterations delta -1", lambda: RAMP.predicted_iterations(-1.0, 0.1), ValueError,
     ["delta", "-1.0"]),
    ("start_radius delta 0", lambda: RAMP.start_radius(0.0), ValueError, ["delta", "0.0"]),
    ("tracking_factor eta_y 0", lambda: RAMP.tracking_factor(0.01, 0.0), ValueError,
     ["eta_y", "0.0"]),
    ("tracking_factor too fast", lambda: RAMP.tracking_factor(10.0, 0.1), ValueError,
     ["tracking_factor", "< 1"]),
    # --- PhiStationary -------------------------------------------------------------------------
    ("PhiStationary eps str", lambda: so.problems.PhiStationary(DW, "a"), TypeError,
     ["PhiStationary", "eps", "'a'"]),
    ("PhiStationary eps 0", lambda: so.problems.PhiStationary(DW, 0.0), ValueError, ["eps", "(0.0, inf)"]),
    ("PhiStationary eps vector", lambda: so.problems.PhiStationary(DW, [0.1, 0.2]), ValueError,
     ["eps", "scalar"]),
    ("PhiStationary no Phi", lambda: so.problems.PhiStationary(so.QuadraticSaddle([-1.0, 1.0]), 0.1),
     TypeError, ["phi_grad", "QuadraticSaddle"]),
    # --- algorithms ------------------------------------------------------------------------------
    ("GDA alternating 'no'", lambda: so.GDA(DW, 0.1, 0.1, alternating="no"), TypeError,
     ["alternating", "True or False", "'no'"]),
    ("GDA alternating 1", lambda: so.GDA(DW, 0.1, 0.1, alternating=1), TypeError,
     ["alternating", "1"]),
    ("GDmax n_inner float", lambda: so.GDmax(DW, 0.1, 0.1, n_inner=2.5), TypeError,
     ["n_inner", "integer", "2.5"]),
    ("GDmax n_inner 0", lambda: so.GDmax(DW, 0.1, 0.1, n_inner=0), ValueError,
     ["n_inner", "[1, inf)", "0"]),
    ("GDmaxSDE eta_y 0", lambda: GDmaxSDE(DW, 0.1, 0.0, 3), ValueError, ["eta_y", "0.0"]),
    ("GDmaxSDE n_inner str", lambda: GDmaxSDE(DW, 0.1, 0.1, "3"), TypeError, ["n_inner", "'3'"]),
    ("ConcaveWellGame Moreau x of the wrong dimension",
     lambda: CW.moreau_gradient_norm(np.ones(3), 0.25, radius=1.5), ValueError,
     ["moreau_gradient_norm", "x", "(2,) or (n, 2)", "(3,)"]),
    ("ConcaveWellGame Moreau radius negative",
     lambda: CW.moreau_gradient_norm(np.ones(2), 0.25, radius=-1.0), ValueError,
     ["radius", "(0.0, inf)", "-1.0"]),
    ("ConcaveWellGame Moreau lam str",
     lambda: CW.moreau_gradient_norm(np.ones(2), "0.25", radius=1.5), TypeError,
     ["lam", "'0.25'"]),
    # the SDE constructors check their own step sizes (not only through the algorithms)
    ("GDmaxSDE eta_x negative", lambda: GDmaxSDE(DW, -0.1, 0.1, 3), ValueError,
     ["GDmaxSDE", "eta_x", "(0.0, inf)", "-0.1"]),
    ("GDmaxSDE eta_x vector", lambda: GDmaxSDE(DW, [0.1, 0.1], 0.1, 3), ValueError,
     ["eta_x", "scalar", "(2,)"]),
    ("ReducedSDE eta_x NaN", lambda: so.ReducedSDE(DW, np.nan), ValueError,
     ["ReducedSDE", "eta_x", "nan"]),
    ("ReducedSDE eta_x str", lambda: so.ReducedSDE(DW, "0.1"), TypeError, ["eta_x", "'0.1'"]),
    ("TwoTimescaleSDE eta_x 0", lambda: so.TwoTimescaleSDE(DW, 0.0, 2.0), ValueError,
     ["TwoTimescaleSDE", "eta_x", "0.0"]),
    ("TwoTimescaleSDE ratio negative", lambda: so.TwoTimescaleSDE(DW, 0.1, -2.0), ValueError,
     ["TwoTimescaleSDE", "ratio", "-2.0"]),
    ("GDmax limit without Phi", lambda: so.GDmax(so.QuadraticGame.bilinear([[1.0]]), 0.1, 0.1).limit(),
     ValueError, ["C ≻ 0", "λ_min(C) = 0"]),
]
for _name, _make in GAME_ALGORITHMS.items():
    CASES += [
        (f"{_name} eta_x vector", lambda m=_make: m(DW, eta_x=[0.1, 0.2], eta_y=0.1), ValueError,
         ["eta_x", "scalar", "(2,)"]),
        (f"{_name} eta_y vector", lambda m=_make: m(DW, eta_x=0.1, eta_y=np.array([0.1])),
         ValueError, ["eta_y", "scalar", "(1,)"]),
        (f"{_name} eta_x str", lambda m=_make: m(DW, eta_x="0.1", eta_y=0.1), TypeError,
         ["eta_x", "'0.1'"]),
        # a start outside the bounded Y: refused by simulate before any work, one start or per path
        (f"{_name} start outside Y", lambda m=_make: _sim(m(BALL, eta_x=0.1, eta_y=0.1), OUTSIDE)(),
         ValueError, [_name, "x0[1]", "‖y‖ ≤ 0.3", "0.424264"]),
        (f"{_name} a per-path start outside Y",
         lambda m=_make: _sim(m(BALL, eta_x=0.1, eta_y=0.1), PER_PATH)(), ValueError,
         ["x0[1]", "0.4", "start 2 of 4"]),
    ]


@pytest.mark.parametrize("name,thunk,exc,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, thunk, exc, fragments):
    with pytest.raises(exc) as info:
        thunk()
    msg = str(info.value).lower()
    for frag in fragments:
        assert frag.lower() in msg, f"{name}: {frag!r} not in {str(info.value)!r}"


def test_good_input_is_accepted():
    """The neighbours of the bad cases run: a start inside Y, a bool flag, NumPy scalars."""
    for name, make in GAME_ALGORITHMS.items():
        alg = make(BALL, eta_x=np.float64(0.1), eta_y=np.float32(0.1))
        alg.check_start(GOOD)
        alg.check_start((PER_PATH[0][:3], PER_PATH[1][jnp.array([0, 1, 3])]), per_path=True)
        if name in ("GDA", "PerturbedGDmax"):   # one plain and one with its own base state
            assert so.simulate(alg, GOOD, 0, n_paths=2, n_steps=2).counts()["censored"] == 2
    assert so.GDA(DW, 0.1, 0.1, alternating=np.bool_(True)).alternating is True
    assert so.DoubleWellGame(np.int64(2), c=np.float32(0.5)).dims == (2, 2)
    assert RAMP.gd_iterations(RAMP.start_radius(1.0), 1.0) > 0
    assert RAMP.gd_iterations(0.0, 1.0) == 0


def test_moreau_gradient_of_a_diverged_point_is_nan_not_an_error():
    """The NC-C study evaluates ‖∇Φ_λ‖ on saved iterates, a diverged path's included."""
    g = CW.moreau_gradient_norm(np.array([[0.5, 0.1], [np.nan, 0.0]]), 0.25, radius=1.5)
    assert np.isfinite(g[0]) and np.isnan(g[1])

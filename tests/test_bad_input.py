"""Bad input, table-driven: every invalid input gets an error of the right type whose message names
the parameter, what was expected and the value given — nothing is silently coerced.

Each case is ``(id, thunk, exception type, fragments)``; the test calls ``thunk()`` and checks that
it raises the exception and that every fragment occurs in its message (case-insensitive). The CLI
cases run ``sde_opt.cli.main`` in-process and check the exit status 2 and a one-line message on
stderr (no traceback).
"""

from __future__ import annotations

import zipfile

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import sde_opt as so
from sde_opt.fit import as_trace, fit_kramers_moyal, fit_ou, fit_quadratic_variation, load_trace

SADDLE = so.QuadraticSaddle([-1.0, 1.0], 0.1)
MSGD = so.MomentumSGD(SADDLE, eta=0.1, mu=0.5)
PCA = so.StreamingPCA([3.0, 2.0, 1.0])
X0 = np.array([0.1, 0.0], np.float32)


def sim(**kw):
    """simulate with valid defaults, overridden by ``kw``."""
    args = dict(chain=MSGD, x0=X0, key=0, n_paths=4, n_steps=10)
    args.update(kw)
    return lambda: so.simulate(args.pop("chain"), args.pop("x0"), args.pop("key"), **args)


def _ols(x, y):
    return jnp.mean((x["w"] - y) ** 2)


CASES = [
    # --- simulate: integers must be integers -------------------------------------------------
    ("n_paths float", sim(n_paths=2.7), TypeError, ["n_paths", "integer", "2.7"]),
    ("n_paths str", sim(n_paths="100"), TypeError, ["n_paths", "integer", "'100'"]),
    ("n_paths bool", sim(n_paths=True), TypeError, ["n_paths", "integer", "True"]),
    ("n_paths None", sim(n_paths=None), TypeError, ["n_paths", "integer", "None"]),
    ("n_paths 0", sim(n_paths=0), ValueError, ["n_paths", "[1, inf)", "integer", "0"]),
    ("n_paths integral float", sim(n_paths=4.0), TypeError, ["n_paths", "integer", "4.0"]),
    ("n_steps inf", sim(n_steps=float("inf")), TypeError, ["n_steps", "integer", "inf"]),
    ("n_steps float", sim(n_steps=10.5), TypeError, ["n_steps", "integer", "10.5"]),
    ("n_steps negative", sim(n_steps=-1), ValueError, ["n_steps", "[0, inf)", "-1"]),
    ("n_steps str", sim(n_steps="10"), TypeError, ["n_steps", "integer", "'10'"]),
    ("stride 0", sim(stride=0), ValueError, ["stride", "[1, inf)", "0"]),
    ("stride float", sim(stride=2.0), TypeError, ["stride", "integer", "2.0"]),
    ("stride > n_steps", sim(stride=20), ValueError, ["stride", "<= n_steps", "stride=20",
                                                      "n_steps=10"]),
    ("chunk_size 0", sim(chunk_size=0), ValueError, ["chunk_size", "[1, inf)", "0"]),
    ("chunk_size float", sim(chunk_size=1.5), TypeError, ["chunk_size", "integer", "1.5"]),
    ("memory_limit negative", sim(memory_limit=-1.0), ValueError, ["memory_limit", "(0", "-1"]),
    ("progress int", sim(progress=5), TypeError, ["progress", "5"]),
    # --- simulate: keys ------------------------------------------------------------------------
    ("key str", sim(key="0"), TypeError, ["key", "integer seed", "'0'"]),
    ("key None", sim(key=None), TypeError, ["key", "integer seed", "None"]),
    ("key float", sim(key=1.5), TypeError, ["key", "integer seed", "1.5"]),
    ("key bool", sim(key=True), TypeError, ["key", "integer seed", "True"]),
    ("key batch", sim(key=jr.split(jr.key(0), 3)), ValueError, ["key", "one key", "(3,)"]),
    ("key raw batch", sim(key=jnp.zeros((3, 2), jnp.uint32)), ValueError, ["key", "(3, 2)"]),
    ("key float array", sim(key=np.zeros(2)), TypeError, ["key", "float64"]),
    # --- simulate: chain, events, observables ---------------------------------------------------
    ("chain str", sim(chain="sgd"), TypeError, ["chain", "AbstractChain", "str"]),
    ("event float", sim(events=[lambda x: jnp.sum(x)]), TypeError,
     ["events[0]", "boolean scalar", "float32"]),
    ("event not in list", sim(events=so.LeaveBall(np.zeros(2), 1.0)), TypeError,
     ["events", "list", "LeaveBall"]),
    ("event not callable", sim(events=[3]), TypeError, ["events[0]", "function", "3"]),
    ("LeaveBall center shape", sim(events=[so.LeaveBall(np.zeros(1), 1.0)]), TypeError,
     ["LeaveBall", "center", "(2,)", "(1,)"]),
    ("EnterBall center shape", sim(events=[so.EnterBall(np.zeros(3), 1.0)]), TypeError,
     ["EnterBall", "center", "(2,)", "(3,)"]),
    ("observables list", sim(observables=[lambda x: x]), TypeError, ["observables", "dict",
                                                                    "list"]),
    ("observable not callable", sim(observables={"a": 3}), TypeError,
     ["observables['a']", "function", "3"]),
    # --- simulate: x0 --------------------------------------------------------------------------
    ("x0 complex", sim(x0=np.array([0.1, 0j])), TypeError, ["x0", "real", "complex"]),
    ("x0 nan", sim(x0=np.array([np.nan, 0.0])), ValueError, ["x0", "finite", "1"]),
    ("x0 inf", sim(x0=np.array([np.inf, 0.0])), ValueError, ["x0", "finite"]),
    ("x0 shape", sim(x0=np.zeros(3)), ValueError, ["x0", "(2,)", "(3,)"]),
    ("x0 per-path count", sim(x0=np.zeros((5, 2))), ValueError, ["x0", "(4, 2)", "(5, 2)"]),
    ("x0 str", sim(x0="abc"), TypeError, ["x0", "real array", "'abc'"]),
    ("x0 bool", sim(x0=True), TypeError, ["x0", "real array", "True"]),
    ("StreamingPCA x0 zero", sim(chain=so.MomentumSGD(PCA, 0.01), x0=np.zeros(3)), ValueError,
     ["x0", "Sphere", "norm"]),
    ("StreamingPCA x0 off sphere", sim(chain=so.MomentumSGD(PCA, 0.01), x0=np.ones(3)),
     ValueError, ["x0", "Sphere"]),
    ("StreamingPCA x0 per-path zero",
     sim(chain=so.MomentumSGD(PCA, 0.01), x0=np.zeros((4, 3))), ValueError, ["x0", "geometry"]),
    # --- events ---------------------------------------------------------------------------------
    ("LeaveBall radius list", lambda: so.LeaveBall(np.zeros(2), [1.0]), ValueError,
     ["LeaveBall", "radius", "scalar", "[1.0]"]),
    ("LeaveBall radius 0", lambda: so.LeaveBall(np.zeros(2), 0.0), ValueError,
     ["LeaveBall", "radius", "(0", "0.0"]),
    ("LeaveBall radius nan", lambda: so.LeaveBall(np.zeros(2), np.nan), ValueError,
     ["radius", "nan"]),
    ("LeaveBall radius str", lambda: so.LeaveBall(np.zeros(2), "1"), TypeError,
     ["radius", "real number", "'1'"]),
    ("LeaveBall center nan", lambda: so.LeaveBall([np.nan, 0.0], 1.0), ValueError,
     ["center", "finite", "nan"]),
    ("EnterBall radius negative", lambda: so.EnterBall(np.zeros(2), -1.0), ValueError,
     ["EnterBall", "radius", "-1.0"]),
    ("EnterBall center str", lambda: so.EnterBall("a", 1.0), TypeError, ["center", "'a'"]),
    ("Threshold level nan", lambda: so.Threshold(jnp.sum, np.nan), ValueError,
     ["Threshold", "level", "finite", "nan"]),
    ("Threshold level inf", lambda: so.Threshold(jnp.sum, np.inf), ValueError,
     ["level", "finite", "inf"]),
    ("Threshold level str", lambda: so.Threshold(jnp.sum, "0.5"), TypeError,
     ["level", "real number", "'0.5'"]),
    ("Threshold level list", lambda: so.Threshold(jnp.sum, [0.1, 0.2]), ValueError,
     ["level", "scalar", "(2,)"]),
    ("Threshold fn", lambda: so.Threshold(3, 0.5), TypeError, ["Threshold", "fn", "3"]),
    ("Threshold above", lambda: so.Threshold(jnp.sum, 0.5, above="yes"), TypeError,
     ["above", "'yes'"]),
    # --- QuadraticSaddle / Quadratic ------------------------------------------------------------
    ("saddle no negative", lambda: so.QuadraticSaddle([1.0, 2.0]), ValueError,
     ["QuadraticSaddle", "negative", "[1.0, 2.0]"]),
    ("saddle eigenvalues 2-D", lambda: so.QuadraticSaddle([[1.0, -1.0]]), ValueError,
     ["eigenvalues", "1-D", "(1, 2)"]),
    ("saddle eigenvalues nan", lambda: so.QuadraticSaddle([-1.0, np.nan]), ValueError,
     ["eigenvalues", "finite", "nan"]),
    ("saddle eigenvalues str", lambda: so.QuadraticSaddle("ab"), TypeError,
     ["eigenvalues", "real", "'ab'"]),
    ("saddle noise_cov nan", lambda: so.QuadraticSaddle([-1.0, 1.0], np.full((2, 2), np.nan)),
     ValueError, ["noise_cov", "finite", "4 NaN"]),
    ("saddle noise_cov scalar nan", lambda: so.QuadraticSaddle([-1.0, 1.0], np.nan), ValueError,
     ["noise_cov", "finite", "nan"]),
    ("saddle noise_cov negative", lambda: so.QuadraticSaddle([-1.0, 1.0], -1.0), ValueError,
     ["noise_cov", ">= 0", "-1.0"]),
    ("saddle noise_cov shape", lambda: so.QuadraticSaddle([-1.0, 1.0], np.eye(3)), ValueError,
     ["noise_cov", "(2, 2)", "(3, 3)"]),
    ("saddle noise_cov not psd", lambda: so.QuadraticSaddle([-1.0, 1.0], -np.eye(2)), ValueError,
     ["noise_cov", "positive semi-definite", "-1"]),
    ("saddle noise_cov str", lambda: so.QuadraticSaddle([-1.0, 1.0], "a"), TypeError,
     ["noise_cov", "'a'"]),
    ("quadratic negative", lambda: so.Quadratic([1.0, -1.0]), ValueError,
     ["Quadratic", "> 0", "-1.0"]),
    ("quadratic empty", lambda: so.Quadratic([]), ValueError, ["eigenvalues", "(0,)"]),
    ("quadratic asymmetric", lambda: so.Quadratic([1.0, 1.0], [[1.0, 0.5], [0.0, 1.0]]),
     ValueError, ["noise_cov", "symmetric", "0.5"]),
    # --- StreamingPCA / DoubleWell / RobustRegression ------------------------------------------
    ("pca d=1", lambda: so.StreamingPCA([1.0]), ValueError, ["spectrum", "d >= 2", "(1,)"]),
    ("pca increasing", lambda: so.StreamingPCA([1.0, 2.0]), ValueError,
     ["spectrum", "decreasing", "[1.0, 2.0]"]),
    ("pca zero eigenvalue", lambda: so.StreamingPCA([1.0, 0.0]), ValueError,
     ["spectrum", "(0", "0.0"]),
    ("pca dof 3", lambda: so.StreamingPCA([2.0, 1.0], dof=3), ValueError, ["dof", "(4.0", "3"]),
    ("pca dof str", lambda: so.StreamingPCA([2.0, 1.0], dof="5"), TypeError, ["dof", "'5'"]),
    ("pca spectrum str", lambda: so.StreamingPCA("ab"), TypeError, ["spectrum", "'ab'"]),
    ("double well tilt", lambda: so.DoubleWell(tilt=1.0), ValueError, ["tilt", "1.0"]),
    ("double well tilt nan", lambda: so.DoubleWell(tilt=np.nan), ValueError, ["tilt", "nan"]),
    ("double well noise_std", lambda: so.DoubleWell(noise_std=-1.0), ValueError,
     ["noise_std", "[0.0", "-1.0"]),
    ("double well noise_std str", lambda: so.DoubleWell(noise_std="a"), TypeError,
     ["noise_std", "'a'"]),
    ("double well noise_std list", lambda: so.DoubleWell(noise_std=[0.1, 0.2]), ValueError,
     ["noise_std", "scalar", "(2,)"]),
    ("robust features 1-D", lambda: so.RobustRegression(np.zeros(5), np.zeros(5)), ValueError,
     ["features", "(n, d)", "(5,)"]),
    ("robust targets", lambda: so.RobustRegression(np.zeros((5, 2)), np.zeros(4)), ValueError,
     ["targets", "(5,)", "(4,)"]),
    ("robust scale", lambda: so.RobustRegression(np.zeros((5, 2)), np.zeros(5), scale=0.0),
     ValueError, ["scale", "(0", "0.0"]),
    ("robust ridge", lambda: so.RobustRegression(np.zeros((5, 2)), np.zeros(5), ridge=-1.0),
     ValueError, ["ridge", "-1.0"]),
    ("robust batch float",
     lambda: so.RobustRegression(np.zeros((5, 2)), np.zeros(5), batch_size=2.5), TypeError,
     ["batch_size", "integer", "2.5"]),
    ("robust batch 0", lambda: so.RobustRegression(np.zeros((5, 2)), np.zeros(5), batch_size=0),
     ValueError, ["batch_size", "[1, inf)", "0"]),
    ("robust features str", lambda: so.RobustRegression("ab", np.zeros(5)), TypeError,
     ["features", "'ab'"]),
    # --- algorithms -----------------------------------------------------------------------------
    ("msgd eta 0", lambda: so.MomentumSGD(SADDLE, 0.0), ValueError, ["MomentumSGD", "eta", "(0",
                                                                    "0.0"]),
    ("msgd eta str", lambda: so.MomentumSGD(SADDLE, "0.1"), TypeError,
     ["MomentumSGD", "eta", "real number", "'0.1'"]),
    ("msgd eta list", lambda: so.MomentumSGD(SADDLE, [0.1, 0.2]), ValueError,
     ["eta", "scalar", "[0.1, 0.2]"]),
    ("msgd eta bool", lambda: so.MomentumSGD(SADDLE, True), TypeError, ["eta", "True"]),
    ("msgd eta None", lambda: so.MomentumSGD(SADDLE, None), TypeError, ["eta", "None"]),
    ("msgd mu 1", lambda: so.MomentumSGD(SADDLE, 0.1, mu=1.0), ValueError,
     ["mu", "[0.0, 1.0)", "1.0"]),
    ("msgd mu nan", lambda: so.MomentumSGD(SADDLE, 0.1, mu=np.nan), ValueError, ["mu", "nan"]),
    ("msgd problem", lambda: so.MomentumSGD("x", 0.1), TypeError, ["MomentumSGD", "problem",
                                                                  "str"]),
    ("sgld beta 0", lambda: so.SGLD(SADDLE, 0.1, beta=0.0), ValueError, ["SGLD", "beta", "0.0"]),
    ("sgld eta negative", lambda: so.SGLD(SADDLE, -0.1, beta=1.0), ValueError, ["eta", "-0.1"]),
    ("sgld sphere", lambda: so.SGLD(PCA, 0.1, beta=1.0), ValueError, ["SGLD", "ℝᵈ"]),
    ("sghmc1 gamma 0", lambda: so.SGHMC1(SADDLE, 0.1, 0.0, 1.0), ValueError,
     ["SGHMC1", "gamma", "0.0"]),
    ("sghmc1 semi_implicit", lambda: so.SGHMC1(SADDLE, 0.1, 1.0, 1.0, semi_implicit="yes"),
     TypeError, ["semi_implicit", "'yes'"]),
    ("sghmc2 beta negative", lambda: so.SGHMC2(SADDLE, 0.1, 1.0, -1.0), ValueError,
     ["SGHMC2", "beta", "-1.0"]),
    ("sghmc2 eta str", lambda: so.SGHMC2(SADDLE, "a", 1.0, 1.0), TypeError,
     ["SGHMC2", "eta", "'a'"]),
    ("sghmc2 gamma list", lambda: so.SGHMC2(SADDLE, 0.1, [1.0, 2.0], 1.0), ValueError,
     ["gamma", "scalar"]),
    # --- SDEs -----------------------------------------------------------------------------------
    ("EM dt 0", lambda: so.EulerMaruyama(MSGD.limit(), 0.0), ValueError, ["EulerMaruyama", "dt",
                                                                         "0.0"]),
    ("EM dt list", lambda: so.EulerMaruyama(MSGD.limit(), [0.1]), ValueError,
     ["dt", "scalar", "[0.1]"]),
    ("EM dt str", lambda: so.EulerMaruyama(MSGD.limit(), "0.1"), TypeError, ["dt", "'0.1'"]),
    ("EM sde", lambda: so.EulerMaruyama("sde", 0.1), TypeError, ["EulerMaruyama", "sde", "str"]),
    ("LinearSDE A shape", lambda: so.LinearSDE(np.zeros((2, 3)), 1.0), ValueError,
     ["LinearSDE", "A", "(2, 3)"]),
    ("LinearSDE B shape", lambda: so.LinearSDE(np.eye(2), np.zeros(3)), ValueError,
     ["LinearSDE", "B", "(3,)"]),
    ("LinearSDE A nan", lambda: so.LinearSDE(np.full((2, 2), np.nan), 1.0), ValueError,
     ["LinearSDE", "finite", "A"]),
    ("LinearSDE b shape", lambda: so.LinearSDE(np.eye(2), 1.0, b=np.zeros(3)), ValueError,
     ["b", "(2,)", "(3,)"]),
    ("LinearSDE A str", lambda: so.LinearSDE("A", 1.0), TypeError, ["LinearSDE", "A", "'A'"]),
    # --- FiniteSum and geometries ---------------------------------------------------------------
    ("FiniteSum loss", lambda: so.FiniteSum(3, {"x": np.zeros(4)}, {"w": jnp.zeros(())},
                                            batch_size=2), TypeError, ["FiniteSum", "loss", "3"]),
    ("FiniteSum batch 0", lambda: so.FiniteSum(_ols, np.zeros(4), {"w": jnp.zeros(())},
                                               batch_size=0), ValueError, ["batch_size", "[1, inf)",
                                                                           "0"]),
    ("FiniteSum batch float", lambda: so.FiniteSum(_ols, np.zeros(4), {"w": jnp.zeros(())},
                                                   batch_size=2.5), TypeError,
     ["batch_size", "integer", "2.5"]),
    ("FiniteSum ragged data", lambda: so.FiniteSum(_ols, (np.zeros(4), np.zeros(5)),
                                                   {"w": jnp.zeros(())}, batch_size=2),
     ValueError, ["FiniteSum", "leading"]),
    ("Oblique d=1", lambda: so.geometry.Oblique(1, 2), ValueError, ["Oblique", "d", "1"]),
    ("Oblique d float", lambda: so.geometry.Oblique(2.5, 2), ValueError, ["Oblique", "d", "2.5"]),
    ("Product not geometries", lambda: so.geometry.Product(3), TypeError, ["Product", "parts"]),
    ("Sphere point", lambda: so.geometry.Sphere().check_point(np.zeros(3)), ValueError,
     ["x0", "norm"]),
]


def _trace_ok():
    rng = np.random.default_rng(0)
    x = np.zeros(500)
    for k in range(1, 500):
        x[k] = 0.9 * x[k - 1] + rng.normal()
    return x


X_TRACE = _trace_ok()

CASES += [
    # --- fit functions ----------------------------------------------------------------------------
    ("fit_ou level -1", lambda: fit_ou(X_TRACE, 1.0, level=-1.0), ValueError,
     ["fit_ou", "level", "(0.0, 1.0)", "-1.0"]),
    ("fit_ou bootstrap level 1.5", lambda: fit_ou(X_TRACE, 1.0, ci="bootstrap", level=1.5),
     ValueError, ["fit_ou", "level", "1.5"]),
    ("fit_ou level str", lambda: fit_ou(X_TRACE, 1.0, level="0.9"), TypeError,
     ["level", "'0.9'"]),
    ("qv level 0", lambda: fit_quadratic_variation(X_TRACE, 1.0, level=0.0), ValueError,
     ["fit_quadratic_variation", "level", "0.0"]),
    ("km level 1", lambda: fit_kramers_moyal(X_TRACE, 1.0, level=1.0), ValueError,
     ["fit_kramers_moyal", "level", "1.0"]),
    ("fit_ou constant", lambda: fit_ou(np.ones(500), 1.0), ValueError,
     ["fit_ou", "degenerate", "never move"]),
    ("qv constant coordinate", lambda: fit_quadratic_variation(
        np.stack([X_TRACE, np.zeros(500)], -1), 1.0), ValueError, ["degenerate", "[1]"]),
    ("fit_ou too short", lambda: fit_ou(X_TRACE[:8], 1.0), ValueError,
     ["fit_ou", "too short", "7 transitions", "15"]),
    ("fit_ou 2 samples", lambda: fit_ou(X_TRACE[:2], 1.0), ValueError,
     ["too short", "2 samples", "3"]),
    ("fit t length", lambda: fit_ou(X_TRACE, t=np.arange(400.0)), ValueError,
     ["t", "(500,)", "(400,)"]),
    ("fit dt array", lambda: as_trace(X_TRACE, dt=np.ones(3)), ValueError,
     ["dt", "one number", "(3,)"]),
    ("fit dt 0", lambda: fit_ou(X_TRACE, 0.0), ValueError, ["dt", "(0, inf)", "0.0"]),
    ("fit dt missing", lambda: fit_ou(X_TRACE), ValueError, ["dt", "required"]),
    ("fit x nan", lambda: fit_ou(np.r_[X_TRACE, np.nan], 1.0), ValueError, ["NaN", "step 500"]),
    ("fit x str", lambda: fit_ou(np.array(["a", "b", "c"]), 1.0), TypeError, ["x", "real", "<U1"]),
    ("fit x 4-D", lambda: fit_ou(np.zeros((2, 2, 2, 2)), 1.0), ValueError,
     ["(n_steps,)", "(2, 2, 2, 2)"]),
    ("fit ci", lambda: fit_ou(X_TRACE, 1.0, ci="exact"), ValueError, ["ci", "'exact'"]),
]


@pytest.mark.parametrize("name, thunk, exc, fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, thunk, exc, fragments):
    with pytest.raises(exc) as info:
        thunk()
    msg = str(info.value).lower()
    missing = [f for f in fragments if f.lower() not in msg]
    assert not missing, f"{name}: message lacks {missing}: {info.value}"


# --- files and the CLI ------------------------------------------------------------------------

def _files(tmp):
    """Bad trace files, written once per test into ``tmp``; name -> path."""
    np.savez(tmp / "tx.npz", x=X_TRACE, t=np.arange(400.0))
    np.savez(tmp / "const.npz", x=np.ones(500), dt=1.0)
    np.savez(tmp / "dtarray.npz", x=X_TRACE, dt=np.ones(500))
    np.savez(tmp / "good.npz", x=X_TRACE, dt=1.0)
    (tmp / "ragged.csv").write_text("t,x0\n0,1\n1,2,3\n2,3\n")
    (tmp / "text.csv").write_text("t,x0\n0,1\n1,abc\n2,3\n")
    np.save(tmp / "plain.npy", X_TRACE)
    (tmp / "plain.npy").rename(tmp / "notzip.npz")
    with zipfile.ZipFile(tmp / "nox.npz", "w") as z:
        z.writestr("y.npy", b"")
    (tmp / "short.csv").write_text("x0\n1\n2\n")
    (tmp / "afile").write_text("")
    (tmp / "trace.txt").write_text("1\n2\n")
    return {p.name: str(p) for p in tmp.iterdir()}


CLI_CASES = [
    ("level -1", ["fit", "good.npz", "--ci", "bootstrap", "--level", "-1"], ["--level", "(0, 1)",
                                                                           "-1.0"]),
    ("level 1.5", ["fit", "good.npz", "--level", "1.5"], ["--level", "1.5"]),
    ("t vs x length", ["fit", "tx.npz"], ["t", "(500,)", "(400,)"]),
    ("constant trace", ["fit", "const.npz"], ["degenerate", "never move"]),
    ("dt array", ["fit", "dtarray.npz"], ["dt", "one number", "(500,)", "'t'"]),
    ("ragged csv", ["fit", "ragged.csv", "--dt", "1"], ["ragged", "line 3", "3 fields", "2"]),
    ("non-numeric csv", ["fit", "text.csv"], ["non-numeric", "abc"]),
    ("non-zip npz", ["fit", "notzip.npz"], ["not a .npz archive", "notzip.npz"]),
    ("npz without x", ["fit", "nox.npz"], ["key 'x'", "y"]),
    ("too short", ["fit", "short.csv", "--dt", "1"], ["too short", "2 samples"]),
    ("no dt", ["fit", "good.npz", "--dt", "2"], ["dt=2", "dt=1"]),
    ("dt negative", ["fit", "good.npz", "--dt", "-1"], ["--dt", "> 0", "-1.0"]),
    ("bins 0", ["fit", "good.npz", "--model", "km", "--bins", "0"], ["--bins", ">= 1", "0"]),
    ("missing file", ["fit", "nothere.npz"], ["no such file", "nothere.npz"]),
    ("unsupported suffix", ["fit", "trace.txt"], ["unsupported", "'.txt'"]),
    ("out is a file", ["fit", "good.npz", "--out", "afile"], ["--out", "afile", "file"]),
    ("out under a file", ["fit", "good.npz", "--out", "afile/sub"], ["cannot write", "afile"]),
    ("study out is a file", ["study", "msgd-escape", "--quick", "--out", "afile"],
     ["--out", "afile", "is a file"]),
    ("study out under a file", ["study", "msgd-escape", "--out", "afile/x"], ["afile", "file"]),
    ("unknown study", ["study", "nope", "--out", "res"], ["unknown study", "'nope'",
                                                          "msgd-escape"]),
]


@pytest.mark.parametrize("name, argv, fragments", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_cli_input(name, argv, fragments, tmp_path, monkeypatch, capsys):
    from sde_opt.cli import main

    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = {p.name for p in tmp_path.iterdir()}
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, f"{name}: exit status {rc}; stderr: {err}"
    assert "\n" not in err and "Traceback" not in err, err
    missing = [f for f in fragments if f.lower() not in err.lower()]
    assert not missing, f"{name}: message lacks {missing}: {err}"
    # refused before any work: no output folder and no fit.json appear
    assert not list(tmp_path.rglob("fit.json"))
    assert {p.name for p in tmp_path.iterdir()} <= before | {"res"}


def test_accepted_inputs():
    """What must keep working: integer seeds of any integer type, raw key data, a 0-d integer
    array, a typed key, integer types for the counts, a scalar ball center, integer-valued x0
    (cast to float32). One compiled shape for all of them."""
    kw = dict(n_paths=2, n_steps=4, stride=2, events=[so.LeaveBall(0.0, 10.0)])
    finals = [so.simulate(MSGD, X0, key, **kw).final
              for key in (4, np.int64(4), np.uint32(4), jnp.asarray(4), jr.key(4))]
    for f in finals[1:]:
        np.testing.assert_array_equal(f, finals[0])
    so.simulate(MSGD, X0, jr.PRNGKey(2), **kw)
    r = so.simulate(MSGD, np.array([1, 0]), 0, n_paths=np.int64(2), n_steps=np.int32(4),
                    stride=np.int64(2), events=kw["events"])
    assert r.n_steps == 4 and r.save_steps.tolist() == []  # nothing saved without observables
    assert r.final.dtype == np.float32
    so.Threshold(jnp.sum, np.float32(0.5), above=np.bool_(False))
    so.MomentumSGD(SADDLE, jnp.asarray(0.1), mu=np.float64(0.5))
    assert so.LeaveBall(jnp.zeros(2), 1).radius.shape == ()


def test_cli_version_and_study_help(capsys):
    from sde_opt import __version__, studies
    from sde_opt.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["study", "--help"])
    out = capsys.readouterr().out
    for name, mod in studies.registry().items():
        assert name in out
        assert " ".join(mod.DESCRIPTION.split())[:40] in " ".join(out.split())


def test_cli_fit_good_trace_still_works(tmp_path, capsys):
    from sde_opt.cli import main

    np.savez(tmp_path / "good.npz", x=X_TRACE, dt=1.0)
    assert main(["fit", str(tmp_path / "good.npz"), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "fit.json").exists()
    assert load_trace(tmp_path / "good.npz").n_steps == 500

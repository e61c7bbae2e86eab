"""Every public parameter is checked: generated invalid values get a clear error, valid ones run.

The contract is the table in ``tests/param_specs.py`` (written independently of the checks in the
code). For each public callable and each parameter of its signature:

* an invalid value (drawn by hypothesis from the parameter's kind: wrong type, NaN/inf, out of
  range, wrong shape, empty, non-integer, bool, string) raises ``TypeError`` or ``ValueError``
  whose message names the owner and the parameter and says what was given (``got …``; a scalar
  is shown as given) — never a raw NumPy/JAX/equinox error, a hang or a silent coercion;
* a valid value (and the example call itself) raises nothing.

A test enumerates the public names (``sde_opt.__all__``, the documented submodules' ``__all__``
and the members of the modules documented in ``docs/api/*.md``) and fails when a public callable
or one of its parameters has no spec.

Profiles: the default one is derandomized (the same draws on every run, a handful per parameter);
``HYPOTHESIS_PROFILE=explore python -m pytest tests/test_param_checks.py`` draws many more.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import re
import signal
import types
from pathlib import Path

import numpy as np
import param_specs as ps
import pytest
from hypothesis import HealthCheck, Phase, given, settings

settings.register_profile("default", max_examples=6, deadline=None, derandomize=True,
                          database=None, phases=(Phase.explicit, Phase.generate),
                          suppress_health_check=list(HealthCheck))
settings.register_profile("explore", max_examples=200, deadline=None,
                          suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parents[1]
SUBMODULES = ("stats", "theory", "fit", "experiment", "geometry", "sde", "problems", "algorithms",
              "engine", "sweep")
CALL_TIMEOUT_S = 60  # a call that takes longer than this is a hang


# --------------------------------------------------------------------------------------------
# the public surface
# --------------------------------------------------------------------------------------------


def _defined_here(module):
    return [n for n, o in vars(module).items() if not n.startswith("_")
            and getattr(o, "__module__", None) == module.__name__
            and (inspect.isclass(o) or inspect.isfunction(o))]


def _qualified(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def public_callables() -> dict[str, object]:
    """Qualified name -> object, for every public callable (classes and functions)."""
    found = {}

    def add(obj):
        if isinstance(obj, types.ModuleType) or not callable(obj):
            return
        if not hasattr(obj, "__qualname__"):
            return
        found[_qualified(obj)] = obj

    def add_module(module):
        names = getattr(module, "__all__", None)
        for n in _defined_here(module) if names is None else names:
            obj = getattr(module, n)
            if isinstance(obj, types.ModuleType):
                add_module(obj)
            else:
                add(obj)

    import sde_opt
    add_module(sde_opt)
    for sub in SUBMODULES:
        add_module(importlib.import_module(f"sde_opt.{sub}"))
    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        for block in re.split(r"\n(?=::: )", page.read_text()):
            m = re.match(r"::: (\S+)", block)
            if not m:
                continue
            path = m.group(1)
            members = re.findall(r"^\s+- (\w+)\s*$", block, re.M)
            try:
                module = importlib.import_module(path)
            except ImportError:
                parent, _, name = path.rpartition(".")
                add(getattr(importlib.import_module(parent), name))
                continue
            for n in members or _defined_here(module):
                add(getattr(module, n))
    return found


def resolve(name: str):
    module, _, qual = name.rpartition(".")
    while True:
        try:
            obj = importlib.import_module(module)
            break
        except ImportError:
            module, _, head = module.rpartition(".")
            qual = f"{head}.{qual}"
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def signature_params(obj) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]


PUBLIC = public_callables()


def test_every_public_callable_and_parameter_has_a_spec():
    missing = [n for n in PUBLIC if n not in ps.SPECS and n not in ps.RECORDS]
    assert not missing, f"public callables without a spec in tests/param_specs.py: {missing}"
    gaps = []
    not_public = [n for n in ps.SPECS if n not in PUBLIC]
    assert not not_public, f"specs of names that are not public: {not_public}"
    for name, spec in ps.SPECS.items():
        if name not in PUBLIC:
            continue
        params = {p.name for p in signature_params(PUBLIC[name])}
        gaps += [f"{name}({p})" for p in sorted(params - set(spec.params))]
        gaps += [f"{name}({p}): not a parameter" for p in sorted(set(spec.params) - params)]
    assert not gaps, f"parameters without a spec (or specs of no parameter): {gaps}"


def test_every_record_is_public():
    stale = [n for n in ps.RECORDS if n not in PUBLIC]
    assert not stale, f"RECORDS names that are not public: {stale}"
    overlap = set(ps.RECORDS) & set(ps.SPECS)
    assert not overlap, f"names both in RECORDS and SPECS: {sorted(overlap)}"


# --------------------------------------------------------------------------------------------
# generated inputs
# --------------------------------------------------------------------------------------------


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang(f"no answer within {CALL_TIMEOUT_S} s")


# SDE_OPT_PARAM_COUNT=path: write the number of calls made per test kind to ``path`` (JSON) at
# exit — how many invalid and valid inputs one run generates.
CALLS = {"invalid": 0, "valid": 0, "example": 0}
if os.environ.get("SDE_OPT_PARAM_COUNT"):
    import atexit
    import json

    atexit.register(lambda: Path(os.environ["SDE_OPT_PARAM_COUNT"]).write_text(json.dumps(CALLS)))


def _call(spec: ps.Spec, override: dict, what: str = "example"):
    CALLS[what] += 1
    fn = spec.call or resolve(spec.name)
    kwargs = dict(spec.example())
    kwargs.update(override)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CALL_TIMEOUT_S)
    try:
        return fn(**kwargs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _owners(spec: ps.Spec) -> tuple:
    return spec.owners or (spec.name.rpartition(".")[2],)


def _shown(value) -> list[str] | None:
    """Texts of which one must appear in the message for a scalar value (None: not checked)."""
    if value is None or isinstance(value, (bool, np.bool_, str)):
        return [repr(value)]
    if isinstance(value, (int, np.integer)):
        return [str(int(value))]
    if isinstance(value, float):
        if math.isnan(value):
            return ["nan"]
        return [repr(value), str(value), f"{value:g}", f"{value:.6g}", f"{value:.3g}"]
    return None


def assert_clear(err: BaseException, spec: ps.Spec, param: str, value, kind) -> None:
    msg = str(err)
    where = f"{spec.name}({param}={value!r:.80}) raised {type(err).__name__}: {msg[:400]}"
    assert type(err) in (TypeError, ValueError), where
    assert any(o in msg for o in _owners(spec)), f"owner not named: {where}"
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(param)}(?![A-Za-z0-9_])", msg), \
        f"parameter not named: {where}"
    assert "got" in msg, f"the value given is not shown ('got …'): {where}"
    shown = None if isinstance(kind, (ps.Instance, ps.Func, ps.Array, ps.Path, ps.Shape)) else _shown(value)
    if shown is not None:
        assert any(s in msg for s in shown), f"the value {value!r} is not shown: {where}"


CHECKED = list(ps.SPECS)
assert ps.HEAVY <= set(CHECKED), sorted(ps.HEAVY - set(CHECKED))
_SLOW = (pytest.mark.slow,)
EXAMPLES = [pytest.param(n, id=n, marks=_SLOW if n in ps.HEAVY else ()) for n in CHECKED]
INVALID = [pytest.param(n, p, id=f"{n}:{p}") for n in CHECKED for p in ps.SPECS[n].params
           if not isinstance(ps.SPECS[n].params[p], ps.Free)]
CASES = [pytest.param(n, p, id=f"{n}:{p}", marks=_SLOW if n in ps.HEAVY else ())
         for n in CHECKED for p in ps.SPECS[n].params]


def check_invalid(name: str, param: str) -> None:
    """Generated invalid values of ``param`` get a clear error (see :func:`assert_clear`)."""
    spec = ps.SPECS[name]
    kind = spec.params[param]
    if isinstance(kind, ps.Free):
        return
    example = spec.example().get(param, _default(name, param))

    @given(kind.invalid(example))
    def check(case):
        label, value = case
        try:
            _call(spec, {param: value}, "invalid")
        except (TypeError, ValueError) as err:
            assert_clear(err, spec, param, value, kind)
        except _Hang as err:
            pytest.fail(f"{name}({param}={value!r:.80}) [{label}]: hang: {err}")
        except Exception as err:  # noqa: BLE001 - the defect reported
            pytest.fail(f"{name}({param}={value!r:.80}) [{label}]: {type(err).__name__}: "
                        f"{str(err)[:400]}")
        else:
            pytest.fail(f"{name}({param}={value!r:.80}) [{label}] was accepted")

    check()


def check_valid(name: str, param: str) -> None:
    """Generated valid values of ``param`` (the other arguments as in the example) raise nothing."""
    spec = ps.SPECS[name]
    kind = spec.params[param]
    if isinstance(kind, ps.Free):
        return
    example = spec.example().get(param, _default(name, param))
    n = spec.valid_examples if spec.valid_examples is not None else settings().max_examples
    if n == 0:
        return

    @settings(max_examples=n)
    @given(kind.valid_strategy(example))
    def check(value):
        _call(spec, {param: value}, "valid")

    check()


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_call_runs(name):
    _call(ps.SPECS[name], {})


@pytest.mark.parametrize("name,param", INVALID)
def test_invalid_value_gets_a_clear_error(name, param):
    check_invalid(name, param)


@pytest.mark.parametrize("name,param", CASES)
def test_valid_value_is_accepted(name, param):
    check_valid(name, param)


def _default(name, param):
    try:
        p = {q.name: q for q in signature_params(resolve(name))}.get(param)
    except (ImportError, AttributeError):
        return None
    return None if p is None or p.default is inspect.Parameter.empty else p.default


# --------------------------------------------------------------------------------------------
# the examples issue 21 lists, each answered by a clear error
# --------------------------------------------------------------------------------------------


def _streamed(**kw):
    import sde_opt as so
    args = dict(n_paths=4, n_steps=10)
    args.update(kw)
    return lambda: so.simulate_streamed(ps.msgd(), ps.X2, 0, **args)


def _npz_with_object_array(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object), dt=0.1)
    return path


def _csv_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("t,x0\n")
    return path


def _issue_examples():
    import sde_opt as so
    from sde_opt.fit import fit_ou, load_trace
    from sde_opt.theory import bilevel, modified_equations, saddle_exit_mean

    j = np.array([[1.0, 0.5], [-0.5, 1.0]])
    rows = [
        ("simulate_streamed n_paths=2.7", _streamed(n_paths=2.7), TypeError,
         ["simulate_streamed", "n_paths", "integer", "2.7"]),
        ("simulate_streamed n_steps=2.5", _streamed(n_steps=2.5), TypeError,
         ["simulate_streamed", "n_steps", "integer", "2.5"]),
        ("simulate_streamed n_paths=0 names n_paths", _streamed(n_paths=0), ValueError,
         ["simulate_streamed", "n_paths", "got 0"]),
        ("TwoTimescaleSDE eta_x=-1", lambda: so.TwoTimescaleSDE(ps.game(), -1.0, 2.0),
         ValueError, ["TwoTimescaleSDE", "eta_x", "-1.0"]),
        ("TwoTimescaleSDE ratio=nan", lambda: so.TwoTimescaleSDE(ps.game(), 0.01, math.nan),
         ValueError, ["TwoTimescaleSDE", "ratio", "nan"]),
        ("TwoTimescaleSDE of a minimization", lambda: so.TwoTimescaleSDE(ps.saddle(), 0.01, 2.0),
         TypeError, ["TwoTimescaleSDE", "problem", "QuadraticSaddle"]),
        ("ReducedSDE eta_x=0", lambda: so.ReducedSDE(ps.game(), 0.0), ValueError,
         ["ReducedSDE", "eta_x", "0.0"]),
        ("FieldSDE drift_scale=-1", lambda: so.FieldSDE(ps.saddle(), -1.0, 0.1), ValueError,
         ["FieldSDE", "drift_scale", "-1.0"]),
        ("FieldSDE noise_scale=nan", lambda: so.FieldSDE(ps.saddle(), 1.0, math.nan), ValueError,
         ["FieldSDE", "noise_scale", "nan"]),
        ("FieldSDE('x')", lambda: so.FieldSDE("x"), TypeError, ["FieldSDE", "problem", "'x'"]),
        ("saddle_exit_mean k=2.5", lambda: saddle_exit_mean(1.0, 0.1, 1.0, k=2.5), TypeError,
         ["saddle_exit_mean", "k", "integer", "2.5"]),
        ("saddle_exit_mean lam='1'", lambda: saddle_exit_mean("1", 0.1, 1.0), TypeError,
         ["saddle_exit_mean", "lam", "'1'"]),
        ("iteration_matrix n_inner=0",
         lambda: modified_equations.iteration_matrix("gdmax", j, 0.01, 0.1, 1, n_inner=0),
         ValueError, ["iteration_matrix", "n_inner", "got 0"]),
        ("iteration_matrix n_inner=-1",
         lambda: modified_equations.iteration_matrix("gdmax", j, 0.01, 0.1, 1, n_inner=-1),
         ValueError, ["iteration_matrix", "n_inner", "got -1"]),
        ("iteration_matrix n_inner=2.5",
         lambda: modified_equations.iteration_matrix("gdmax", j, 0.01, 0.1, 1, n_inner=2.5),
         TypeError, ["iteration_matrix", "n_inner", "2.5"]),
        ("FiniteSum without examples",
         lambda: so.FiniteSum(ps._sq_loss, np.zeros((0, 3)), np.zeros(2), batch_size=1),
         ValueError, ["FiniteSum", "data", "at least one example"]),
        ("FiniteSum NaN data",
         lambda: so.FiniteSum(ps._sq_loss, np.full((4, 3), np.nan), np.zeros(2), batch_size=1),
         ValueError, ["FiniteSum", "data", "finite"]),
        ("FiniteSum geometry='sphere'",
         lambda: so.FiniteSum(ps._sq_loss, np.ones((4, 3)), np.zeros(2), batch_size=1,
                              geometry="sphere"),
         TypeError, ["FiniteSum", "geometry", "'sphere'"]),
        ("fit_ou bootstrap n_boot=0",
         lambda: fit_ou(ps.ou_trace(), 0.05, ci="bootstrap", n_boot=0), ValueError,
         ["fit_ou", "n_boot", "got 0"]),
        ("gd_contraction D=-1", lambda: bilevel.gd_contraction(0.1, 1.0, 4.0, -1), ValueError,
         ["gd_contraction", "D", "-1"]),
        ("cg_contraction_bound kappa=0.5", lambda: bilevel.cg_contraction_bound(0.5, 5),
         ValueError, ["cg_contraction_bound", "kappa", "0.5"]),
        ("diffusion_exit_mean_1d n=1",
         lambda: bilevel.diffusion_exit_mean_1d(lambda x: x**2, 0.3, 0.5, n=1), ValueError,
         ["diffusion_exit_mean_1d", "n", "got 1"]),
    ]
    file_rows = [
        ("npz with a pickled object array", _npz_with_object_array, ValueError,
         ["load_trace", "pickled.npz", "'x'", "object"]),
        ("csv with only a header", _csv_header_only, ValueError,
         ["load_trace", "header.csv", "only the header"]),
    ]
    return rows, file_rows, load_trace




def _example_ids():
    import inspect as _inspect  # noqa: F401 - keeps collection cheap
    rows, file_rows, _ = _issue_examples()
    return [r[0] for r in rows] + [r[0] for r in file_rows]


@pytest.mark.parametrize("case", _example_ids())
def test_issue_21_examples_get_a_clear_error(case, tmp_path):
    rows, file_rows, load_trace = _issue_examples()
    table = {r[0]: r for r in rows}
    if case in table:
        _, thunk, exc, fragments = table[case]
    else:
        _, make_file, exc, fragments = {r[0]: r for r in file_rows}[case]
        path = make_file(tmp_path)
        thunk = lambda: load_trace(path)  # noqa: E731
    with pytest.raises(exc) as info:
        thunk()
    msg = str(info.value)
    missing = [f for f in fragments if f not in msg]
    assert not missing, f"{case}: message lacks {missing}: {msg}"

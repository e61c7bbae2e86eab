"""The contract every public parameter meets, written independently of the code it checks.

``SPECS`` maps each public callable (qualified name: module of definition + ``__qualname__``) to a
valid example call and, for each parameter of its signature, a *kind*:

* :class:`Real` — a real number (or, with ``scalar=False``, an array of them) in a range;
* :class:`Integer` — an integer in a range (never a float, a string or a bool);
* :class:`Bool` — ``True``/``False`` only (``'no'`` must not become ``True``);
* :class:`Choice` — one of a few strings;
* :class:`Array` — a real array with a number of axes / a shape, finite, non-empty, in a range;
* :class:`Instance` — an object of a kind (problem, game, chain, SDE, geometry, …);
* :class:`Func` — a callable; :class:`Shape` — a tuple of integers;
* :class:`Key` — a ``jax.random`` key or integer seed (``"jax"``), or a NumPy seed (``"seed"``);
* :class:`Text` — a string (a label); :class:`Path` — a file-system path;
* :class:`Free` — accepts anything, with the reason.

Each kind builds hypothesis strategies of *invalid* values (wrong type, NaN/inf, out of range,
wrong shape, empty, non-integer where an integer is needed, bool where a number is needed,
strings) and of *valid* values; ``tests/test_param_checks.py`` runs them. ``RECORDS`` lists the
public classes that are results or states built by the package (their fields are not user input)
and the abstract bases (not constructible).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

# --------------------------------------------------------------------------------------------
# kinds
# --------------------------------------------------------------------------------------------

_WRONG_TYPES = ("1.0", b"x", 1j, [1.0, "a"], {"a": 1.0})


def _cases(*pairs):
    """A strategy of ``(label, value)`` pairs, one drawn from each labelled strategy."""
    return st.one_of(*[s.map(lambda v, lab=lab: (lab, v)) for lab, s in pairs])


@dataclasses.dataclass(frozen=True)
class Kind:
    optional: bool = dataclasses.field(default=False, kw_only=True)
    valid_from: tuple | None = dataclasses.field(default=None, kw_only=True)

    def valid_strategy(self, example):
        """Valid draws: ``valid_from`` when given (values valid together with the example call's
        other arguments), else the kind's own."""
        if self.valid_from is not None:
            return st.sampled_from(self.valid_from)
        return self.valid(example)

    def invalid(self, example):  # pragma: no cover - overridden
        raise NotImplementedError

    def valid(self, example):
        return st.just(example)

    def _none(self):
        return [] if self.optional else [("None", st.just(None))]


def _finite(x):
    return x is not None and math.isfinite(x)


@dataclasses.dataclass(frozen=True)
class Real(Kind):
    """A real number in [low, high] (open ends with ``low_closed``/``high_closed`` False).

    ``scalar=False``: an array of such numbers is accepted too. ``sample``: the range valid values
    are drawn from (default: a moderate part of the allowed range). ``inf_ok``: +inf is valid
    (e.g. an inverse temperature). ``callable_ok``: a schedule t -> value is valid too.
    ``nonfinite_ok``: NaN and ±inf are valid (a summary value, a failed measurement; JSON's
    "nan"/"inf" strings are then valid too where a summary is read)."""

    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True
    scalar: bool = True
    sample: tuple | None = None
    inf_ok: bool = False
    callable_ok: bool = False
    nonfinite_ok: bool = False

    def _sample_range(self):
        if self.sample is not None:
            return self.sample
        lo = self.low if _finite(self.low) else min(-10.0, self.high - 10.0)
        hi = self.high if _finite(self.high) else max(lo + 10.0, 10.0)
        width = hi - lo
        return (lo + 1e-3 * width if not self.low_closed else lo,
                hi - 1e-3 * width if not self.high_closed else hi)

    def invalid(self, example):
        cases = [("wrong type", st.sampled_from(_WRONG_TYPES)),
                 ("bool", st.booleans()),
                 ("string number", st.sampled_from(
                     ["1", "0.5"] + ([] if self.nonfinite_ok else ["nan"]))),
                 *([] if self.nonfinite_ok else [
                     ("nan", st.just(math.nan)),
                     ("inf", st.sampled_from([-math.inf] + ([] if self.inf_ok else [math.inf])))]),
                 *self._none()]
        if _finite(self.low):
            below = st.floats(self.low - 1e6, self.low, allow_nan=False).filter(
                lambda v: v < self.low if self.low_closed else v <= self.low)
            cases.append(("below range", below))
            if self.low == int(self.low):
                cases.append(("below range (int)",
                              st.integers(int(self.low) - 100,
                                          int(self.low) - (1 if self.low_closed else 0))))
        if _finite(self.high):
            cases.append(("above range", st.floats(self.high, self.high + 1e6, allow_nan=False)
                          .filter(lambda v: v > self.high if self.high_closed
                                  else v >= self.high)))
        if self.scalar:
            lo, hi = self._sample_range()
            cases.append(("array for a scalar", st.floats(lo, hi).map(lambda v: np.array([v, v]))))
        return _cases(*cases)

    def valid(self, example):
        lo, hi = self._sample_range()
        draws = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
        return draws | st.just(math.inf) if self.inf_ok else draws


@dataclasses.dataclass(frozen=True)
class Integer(Kind):
    """An integer in [low, high] (``None`` = unbounded); ``sample``: the range of valid draws."""

    low: int | None = None
    high: int | None = None
    sample: tuple | None = None

    def invalid(self, example):
        cases = [("non-integer float", st.floats(0.1, 1e3).filter(lambda v: v != int(v))),
                 ("integral float", st.integers(1, 50).map(float)),
                 ("string", st.sampled_from(["1", "10", "x"])),
                 ("bool", st.booleans()),
                 ("nan/inf", st.sampled_from([math.nan, math.inf])),
                 ("wrong type", st.sampled_from(_WRONG_TYPES)), *self._none()]
        if self.low is not None:
            cases.append(("below range", st.integers(self.low - 1000, self.low - 1)))
        if self.high is not None:
            cases.append(("above range", st.integers(self.high + 1, self.high + 1000)))
        return _cases(*cases)

    def valid(self, example):
        lo, hi = self.sample or (self.low if self.low is not None else -5,
                                 self.high if self.high is not None else
                                 (self.low if self.low is not None else 0) + 10)
        return st.integers(lo, hi) | st.integers(lo, hi).map(np.int64)


@dataclasses.dataclass(frozen=True)
class Bool(Kind):
    """``True`` or ``False`` (a NumPy bool too); never a string, a number or ``None``.
    ``text_ok``: a string (a label) is valid too."""

    text_ok: bool = False

    def invalid(self, example):
        strings = [] if self.text_ok else [("string", st.sampled_from(["no", "yes", "False", ""]))]
        return _cases(*strings, ("number", st.sampled_from([0, 1, 0.5, 2])), *self._none())

    def valid(self, example):
        return st.booleans() | st.text(min_size=1, max_size=8) if self.text_ok else st.booleans()


@dataclasses.dataclass(frozen=True)
class Choice(Kind):
    """One of ``options`` (strings)."""

    options: tuple = ()

    def invalid(self, example):
        wrong = st.text(min_size=1, max_size=12).filter(lambda s: s not in self.options)
        return _cases(("unknown string", wrong),
                      ("other case", st.sampled_from(
                          [o.upper() for o in self.options if o.upper() not in self.options]
                          or ["NONE-OF-THEM"])),
                      ("not a string", st.sampled_from([1, 1.5, True, b"x"])), *self._none())

    def valid(self, example):
        return st.sampled_from(self.options)


@dataclasses.dataclass(frozen=True)
class Array(Kind):
    """A real array.

    ``ndim``: allowed numbers of axes (an int or a tuple); ``same_shape``: exactly the shape of the
    example (another length is refused; a tuple of axes: only those lengths are fixed);
    ``low``/``high``: bounds on every entry (``*_closed``); ``finite``: NaN/inf refused;
    ``nonempty``: an empty array refused; ``make_valid``: a function example -> strategy of valid
    arrays (default: the example scaled by a factor in [0.5, 2] when ``scale_ok``, else the
    example)."""

    ndim: int | tuple | None = None
    same_shape: bool | tuple = False
    low: float | None = None
    high: float | None = None
    low_closed: bool = True
    high_closed: bool = True
    finite: bool = True
    nonempty: bool = True
    scale_ok: bool = False
    make_valid: Callable | None = None

    def invalid(self, example):
        ex = np.asarray(example, dtype=np.float64)
        cases = [("wrong type", st.sampled_from(["x", b"x", {"a": 1.0}])),
                 ("ragged", st.just([[1.0, 2.0], [3.0]])),
                 ("complex", st.just(ex.astype(np.complex128) + 1j)),
                 ("bool", st.just(True)), *self._none()]
        if self.finite and ex.size:
            cases.append(("non-finite entry", st.tuples(
                st.integers(0, ex.size - 1), st.sampled_from([math.nan, math.inf, -math.inf])
            ).map(lambda iv: _with_entry(ex, *iv))))
        if self.nonempty:
            cases.append(("empty", st.just(np.zeros((0,) * max(ex.ndim, 1)))))
        allowed = None if self.ndim is None else (
            (self.ndim,) if isinstance(self.ndim, int) else tuple(self.ndim))
        if allowed is not None:
            wrong = [d for d in range(0, 5) if d not in allowed]
            cases.append(("wrong number of axes",
                          st.sampled_from(wrong).map(lambda d: np.full((2,) * d, ex.ravel()[0]
                                                                       if ex.size else 0.0))))
        if self.same_shape and ex.ndim:
            axes = (tuple(range(ex.ndim)) if self.same_shape is True else tuple(self.same_shape))
            cases.append(("wrong shape", st.sampled_from(axes).map(
                lambda ax: np.concatenate([ex, np.take(ex, [0], axis=ax)], axis=ax))))
        if self.low is not None and ex.size:
            lo = st.floats(self.low - 1e3, self.low, allow_nan=False).filter(
                lambda v: v < self.low if self.low_closed else v <= self.low)
            cases.append(("entry below range", st.tuples(st.integers(0, ex.size - 1), lo).map(
                lambda iv: _with_entry(ex, *iv))))
        if self.high is not None and ex.size:
            hi = st.floats(self.high, self.high + 1e3, allow_nan=False).filter(
                lambda v: v > self.high if self.high_closed else v >= self.high)
            cases.append(("entry above range", st.tuples(st.integers(0, ex.size - 1), hi).map(
                lambda iv: _with_entry(ex, *iv))))
        return _cases(*cases)

    def valid(self, example):
        if self.make_valid is not None:
            return self.make_valid(example)
        if self.scale_ok:
            return st.floats(0.5, 2.0).map(lambda c: c * np.asarray(example))
        return st.just(example)


def _with_entry(ex, i, v):
    out = np.array(ex, dtype=np.float64, copy=True)
    out.reshape(-1)[i] = v
    return out


@dataclasses.dataclass(frozen=True)
class Instance(Kind):
    """An object of a kind: ``what`` in words; ``wrong``: names of :data:`WRONG_OBJECTS` that must
    be refused (e.g. a game where a minimization problem is needed)."""

    what: str = "object"
    wrong: tuple = ()
    bad: tuple = ("x", 1.0, (1, 2))

    def invalid(self, example):
        cases = [("wrong type", st.sampled_from(self.bad)), *self._none()]
        if self.wrong:
            cases.append(("wrong kind", st.sampled_from(self.wrong).map(lambda n: WRONG[n]())))
        return _cases(*cases)


@dataclasses.dataclass(frozen=True)
class Shape(Kind):
    """A shape: a tuple of integers >= 0."""

    def invalid(self, example):
        return _cases(("not a tuple", st.sampled_from(["x", 1.0, 3, [2, 3]])),
                      ("bad entries", st.sampled_from([(1.5,), (-1,), ("a",), (True,)])),
                      *self._none())


@dataclasses.dataclass(frozen=True)
class Func(Kind):
    """A callable (function, equinox module with ``__call__``, class)."""

    def invalid(self, example):
        return _cases(("not callable", st.sampled_from(["f", 1.0, (1, 2)])), *self._none())


@dataclasses.dataclass(frozen=True)
class Key(Kind):
    """``"jax"``: a ``jax.random`` key or an integer seed; ``"seed"``: an integer seed >= 0 for
    ``numpy.random.default_rng``."""

    kind: str = "jax"

    def invalid(self, example):
        cases = [("float", st.floats(0.1, 100).filter(lambda v: v != int(v))),
                 ("string", st.sampled_from(["0", "x"])), ("bool", st.booleans()),
                 *self._none()]
        if self.kind == "seed":
            cases.append(("negative", st.integers(-1000, -1)))
        else:
            cases.append(("float array", st.just(np.zeros(2))))
        return _cases(*cases)

    def valid(self, example):
        return st.integers(0, 2**31 - 1)


@dataclasses.dataclass(frozen=True)
class Text(Kind):
    """A string (a label, a note)."""

    def invalid(self, example):
        return _cases(("not a string", st.sampled_from([1, 1.5, b"x", ["a"]])), *self._none())

    def valid(self, example):
        return st.text(max_size=20)


@dataclasses.dataclass(frozen=True)
class Path(Kind):
    """A file-system path (a string or ``os.PathLike``)."""

    def invalid(self, example):
        return _cases(("not a path", st.sampled_from([1, 1.5, ["a"]])),
                      ("empty", st.just("")), *self._none())


@dataclasses.dataclass(frozen=True)
class Free(Kind):
    """Accepts anything; ``why`` says why."""

    why: str = ""

    def invalid(self, example):
        return None


# --------------------------------------------------------------------------------------------
# specs
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Spec:
    """A public callable: a valid example call and a kind for each parameter.

    ``example``: a function returning the keyword arguments of a cheap valid call (``args``: a
    function returning positional arguments, for positional-only parameters). ``owners``: names
    an error may give as its owner (default: the callable's name). ``valid_examples``: how many
    valid draws per parameter (fewer for costly calls). ``call``: how to call it (default: the
    callable itself)."""

    name: str
    example: Callable
    params: dict
    owners: tuple = ()
    valid_examples: int | None = None
    call: Callable | None = None


SPECS: dict[str, Spec] = {}


def spec(qualname, example, /, *, _owners=(), _valid_examples=None, _call=None, **params):
    """Register the spec of ``qualname``; ``params`` maps each parameter to its kind (options of
    the spec itself start with an underscore, so that no parameter name is shadowed)."""
    if qualname in SPECS:
        raise ValueError(f"spec for {qualname} given twice")
    SPECS[qualname] = Spec(qualname, example, params, tuple(_owners), _valid_examples, _call)


RECORDS: dict[str, str] = {}


def record(reason, *names):
    for n in names:
        RECORDS[n] = reason


def cached(fn):
    return functools.lru_cache(maxsize=None)(fn)


# wrong-kind objects, built on first use
WRONG: dict[str, Callable] = {}


# --------------------------------------------------------------------------------------------
# example objects (built once, on first use)
# --------------------------------------------------------------------------------------------

X2 = np.array([0.1, 0.0], np.float32)


@cached
def saddle():
    import sde_opt as so
    return so.QuadraticSaddle([-1.0, 1.0], 0.1)


@cached
def double_well():
    import sde_opt as so
    return so.DoubleWell(noise_std=0.5)


@cached
def msgd():
    import sde_opt as so
    return so.MomentumSGD(saddle(), 0.1, 0.5)


@cached
def field_sde():
    import sde_opt as so
    return so.FieldSDE(saddle(), 1.0, 0.3)


@cached
def em():
    import sde_opt as so
    return so.EulerMaruyama(field_sde(), 0.01)


@cached
def underdamped():
    import sde_opt as so
    return so.UnderdampedLangevin(so.DoubleWell(), gamma=1.0, beta=2.0)


@cached
def linear_sde():
    import sde_opt as so
    return so.LinearSDE(np.diag([-1.0, -2.0]), 0.5)


@cached
def game():
    import sde_opt as so
    return so.QuadraticGame(np.array([[1.0]]), np.array([[0.5]]), np.array([[1.0]]), sigma_x=0.1,
                            sigma_y=0.1)


@cached
def ou_trace():
    """An Ornstein-Uhlenbeck trace (1-d, 400 steps of 0.05) from a fixed seed."""
    rng = np.random.default_rng(0)
    x = np.zeros(400)
    for k in range(1, x.size):
        x[k] = x[k - 1] * np.exp(-0.05) + 0.3 * rng.standard_normal()
    return x


@cached
def ou_trace_2d():
    rng = np.random.default_rng(1)
    x = np.zeros((400, 2))
    for k in range(1, x.shape[0]):
        x[k] = x[k - 1] * np.exp(-0.05) + 0.3 * rng.standard_normal(2)
    return x


@cached
def sim_result():
    import sde_opt as so
    return so.simulate(msgd(), X2, 0, n_paths=16, n_steps=50,
                       events=[so.LeaveBall(np.zeros(2), 0.5)])


WRONG.update({
    "problem": saddle,
    "game": game,
    "sde": field_sde,
    "chain": msgd,
    "linear sde": linear_sde,
    "scheme": em,
})

PROBLEM = Instance(what="a problem", wrong=("sde", "chain"))
MIN_PROBLEM = Instance(what="a minimization problem", wrong=("game", "sde", "chain"))
GAME = Instance(what="a game", wrong=("problem", "sde", "chain"))
CHAIN = Instance(what="a chain", wrong=("problem", "sde"))
SDE = Instance(what="an SDE", wrong=("problem", "chain"))
UNDERDAMPED = Instance(what="an UnderdampedLangevin", wrong=("linear sde", "problem", "chain"))
POS = Real(0.0, low_closed=False, high_closed=False)
NONNEG = Real(0.0, high_closed=False)
FINITE = Real(high_closed=False, low_closed=False)
LEVEL = Real(0.0, 1.0, low_closed=False, high_closed=False, sample=(0.5, 0.99))
PROB = Real(0.0, 1.0, low_closed=False, high_closed=False)


# --------------------------------------------------------------------------------------------
# engine
# --------------------------------------------------------------------------------------------

EVENTS = Instance(what="a list of events")
OBSERVABLES = Instance(what="a dict name -> function", optional=True)
X0 = Array(same_shape=True, scale_ok=True)


def _sim_example():
    import sde_opt as so
    return dict(chain=msgd(), x0=X2, key=0, n_paths=4, n_steps=10,
                events=[so.LeaveBall(np.zeros(2), 1.0)], observables={"x": _first})


def _first(x):
    return x[0]


spec("sde_opt.engine._simulate.simulate", _sim_example, _valid_examples=2,
     chain=CHAIN, x0=X0, key=Key(), n_paths=Integer(1, sample=(4, 4)),
     n_steps=Integer(0, 2**31 - 1 - 4096, sample=(10, 10)),
     events=EVENTS, observables=OBSERVABLES, stride=Integer(1, sample=(1, 1)),
     chunk_size=Integer(1, optional=True, sample=(4, 4)), memory_limit=Real(
         0.0, low_closed=False, high_closed=False, sample=(1e6, 1e9)),
     progress=Bool(text_ok=True, optional=True), first_path=Integer(0, sample=(0, 0)),
     final_state=Bool())
spec("sde_opt.engine._stream.simulate_streamed", _sim_example, _valid_examples=2,
     chain=CHAIN, x0=X0, key=Key(), n_paths=Integer(1, sample=(4, 4)),
     n_steps=Integer(0, sample=(10, 10)), events=EVENTS, observables=OBSERVABLES,
     stride=Integer(1, sample=(1, 1)), chunk_paths=Integer(1, sample=(4, 64)),
     bin_width=Integer(1, optional=True, sample=(1, 1)),
     memory_limit=Real(0.0, low_closed=False, high_closed=False, sample=(1e6, 1e9)),
     progress=Bool(text_ok=True, optional=True))
spec("sde_opt.engine._simulate.use_cpu_cores", lambda: dict(n=None),
     n=Integer(1, optional=True, sample=(1, 2)))
spec("sde_opt.engine._trajectory.trajectory",
     lambda: dict(chain=em(), x0=np.zeros((3, 2), np.float32),
                  noise=np.zeros((3, 5, 2), np.float32), stride=1),
     _valid_examples=2, chain=CHAIN, x0=Array(ndim=2, same_shape=True, scale_ok=True),
     noise=Array(ndim=3, same_shape=True, scale_ok=True), stride=Integer(1, sample=(1, 1)))
spec("sde_opt.engine._trajectory.coarsen_normals",
     lambda: dict(z=np.ones((2, 6, 3)), factor=2),
     z=Array(ndim=(2, 3, 4, 5), scale_ok=True), factor=Integer(1, sample=(1, 3)))
spec("sde_opt.engine.events.LeaveBall", lambda: dict(center=np.zeros(2), radius=1.0),
     center=Array(scale_ok=True), radius=POS)
spec("sde_opt.engine.events.EnterBall", lambda: dict(center=np.zeros(2), radius=1.0),
     center=Array(scale_ok=True), radius=POS)
spec("sde_opt.engine.events.Threshold", lambda: dict(fn=_first, level=0.5, above=True),
     fn=Func(), level=FINITE, above=Bool())
record("a result built by simulate / simulate_streamed; its fields are not user input",
       "sde_opt.engine._simulate.SimulationResult", "sde_opt.engine._stream.StreamedSummary")

# --------------------------------------------------------------------------------------------
# chains, noise, geometry
# --------------------------------------------------------------------------------------------

record("an abstract base class (not constructible); its subclasses' parameters are checked",
       "sde_opt._chain.AbstractChain", "sde_opt.geometry.AbstractGeometry",
       "sde_opt.problems._base.AbstractField", "sde_opt.problems._base.AbstractProblem",
       "sde_opt.problems._base.AbstractGame", "sde_opt.sde._base.AbstractSDE",
       "sde_opt.algorithms._base.AbstractAlgorithm", "sde_opt.problems.bilevel.AbstractBilevel")
spec("sde_opt.noise.StandardNormal", lambda: dict(shape=(2, 3)),
     shape=Shape())
spec("sde_opt.noise.MinibatchIndices", lambda: dict(n=10, batch_size=3),
     n=Integer(1), batch_size=Integer(1, sample=(1, 5)))
spec("sde_opt.geometry.Euclidean", lambda: dict())
spec("sde_opt.geometry.Sphere", lambda: dict(axis=-1), axis=Integer(sample=(-1, 0)))
spec("sde_opt.geometry.Oblique", lambda: dict(d=3, k=2), d=Integer(2, optional=True),
     k=Integer(1, optional=True))
spec("sde_opt.geometry.Product", lambda: _product_example(),
     parts=Instance(what="a pytree of geometries"))


def _product_example():
    import sde_opt as so
    return dict(parts=(so.Sphere(), so.Euclidean()))



# --------------------------------------------------------------------------------------------
# SDEs and schemes
# --------------------------------------------------------------------------------------------

SCALE = Real(0.0, low_closed=False, high_closed=False, callable_ok=True)
NOISE_SCALE = Real(0.0, high_closed=False, callable_ok=True)
STEP = Real(0.0, low_closed=False, high_closed=False, sample=(1e-3, 0.1))
STRUCTURE = Choice(options=("auto", "additive", "diagonal", "general"))

spec("sde_opt.sde.field.FieldSDE",
     lambda: dict(problem=saddle(), drift_scale=1.0, noise_scale=0.3),
     problem=PROBLEM, drift_scale=SCALE, noise_scale=NOISE_SCALE)
spec("sde_opt.sde.linear.LinearSDE",
     lambda: dict(A=np.diag([-1.0, -2.0]), B=np.array([[0.5, 0.0], [0.1, 0.3]]), b=None),
     A=Array(ndim=(1, 2), same_shape=True, scale_ok=True),
     B=Array(ndim=(0, 1, 2), scale_ok=True), b=Array(ndim=1, optional=True))
spec("sde_opt.sde.langevin.OverdampedLangevin",
     lambda: dict(problem=double_well(), beta=2.0, grad_noise_scale=None),
     problem=MIN_PROBLEM, beta=Real(0.0, low_closed=False, inf_ok=True),
     grad_noise_scale=Real(0.0, high_closed=False, optional=True))
spec("sde_opt.sde.langevin.UnderdampedLangevin",
     lambda: dict(problem=double_well(), gamma=1.0, beta=2.0, grad_noise_scale=None),
     problem=MIN_PROBLEM, gamma=POS, beta=Real(0.0, low_closed=False, inf_ok=True),
     grad_noise_scale=Real(0.0, high_closed=False, optional=True))
spec("sde_opt.sde.langevin.PhaseSpace", lambda: dict(chain=msgd()), chain=CHAIN)
spec("sde_opt.sde.euler_maruyama.EulerMaruyama", lambda: dict(sde=field_sde(), dt=0.01, t0=0.0),
     sde=SDE, dt=STEP, t0=FINITE)
spec("sde_opt.sde.geodesic_em.GeodesicEulerMaruyama",
     lambda: dict(sde=field_sde(), dt=0.01, t0=0.0), sde=SDE, dt=STEP, t0=FINITE)
spec("sde_opt.sde.exact_ou.ExactOU", lambda: dict(sde=underdamped(), dt=0.01),
     sde=UNDERDAMPED, dt=STEP)
spec("sde_opt.sde.splitting.BAOAB", lambda: dict(sde=underdamped(), dt=0.01),
     sde=UNDERDAMPED, dt=STEP)
spec("sde_opt.sde.splitting.OBABO", lambda: dict(sde=underdamped(), dt=0.01),
     sde=UNDERDAMPED, dt=STEP)
spec("sde_opt.sde.schedules.PiecewiseConstant",
     lambda: dict(values=np.array([1.0, 0.5, 0.25]), boundaries=np.array([1.0, 2.0])),
     values=Array(ndim=1, same_shape=True, scale_ok=True),
     boundaries=Array(ndim=1, same_shape=True, scale_ok=True))
record("a state built by a scheme (the point and the step count); not user input",
       "sde_opt.sde.euler_maruyama.TimedState")


def _brownian():
    import diffrax
    import jax.random as jr
    return diffrax.VirtualBrownianTree(0.0, 1.0, tol=1e-3, shape=(2,), key=jr.key(0))


spec("sde_opt.sde.diffrax_bridge.diffrax_terms",
     lambda: dict(sde=field_sde(), brownian=_brownian(), noise="auto"),
     sde=SDE, brownian=Instance(what="a diffrax Brownian path"), noise=STRUCTURE)
spec("sde_opt.sde.diffrax_bridge.solve_diffrax",
     lambda: dict(sde=field_sde(), x0=X2, t1=0.1, dt=0.01, key=0), _valid_examples=0,
     sde=SDE, x0=X0, t1=Real(sample=(0.1, 0.1)), dt=Real(0.0, low_closed=False,
                                                        sample=(0.01, 0.01)),
     key=Key(), t0=Real(sample=(0.0, 0.0)),
     brownian=Instance(what="'virtual', 'unsafe' or a diffrax Brownian path"),
     solver=Instance(what="a diffrax solver", optional=True),
     saveat=Instance(what="a diffrax.SaveAt", optional=True), noise=STRUCTURE,
     max_steps=Integer(1, optional=True, sample=(11, 11)),
     kwargs=Free(why="passed on to diffrax.diffeqsolve, which checks them"))
spec("sde_opt.sde.diffrax_bridge.GridBrownianPath",
     lambda: dict(increments=np.zeros((5, 2)), dt=0.1, t0=0.0),
     increments=Array(ndim=(1, 2, 3, 4), scale_ok=True), dt=POS, t0=FINITE)
spec("sde_opt.sde.torchsde_bridge.to_torchsde",
     lambda: dict(sde=field_sde(), state_shape=None, noise="auto"),
     sde=SDE, state_shape=Shape(optional=True), noise=STRUCTURE)
spec("sde_opt.sde.torchsde_bridge.replay_brownian",
     lambda: dict(increments=np.zeros((3, 5, 2)), dt=0.1, t0=0.0),
     increments=Array(ndim=3, scale_ok=True), dt=POS, t0=FINITE)
spec("sde_opt.sde.torchsde_bridge.replay_brownian_from_normals",
     lambda: dict(normals=np.zeros((3, 5, 2)), dt=0.1, t0=0.0),
     normals=Array(ndim=3, scale_ok=True), dt=POS, t0=FINITE)
spec("sde_opt.sde.two_timescale.TwoTimescaleSDE",
     lambda: dict(problem=game(), eta_x=0.01, ratio=2.0, noise=True),
     problem=GAME, eta_x=POS, ratio=POS, noise=Bool())
spec("sde_opt.sde.two_timescale.ReducedSDE",
     lambda: dict(problem=game(), eta_x=0.01, noise="gda"),
     problem=GAME, eta_x=POS, noise=Choice(options=("gda", "x"), optional=True))


# --------------------------------------------------------------------------------------------
# problems
# --------------------------------------------------------------------------------------------

NOISE_COV = Array(ndim=(0, 2), scale_ok=True)
GEOMETRY = Instance(what="a geometry", optional=True, wrong=("problem", "sde"))


def _sq_loss(p, ex):
    return 0.5 * (p @ ex[:-1] - ex[-1]) ** 2


def _finite_sum_data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((12, 3))


spec("sde_opt.problems._base.check_problem",
     lambda: dict(owner="MyAlgorithm", problem=saddle(), game=False),
     _owners=("MyAlgorithm", "check_problem"), owner=Text(), problem=PROBLEM,
     game=Bool(optional=True, valid_from=(False, None)))
spec("sde_opt.problems.finite_sum.FiniteSum",
     lambda: dict(loss=_sq_loss, data=_finite_sum_data(), params=np.zeros(2, np.float32),
                  batch_size=4, geometry=None),
     loss=Func(), data=Array(scale_ok=True),
     params=Array(finite=False, scale_ok=True), batch_size=Integer(1, sample=(1, 12)),
     geometry=GEOMETRY)
spec("sde_opt.problems.quadratic.Quadratic",
     lambda: dict(eigenvalues=np.array([1.0, 2.0]), noise_cov=0.1),
     eigenvalues=Array(ndim=1, low=0.0, low_closed=False, scale_ok=True), noise_cov=NOISE_COV)
spec("sde_opt.problems.quadratic_saddle.QuadraticSaddle",
     lambda: dict(eigenvalues=np.array([-1.0, 2.0]), noise_cov=0.1),
     eigenvalues=Array(ndim=1, scale_ok=True), noise_cov=NOISE_COV)
spec("sde_opt.problems.streaming_pca.StreamingPCA",
     lambda: dict(spectrum=np.array([3.0, 2.0, 1.0]), dof=None),
     spectrum=Array(ndim=1, low=0.0, low_closed=False, scale_ok=True),
     dof=Real(4.0, low_closed=False, high_closed=False, optional=True, sample=(4.5, 50.0)))
spec("sde_opt.problems.double_well.DoubleWell", lambda: dict(tilt=0.1, noise_std=0.5),
     tilt=Real(-2 / 27**0.5, 2 / 27**0.5, low_closed=False, high_closed=False), noise_std=NONNEG)
spec("sde_opt.problems.double_well.DoubleWell2D", lambda: dict(a=1.0, noise_std=0.5),
     a=NONNEG, noise_std=NONNEG)


def _robust_data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((20, 3)), rng.standard_normal(20)


spec("sde_opt.problems.robust_regression.RobustRegression",
     lambda: dict(features=_robust_data()[0], targets=_robust_data()[1], scale=0.5, ridge=0.01,
                  batch_size=4),
     features=Array(ndim=2, same_shape=(0,), scale_ok=True),
     targets=Array(ndim=1, same_shape=True, scale_ok=True), scale=POS, ridge=NONNEG,
     batch_size=Integer(1, sample=(1, 20)))
spec("sde_opt.problems.matrix_factorization.MatrixFactorization",
     lambda: dict(M=np.array([3.0, 2.0, 1.0]), noise_std=0.5),
     M=Array(ndim=(1, 2), low=0.0, low_closed=False, scale_ok=True), noise_std=NONNEG)
spec("sde_opt.problems.sphere_potential.SphereLinearPotential",
     lambda: dict(a=np.array([1.0, 0.0, 0.0])), a=Array(ndim=1, scale_ok=True))

# minimax family (issue 18)
GAME_NOISE = dict(sigma_x=NONNEG, sigma_y=NONNEG, batch_size=Integer(1, sample=(1, 8)))
spec("sde_opt.problems.games.QuadraticGame",
     lambda: dict(A=np.array([[1.0]]), B=np.array([[0.5]]), C=np.array([[1.0]]), sigma_x=0.1,
                  sigma_y=0.1, batch_size=1),
     A=Array(ndim=(0, 2), scale_ok=True), B=Array(ndim=(0, 2), scale_ok=True),
     C=Array(ndim=(0, 2), scale_ok=True), **GAME_NOISE)
spec("sde_opt.problems.games.DoubleWellGame",
     lambda: dict(d=2, ell=1.0, mu=0.1, c=0.5, coupling="linear", y_radius=None),
     d=Integer(1, sample=(1, 4)), ell=POS, mu=POS,
     c=Real(0.0, 1.0, high_closed=False), coupling=Choice(options=("linear", "tanh")),
     y_radius=Real(0.0, low_closed=False, high_closed=False, optional=True), **GAME_NOISE)
spec("sde_opt.problems.games.RampGame",
     lambda: dict(d=1, eps=0.1, ell=1.0, mu=0.1, c=0.5),
     d=Integer(1, sample=(1, 4)), eps=POS, ell=POS, mu=POS,
     c=Real(0.0, 1.0, high_closed=False), **GAME_NOISE)
spec("sde_opt.problems.nonconvex_concave.ConcaveWellGame",
     lambda: dict(d=2, ell=1.0, b=1.0, y_radius=0.2, sigma_x=0.0, sigma_y=0.0, batch_size=1),
     d=Integer(1, sample=(1, 4)), ell=POS, b=POS, y_radius=POS, **GAME_NOISE)
spec("sde_opt.problems.moment_gan.MomentGAN",
     lambda: dict(mu=1.0, mean=0.5, std=0.5, n=50, seed=0, sigma_x=0.0, sigma_y=0.0,
                  batch_size=1),
     mu=POS, mean=FINITE, std=POS, n=Integer(2, sample=(2, 100)), seed=Key(kind="seed"),
     **GAME_NOISE)
spec("sde_opt.problems.games.PhiStationary", lambda: dict(problem=game(), eps=0.1),
     problem=GAME, eps=POS)
spec("sde_opt.problems.adversarial_logistic.AdversarialLogistic",
     lambda: dict(n=16, d=2, mu=1.0, lam=0.01, batch_size=4, seed=0),
     n=Integer(2, sample=(8, 32)), d=Integer(1, sample=(1, 4)), mu=POS, lam=NONNEG,
     batch_size=Integer(1, sample=(1, 8)), seed=Key(kind="seed"))

# bilevel family (issue 19)


@cached
def quadratic_bilevel():
    import sde_opt as so
    return so.QuadraticBilevel(kappa=4.0, d_y=4, sigma_f=0.1, sigma_g=0.1)


spec("sde_opt.problems.bilevel.QuadraticBilevel",
     lambda: dict(kappa=4.0, gamma=(-1.0, 1.0), omega=None, d_y=4, b=None, sigma_f=0.1,
                  sigma_g=0.1, spread=1.0, seed=0),
     kappa=Real(1.0, high_closed=False, sample=(1.0, 20.0)),
     gamma=Array(ndim=1, scale_ok=True),  # its length is d_x (any, up to d_y)
     omega=Array(ndim=1, low=0.0, low_closed=False, optional=True),
     d_y=Integer(2, sample=(2, 8)), b=Array(ndim=1, optional=True), sigma_f=NONNEG,
     sigma_g=NONNEG, spread=FINITE, seed=Key(kind="seed"))
spec("sde_opt.problems.bilevel.SoftplusBilevel",
     lambda: dict(d_x=2, d_y=3, n_terms=4, mu=0.5, s=(4.0, 0.0), omega=None, sigma_f=0.0,
                  sigma_g=0.0, seed=0, newton_steps=10),
     d_x=Integer(1, sample=(2, 2)), d_y=Integer(1, sample=(1, 4)),
     n_terms=Integer(1, sample=(1, 5)), mu=POS, s=Array(ndim=1, same_shape=True, scale_ok=True),
     omega=Array(ndim=1, low=0.0, low_closed=False, optional=True), sigma_f=NONNEG,
     sigma_g=NONNEG, seed=Key(kind="seed"), newton_steps=Integer(1, sample=(5, 20)))
spec("sde_opt.problems.bilevel.HyperCleaning",
     lambda: dict(n_train=10, n_val=10, dim=3, corrupt=0.3, mu=0.1, lam=0.01, batch_size=4,
                  seed=0, newton_steps=5),
     _valid_examples=2, n_train=Integer(1, sample=(4, 12)), n_val=Integer(1, sample=(4, 12)),
     dim=Integer(1, sample=(1, 4)), corrupt=Real(0.0, 1.0), mu=POS, lam=NONNEG,
     batch_size=Integer(1, sample=(1, 4)), seed=Key(kind="seed"),
     newton_steps=Integer(1, sample=(2, 8)),
     data=Instance(what="a tuple of five arrays", optional=True, bad=("x", 1.0, (1, 2))))
spec("sde_opt.problems.bilevel.ReducedHypergradient",
     lambda: dict(bilevel=quadratic_bilevel(), alpha=0.1, D=5, Q=5),
     bilevel=Instance(what="a bilevel problem", wrong=("problem", "game")),
     alpha=POS, D=Integer(1, sample=(1, 10)), Q=Integer(1, sample=(1, 10)))
spec("sde_opt.problems.bilevel.biased_hypergradient",
     lambda: dict(problem=quadratic_bilevel(), x=np.zeros(2), y=np.zeros(4), alpha=0.1, Q=5),
     problem=Instance(what="a bilevel problem", wrong=("problem", "game")),
     x=Array(ndim=1, same_shape=True, scale_ok=True),
     y=Array(ndim=1, same_shape=True, scale_ok=True), alpha=POS, Q=Integer(0, sample=(0, 10)))
spec("sde_opt.problems.bilevel.inner_error_covariances",
     lambda: dict(problem=quadratic_bilevel(), x=np.zeros(2), alpha=0.1, D=5),
     problem=Instance(what="a bilevel problem", wrong=("problem", "game")),
     x=Array(ndim=1, same_shape=True, scale_ok=True), alpha=POS, D=Integer(1, sample=(1, 10)))
spec("sde_opt.problems.bilevel.neumann_inverse",
     lambda: dict(h=np.diag([1.0, 2.0]), alpha=0.1, Q=5),
     h=Array(ndim=2, same_shape=True, scale_ok=True), alpha=POS, Q=Integer(0, sample=(0, 10)))

# neural-collapse family (issue 20)
spec("sde_opt.problems.normalized_ufm.NormalizedUFM",
     lambda: dict(k=3, d=3, n=2, tau=1.0, batch_size=None, labels=None),
     k=Integer(2, sample=(2, 4)), d=Integer(2, sample=(2, 4)), n=Integer(1, sample=(1, 3)),
     tau=POS, batch_size=Integer(1, optional=True, sample=(1, 6)),
     labels=Array(ndim=1, optional=True))
spec("sde_opt.problems.regularized_ufm.RegularizedUFM",
     lambda: dict(k=3, d=3, n=2, lambda_w=0.005, lambda_h=0.005, batch_size=None, labels=None),
     k=Integer(2, sample=(2, 4)), d=Integer(2, sample=(2, 4)), n=Integer(1, sample=(1, 3)),
     lambda_w=NONNEG, lambda_h=NONNEG, batch_size=Integer(1, optional=True, sample=(1, 6)),
     labels=Array(ndim=1, optional=True))


# --------------------------------------------------------------------------------------------
# algorithms
# --------------------------------------------------------------------------------------------

ETA = Real(0.0, low_closed=False, high_closed=False, sample=(1e-3, 0.5))
MU = Real(0.0, 1.0, high_closed=False, sample=(0.0, 0.95))
BETA = Real(0.0, low_closed=False, inf_ok=True, sample=(0.1, 100.0))
DECREASE = Real(0.0, low_closed=False, high_closed=False, optional=True, sample=(1e-4, 1.0))

record("a chain's state (built by init/step); not user input",
       "sde_opt.algorithms._kinetic.MomentumState",
       "sde_opt.algorithms.annealed_momentum_sgd.AnnealedState",
       "sde_opt.algorithms._game.GameState", "sde_opt.algorithms.ogda.OGDAState",
       "sde_opt.algorithms.perturbed_gdmax.PerturbedState",
       "sde_opt.algorithms.riemannian_momentum.RiemannianMomentumState")
record("a registry row (NamedTuple); every row of REGISTRY is run by the contract suite "
       "(tests/test_contract.py, tests/test_valid_inputs_never_crash.py)",
       "sde_opt.algorithms.Entry")

spec("sde_opt.algorithms.momentum_sgd.MomentumSGD",
     lambda: dict(problem=saddle(), eta=0.1, mu=0.5), problem=MIN_PROBLEM, eta=ETA, mu=MU)
spec("sde_opt.algorithms.momentum_sgd.sgd", lambda: dict(problem=saddle(), eta=0.1),
     _owners=("sgd", "MomentumSGD"), problem=MIN_PROBLEM, eta=ETA)
spec("sde_opt.algorithms.nesterov.NesterovSGD",
     lambda: dict(problem=saddle(), eta=0.1, mu=0.5), problem=MIN_PROBLEM, eta=ETA, mu=MU)
spec("sde_opt.algorithms.annealed_momentum_sgd.AnnealedMomentumSGD",
     lambda: dict(problem=saddle(), eta=np.array([0.1, 0.05]), mu=np.array([0.5, 0.5]),
                  boundaries=np.array([10.0])),
     problem=MIN_PROBLEM,
     eta=Array(ndim=(0, 1), same_shape=True, low=0.0, low_closed=False, scale_ok=True),
     mu=Array(ndim=(0, 1), same_shape=True, low=0.0, high=1.0, high_closed=False),
     boundaries=Array(ndim=(0, 1), same_shape=True, low=1.0, nonempty=False, scale_ok=True))
spec("sde_opt.algorithms.annealed_momentum_sgd.geometric_schedule",
     lambda: dict(first=0.1, last=0.01, start=100, n_stages=3, growth=2.0),
     first=POS, last=POS, start=Integer(1, sample=(1, 1000)), n_stages=Integer(2, sample=(2, 6)),
     growth=Real(0.0, low_closed=False, high_closed=False, sample=(0.5, 4.0)))
spec("sde_opt.algorithms.sgld.SGLD", lambda: dict(problem=double_well(), eta=0.05, beta=10.0),
     problem=MIN_PROBLEM, eta=ETA, beta=BETA)
spec("sde_opt.algorithms.sghmc1.SGHMC1",
     lambda: dict(problem=double_well(), eta=0.05, gamma=1.0, beta=10.0, semi_implicit=False),
     problem=MIN_PROBLEM, eta=ETA, gamma=POS, beta=BETA, semi_implicit=Bool())
spec("sde_opt.algorithms.sghmc2.SGHMC2",
     lambda: dict(problem=double_well(), eta=0.05, gamma=1.0, beta=10.0),
     problem=MIN_PROBLEM, eta=ETA, gamma=POS, beta=BETA)
spec("sde_opt.algorithms.mappings.msgd_as_sghmc", lambda: dict(msgd=msgd(), beta=math.inf),
     msgd=Instance(what="a MomentumSGD", wrong=("problem", "scheme")), beta=BETA)
spec("sde_opt.algorithms.mappings.sghmc_as_msgd", lambda: dict(sghmc=_sghmc_semi()),
     sghmc=Instance(what="a semi-implicit noiseless SGHMC1", wrong=("chain", "problem")))
spec("sde_opt.algorithms.mappings.msgd_effective_temperature",
     lambda: dict(msgd=msgd(), x=np.zeros(2, np.float32)),
     msgd=Instance(what="a MomentumSGD", wrong=("problem", "scheme")), x=X0)
spec("sde_opt.algorithms.make", lambda: dict(name="msgd", problem=saddle(), eta=0.1, mu=0.5),
     _owners=("make", "MomentumSGD"),
     name=Choice(options=("sgd", "msgd", "nesterov"), valid_from=("msgd", "nesterov")),
     problem=MIN_PROBLEM,
     hyperparameters=Free(why="passed to the algorithm's constructor, which checks them"))


@cached
def _sghmc_semi():
    import sde_opt as so
    return so.SGHMC1(double_well(), eta=0.1, gamma=2.0, beta=math.inf, semi_implicit=True)


# minimax family (issue 18)
GAME_STEPS = dict(problem=GAME, eta_x=ETA, eta_y=ETA)
spec("sde_opt.algorithms.gda.GDA",
     lambda: dict(problem=game(), eta_x=0.02, eta_y=0.2, alternating=False),
     alternating=Bool(), **GAME_STEPS)
spec("sde_opt.algorithms.ogda.OGDA", lambda: dict(problem=game(), eta_x=0.02, eta_y=0.2),
     **GAME_STEPS)
spec("sde_opt.algorithms.extragradient.Extragradient",
     lambda: dict(problem=game(), eta_x=0.02, eta_y=0.2), **GAME_STEPS)
spec("sde_opt.algorithms.gdmax.GDmax",
     lambda: dict(problem=game(), eta_x=0.02, eta_y=0.2, n_inner=3),
     n_inner=Integer(1, sample=(1, 5)), **GAME_STEPS)
spec("sde_opt.algorithms.perturbed_gdmax.PerturbedGDmax",
     lambda: dict(problem=game(), eta_x=0.02, eta_y=0.2, n_inner=3, radius=0.05, eps=0.1,
                  threshold=0.5, interval=20),
     n_inner=Integer(1, sample=(1, 5)), radius=POS, eps=POS, threshold=POS,
     interval=Integer(1, sample=(1, 50)), decrease=DECREASE, **GAME_STEPS)
spec("sde_opt.algorithms.perturbed_gdmax.perturbed_gdmax_template",
     lambda: dict(ell=1.0, mu=0.1, eps=0.01, rho_phi=1.0, delta_phi=1.0, d=2),
     # mu <= ell (kappa = ell/mu >= 1), each drawn against the example's other (1.0, 0.1)
     ell=Real(0.0, low_closed=False, high_closed=False, sample=(0.1, 20.0)),
     mu=Real(0.0, low_closed=False, high_closed=False, sample=(0.01, 1.0)),
     eps=POS, rho_phi=POS, delta_phi=POS, d=Integer(1, sample=(1, 10)),
     delta=PROB, chi=POS, threshold=POS)

# bilevel family (issue 19)
BILEVEL = Instance(what="a bilevel problem", wrong=("problem", "game", "sde"))
BILEVEL_STEPS = dict(problem=BILEVEL, alpha=Real(0.0, low_closed=False, sample=(0.01, 0.2)),
                     beta=ETA)
spec("sde_opt.algorithms.aid.AID",
     lambda: dict(problem=quadratic_bilevel(), alpha=0.1, beta=0.05, D=3, N=3, warm_start=True),
     D=Integer(1, sample=(1, 5)), N=Integer(1, sample=(1, 5)), warm_start=Bool(),
     **BILEVEL_STEPS)
spec("sde_opt.algorithms.perturbed_aid.PerturbedAID",
     lambda: dict(problem=quadratic_bilevel(), alpha=0.1, beta=0.05, radius=0.05, threshold=1.0,
                  interval=4, D=3, N=3),
     radius=POS, threshold=POS, interval=Integer(1, sample=(1, 10)),
     D=Integer(1, sample=(1, 5)), N=Integer(1, sample=(1, 5)), decrease=DECREASE,
     **BILEVEL_STEPS)
spec("sde_opt.algorithms.perturbed_aid.perturbed_aid_template",
     lambda: dict(eps=0.01, L=1.0, rho=1.0, delta_phi=1.0, dim=2),
     eps=POS, L=POS, rho=POS, delta_phi=POS, dim=Integer(1, sample=(1, 10)), delta=PROB,
     c=POS, kappa=Real(1.0, high_closed=False, sample=(1.0, 100.0)))
spec("sde_opt.algorithms.stocbio.StocBiO",
     lambda: dict(problem=quadratic_bilevel(), alpha=0.1, beta=0.05, D=3, Q=3),
     D=Integer(1, sample=(1, 5)), Q=Integer(1, sample=(1, 5)), **BILEVEL_STEPS)
spec("sde_opt.algorithms.stocbio_ineon.StocBiOINEON",
     lambda: dict(problem=quadratic_bilevel(), alpha=0.1, beta=0.05, radius=0.05, step=0.5,
                  iterations=8, escape_step=0.2, threshold=0.01, grow=8.0, wait=10, D=3, Q=3),
     radius=POS, step=POS, iterations=Integer(1, sample=(1, 10)), escape_step=POS,
     threshold=POS, grow=Real(1.0, low_closed=False, high_closed=False, sample=(1.5, 20.0)),
     wait=Integer(0, sample=(0, 10)), D=Integer(1, sample=(1, 5)), Q=Integer(1, sample=(1, 5)),
     **BILEVEL_STEPS)


# neural-collapse family (issue 20)
@cached
def ufm():
    import sde_opt as so
    return so.NormalizedUFM(3, 3, 2)


spec("sde_opt.algorithms.riemannian_gd.RiemannianGD", lambda: dict(problem=ufm(), eta=0.05),
     problem=MIN_PROBLEM, eta=ETA)
spec("sde_opt.algorithms.riemannian_sgd.RiemannianSGD", lambda: dict(problem=ufm(), eta=0.05),
     problem=MIN_PROBLEM, eta=ETA)
spec("sde_opt.algorithms.riemannian_momentum.RiemannianMomentum",
     lambda: dict(problem=ufm(), eta=0.05, mu=0.5), problem=MIN_PROBLEM, eta=ETA, mu=MU)


# --------------------------------------------------------------------------------------------
# theory
# --------------------------------------------------------------------------------------------

LAM = Real(0.0, low_closed=False, high_closed=False, sample=(0.1, 5.0))
SIGMA = Real(0.0, low_closed=False, high_closed=False, sample=(0.01, 1.0))
RADIUS = Real(0.0, low_closed=False, high_closed=False, sample=(0.5, 2.0))
TIMES = Array(nonempty=False, scale_ok=True)  # evaluation points: none is fine
DT_OPT = Real(0.0, low_closed=False, high_closed=False, optional=True, sample=(1e-3, 0.1))
SPECTRUM = Array(ndim=1, low=0.0, low_closed=False, scale_ok=True)
MATRIX = Array(ndim=2, same_shape=True, scale_ok=True)
KURTOSIS = Real(1.0, high_closed=False, sample=(1.0, 3.0))
METHOD = Choice(options=("gda", "alternating-gda", "ogda", "extragradient"))

record("a result record returned by a theory function; not user input",
       "sde_opt.theory.heavy_ball.HeavyBallMoments", "sde_opt.theory.local_sde.LocalSDE",
       "sde_opt.theory.momentum_pca.PCAEscape", "sde_opt.theory.langevin.Linearization",
       "sde_opt.theory.neural_collapse.SaddleLinearization")

# saddle exit
EXIT = dict(lam=LAM, sigma=SIGMA, r=RADIUS)
spec("sde_opt.theory.saddle_exit.saddle_exit_mean",
     lambda: dict(lam=1.0, sigma=0.1, r=1.0, k=1), k=Integer(1, sample=(1, 4)), **EXIT)
spec("sde_opt.theory.saddle_exit.saddle_exit_mean_asymptotic",
     lambda: dict(lam=1.0, sigma=0.1, r=1.0, k=1, correction=True),
     k=Integer(1, sample=(1, 4)), correction=Bool(), **EXIT)
spec("sde_opt.theory.saddle_exit.saddle_exit_mean_em",
     lambda: dict(lam=1.0, sigma=0.1, r=1.0, dt=0.01), dt=STEP, **EXIT)
spec("sde_opt.theory.saddle_exit.saddle_exit_cdf",
     lambda: dict(t=np.array([0.5, 2.0, 5.0]), lam=1.0, sigma=0.1, r=1.0, dt=None),
     t=TIMES, dt=DT_OPT, **EXIT)
spec("sde_opt.theory.saddle_exit.saddle_exit_quantile",
     lambda: dict(p=np.array([0.1, 0.5, 0.9]), lam=1.0, sigma=0.1, r=1.0, dt=None),
     p=Array(low=0.0, high=1.0, low_closed=False, high_closed=False, nonempty=False), dt=DT_OPT,
     **EXIT)
spec("sde_opt.theory.saddle_exit.saddle_exit_variance", lambda: dict(lam=1.0, dt=None),
     lam=LAM, dt=DT_OPT)
ESCAPE = dict(lam=LAM, noise_var=Real(0.0, low_closed=False, high_closed=False,
                                      sample=(0.01, 1.0)),
              eta=Real(0.0, low_closed=False, high_closed=False, sample=(1e-3, 0.1)),
              r=RADIUS, mu=Real(0.0, 1.0, high_closed=False, sample=(0.0, 0.9)))
spec("sde_opt.theory.saddle_exit.heavy_ball_exit_iterations",
     lambda: dict(lam=1.0, noise_var=0.1, eta=0.01, r=1.0, mu=0.5), **ESCAPE)
spec("sde_opt.theory.saddle_exit.saddle_exit_iterations",
     lambda: dict(lam=1.0, noise_var=0.1, eta=0.01, r=1.0, mu=0.5), **ESCAPE)

# heavy ball and Lyapunov
HB = dict(eta=Real(0.0, low_closed=False, high_closed=False, sample=(1e-3, 0.5)),
          mu=Real(0.0, 1.0, high_closed=False, sample=(0.0, 0.9)))
spec("sde_opt.theory.heavy_ball.heavy_ball_stationary_covariance",
     lambda: dict(hessian=np.diag([1.0, 2.0]), noise_cov=np.eye(2) * 0.1, eta=0.1, mu=0.5),
     hessian=Array(ndim=(0, 1, 2), scale_ok=True), noise_cov=Array(ndim=(0, 1, 2), scale_ok=True),
     **HB)
spec("sde_opt.theory.heavy_ball.heavy_ball_diffusion_covariance",
     lambda: dict(hessian=np.diag([1.0, 2.0]), noise_cov=np.eye(2) * 0.1, eta=0.1, mu=0.5),
     hessian=Array(ndim=(0, 1, 2), scale_ok=True), noise_cov=Array(ndim=(0, 1, 2), scale_ok=True),
     **HB)
spec("sde_opt.theory.heavy_ball.heavy_ball_transition",
     lambda: dict(hessian=np.diag([1.0, 2.0]), eta=0.1, mu=0.5),
     hessian=Array(ndim=(0, 1, 2), scale_ok=True), **HB)
spec("sde_opt.theory.heavy_ball.heavy_ball_moments",
     lambda: dict(h=1.0, c=0.1, eta=0.1, mu=0.5),
     h=Real(0.0, low_closed=False, high_closed=False, sample=(0.1, 2.0)),
     c=Real(0.0, high_closed=False, sample=(0.0, 1.0)), **HB)
spec("sde_opt.theory.lyapunov.lyapunov_covariance",
     lambda: dict(A=np.array([[-1.0, 0.5], [0.0, -2.0]]), B=np.eye(2) * 0.3),
     A=Array(ndim=(0, 2), same_shape=True, scale_ok=True), B=Array(ndim=(0, 2), scale_ok=True))
spec("sde_opt.theory.lyapunov.em_stationary_covariance",
     lambda: dict(A=np.array([[-1.0, 0.5], [0.0, -2.0]]), B=np.eye(2) * 0.3, dt=0.01),
     A=Array(ndim=(0, 2), same_shape=True, scale_ok=True), B=Array(ndim=(0, 2), scale_ok=True),
     dt=STEP)
spec("sde_opt.theory.lyapunov.exact_transition",
     lambda: dict(A=np.array([[-1.0, 0.5], [0.0, -2.0]]), B=np.eye(2) * 0.3, dt=0.01),
     A=Array(ndim=(0, 2), same_shape=True, scale_ok=True), B=Array(ndim=(0, 2), scale_ok=True),
     dt=STEP)

# local SDE
spec("sde_opt.theory.local_sde.local_sde",
     lambda: dict(problem=saddle(), point=np.zeros(2), eta=0.01, mu=0.5),
     problem=MIN_PROBLEM, point=Array(same_shape=True), **HB)
spec("sde_opt.theory.local_sde.field_jacobian",
     lambda: dict(problem=saddle(), point=np.zeros(2)),
     problem=PROBLEM, point=Array(same_shape=True, scale_ok=True))

# momentum on streaming PCA
PCA = dict(spectrum=Array(ndim=1, low=0.0, low_closed=False),
           eta=Real(0.0, low_closed=False, high_closed=False, sample=(1e-4, 1e-2)),
           mu=Real(0.0, 1.0, high_closed=False, sample=(0.0, 0.9)), kurtosis=KURTOSIS)
PCA_EX = dict(spectrum=np.array([3.0, 2.0, 1.0]), eta=0.001, mu=0.5)
spec("sde_opt.theory.momentum_pca.noise_moments",
     lambda: dict(spectrum=np.array([3.0, 2.0, 1.0]), kurtosis=1.0, j=0),
     spectrum=PCA["spectrum"], kurtosis=KURTOSIS, j=Integer(0, 2, sample=(0, 2)))
spec("sde_opt.theory.momentum_pca.escape_radius", lambda: dict(level=0.5), level=PROB)
spec("sde_opt.theory.momentum_pca.pca_escape", lambda: dict(**PCA_EX, saddle=1, level=0.5),
     saddle=Integer(1, 2, sample=(1, 2)), level=PROB, **PCA)
spec("sde_opt.theory.momentum_pca.momentum_escape_factor", lambda: dict(**PCA_EX, level=0.5),
     level=PROB, **PCA)
spec("sde_opt.theory.momentum_pca.stationary_error", lambda: dict(PCA_EX), **PCA)
spec("sde_opt.theory.momentum_pca.stationary_error_discrete", lambda: dict(PCA_EX), **PCA)
spec("sde_opt.theory.momentum_pca.stationary_error_em", lambda: dict(**PCA_EX, substeps=2),
     substeps=Integer(1, sample=(1, 8)), **PCA)
spec("sde_opt.theory.momentum_pca.mean_error_curve",
     lambda: dict(**PCA_EX, iterations=np.array([0, 100, 1000]), saddle=1),
     iterations=Array(low=0.0, nonempty=False, scale_ok=True), saddle=Integer(1, 2, sample=(1, 2)),
     **PCA)

# modified equations and minimax escape


def _jacobian():
    return np.array([[1.0, 0.5], [-0.5, 1.0]])


MOD = dict(method=METHOD, J=MATRIX, eta_x=Real(0.0, low_closed=False, high_closed=False,
                                               sample=(1e-3, 0.1)),
           eta_y=Real(0.0, low_closed=False, high_closed=False, sample=(1e-3, 0.1)),
           m=Integer(1, 2, sample=(1, 1)))
MOD_EX = dict(method="gda", J=_jacobian(), eta_x=0.01, eta_y=0.05, m=1)
spec("sde_opt.theory.modified_equations.iteration_matrix", lambda: dict(**MOD_EX, n_inner=1),
     n_inner=Integer(1, sample=(1, 5)),
     **{**MOD, "method": Choice(options=("gda", "alternating-gda", "ogda", "extragradient",
                                         "gdmax"))})
spec("sde_opt.theory.modified_equations.modified_log_rate", lambda: dict(**MOD_EX, order=1),
     order=Integer(0, 1), **MOD)
spec("sde_opt.theory.modified_equations.exact_log_rate", lambda: dict(MOD_EX), **MOD)
spec("sde_opt.theory.modified_equations.remainder_bound", lambda: dict(MOD_EX),
     **{**MOD, "method": Choice(options=("gda", "ogda", "extragradient"))})
spec("sde_opt.theory.modified_equations.scaled_jacobian",
     lambda: dict(J=_jacobian(), eta_x=0.01, eta_y=0.05, m=1),
     **{k: v for k, v in MOD.items() if k != "method"})
spec("sde_opt.theory.modified_equations.spectral_radius", lambda: dict(matrix=_jacobian()),
     matrix=MATRIX)
spec("sde_opt.theory.modified_equations.ModifiedEquation",
     lambda: dict(problem=game(), method="gda", eta_x=0.01, eta_y=0.05, noise=False),
     problem=GAME, method=METHOD, eta_x=MOD["eta_x"], eta_y=MOD["eta_y"], noise=Bool())


@cached
def nc_sc_game():
    import sde_opt as so
    return so.QuadraticGame(np.array([[-1.0]]), np.array([[1.0]]), np.array([[2.0]]),
                            sigma_x=0.1, sigma_y=0.1)


spec("sde_opt.theory.minimax_escape.unstable_mode",
     lambda: dict(matrix=np.array([[1.2, 0.1], [0.0, 0.5]])),
     matrix=Array(ndim=2, same_shape=True, make_valid=lambda ex: st.floats(1.0, 3.0).map(
         lambda c: c * np.asarray(ex))))
spec("sde_opt.theory.minimax_escape.gda_saddle",
     lambda: dict(game=nc_sc_game(), eta_x=0.01, eta_y=0.1),
     game=Instance(what="a QuadraticGame", wrong=("problem", "sde")),
     eta_x=MOD["eta_x"], eta_y=MOD["eta_y"])
spec("sde_opt.theory.minimax_escape.gdmax_kicked_escape",
     lambda: dict(game=nc_sc_game(), eta_x=0.01, eta_y=0.1, n_inner=5, r=0.01, radius=1.0),
     game=Instance(what="a QuadraticGame", wrong=("problem", "sde")),
     eta_x=MOD["eta_x"], eta_y=MOD["eta_y"], n_inner=Integer(1, sample=(1, 10)),
     r=Real(0.0, low_closed=False, high_closed=False, sample=(0.001, 0.1)), radius=RADIUS)

# kicked escape
KICK = dict(r=Real(0.0, low_closed=False, high_closed=False, sample=(0.01, 0.5)),
            radius=RADIUS, dim=Integer(1, sample=(1, 6)),
            growth=Real(1.0, low_closed=False, high_closed=False, sample=(1.01, 2.0)))
KICK_EX = dict(r=0.1, radius=1.0, dim=3, growth=1.1)
spec("sde_opt.theory.kicked_escape.kick_projection_cdf",
     lambda: dict(a=np.array([0.0, 0.05, 0.2]), r=0.1, dim=3),
     a=Array(low=0.0, nonempty=False, scale_ok=True), r=KICK["r"], dim=KICK["dim"])
spec("sde_opt.theory.kicked_escape.kicked_escape_cdf",
     lambda: dict(k=np.array([0, 10, 50]), **KICK_EX), k=Array(low=0.0, nonempty=False,
                                                                scale_ok=True), **KICK)
spec("sde_opt.theory.kicked_escape.kicked_escape_pmf",
     lambda: dict(k=np.array([0, 10, 50]), **KICK_EX),
     k=Array(low=0.0, nonempty=False, make_valid=lambda ex: st.just(np.array([0, 3, 7]))),
     **KICK)
spec("sde_opt.theory.kicked_escape.kicked_escape_mean", lambda: dict(**KICK_EX, tol=1e-14),
     tol=Real(0.0, low_closed=False, high_closed=False, sample=(1e-14, 1e-6)), **KICK)
spec("sde_opt.theory.kicked_escape.kicked_escape_quantile",
     lambda: dict(p=np.array([0.1, 0.5, 0.9]), **KICK_EX),
     p=Array(low=0.0, high=1.0, low_closed=False, high_closed=False, nonempty=False), **KICK)
spec("sde_opt.theory.kicked_escape.kicked_escape_time_cdf",
     lambda: dict(t=np.array([0.0, 1.0, 5.0]), r=0.1, radius=1.0, dim=3, rate=1.0),
     t=Array(low=0.0, nonempty=False, scale_ok=True), r=KICK["r"], radius=RADIUS,
     dim=KICK["dim"], rate=LAM)
spec("sde_opt.theory.kicked_escape.sample_uniform_ball",
     lambda: dict(rng=np.random.default_rng(0), n_samples=5, dim=3, r=0.1),
     rng=Instance(what="a numpy.random.Generator"), n_samples=Integer(0, sample=(0, 10)),
     dim=KICK["dim"], r=KICK["r"])


# Langevin theory
def _quartic(x):
    return x**4 / 4 - x**2 / 2


@cached
def baoab_quadratic():
    import sde_opt as so
    return so.BAOAB(so.UnderdampedLangevin(so.Quadratic([1.0, 2.0]), 1.0, 2.0), 0.1)


HESS = Array(ndim=(0, 1, 2), scale_ok=True)
spec("sde_opt.theory.langevin.chain_linearization",
     lambda: dict(chain=baoab_quadratic(), x0=np.zeros(2), check=True, seed=0),
     chain=CHAIN, x0=X0, check=Bool(), seed=Key(kind="seed"))
spec("sde_opt.theory.langevin.chain_stationary_covariance",
     lambda: dict(chain=baoab_quadratic(), x0=np.zeros(2)), chain=CHAIN, x0=X0)
spec("sde_opt.theory.langevin.chain_relaxation_rate",
     lambda: dict(chain=baoab_quadratic(), x0=np.zeros(2)), chain=CHAIN, x0=X0)
spec("sde_opt.theory.langevin.underdamped_quadratic_rate", lambda: dict(m=1.0, gamma=1.0),
     m=Real(0.0, low_closed=False, high_closed=False, scalar=False), gamma=Real(
         0.0, low_closed=False, high_closed=False, scalar=False))
spec("sde_opt.theory.langevin.gibbs_expectations",
     lambda: dict(potential=_quartic, beta=2.0, fns={"x2": np.square}, lo=-3.0, hi=3.0,
                  n=2001),
     potential=Func(), beta=Real(0.0, low_closed=False, high_closed=False, sample=(0.5, 5.0)),
     fns=Instance(what="a dict name -> function"), lo=Real(sample=(-4.0, -2.0)),
     hi=Real(sample=(2.0, 4.0)), n=Integer(3, sample=(101, 2001)))
spec("sde_opt.theory.langevin.mean_first_passage_1d",
     lambda: dict(potential=_quartic, eps=0.2, x0=-1.0, b=0.0, lo=-3.0, n=4001),
     potential=Func(), eps=Real(0.0, low_closed=False, high_closed=False, sample=(0.1, 1.0)),
     x0=Real(sample=(-1.5, -0.5)), b=Real(sample=(0.0, 1.0)), lo=Real(sample=(-4.0, -2.0)),
     n=Integer(3, sample=(101, 4001)))
spec("sde_opt.theory.langevin.spectral_gap_1d",
     lambda: dict(potential=_quartic, eps=0.2, lo=-3.0, hi=3.0, n=400),
     potential=Func(), eps=Real(0.0, low_closed=False, high_closed=False, sample=(0.1, 1.0)),
     lo=Real(sample=(-4.0, -2.0)), hi=Real(sample=(2.0, 4.0)), n=Integer(3, sample=(50, 400)))
KRAMERS = dict(hess_min=HESS, hess_saddle=HESS,
               barrier=Real(0.0, low_closed=False, high_closed=False, sample=(0.1, 1.0)),
               eps=Real(0.0, low_closed=False, high_closed=False, sample=(0.05, 1.0)))
KRAMERS_EX = dict(hess_min=np.array([2.0, 1.0]), hess_saddle=np.array([-1.0, 1.0]),
                  barrier=0.25, eps=0.1)
spec("sde_opt.theory.langevin.eyring_kramers_time", lambda: dict(KRAMERS_EX), **KRAMERS)
spec("sde_opt.theory.langevin.kramers_langer_rate", lambda: dict(**KRAMERS_EX, gamma=1.0),
     gamma=NONNEG, **KRAMERS)
spec("sde_opt.theory.langevin.kramers_rate", lambda: dict(**KRAMERS_EX, gamma=None),
     gamma=Real(0.0, high_closed=False, optional=True), **KRAMERS)
spec("sde_opt.theory.langevin.langevin_effective_temperature",
     lambda: dict(beta=2.0, eta=0.01, oracle_variance=0.5, gamma=None),
     beta=BETA, eta=ETA, oracle_variance=NONNEG,
     gamma=Real(0.0, low_closed=False, high_closed=False, optional=True))
spec("sde_opt.theory.langevin.kramers_langer_lambda_plus",
     lambda: dict(gamma=1.0, omega_b2=1.0),
     gamma=Real(0.0, high_closed=False, scalar=False), omega_b2=POS)

# bilevel theory (issue 19)
ALPHA = Real(0.0, low_closed=False, high_closed=False, sample=(0.01, 0.2))
# mu <= ell (the lower level's curvature range): each drawn against the example's other (4.0, 1.0)
MU_BELOW_ELL = Real(0.0, low_closed=False, high_closed=False, sample=(0.01, 4.0))
ELL_ABOVE_MU = Real(0.0, low_closed=False, high_closed=False, sample=(1.0, 20.0))
spec("sde_opt.theory.bilevel.gd_contraction",
     lambda: dict(alpha=0.1, mu=1.0, ell=4.0, D=5),
     alpha=ALPHA, mu=MU_BELOW_ELL, ell=ELL_ABOVE_MU, D=Integer(1, sample=(1, 10)))
spec("sde_opt.theory.bilevel.cg_contraction_bound", lambda: dict(kappa=4.0, N=5),
     kappa=Real(1.0, high_closed=False, sample=(1.0, 100.0)), N=Integer(1, sample=(1, 10)))
spec("sde_opt.theory.bilevel.aid_contraction",
     lambda: dict(alpha=0.1, mu=1.0, ell=4.0, D=5, N=3),
     alpha=ALPHA, mu=MU_BELOW_ELL, ell=ELL_ABOVE_MU, D=Integer(1, sample=(1, 10)),
     N=Integer(1, sample=(1, 10)))
spec("sde_opt.theory.bilevel.diffusion_exit_mean_1d",
     lambda: dict(potential=lambda x: -x**2 / 2 + x**4 / 4, sigma=0.3, radius=0.5, n=2001),
     potential=Func(), sigma=SIGMA, radius=RADIUS, n=Integer(2, sample=(101, 2001)))
spec("sde_opt.theory.bilevel.perturbed_aid_escape_growth",
     lambda: dict(problem=quadratic_bilevel(), x_saddle=np.zeros(2), beta=0.05),
     problem=BILEVEL, x_saddle=Array(ndim=1, same_shape=True), beta=ETA)
spec("sde_opt.theory.bilevel.reduced_sde",
     lambda: dict(problem=quadratic_bilevel(), alpha=0.1, beta=0.05, D=3, Q=3),
     problem=BILEVEL, alpha=ALPHA, beta=ETA, D=Integer(1, sample=(1, 5)),
     Q=Integer(1, sample=(1, 5)))


@cached
def reduced_hypergradient():
    import sde_opt as so
    return so.problems.ReducedHypergradient(quadratic_bilevel(), 0.1, 3, 3)


REDUCED = Instance(what="a ReducedHypergradient", wrong=("problem", "game"))
spec("sde_opt.theory.bilevel.reduced_linearization",
     lambda: dict(reduced=reduced_hypergradient(), x=np.zeros(2)),
     reduced=REDUCED, x=Array(ndim=1, same_shape=True, scale_ok=True))
spec("sde_opt.theory.bilevel.reduced_saddle_exit_mean",
     lambda: dict(reduced=reduced_hypergradient(), x_saddle=np.zeros(2), beta=0.05, radius=0.5),
     reduced=REDUCED, x_saddle=Array(ndim=1, same_shape=True), beta=ETA, radius=RADIUS)
spec("sde_opt.theory.bilevel.reduced_saddle_exit_mean_em",
     lambda: dict(reduced=reduced_hypergradient(), x_saddle=np.zeros(2), beta=0.05, radius=0.5),
     reduced=REDUCED, x_saddle=Array(ndim=1, same_shape=True), beta=ETA, radius=RADIUS)
spec("sde_opt.theory.bilevel.reduced_stationary_covariance",
     lambda: dict(reduced=reduced_hypergradient(), x_min=np.array([1.0, 0.0]), beta=0.05),
     reduced=REDUCED, x_min=Array(ndim=1, same_shape=True), beta=ETA)
spec("sde_opt.theory.bilevel.reduced_unstable_noise",
     lambda: dict(reduced=reduced_hypergradient(), x_saddle=np.zeros(2), beta=0.05),
     reduced=REDUCED, x_saddle=Array(ndim=1, same_shape=True), beta=ETA)

# neural-collapse theory (issue 20)
NC_KICK = dict(r=KICK["r"], radius=RADIUS, dim=Integer(1, sample=(2, 6)),
               sub_dim=Integer(1, sample=(1, 2)), growth=KICK["growth"])
NC_KICK_EX = dict(r=0.1, radius=1.0, dim=4, sub_dim=2, growth=1.1)
spec("sde_opt.theory.neural_collapse.kicked_subspace_escape_cdf",
     lambda: dict(k=np.array([0, 10, 50]), **NC_KICK_EX), k=Array(low=0.0, scale_ok=True),
     **NC_KICK)
spec("sde_opt.theory.neural_collapse.kicked_subspace_escape_mean",
     lambda: dict(**NC_KICK_EX, tol=1e-14),
     tol=Real(0.0, low_closed=False, high_closed=False, sample=(1e-14, 1e-6)), **NC_KICK)
spec("sde_opt.theory.neural_collapse.saddle_linearization",
     lambda: dict(problem=ufm(), point=ufm().critical_points()["saddle"][0]
                  if "saddle" in ufm().critical_points() else ufm().random_point(_key0())),
     problem=MIN_PROBLEM, point=Instance(what="a point on the problem's geometry"))
spec("sde_opt.theory.neural_collapse.sphere_bm_factor",
     lambda: dict(d=3, h=0.01, scheme="projected"),
     d=Integer(2, sample=(2, 6)), h=STEP, scheme=Choice(options=("projected", "geodesic")))
spec("sde_opt.theory.neural_collapse.sphere_bm_mean_cosine", lambda: dict(d=3, t=1.0),
     d=Integer(2, sample=(2, 6)), t=NONNEG)
spec("sde_opt.theory.neural_collapse.uniform_tangent_kick",
     lambda: dict(geometry=ufm().geometry, point=ufm().random_point(_key0()), key=_key0(),
                  radius=0.1, n=4),
     geometry=Instance(what="a geometry", wrong=("problem",)),
     point=Instance(what="a point on the geometry"), key=Key(), radius=RADIUS,
     n=Integer(1, sample=(1, 6)))


@cached
def ufm64_point():
    """The ETF global minimizer of ufm() (float64 NumPy arrays)."""
    return {a: np.asarray(b, np.float64) for a, b in ufm().global_minimizer().items()}


@cached
def ufm_saddle():
    return {a: np.asarray(b, np.float64) for a, b in ufm().saddle("collapsed").items()}


def _nc_starts():
    rng = np.random.default_rng(0)
    pts = [ufm().geometry.retract({a: b + 0.05 * rng.standard_normal(b.shape)
                                   for a, b in ufm_saddle().items()}) for _ in range(2)]
    return {a: np.stack([np.asarray(q[a], np.float64) for q in pts]) for a in ("W", "H")}


UFM = Instance(what="a NormalizedUFM", wrong=("problem", "game", "sde"))
UFM_POINT = Instance(what="a point {'W': W, 'H': H}", bad=("x", 1.0, (1, 2), {"W": 1.0}))
NC_STARTS = Instance(what="a point {'W', 'H'} with a leading axis",
                     bad=("x", 1.0, (1, 2), {"W": np.ones((2, 3, 3))}))
NC_TOLS = dict(grad_tol=Real(0.0, low_closed=False, high_closed=False, sample=(1e-12, 1e-3)),
               curvature_tol=Real(0.0, low_closed=False, high_closed=False,
                                  sample=(1e-10, 1e-3)),
               value_tol=Real(0.0, low_closed=False, high_closed=False, sample=(1e-12, 1e-3)))
NC_TOLS_EX = dict(grad_tol=1e-9, curvature_tol=1e-6, value_tol=1e-9)
spec("sde_opt.theory.neural_collapse.find_critical_points",
     lambda: dict(problem=ufm(), starts=_nc_starts(), n_iter=3), _valid_examples=2,
     problem=Instance(what="a minimization problem", wrong=("game", "sde")), starts=NC_STARTS,
     n_iter=Integer(1, sample=(1, 4)))
spec("sde_opt.theory.neural_collapse.classify_critical_point",
     lambda: dict(problem=ufm(), x=ufm_saddle(), f_star=None, **NC_TOLS_EX), _valid_examples=2,
     problem=UFM, x=UFM_POINT, f_star=Real(low_closed=False, high_closed=False, optional=True),
     **NC_TOLS)
spec("sde_opt.theory.neural_collapse.critical_point_census",
     lambda: dict(problem=ufm(), starts=_nc_starts(), n_iter=3, **NC_TOLS_EX), _valid_examples=2,
     problem=UFM, starts=NC_STARTS, n_iter=Integer(1, sample=(1, 4)), **NC_TOLS)
record("a result of critical_point_census / classify_critical_point; not user input",
       "sde_opt.theory.neural_collapse.CriticalPoint")
spec("sde_opt.theory.neural_collapse.min_positive_curvature", lambda: dict(problem=ufm()),
     problem=UFM)
RUN_VALUES = Array(ndim=1, same_shape=True, low=0.0, finite=False, scale_ok=True)  # NaN: diverged
spec("sde_opt.theory.neural_collapse.attainment",
     lambda: dict(problem=ufm(), loss=np.array([0.9, 1.2]), grad_norm=np.array([1e-9, 1e-3]),
                  nc1=np.array([1e-12, 0.1]), nc2=np.array([1e-9, 0.2]),
                  nc3=np.array([1e-9, 0.3]), eps=2.2e-16, grad_tol=1e-6),
     problem=UFM, loss=Array(ndim=1, same_shape=True, finite=False, scale_ok=True),
     grad_norm=RUN_VALUES,
     nc1=RUN_VALUES, nc2=RUN_VALUES, nc3=RUN_VALUES,
     eps=Real(0.0, low_closed=False, high_closed=False, sample=(1e-16, 1e-6)),
     grad_tol=Real(0.0, low_closed=False, high_closed=False, sample=(1e-9, 1e-3)))
spec("sde_opt.theory.neural_collapse.reference_hessian_eigenvalues",
     lambda: dict(problem=ufm(), x=ufm_saddle()), _valid_examples=1, problem=UFM, x=UFM_POINT)
# two spectra of different lengths are not an error: minimality_ok is then False
EIGENVALUES = Array(ndim=1, valid_from=(np.array([-1.0, 0.5, 2.0]),))
spec("sde_opt.theory.neural_collapse.curvature_verdict",
     lambda: dict(package_eigenvalues=np.array([-1.0, 0.5, 2.0]),
                  reference_eigenvalues=np.array([-1.0, 0.5, 2.0]), closed_form=None),
     package_eigenvalues=EIGENVALUES, reference_eigenvalues=EIGENVALUES,
     closed_form=Real(low_closed=False, high_closed=False, optional=True))
spec("sde_opt.theory.neural_collapse.UnstableExit",
     lambda: dict(center={"W": np.zeros((2, 2))}, basis=np.eye(4)[:, :1], radius=0.1),
     center=Instance(what="a point (an array or a pytree)", bad=("x", {"W": "a"})),
     basis=Array(ndim=2, same_shape=(0,), scale_ok=True), radius=RADIUS)


@cached
def ufm_batch1():
    import sde_opt as so
    return so.NormalizedUFM(3, 3, 1, batch_size=1)


spec("sde_opt.theory.neural_collapse.one_step_moments",
     lambda: dict(problem=ufm_batch1(), eta=0.01,
                  x={a: np.asarray(b, np.float64)
                     for a, b in ufm_batch1().saddle("collapsed").items()}, sde=None),
     _valid_examples=2, problem=UFM, eta=Real(0.0, low_closed=False, high_closed=False,
                                            sample=(1e-3, 0.1)),
     x=UFM_POINT, sde=Instance(what="an SDE or None", optional=True, wrong=("problem", "chain")))

# neural-collapse metrics (issue 20)
NC_LABELS = Array(ndim=1, same_shape=True, low=0.0, high=2.0)
NC_EX_H = np.array([[1.0, 0.9, -0.5, -0.4, -0.5, -0.6], [0.0, 0.1, 0.8, 0.9, -0.8, -0.9]])
NC_EX_LABELS = np.array([0, 0, 1, 1, 2, 2])
NC_EX_W = np.array([[1.0, -0.5, -0.5], [0.0, 0.87, -0.87]])
spec("sde_opt.stats.neural_collapse.class_means",
     lambda: dict(h=NC_EX_H, labels=NC_EX_LABELS, k=3),
     h=Array(ndim=2, same_shape=(1,), finite=False, scale_ok=True), labels=NC_LABELS,
     k=Integer(2, valid_from=(3, 4)))
spec("sde_opt.stats.neural_collapse.nc1", lambda: dict(h=NC_EX_H, labels=NC_EX_LABELS, k=3),
     h=Array(ndim=2, same_shape=(1,), finite=False, scale_ok=True), labels=NC_LABELS,
     k=Integer(2, valid_from=(3, 4)))
spec("sde_opt.stats.neural_collapse.nc2", lambda: dict(w=NC_EX_W),
     w=Array(ndim=2, finite=False, scale_ok=True))
spec("sde_opt.stats.neural_collapse.nc3", lambda: dict(w=NC_EX_W, h=NC_EX_H, labels=NC_EX_LABELS),
     w=Array(ndim=2, same_shape=(0,), finite=False, scale_ok=True),
     h=Array(ndim=2, same_shape=True, finite=False, scale_ok=True), labels=NC_LABELS)
spec("sde_opt.stats.neural_collapse.nc_metrics",
     lambda: dict(x={"W": NC_EX_W, "H": NC_EX_H}, labels=NC_EX_LABELS, k=3),
     x=UFM_POINT, labels=NC_LABELS, k=Integer(2, valid_from=(3,)))
spec("sde_opt.stats.neural_collapse.nc_observables", lambda: dict(labels=NC_EX_LABELS, k=3),
     labels=Array(ndim=1, low=0.0, high=2.0), k=Integer(2, valid_from=(3, 4)))


def _key0():
    import jax.random as jr
    return jr.key(0)


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------

record("a result record returned by a statistics function; its fields are not user input",
       "sde_opt.stats._estimate.Estimate", "sde_opt.stats.exit_times.ExitTimeSummary",
       "sde_opt.stats.fits.SlopeFit", "sde_opt.stats.survival.KaplanMeier",
       "sde_opt.stats.rates.BootstrapSlope", "sde_opt.stats.rates.RateFit")


def _rng_values(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _exit_times():
    return np.random.default_rng(0).exponential(1.0, 40)


def _observed():
    return np.arange(40) % 5 != 0


BOOL_MASK = Instance(what="a boolean array", optional=True)
SAMPLES = Array(scale_ok=True)
spec("sde_opt.stats._estimate.normal_quantile", lambda: dict(level=0.95), level=LEVEL)
spec("sde_opt.stats.exit_times.exit_time_summary",
     lambda: dict(result_or_times=_exit_times(), observed=_observed(), diverged=None,
                  quantiles=(0.25, 0.5), level=0.9, diverged_as="censored"),
     result_or_times=Array(ndim=1, low=0.0, scale_ok=True), observed=BOOL_MASK,
     diverged=BOOL_MASK, unit=Choice(options=("time", "steps")),
     quantiles=Array(ndim=1, low=0.0, high=1.0, low_closed=False, high_closed=False,
                     nonempty=False),
     level=LEVEL, diverged_as=Choice(options=("censored", "exited")))
spec("sde_opt.stats.fits.slope_fit",
     lambda: dict(x=np.array([1.0, 2.0, 4.0, 8.0]), y=np.array([1.0, 0.52, 0.26, 0.12]),
                  y_se=None, log=True, level=0.95),
     x=Array(ndim=1, same_shape=True, low=0.0, low_closed=False, scale_ok=True),
     y=Array(ndim=1, same_shape=True, low=0.0, low_closed=False, scale_ok=True),
     y_se=Array(ndim=1, same_shape=True, low=0.0, low_closed=False, optional=True),
     log=Bool(), level=LEVEL)
spec("sde_opt.stats.moments.iid_mean", lambda: dict(x=_rng_values(50, 2), level=0.95),
     x=SAMPLES, level=LEVEL)
spec("sde_opt.stats.moments.iid_covariance",
     lambda: dict(x=_rng_values(50, 2), gaussian=True, level=0.95),
     x=Array(ndim=2, scale_ok=True), gaussian=Bool(), level=LEVEL)
spec("sde_opt.stats.quantiles.quantile_ci",
     lambda: dict(values=_exit_times(), q=0.5, level=0.95, n=None, horizon=None),
     values=Array(nonempty=False, scale_ok=True), q=PROB, level=LEVEL,
     n=Integer(40, optional=True, sample=(40, 60)),
     horizon=Real(optional=True, high_closed=False, sample=(10.0, 20.0)))
spec("sde_opt.stats.quantiles.quantile_ci_coverage", lambda: dict(n=40, q=0.5, level=0.95),
     n=Integer(1, sample=(1, 200)), q=PROB, level=LEVEL)
STAT_PATHS = lambda: _rng_values(4, 100)  # noqa: E731
spec("sde_opt.stats.stationary.batch_means",
     lambda: dict(values=STAT_PATHS(), burn_in=0, n_batches=None, level=0.95),
     values=Array(ndim=(2, 3, 4), scale_ok=True), burn_in=Integer(0, sample=(0, 50)),
     n_batches=Integer(1, optional=True, sample=(2, 10)), level=LEVEL)
spec("sde_opt.stats.stationary.integrated_autocorr_time",
     lambda: dict(values=STAT_PATHS(), burn_in=0, window=5.0),
     values=Array(ndim=(1, 2, 3, 4), scale_ok=True), burn_in=Integer(0, sample=(0, 50)),
     window=Real(0.0, low_closed=False, high_closed=False, sample=(1.0, 10.0)))
spec("sde_opt.stats.stationary.stationary_covariance",
     lambda: dict(x=_rng_values(4, 100, 2), burn_in=0, n_batches=None, mean=None, level=0.95),
     x=Array(ndim=3, scale_ok=True), burn_in=Integer(0, sample=(0, 50)),
     n_batches=Integer(1, optional=True, sample=(2, 10)),
     mean=Array(ndim=(0, 1), optional=True), level=LEVEL)
spec("sde_opt.stats.survival.kaplan_meier",
     lambda: dict(times=_exit_times(), observed=_observed(), level=0.95),
     times=Array(ndim=1, low=0.0, scale_ok=True), observed=BOOL_MASK, level=LEVEL)


def _decay(seed=0):
    t = np.linspace(0.0, 3.0, 31)
    rng = np.random.default_rng(seed)
    return t, np.exp(-t)[None, :] + 0.01 * rng.standard_normal((20, 31))


spec("sde_opt.stats.rates.exponential_rate",
     lambda: dict(t=_decay()[0], per_path=_decay()[1], stationary=0.0, min_signal=6.0,
                  t_min=0.0, n_boot=20, seed=0),
     t=Array(ndim=1, same_shape=True), per_path=Array(ndim=2, same_shape=(1,), finite=False),
     stationary=FINITE, min_signal=Real(0.0, low_closed=False, high_closed=False,
                                        sample=(2.0, 8.0)),
     t_min=Real(low_closed=False, high_closed=False, sample=(0.0, 0.5)), n_boot=Integer(2, sample=(2, 30)),
     seed=Key(kind="seed"))
spec("sde_opt.stats.rates.exponential_rate_difference",
     lambda: dict(t=_decay()[0], paths_a=_decay(0)[1], paths_b=-_decay(1)[1], min_signal=6.0,
                  t_min=0.0, envelope=False, secular=False, n_boot=20, seed=0),
     t=Array(ndim=1, same_shape=True), paths_a=Array(ndim=2, same_shape=(1,), finite=False),
     paths_b=Array(ndim=2, same_shape=(1,), finite=False),
     min_signal=Real(0.0, low_closed=False, high_closed=False, sample=(2.0, 8.0)),
     t_min=Real(low_closed=False, high_closed=False, sample=(0.0, 0.5)), envelope=Bool(valid_from=(False,)),
     secular=Bool(), n_boot=Integer(2, sample=(2, 30)), seed=Key(kind="seed"))


def _orders():
    x = np.array([0.1, 0.05, 0.025, 0.0125])
    rng = np.random.default_rng(0)
    return x, x[:, None] * (1.0 + 0.1 * rng.standard_normal((4, 30)))


spec("sde_opt.stats.rates.loglog_slope",
     lambda: dict(x=_orders()[0], per_path=_orders()[1], reduce="rms", correction=False,
                  n_boot=20, seed=0),
     x=Array(ndim=1, same_shape=True, low=0.0, low_closed=False),
     per_path=Array(ndim=2, same_shape=(0,), finite=False), reduce=Choice(options=("rms", "mean")),
     correction=Bool(), n_boot=Integer(2, sample=(2, 30)), seed=Key(kind="seed"))


# --------------------------------------------------------------------------------------------
# fitting diffusions
# --------------------------------------------------------------------------------------------

record("a result record returned by the fitters; not user input", "sde_opt.fit._result.FitResult")


@cached
def _tmpdir():
    import tempfile
    return tempfile.mkdtemp(prefix="sde_opt_param_specs_")


@cached
def trace_file():
    import os

    import sde_opt.fit as fit
    path = os.path.join(_tmpdir(), "trace.npz")
    fit.save_trace(path, ou_trace(), 0.05)
    return path


TRACE = Array(ndim=(1, 2, 3), scale_ok=True)
DT_TRACE = Real(0.0, low_closed=False, high_closed=False, optional=True, valid_from=(0.05, 0.1))
spec("sde_opt.fit._trace.Trace", lambda: dict(x=ou_trace_2d()[None], dt=0.05),
     x=Array(ndim=3, scale_ok=True), dt=POS)
spec("sde_opt.fit._trace.as_trace",
     lambda: dict(x=ou_trace(), dt=0.05, t=None, min_steps=3, owner="trace",
                  allow_constant=True),
     _owners=("trace", "as_trace"), x=TRACE, dt=DT_TRACE,
     t=Array(ndim=(1, 2), optional=True, valid_from=(None,)),
     min_steps=Integer(2, sample=(2, 100)), owner=Text(valid_from=("trace",)),
     allow_constant=Bool())
spec("sde_opt.fit._trace.load_trace", lambda: dict(path=trace_file(), dt=None),
     path=Path(), dt=Real(0.0, low_closed=False, high_closed=False, optional=True,
                          valid_from=(None, 0.05)))
spec("sde_opt.fit._trace.save_trace",
     lambda: dict(path=__import__("os").path.join(_tmpdir(), "saved.npz"), x=ou_trace(),
                  dt=0.05),
     path=Path(), x=TRACE, dt=POS)
spec("sde_opt.fit.ou_mle.fit_ou",
     lambda: dict(x=ou_trace(), dt=0.05, mean=None, ci="asymptotic", n_boot=20, seed=0,
                  level=0.95, t=None),
     x=TRACE, dt=DT_TRACE, mean=Array(ndim=(0, 1), optional=True),
     ci=Choice(options=("asymptotic", "bootstrap")), n_boot=Integer(2, sample=(2, 30)),
     seed=Key(kind="seed"), level=LEVEL, t=Array(ndim=(1, 2), optional=True, valid_from=(None,)))
spec("sde_opt.fit.realized.fit_quadratic_variation",
     lambda: dict(x=ou_trace(), dt=0.05, drift_matrix=None, mean=None, blocks=None, level=0.95,
                  t=None),
     x=TRACE, dt=DT_TRACE, drift_matrix=Array(ndim=(0, 2), optional=True),
     mean=Array(ndim=(0, 1), optional=True), blocks=Integer(2, optional=True, sample=(2, 20)),
     level=LEVEL, t=Array(ndim=(1, 2), optional=True, valid_from=(None,)))
spec("sde_opt.fit.realized.qv_expectation_ou",
     lambda: dict(A=np.array([[-1.0]]), D=np.array([[0.5]]), dt=0.1),
     A=Array(ndim=(0, 2), scale_ok=True), D=Array(ndim=(0, 2), scale_ok=True), dt=STEP)
spec("sde_opt.fit.kramers_moyal.fit_kramers_moyal",
     lambda: dict(x=ou_trace(), dt=0.05, bins=10, range=[(-2.0, 2.0)], correction="ou",
                  drift_matrix=None, min_count=5, level=0.95, t=None),
     x=TRACE, dt=DT_TRACE, bins=Instance(what="an int, ints per axis or bin edges"),
     range=Array(optional=True, valid_from=(None, [(-2.0, 2.0)], ((-1.0, 3.0),))),
     correction=Choice(options=("ou", "variance", "none")),
     drift_matrix=Array(ndim=(0, 2), optional=True), min_count=Integer(2, sample=(2, 20)),
     level=LEVEL, t=Array(ndim=(1, 2), optional=True, valid_from=(None,)))
spec("sde_opt.fit.effective_lr.fit_effective_lr",
     lambda: dict(x=ou_trace_2d(), hessian=np.eye(2), sigma_g=None, center=None, blocks=10,
                  level=0.95),
     x=Array(ndim=(1, 2, 3), scale_ok=True),
     hessian=Array(ndim=2, same_shape=True, scale_ok=True),
     sigma_g=Array(ndim=2, optional=True), center=Array(ndim=1, optional=True),
     blocks=Integer(2, sample=(2, 20)), level=LEVEL)
spec("sde_opt.fit.gradient_noise.gradient_noise_covariance",
     lambda: dict(grads=_rng_values(50, 3), batch_size=4, minibatch_size=None,
                  population_size=None, replacement=False, basis=None, level=0.95),
     grads=Array(ndim=2, scale_ok=True), batch_size=Integer(1, sample=(1, 10)),
     minibatch_size=Integer(1, optional=True, valid_from=(None,)),
     population_size=Integer(1, optional=True, valid_from=(None, 100, 1000)),
     replacement=Bool(), basis=Array(ndim=2, optional=True, valid_from=(None,)), level=LEVEL)
spec("sde_opt.fit.gradient_noise.predicted_diffusion",
     lambda: dict(sigma_g=np.eye(2) * 0.1, eta=0.01, mu=0.5, level=0.95),
     sigma_g=Array(ndim=(0, 2), scale_ok=True), eta=ETA, mu=MU, level=LEVEL)
HB_TARGET = dict(hessian=Array(ndim=(0, 1, 2), scale_ok=True),
                 noise_cov=Array(ndim=(0, 1, 2), scale_ok=True),
                 eta=Real(0.0, low_closed=False, high_closed=False, sample=(1e-3, 0.1)),
                 mu=Real(0.0, 1.0, high_closed=False, sample=(0.0, 0.9)))
spec("sde_opt.fit.targets.heavy_ball_chain",
     lambda: dict(hessian=np.diag([1.0, 2.0]), noise_cov=np.eye(2) * 0.1, eta=0.05, mu=0.5),
     **HB_TARGET)
spec("sde_opt.fit.targets.heavy_ball_ou_target",
     lambda: dict(hessian=np.diag([1.0, 2.0]), noise_cov=np.eye(2) * 0.1, eta=0.05, mu=0.5,
                  stride=5),
     stride=Integer(1, sample=(1, 20)), **HB_TARGET)


def _ou_fit_target_example():
    import sde_opt.fit as fit
    m, n, c, o = fit.heavy_ball_chain(np.diag([1.0, 2.0]), np.eye(2) * 0.1, 0.05, 0.5)
    return dict(M=m, noise_map=n, noise_cov=c, observe=o, stride=5, dt=0.05)


spec("sde_opt.fit.targets.ou_fit_target", _ou_fit_target_example,
     M=Array(ndim=2, same_shape=True), noise_map=Array(ndim=2, same_shape=True),
     noise_cov=Array(ndim=2, same_shape=True, scale_ok=True),
     observe=Array(ndim=2, same_shape=True), stride=Integer(1, sample=(1, 20)), dt=STEP)


# --------------------------------------------------------------------------------------------
# experiments and sweeps
# --------------------------------------------------------------------------------------------

record("an exception / a result record; not constructed by users",
       "sde_opt.experiment.results.ConfigMismatch", "sde_opt.experiment.study.StudyRun",
       "sde_opt.experiment.verdict.Verdict", "sde_opt.sweep.ComparisonPoint",
       "sde_opt.sweep.ExitComparison", "sde_opt.sweep.StationaryComparison")

SUMMARY_NUMBER = Real(optional=True, nonfinite_ok=True)


@cached
def _toy_study():
    import types
    m = types.ModuleType("toy_study")
    m.NAME = "toy"
    m.run = lambda out, quick, progress: {"value": 1.0}
    return m


def _fresh_dir(name):
    import os
    import uuid
    return os.path.join(_tmpdir(), f"{name}-{uuid.uuid4().hex[:8]}")


def _verdicts():
    import sde_opt.experiment as ex
    return [ex.compare("a", 1.0, 1.01, 0.01), ex.compare("b", 1.0, 2.0, 0.01, kind="engine")]


def _rows():
    from sde_opt.experiment.table import claim
    return [claim("escape time", 1.0, ci=(0.9, 1.1), theory=1.0, verdict="pass", note="95% CI")]


spec("sde_opt.experiment.progress.Progress",
     lambda: dict(desc="study", parts=["a", "b"], enabled=False, unit="part"),
     desc=Text(), parts=Instance(what="part names or a count", bad=("x", 1.5, (1, 2), -1)),
     enabled=Bool(valid_from=(False,)), unit=Text())
spec("sde_opt.experiment.results.Share", lambda: dict(index=0, count=2, poll=0.5, timeout=10.0),
     index=Integer(0, 1, sample=(0, 1)), count=Integer(1, sample=(2, 4)), poll=POS,
     timeout=Real(0.0, low_closed=False, high_closed=False, optional=True))
spec("sde_opt.experiment.results.ResultsDir",
     lambda: dict(path=_fresh_dir("results"), share=None, points="points"),
     path=Path(), share=Instance(what="a Share or None", optional=True),
     points=Text(valid_from=("points", "points/quick")))
spec("sde_opt.experiment.study.run_study",
     lambda: dict(module=_toy_study(), out=_fresh_dir("study"), quick=True, progress=False,
                  share=None),
     module=Instance(what="a study module"), out=Path(), quick=Bool(), progress=Bool(),
     share=Instance(what="a Share or None", optional=True))
VERDICT_COMMON = dict(claim=Text(), predicted=Real(nonfinite_ok=True),
                      measured=Real(nonfinite_ok=True), note=Text(), reference=Text(),
                      bias=Real(0.0, high_closed=False, valid_from=(0.0,)),
                      bias_source=Text(),
                      deviation=Instance(what="a Deviation or None", optional=True),
                      kind=Choice(options=("claim", "engine")))
spec("sde_opt.experiment.verdict.compare",
     lambda: dict(claim="mean escape", predicted=1.0, measured=1.01, se=0.01, bias=0.0, z=4.0),
     se=Real(0.0, nonfinite_ok=True), z=POS, **VERDICT_COMMON)
spec("sde_opt.experiment.verdict.compare_interval",
     lambda: dict(claim="slope", predicted=0.5, measured=0.52, ci_low=0.45, ci_high=0.6),
     ci_low=Real(nonfinite_ok=True, valid_from=(0.45, -math.inf)),
     ci_high=Real(nonfinite_ok=True, valid_from=(0.6, math.inf)), **VERDICT_COMMON)
CI_PAIR = Instance(what="a pair (low, high) or None", optional=True,
                   bad=("x", 1.0, (1.0, 2.0, 3.0), ("a", "b")))
ROWS = Instance(what="a list of row dicts", bad=("x", 1.0, (1, 2), {"a": 1}))
spec("sde_opt.experiment.table.format_claims", lambda: dict(rows=_rows(), width=100, title=None),
     rows=ROWS, width=Integer(80, sample=(80, 200)), title=Text(optional=True))


def _sweep_example(**extra):
    return dict(make_algorithm=_msgd_factory, points=[{"eta": 0.1}], x0=X2, key=0, n_paths=4,
                n_steps=8, **extra)


def _msgd_factory(eta):
    import sde_opt as so
    return so.MomentumSGD(saddle(), eta, 0.5)


def _leave():
    import sde_opt as so
    return [so.LeaveBall(np.zeros(2), 1.0)]


def _sq(x):
    return x[0] ** 2


SWEEP = dict(make_algorithm=Func(), points=Instance(what="a list of parameter dicts",
                                                     bad=("x", 1.0, {"eta": 0.1}, [1.0])),
             x0=X0, key=Key(), n_paths=Integer(1, sample=(4, 4)),
             n_steps=Integer(0, sample=(8, 8)))
SWEEP_RULES = dict(stride=Integer(1, sample=(1, 1)), limit_substeps=Integer(1, sample=(1, 1)))
spec("sde_opt.sweep.grid", lambda: dict(eta=[0.1, 0.2], mu=[0.0]),
     axes=Instance(what="a list of values per axis", bad=("x", 1.0, None),
                   valid_from=([1, 2], (0.5,), np.arange(3))))
spec("sde_opt.sweep.compare_with_limit", lambda: _sweep_example(events=_leave()),
     _valid_examples=1, events=EVENTS, observables=OBSERVABLES, scheme=Func(),
     store=Instance(what="an object with point(key, compute), or None", optional=True),
     tag=Text(valid_from=("point",)), progress=Bool(valid_from=(False,)), **SWEEP, **SWEEP_RULES)
spec("sde_opt.sweep.compare_exit_times", lambda: _sweep_example(events=_leave()),
     _valid_examples=1, events=EVENTS, theory=Func(optional=True),
     unit=Choice(options=("iterations", "time", "steps")),
     quantiles=Array(ndim=1, low=0.0, high=1.0, low_closed=False, high_closed=False,
                     nonempty=False),
     level=LEVEL, diverged_as=Choice(options=("censored", "exited")),
     kwargs=Free(why="passed on to compare_with_limit, which checks them"), **SWEEP)
spec("sde_opt.sweep.compare_stationary",
     lambda: {**_sweep_example(observable=_sq, stride=2), "n_steps": 64},
     _valid_examples=1, observable=Func(), stride=Integer(1, sample=(2, 2)),
     burn_in=Real(0.0, high_closed=False, valid_from=(0.2, 0.5, 1, 2)),
     theory=Func(optional=True), level=LEVEL,
     kwargs=Free(why="passed on to compare_with_limit, which checks them"),
     **{**SWEEP, "n_steps": Integer(0, sample=(64, 64))})


# --------------------------------------------------------------------------------------------
# the adaptive family (issue 23), the two-timescale GDmax SDE (18), StocBiO's call moments (19),
# the augmented UFM (20), the user-defined problems and SDE (22)
# --------------------------------------------------------------------------------------------

def _so():
    import sde_opt as so
    return so


def _adam_like(**kw):
    return dict(problem=double_well(), eta=0.01, eps=1e-8, sigma=None, u0=0.0, **kw)


ADAPTIVE = dict(problem=MIN_PROBLEM, eta=ETA, eps=NONNEG,
                sigma=Real(0.0, low_closed=False, high_closed=False, optional=True),
                u0=NONNEG)
spec("sde_opt.algorithms.optax_chain.OptaxChain",
     lambda: dict(problem=double_well(), tx=__import__("optax").sgd(0.1), dt=1.0),
     problem=MIN_PROBLEM, tx=Instance(what="an optax.GradientTransformation"), dt=POS)
spec("sde_opt.algorithms.rmsprop.RMSprop", lambda: _adam_like(beta=0.999),
     beta=Real(0.0, 1.0, high_closed=False), **ADAPTIVE)
spec("sde_opt.algorithms.adam.Adam", lambda: _adam_like(beta1=0.9, beta2=0.999),
     beta1=Real(0.0, 1.0, high_closed=False), beta2=Real(0.0, 1.0, high_closed=False),
     bias_correction=Bool(), **ADAPTIVE)
spec("sde_opt.algorithms.svag.SVAGOracle", lambda: dict(problem=double_well(), amplification=2.0),
     problem=MIN_PROBLEM, amplification=Real(1.0, high_closed=False, sample=(1.0, 8.0)))
spec("sde_opt.algorithms.svag.svag_sgd", lambda: dict(problem=double_well(), eta=0.01, ell=2),
     problem=MIN_PROBLEM, eta=ETA, ell=Real(1.0, high_closed=False, sample=(1.0, 8.0)))
spec("sde_opt.algorithms.svag.svag_rmsprop", lambda: _adam_like(beta=0.999, ell=2),
     beta=Real(0.0, 1.0, high_closed=False), ell=Real(1.0, high_closed=False, sample=(1.0, 8.0)),
     **ADAPTIVE)
spec("sde_opt.algorithms.svag.svag_adam", lambda: _adam_like(beta1=0.9, beta2=0.999, ell=2),
     beta1=Real(0.0, 1.0, high_closed=False), beta2=Real(0.0, 1.0, high_closed=False),
     bias_correction=Bool(), ell=Real(1.0, high_closed=False, sample=(1.0, 8.0)), **ADAPTIVE)
ADAPTIVE_SDE = dict(problem=MIN_PROBLEM, sigma=POS, sigma0=POS, eps0=NONNEG, noisy=Bool(),
                    u0=NONNEG)
spec("sde_opt.sde.adaptive.RMSpropSDE",
     lambda: dict(problem=double_well(), sigma=1.0, sigma0=1.0, eps0=0.1, c2=1.0),
     c2=POS, **ADAPTIVE_SDE)
spec("sde_opt.sde.adaptive.AdamSDE",
     lambda: dict(problem=double_well(), sigma=1.0, sigma0=1.0, eps0=0.1, c1=1.0, c2=1.0),
     c1=POS, c2=POS, bias_correction=Bool(), **ADAPTIVE_SDE)
record("a chain's state (built by init/step); not user input",
       "sde_opt.algorithms.optax_chain.OptaxState", "sde_opt.algorithms.adam.AdamState",
       "sde_opt.sde.adaptive.RMSpropSDEState")

@cached
def quad_rmsprop():
    import sde_opt as so
    return so.RMSprop(so.Quadratic([1.0, 4.0], noise_cov=25.0), 0.1, 0.99, 1.0, sigma=5.0)


def _rms_state():
    import jax.numpy as jnp

    import sde_opt as so
    return so.algorithms.RMSpropState(jnp.array([0.5, -0.3]), jnp.full(2, 0.6))


QUAD_MATRIX = Array(ndim=(0, 2), same_shape=True, scale_ok=True)
spec("sde_opt.theory.adaptive.rmsprop_stationary_covariance",
     lambda: dict(hessian=np.diag([1.0, 4.0]), noise_cov=np.eye(2), sigma=1.0, sigma0=0.5,
                  eps0=0.1),
     hessian=QUAD_MATRIX, noise_cov=QUAD_MATRIX, sigma=POS, sigma0=POS, eps0=NONNEG)
spec("sde_opt.theory.adaptive.adam_stationary_covariance",
     lambda: dict(hessian=np.diag([1.0, 4.0]), noise_cov=np.eye(2), sigma=1.0, sigma0=0.5,
                  eps0=0.1, c1=1.0, full=False),
     hessian=QUAD_MATRIX, noise_cov=QUAD_MATRIX, sigma=POS, sigma0=POS, eps0=NONNEG, c1=POS,
     full=Bool())
SCALING_RULE = dict(kappa=Real(0.0, low_closed=False, high_closed=False, sample=(0.5, 50.0)),
                    eta=POS, eps=NONNEG,
                    betas=Free(why="keyword averaging constants (beta=, beta1=, ...), each "
                               "checked in [0, 1) by name"))
spec("sde_opt.theory.adaptive.square_root_scaling",
     lambda: dict(kappa=4.0, eta=0.01, eps=1e-8, beta=0.999), **SCALING_RULE)
spec("sde_opt.theory.adaptive.linear_scaling",
     lambda: dict(kappa=4.0, eta=0.01, eps=1e-8, beta=0.999), **SCALING_RULE)
ADAPTIVE_CHAIN = Instance(what="an RMSprop or Adam chain", wrong=("chain", "problem", "sde"))
spec("sde_opt.theory.adaptive.regime_numbers",
     lambda: dict(alg=quad_rmsprop(), theta=np.array([1.0, 1.0], np.float32)),
     alg=ADAPTIVE_CHAIN, theta=Array(same_shape=True, scale_ok=True))
spec("sde_opt.theory.adaptive.one_step_excess",
     lambda: dict(alg=quad_rmsprop(), state=_rms_state()),
     alg=ADAPTIVE_CHAIN, state=Instance(what="the chain's state", bad=("x", 1.0, (1, 2))))

def _smooth_grad(u):
    return -0.5 * u


POINTS = Array(ndim=(1, 2), finite=False, scale_ok=True)  # rows of a diverged path give NaN
PROX = dict(x=POINTS, lam=Real(0.0, low_closed=False, high_closed=False, sample=(0.05, 0.9)),
            smooth_grad=Func(), lipschitz=NONNEG, beta=NONNEG,
            # weak_convexity < 1/lam (= 2 in the example)
            weak_convexity=Real(0.0, high_closed=False, sample=(0.0, 1.9)))
PROX_EX = dict(x=np.array([[1.0, 0.5], [0.2, -0.1]]), lam=0.5, smooth_grad=_smooth_grad,
               lipschitz=0.5, beta=0.3, weak_convexity=0.5)
spec("sde_opt.theory.moreau.group_soft_threshold",
     lambda: dict(v=np.array([[1.0, 0.5], [0.2, -0.1]]), t=0.3), v=POINTS, t=NONNEG)
spec("sde_opt.theory.moreau.prox_smooth_plus_norm", lambda: dict(PROX_EX, n_iter=None, tol=1e-8),
     n_iter=Integer(1, optional=True, sample=(1, 50)),
     tol=Real(0.0, 1.0, low_closed=False, high_closed=False, sample=(1e-10, 1e-3)), **PROX)
spec("sde_opt.theory.moreau.moreau_gradient_norm", lambda: dict(PROX_EX),
     kw=Free(why="n_iter, tol of prox_smooth_plus_norm, checked there by name"), **PROX)
spec("sde_opt.theory.moreau.quadratic_prox",
     lambda: dict(x=np.array([[1.0, 0.5], [0.2, -0.1]]), a=0.5, beta=0.3, ell=1.0),
     x=POINTS, a=Real(high_closed=False, low_closed=False, sample=(-2.0, 1.9)),  # a < 2 ell
     beta=NONNEG, ell=Real(0.0, low_closed=False, high_closed=False, sample=(0.3, 10.0)))

def _q_kappa_j():
    # J of Q_4 (nc_sc_quadratic_blocks(4.0)): [[A, B], [-B^T, C]] written out
    a, b, c = -0.5, math.sqrt(2 * 0.5 * 0.25), 0.25
    return np.array([[a, b], [-b, c]])


Q_KAPPA = dict(kappa=Real(1.0, low_closed=False, high_closed=False, sample=(1.5, 50.0)),
               ell=POS, a=Real(0.0, 1.0, low_closed=False, high_closed=False))
spec("sde_opt.theory.minimax_rates.nc_sc_quadratic_blocks",
     lambda: dict(kappa=4.0, ell=1.0, a=0.5, d=1), d=Integer(1, sample=(1, 4)), **Q_KAPPA)
spec("sde_opt.theory.minimax_rates.gda_critical_step_x",
     lambda: dict(kappa=4.0, ell=1.0, a=0.5), **Q_KAPPA)
spec("sde_opt.theory.minimax_rates.critical_step_x",
     lambda: dict(method="gda", J=_q_kappa_j(), eta_y=1.0, m=1, low=1e-9, high=10.0,
                  rtol=1e-10),
     _valid_examples=2,
     method=Choice(options=("gda", "alternating-gda", "ogda", "extragradient", "gdmax")),
     J=Array(ndim=2, same_shape=True, valid_from=(_q_kappa_j(),)),
     eta_y=Real(0.0, low_closed=False, high_closed=False, sample=(0.5, 1.0)),
     m=Integer(1, 2, sample=(1, 1)), low=Real(0.0, low_closed=False, high_closed=False,
                                              sample=(1e-9, 1e-3)),
     high=Real(0.0, low_closed=False, high_closed=False, sample=(5.0, 20.0)),
     rtol=Real(0.0, 1.0, low_closed=False, high_closed=False, sample=(1e-10, 1e-4)))
spec("sde_opt.theory.minimax_rates.ramp_lower_bound",
     lambda: dict(r0=np.array([1.0, 2.0]), eps=0.1, ell=1.0, eta_x=0.1, tracking=1.1,
                  unit_roundoff=0.0),
     r0=Array(low=0.0, scale_ok=True), eps=POS, ell=POS, eta_x=POS, tracking=POS,
     unit_roundoff=Real(0.0, 1.0, high_closed=False, sample=(0.0, 1e-6)))
GDA_COV = dict(J=Array(ndim=2, same_shape=True, valid_from=(_q_kappa_j(),)),
               sigma_cov=Array(ndim=2, same_shape=True, scale_ok=True),
               # eta_x below GDA's critical step 1/(a(kappa+1)ell) = 0.4 at eta_y = 1
               eta_x=Real(0.0, low_closed=False, high_closed=False, sample=(0.01, 0.3)),
               eta_y=Real(0.0, low_closed=False, high_closed=False, sample=(0.5, 1.0)),
               m=Integer(1, 2, sample=(1, 1)),
               batch=Real(1.0, high_closed=False, sample=(1.0, 64.0)))
spec("sde_opt.theory.minimax_rates.gda_stationary_covariance",
     lambda: dict(J=_q_kappa_j(), sigma_cov=np.eye(2), eta_x=0.1, eta_y=1.0, m=1, batch=1),
     **GDA_COV)
spec("sde_opt.theory.minimax_rates.gda_gradient_floor",
     lambda: dict(J=_q_kappa_j(), phi_hessian=np.array([[0.5]]), sigma_cov=np.eye(2), eta_x=0.1,
                  eta_y=1.0, m=1, batch=1),
     phi_hessian=Array(ndim=2, same_shape=True, scale_ok=True), **GDA_COV)
spec("sde_opt.theory.minimax_rates.best_batch", lambda: dict(floor_one=0.5, eps=0.1),
     floor_one=NONNEG, eps=POS)
spec("sde_opt.theory.minimax_rates.iterations_at_floor",
     lambda: dict(approach=100.0, u=np.array([0.2, 0.5, 2.0])),
     approach=NONNEG, u=Array(low=0.0, scale_ok=True))

def _tilted_well_2d(x, y):
    return (x**2 - 1) ** 2 / 4 + y**2 / 2


def _well_force(x):
    return x - x**3


# the start (-1, 0) must stay a grid node: valid grid values are drawn from those that keep it one
MFPT_X = dict(eps=Real(0.0, low_closed=False, high_closed=False, sample=(0.3, 2.0)),
              x_lo=Real(low_closed=False, high_closed=False, valid_from=(-2.0, -3.0, -1.0)),
              b=Real(low_closed=False, high_closed=False, valid_from=(1.0, 4.0, -0.5)),
              nx=Integer(1, valid_from=(6, 3, 12)),
              start=Array(ndim=1, same_shape=True))
MFPT_2D = dict(potential=Func(), y_lo=Real(low_closed=False, high_closed=False,
                                           valid_from=(-1.0, -3.0)),
               y_hi=Real(low_closed=False, high_closed=False, valid_from=(1.0, 3.0)),
               ny=Integer(1, valid_from=(4, 2, 8)), **MFPT_X)
MFPT_2D_EX = dict(potential=_tilted_well_2d, eps=0.5, x_lo=-2.0, b=1.0, y_lo=-1.0, y_hi=1.0,
                  nx=6, ny=4, start=np.array([-1.0, 0.0]))
spec("sde_opt.theory.fokker_planck.mfpt_overdamped_2d_grid", lambda: dict(MFPT_2D_EX), **MFPT_2D)
spec("sde_opt.theory.fokker_planck.mfpt_overdamped_2d", lambda: dict(MFPT_2D_EX), **MFPT_2D)
MFPT_1D = dict(force=Func(), gamma=Real(0.0, low_closed=False, high_closed=False,
                                        sample=(0.3, 5.0)),
               v_max=Real(0.0, low_closed=False, high_closed=False, sample=(0.5, 4.0)),
               nv=Integer(1, valid_from=(4, 2, 8)), **MFPT_X)
MFPT_1D_EX = dict(force=_well_force, eps=0.5, gamma=1.0, x_lo=-2.0, b=1.0, v_max=2.0, nx=6, nv=4,
                  start=np.array([-1.0, 0.0]))
spec("sde_opt.theory.fokker_planck.mfpt_underdamped_1d_grid", lambda: dict(MFPT_1D_EX), **MFPT_1D)
spec("sde_opt.theory.fokker_planck.mfpt_underdamped_1d", lambda: dict(MFPT_1D_EX), **MFPT_1D)

# issue 18
spec("sde_opt.sde.two_timescale.GDmaxSDE",
     lambda: dict(problem=game(), eta_x=0.01, eta_y=0.1, n_inner=5),
     problem=GAME, eta_x=POS, eta_y=POS, n_inner=Integer(1, sample=(1, 10)))
spec("sde_opt.sde.two_timescale.inner_loop_covariance",
     lambda: dict(h=np.array([[1.0]]), sigma_yy=np.array([[0.1]]), eta_y=0.1, n_inner=5),
     h=Array(ndim=2, same_shape=True, scale_ok=True),
     sigma_yy=Array(ndim=2, same_shape=True, scale_ok=True), eta_y=POS,
     n_inner=Integer(1, sample=(1, 10)))

# issue 19
spec("sde_opt.problems.bilevel.stocbio_call_moments",
     lambda: dict(problem=quadratic_bilevel(), x=np.zeros(2), y=np.zeros(4), alpha=0.1, Q=5),
     problem=Instance(what="a bilevel problem", wrong=("problem", "game")),
     x=Array(ndim=1, same_shape=True, scale_ok=True),
     y=Array(ndim=1, same_shape=True, scale_ok=True), alpha=POS, Q=Integer(0, sample=(0, 10)))

# issue 20
spec("sde_opt.problems.augmented_ufm.AugmentedUFM",
     lambda: dict(k=3, d=3, n=2, tau=1.0, sigma=0.5, batch_size=None, labels=None),
     k=Integer(2, sample=(2, 4)), d=Integer(2, sample=(2, 4)), n=Integer(1, sample=(1, 3)),
     tau=POS, sigma=POS, batch_size=Integer(1, optional=True, sample=(1, 6)),
     labels=Array(ndim=1, optional=True))
spec("sde_opt.stats.proportions.proportion_ci", lambda: dict(successes=7, n=10, level=0.95),
     successes=Integer(0, 10, sample=(0, 10)), n=Integer(7, sample=(10, 20)), level=LEVEL)

# issue 22


def _pair_loss(z, ex):
    x, y = z
    return y[0] * (ex[0] * x[0] - ex[1]) ** 2 / 2 - y[0] ** 2 / 2


def _outer(x, y, ex):
    return (y[0] - ex[0]) ** 2 / 2


def _inner(x, y, ex):
    return (y[0] - x[0] * ex[0]) ** 2 / 2


spec("sde_opt.problems.finite_sum.FiniteSumGame",
     lambda: dict(loss=_pair_loss, data=_finite_sum_data()[:, :2],
                  point=(np.zeros(1, np.float32), np.ones(1, np.float32)), batch_size=4,
                  project_y=None, geometry=None),
     loss=Func(), data=Array(scale_ok=True),
     point=Instance(what="a pair (x, y)", bad=("x", 1.0, (1, 2, 3))),
     batch_size=Integer(1, sample=(1, 12)), project_y=Func(optional=True), geometry=GEOMETRY)
spec("sde_opt.problems.bilevel_losses.FiniteSumBilevel",
     lambda: dict(outer_loss=_outer, inner_loss=_inner, outer_data=_finite_sum_data()[:, :1],
                  inner_data=_finite_sum_data()[:, :1], x=np.zeros(1, np.float32),
                  y=np.zeros(1, np.float32), batch_size=4, inner_batch_size=None, y_star=None,
                  lower_smoothness=None, lower_strong_convexity=None, tol=None, max_steps=16),
     outer_loss=Func(), inner_loss=Func(), outer_data=Array(scale_ok=True),
     # x and y: points of any shape the losses accept (their shapes define the problem's)
     inner_data=Array(scale_ok=True), x=Array(scale_ok=True), y=Array(scale_ok=True),
     batch_size=Integer(1, sample=(1, 12)),
     inner_batch_size=Integer(1, optional=True, sample=(1, 12)), y_star=Func(optional=True),
     lower_smoothness=Real(0.0, low_closed=False, high_closed=False, optional=True,
                           callable_ok=True),
     lower_strong_convexity=Real(0.0, low_closed=False, high_closed=False, optional=True),
     tol=Real(0.0, low_closed=False, high_closed=False, optional=True),
     max_steps=Integer(1, sample=(4, 32)))
spec("sde_opt.sde.from_functions.SDE",
     lambda: dict(drift=lambda t, x: -x, diffusion=lambda t, x: 0.1, shape=(2,), geometry=None),
     drift=Func(), diffusion=Func(), shape=Shape(), geometry=GEOMETRY)
spec("sde_opt.engine.events.OnState", lambda: dict(fn=_first), fn=Func())


# Callables whose valid calls compute something substantial (a float64 linearization, a Monte Carlo
# of one step, a critical-point search, a sweep): their example call and valid-value draws run under
# `pytest -m slow`; their invalid-value draws (refused before any computation) stay in the default
# suite, so every public parameter's clear error is checked by the README's test command.
HEAVY = frozenset({
    "sde_opt.theory.neural_collapse.one_step_moments",
    "sde_opt.theory.neural_collapse.saddle_linearization",
    "sde_opt.theory.neural_collapse.classify_critical_point",
    "sde_opt.theory.neural_collapse.critical_point_census",
    "sde_opt.theory.neural_collapse.find_critical_points",
    "sde_opt.theory.neural_collapse.reference_hessian_eigenvalues",
    "sde_opt.theory.neural_collapse.uniform_tangent_kick",
    "sde_opt.theory.neural_collapse.min_positive_curvature",
    "sde_opt.theory.bilevel.reduced_linearization",
    "sde_opt.theory.bilevel.reduced_saddle_exit_mean",
    "sde_opt.theory.bilevel.reduced_saddle_exit_mean_em",
    "sde_opt.theory.bilevel.reduced_unstable_noise",
    "sde_opt.theory.bilevel.reduced_stationary_covariance",
    "sde_opt.theory.langevin.chain_linearization",
    "sde_opt.sweep.compare_exit_times",
    "sde_opt.sweep.compare_stationary",
    "sde_opt.sweep.compare_with_limit",
    "sde_opt.sde.diffrax_bridge.solve_diffrax",
})

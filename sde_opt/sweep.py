"""One call for the comparison every study makes: a discrete algorithm against its diffusion limit,
over a parameter grid, on the same events and observables, with shared noise where possible.

    points = compare_with_limit(lambda eta, mu: MomentumSGD(problem, eta, mu),
                                grid(eta=[1e-3, 1e-2], mu=[0.0, 0.9]),
                                x0, key, n_paths=2000, n_steps=lambda p: int(50 / p["eta"]),
                                events=[LeaveBall(0, 1.0)])

Two summarizing forms add the statistics and the theory's prediction at every point:
``compare_exit_times`` (exit-time summaries with CIs, algorithm vs limit vs theory) and
``compare_stationary`` (stationary means with batch-means CIs, algorithm vs limit vs theory).

For each grid point the algorithm and ``scheme(alg.limit(), alg.dt / limit_substeps)`` are simulated
with the same key for the same continuous horizon. Hyperparameters are array leaves of the chain, so
every grid point reuses the same compiled code (``tests/test_sweep_summaries.py`` counts the
compilations). What is static and does recompile: ``stride``, the observables and events (pass
module-level functions or equinox modules, not fresh lambdas), horizons shorter than one engine
segment (128 steps with events, 512 without), and the bucket sizes of the path compaction (powers
of two, shared across points). Keep those fixed across a grid.

Common random numbers: every point uses the same key, so the estimates at neighbouring grid points
are positively correlated (their differences are more precise than their SEs suggest, and a
fluctuation shows up at every point at once). Pass ``store`` (e.g. a study's
[`sde_opt.experiment.ResultsDir`][sde_opt.experiment.ResultsDir]) to make the sweep resumable: finished points
are loaded, not recomputed.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence

import jax
import numpy as np

from ._checks import (
    check_array,
    check_bool,
    check_callable,
    check_choice,
    check_instance,
    check_integer,
    check_key,
    check_level,
    check_scalar,
    check_text,
)
from .engine import SimulationResult, simulate
from .sde import EulerMaruyama
from .stats import Estimate, ExitTimeSummary, batch_means, exit_time_summary


def grid(**axes: Sequence) -> list[dict]:
    """The Cartesian product of the named axes, as a list of dicts (first axis slowest)."""
    for name, values in axes.items():
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise TypeError(f"grid: axis {name} must be a list of values; got {values!r:.60} "
                            f"({type(values).__name__})")
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]


@dataclasses.dataclass(frozen=True)
class ComparisonPoint:
    """One grid point: its parameters and the two simulations."""

    params: dict
    discrete: SimulationResult
    limit: SimulationResult


def _resolve(value, params):
    return value(params) if callable(value) else value


def _point_key(tag: str, params: Mapping) -> str:
    return tag + "-" + json.dumps({k: float(v) for k, v in params.items()}, sort_keys=True)


def compare_with_limit(
    make_algorithm: Callable[..., object],
    points: Iterable[Mapping],
    x0,
    key,
    *,
    n_paths: int,
    n_steps: int | Callable[[dict], int],
    events: Sequence[Callable] = (),
    observables: Mapping[str, Callable] | None = None,
    stride: int | Callable[[dict], int] = 1,
    limit_substeps: int | Callable[[dict], int] = 1,
    scheme: Callable = EulerMaruyama,
    store=None,
    tag: str = "point",
    progress: bool = False,
) -> list[ComparisonPoint]:
    """Simulate ``make_algorithm(**p)`` and its diffusion limit at every grid point ``p``.

    Args:
        make_algorithm: ``(**params) -> algorithm`` (anything with ``limit()`` and ``dt``).
        points: parameter dicts, e.g. from ``grid``.
        x0, key: start and key, shared by every point and both chains.
        n_paths: paths per chain and point.
        n_steps: horizon in algorithm steps (or a function of the point's params); the limit runs
            for the same continuous time.
        events, observables: as in [`sde_opt.simulate`][sde_opt.simulate], for both chains.
        stride: algorithm steps between saves (the limit saves at the same continuous times).
        limit_substeps: the limit's step is ``alg.dt / limit_substeps``.
        scheme: ``scheme(sde, dt)`` builds the limit's chain (default Euler–Maruyama).
        store: optional object with ``point(key, compute) -> arrays`` (resumable sweeps).
        tag: prefix of the stored point names.
        progress: progress bars.

    Returns:
        One ``ComparisonPoint`` per grid point, in order.
    """
    return _compare("compare_with_limit", make_algorithm, points, x0, key, n_paths=n_paths,
                    n_steps=n_steps, events=events, observables=observables, stride=stride,
                    limit_substeps=limit_substeps, scheme=scheme, store=store, tag=tag,
                    progress=progress)


def _int_or_rule(owner, name, value, low):
    """An integer >= ``low``, or a function of a point's params returning one."""
    if callable(value):
        return value
    return check_integer(owner, name, value, low=low)


def _check_sweep(owner, make_algorithm, points, x0, key, n_paths, n_steps, events, observables,
                 stride, limit_substeps, scheme, store, tag, progress):
    """Every argument of a sweep, checked before the first simulation; returns the points."""
    check_callable(owner, "make_algorithm", make_algorithm, "a function (**params) -> algorithm")
    if isinstance(points, (str, bytes, Mapping)) or not isinstance(points, Iterable):
        raise TypeError(f"{owner}: points must be a list of parameter dicts (e.g. grid(...)); got "
                        f"{type(points).__name__}")
    points = list(points)
    for i, p in enumerate(points):
        if not isinstance(p, Mapping):
            raise TypeError(f"{owner}: points[{i}] must be a dict of parameters; got "
                            f"{type(p).__name__}")
    for path, leaf in jax.tree_util.tree_flatten_with_path(x0)[0]:
        check_array(owner, "x0" + jax.tree_util.keystr(path), leaf)
    check_key(owner, "key", key)
    check_integer(owner, "n_paths", n_paths, low=1)
    _int_or_rule(owner, "n_steps", n_steps, 0)
    _int_or_rule(owner, "stride", stride, 1)
    _int_or_rule(owner, "limit_substeps", limit_substeps, 1)
    if callable(events) or isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
        raise TypeError(f"{owner}: events must be a list of functions position -> bool; got "
                        f"{type(events).__name__}")
    for i, ev in enumerate(events):
        check_callable(owner, f"events[{i}]", ev, "a function position -> bool")
    if observables is not None:
        check_instance(owner, "observables", observables, Mapping, "a dict name -> function")
        for name, fn in observables.items():
            check_callable(owner, f"observables[{name!r}]", fn, "a function position -> array")
    check_callable(owner, "scheme", scheme, "a scheme class such as EulerMaruyama")
    if store is not None and not callable(getattr(store, "point", None)):
        raise TypeError(f"{owner}: store must have a point(key, compute) method (e.g. a "
                        f"ResultsDir) or be None; got {type(store).__name__}")
    check_text(owner, "tag", tag)
    check_bool(owner, "progress", progress)
    if points:  # the start must fit the chain: checked on the first point's algorithm
        from .engine._simulate import _prepare_x0
        _prepare_x0(make_algorithm(**dict(points[0])), x0, n_paths, owner)
    return points


def _compare(owner, make_algorithm, points, x0, key, *, n_paths, n_steps, events=(),
             observables=None, stride=1, limit_substeps=1, scheme=EulerMaruyama, store=None,
             tag="point", progress=False):
    points = _check_sweep(owner, make_algorithm, points, x0, key, n_paths, n_steps, events,
                          observables, stride, limit_substeps, scheme, store, tag, progress)
    out = []
    for params in points:
        params = dict(params)

        def compute(params=params):
            alg = make_algorithm(**params)
            steps = int(_resolve(n_steps, params))
            sub = int(_resolve(limit_substeps, params))
            st = int(_resolve(stride, params))
            label = ", ".join(f"{k}={v:g}" for k, v in params.items())
            d = simulate(alg, x0, key, n_paths=n_paths, n_steps=steps, events=events,
                         observables=observables, stride=st,
                         progress=f"{type(alg).__name__} {label}" if progress else False)
            lim = scheme(alg.limit(), alg.dt / sub)
            c = simulate(lim, x0, key, n_paths=n_paths, n_steps=steps * sub, events=events,
                         observables=observables, stride=st * sub,
                         progress=f"limit {label}" if progress else False)
            return {**d.to_arrays("discrete:"), **c.to_arrays("limit:")}

        arrays = compute() if store is None else store.point(_point_key(tag, params), compute)
        out.append(ComparisonPoint(params, SimulationResult.from_arrays(arrays, "discrete:"),
                                   SimulationResult.from_arrays(arrays, "limit:")))
    return out


# ---------------------------------------------------------------------------------------------
# Summaries: algorithm vs limit vs theory at every grid point
# ---------------------------------------------------------------------------------------------


def _theory(theory, params) -> dict:
    if theory is None:
        return {}
    t = theory(dict(params))
    return dict(t) if isinstance(t, Mapping) else {"value": t}


@dataclasses.dataclass(frozen=True)
class ExitComparison:
    """Exit times at one grid point: the algorithm's and its limit's summaries, and the theory.

    ``discrete`` and ``limit`` are [`ExitTimeSummary`][sde_opt.stats.ExitTimeSummary] objects in the sweep's
    unit (iterations of the algorithm by default, so the two are directly comparable);
    ``theory`` is whatever the ``theory`` callable returned for these params (a dict).
    """

    params: dict
    discrete: ExitTimeSummary
    limit: ExitTimeSummary
    theory: dict
    point: ComparisonPoint

    def as_dict(self) -> dict:
        return {"params": dict(self.params), "discrete": self.discrete.as_dict(),
                "limit": self.limit.as_dict(), "theory": dict(self.theory)}


def _exit_summary(result: SimulationResult, alg_dt: float, unit: str, **kw) -> ExitTimeSummary:
    if unit == "iterations":
        # the limit may take several substeps per iteration: count in algorithm iterations
        times = result.times / alg_dt
        s = exit_time_summary(times, observed=result.exited, diverged=result.diverged, **kw)
        return dataclasses.replace(s, unit="iterations")
    return exit_time_summary(result, unit=unit, **kw)


def compare_exit_times(
    make_algorithm: Callable[..., object],
    points: Iterable[Mapping],
    x0,
    key,
    *,
    events: Sequence[Callable],
    n_paths: int,
    n_steps: int | Callable[[dict], int],
    theory: Callable[[dict], Mapping | float] | None = None,
    unit: str = "iterations",
    quantiles: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9),
    level: float = 0.95,
    diverged_as: str = "censored",
    **kwargs,
) -> list[ExitComparison]:
    """Exit times of an algorithm and of its diffusion limit over a grid, with the theory's value.

    Runs ``compare_with_limit`` (all its keyword arguments — ``limit_substeps``, ``scheme``,
    ``store``, ``tag``, ``progress`` — pass through) and summarizes both chains at every point with
    [`exit_time_summary`][sde_opt.stats.exit_time_summary] (mean or restricted mean, quantiles with CIs,
    counts of exited / censored / diverged paths).

    Example — your own problem and optimizer, escape from a saddle, against the local SDE::

        import sde_opt as so
        from sde_opt.sweep import compare_exit_times, grid
        from sde_opt.theory import local_sde

        problem = MyProblem(...)                  # any AbstractProblem (hessian, grad_noise_cov)
        saddle = problem.critical_points()["saddle"][0]
        leave = so.LeaveBall(saddle, 0.5)         # or a Threshold on your own observable
        rows = compare_exit_times(
            lambda eta, mu: so.MomentumSGD(problem, eta, mu),  # or your optimizer: any chain
            grid(eta=[1e-3, 3e-3, 1e-2], mu=[0.0, 0.9]),        # with limit() and dt
            saddle, key=0, events=[leave], n_paths=2048,
            n_steps=lambda p: int(30 * (1 - p["mu"]) / p["eta"]),
            theory=lambda p: {"mean": local_sde(problem, saddle, p["eta"], p["mu"])
                                      .exit_iterations_mean(0.5)},
        )
        for r in rows:
            print(r.params, r.discrete.mean, r.discrete.mean_low, r.discrete.mean_high,
                  r.limit.mean, r.theory["mean"])

    (``exit_iterations_mean(r)`` predicts the exit of the unstable coordinate ``vᵀ(x − x*)``
    from ``[−r, r]``, v = ``local_sde(...).escape_direction``; leaving a ball of radius r agrees
    with it up to the stable directions' O(√η) fluctuations. Give ``store=`` a
    [`sde_opt.experiment.ResultsDir`][sde_opt.experiment.ResultsDir] (anything with ``point(key, compute)``)
    to make the sweep resumable.)

    Args:
        make_algorithm, points, x0, key, n_paths, n_steps, events: as in
            ``compare_with_limit``.
        theory: ``params -> dict`` (or a number) of predictions, attached to each row.
        unit: ``"iterations"`` (default: continuous time / the algorithm's dt, for both chains),
            ``"time"`` (continuous time) or ``"steps"`` (each chain's own steps).
        quantiles, level, diverged_as: passed to [`exit_time_summary`][sde_opt.stats.exit_time_summary].

    Returns:
        One ``ExitComparison`` per grid point, in order.
    """
    owner = "compare_exit_times"
    check_choice(owner, "unit", unit, ("iterations", "time", "steps"))
    if isinstance(events, Sequence) and not isinstance(events, (str, bytes)) and not events:
        raise ValueError(f"{owner}: events must hold at least one event (otherwise nothing "
                         f"exits); got {events!r}")
    if theory is not None:
        check_callable(owner, "theory", theory, "a function params -> dict or number")
    check_array(owner, "quantiles", quantiles, ndim=1, nonempty=False, low=0.0, high=1.0,
                low_closed=False, high_closed=False)
    check_level(owner, level)
    check_choice(owner, "diverged_as", diverged_as, ("censored", "exited"))
    pts = _compare(owner, make_algorithm, points, x0, key, n_paths=n_paths, n_steps=n_steps,
                   events=events, **kwargs)
    kw = dict(quantiles=quantiles, level=level, diverged_as=diverged_as)
    out = []
    for p in pts:
        dt = p.discrete.dt
        out.append(ExitComparison(p.params, _exit_summary(p.discrete, dt, unit, **kw),
                                  _exit_summary(p.limit, dt, unit, **kw),
                                  _theory(theory, p.params), p))
    return out


@dataclasses.dataclass(frozen=True)
class StationaryComparison:
    """A stationary mean at one grid point: algorithm, limit (batch-means CIs) and theory.

    ``counts`` gives, for each chain, how many paths were used and how many diverged (those are
    excluded from the time averages and reported here, never dropped silently).
    """

    params: dict
    discrete: Estimate
    limit: Estimate
    theory: dict
    counts: dict
    point: ComparisonPoint

    def as_dict(self) -> dict:
        return {"params": dict(self.params), "discrete": self.discrete.as_dict(),
                "limit": self.limit.as_dict(), "theory": dict(self.theory),
                "counts": dict(self.counts)}


def _stationary(result: SimulationResult, burn_in: float, level: float):
    values = result.observables["value"]
    ok = ~result.diverged
    n_saves = values.shape[1]
    skip = int(round(burn_in * (n_saves - 1))) if burn_in < 1 else int(burn_in)
    if ok.sum() < 2:
        nan = np.full(values.shape[2:], np.nan)
        return (Estimate("time average", nan, nan, nan, nan, level, "too few finite paths"),
                {"used": int(ok.sum()), "diverged": int((~ok).sum())})
    est = batch_means(values[ok], burn_in=skip, level=level)
    return est, {"used": int(ok.sum()), "diverged": int((~ok).sum())}


def compare_stationary(
    make_algorithm: Callable[..., object],
    points: Iterable[Mapping],
    x0,
    key,
    *,
    observable: Callable,
    n_paths: int,
    n_steps: int | Callable[[dict], int],
    stride: int = 1,
    burn_in: float = 0.2,
    theory: Callable[[dict], Mapping | float] | None = None,
    level: float = 0.95,
    **kwargs,
) -> list[StationaryComparison]:
    """Stationary mean of ``observable`` for an algorithm and its limit over a grid, with theory.

    Both chains run to the horizon (no events) from ``x0``, saving ``observable`` every
    ``stride`` iterations; after the burn-in the time averages are pooled by
    [`batch_means`][sde_opt.stats.batch_means] (one batch per path once there are ≥ 30 paths, so the
    standard error needs no assumption on autocorrelation).

    Example — the error floor of momentum SGD near a minimum of your problem::

        def sq_dist(x):                        # module level: reused across sweeps
            return jnp.sum((x - X_MIN) ** 2)

        rows = compare_stationary(lambda eta, mu: so.MomentumSGD(problem, eta, mu),
                                  grid(eta=[3e-3, 1e-2], mu=[0.0, 0.9]), X_MIN, key=1,
                                  observable=sq_dist, n_paths=256,
                                  n_steps=lambda p: int(40 * (1 - p["mu"]) / p["eta"]), stride=10,
                                  theory=lambda p: local_sde(problem, X_MIN, p["eta"], p["mu"])
                                                   .mean_squared_distance())

    Args:
        observable: ``position -> scalar`` (or array) whose stationary mean is wanted. Pass a
            module-level function or an equinox module (not a new lambda per call) so compiled
            code is reused across sweeps.
        stride: iterations between saves (keep it the same across the grid: it is static).
        burn_in: fraction of the saves (< 1) or number of saves (≥ 1) discarded at the start.
        theory: ``params -> dict`` (or a number), attached to each row.
        Other arguments: as in ``compare_with_limit``.
    """
    owner = "compare_stationary"
    check_callable(owner, "observable", observable, "a function position -> array")
    if theory is not None:
        check_callable(owner, "theory", theory, "a function params -> dict or number")
    burn_in = check_scalar(owner, "burn_in", burn_in, 0.0, np.inf, high_closed=False)
    if burn_in >= 1 and burn_in != int(burn_in):
        raise ValueError(f"{owner}: burn_in must be a fraction of the saves (< 1) or a whole "
                         f"number of saves (>= 1); got {burn_in!r}")
    check_level(owner, level)
    pts = _compare(owner, make_algorithm, points, x0, key, n_paths=n_paths, n_steps=n_steps,
                   observables={"value": observable}, stride=stride, **kwargs)
    out = []
    for p in pts:
        d, cd = _stationary(p.discrete, burn_in, level)
        lim, cl = _stationary(p.limit, burn_in, level)
        out.append(StationaryComparison(p.params, d, lim, _theory(theory, p.params),
                                        {"discrete": cd, "limit": cl}, p))
    return out

"""One call for the comparison every study makes: a discrete algorithm against its diffusion limit,
over a parameter grid, on the same events and observables, with shared noise where possible.

    points = compare_with_limit(lambda eta, mu: MomentumSGD(problem, eta, mu),
                                grid(eta=[1e-3, 1e-2], mu=[0.0, 0.9]),
                                x0, key, n_paths=2000, n_steps=lambda p: int(50 / p["eta"]),
                                events=[LeaveBall(0, 1.0)])

For each grid point the algorithm and ``scheme(alg.limit(), alg.dt / limit_substeps)`` are simulated
with the same key for the same continuous horizon. Hyperparameters are array leaves of the chain, so
every grid point reuses the same compiled code. Pass ``store`` (e.g. a study's
:class:`studies._common.ResultsDir`) to make the sweep resumable: finished points are loaded, not
recomputed.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence

from .engine import SimulationResult, simulate
from .sde import EulerMaruyama


def grid(**axes: Sequence) -> list[dict]:
    """The Cartesian product of the named axes, as a list of dicts (first axis slowest)."""
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
        points: parameter dicts, e.g. from :func:`grid`.
        x0, key: start and key, shared by every point and both chains.
        n_paths: paths per chain and point.
        n_steps: horizon in algorithm steps (or a function of the point's params); the limit runs
            for the same continuous time.
        events, observables: as in :func:`sde_opt.simulate`, for both chains.
        stride: algorithm steps between saves (the limit saves at the same continuous times).
        limit_substeps: the limit's step is ``alg.dt / limit_substeps``.
        scheme: ``scheme(sde, dt)`` builds the limit's chain (default Euler–Maruyama).
        store: optional object with ``point(key, compute) -> arrays`` (resumable sweeps).
        tag: prefix of the stored point names.
        progress: progress bars.

    Returns:
        One :class:`ComparisonPoint` per grid point, in order.
    """
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

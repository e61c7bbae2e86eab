r"""Bridge to diffrax, the reference solver family: any [`AbstractSDE`][sde_opt.AbstractSDE] as diffrax terms.

An Itô SDE dX = a(X) dt + B(X) dW becomes

    MultiTerm(ODETerm(a), ControlTerm(B, W)),

with the structure of B chosen to match the SDE:

* ``"additive"`` — B constant: the vector field returns the ``(*x.shape, *noise_shape)`` array
  B ([`AbstractSDE.diffusion_matrix`][sde_opt.AbstractSDE.diffusion_matrix]), which diffrax contracts with dW;
* ``"diagonal"`` — B(x) = diag(b(x)) with ``noise_shape == x.shape``: the vector field returns a
  ``lineax.DiagonalLinearOperator`` of b(x) = B(x) 1 (one product, no matrix);
* ``"general"`` — B(x) state dependent and full: the ``(*x.shape, *noise_shape)`` array B(x).

``"auto"`` picks ``"additive"`` when ``sde.additive`` and ``"general"`` otherwise (diagonal
structure cannot be detected from the contract, so ask for it).

Time: a time-dependent SDE (``sde.time_dependent``, e.g. the one limit of an annealed optimizer)
is called with diffrax's ``t`` (``drift(y, t=t)``, ``diffusion(y, z, t=t)``), so diffrax solves
the same equation as [`EulerMaruyama`][sde_opt.EulerMaruyama] started at the same ``t0``.

[`solve_diffrax`][sde_opt.sde.diffrax_bridge.solve_diffrax] is the one-call convenience (Euler on a fixed grid
by default), and [`GridBrownianPath`][sde_opt.sde.diffrax_bridge.GridBrownianPath] replays given increments on
a fixed grid so that diffrax and [`EulerMaruyama`][sde_opt.EulerMaruyama] can be driven by the *same* Brownian
path: diffrax's ``Euler`` and our ``EulerMaruyama`` then agree pathwise to rounding on ℝᵈ.

Geometry: diffrax integrates in the ambient space and never retracts. For an SDE on a
sphere, our EulerMaruyama is *projected* EM, X⁺ = R(X + a h + B √h Z) with R(x) = x/‖x‖, while
diffrax's Euler is X⁺ = X + a h + B √h Z with the ambient drift a = P a_T + c, c the Itô
correction −½ tr(P B Bᵀ P) X (``geometry.ito_correction``). With that drift the Itô terms cancel
in E‖X⁺‖²: on the unit sphere, E‖X⁺‖² = 1 + h²(‖P a_T‖² + ¼ tr(P B Bᵀ P)²) [derived, the normal
part of the step being −½ tr(P B Bᵀ P) h X], so ‖X‖² leaves the sphere by O(h) per unit time,
not O(1): for Brownian motion on S² (d = 3) with h = 1/64, E‖X_1‖² − 1 ≈ h (d − 1)²/4 ≈ 0.016
(measured 0.018 ± 0.002 over 20,000 paths). Both schemes are weak order 1 for the same manifold
SDE; diffrax's solution lies off the sphere by that O(h), so retract its end points (or use our
schemes) before evaluating functions defined on the sphere only.
"""

from __future__ import annotations

import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from .._checks import check_array, check_choice, check_instance, check_integer, check_key, check_scalar
from ._base import AbstractSDE

_NOISE_KINDS = ("auto", "additive", "diagonal", "general")


def _noise_kind(sde: AbstractSDE, noise: str, owner: str = "diffrax_terms") -> str:
    check_choice(owner, "noise", noise, _NOISE_KINDS)
    if noise == "auto":
        return "additive" if sde.additive else "general"
    return noise


def _time(sde: AbstractSDE, t) -> dict:
    """The keyword a time-dependent SDE takes (``{"t": t}``), nothing for a homogeneous one."""
    return {"t": t} if sde.time_dependent else {}


def drift_vector_field(sde: AbstractSDE):
    """The drift a(x, t) as a diffrax ``ODETerm`` vector field ``(t, y, args) -> a(y, t)``."""
    return lambda t, y, args: sde.drift(y, **_time(sde, t))


def diffusion_vector_field(sde: AbstractSDE, noise: str = "auto"):
    """The diffusion B(x, t) as a diffrax ``ControlTerm`` vector field ``(t, y, args) -> B(y, t)``.

    See the module docstring for the meaning of ``noise``.
    """
    kind = _noise_kind(sde, noise)
    if kind == "diagonal":

        def vf(t, y, args):
            if tuple(sde.noise_shape) != tuple(y.shape):
                raise ValueError(
                    f"noise='diagonal' needs noise_shape == state shape; got noise_shape "
                    f"{tuple(sde.noise_shape)} and state shape {tuple(y.shape)}"
                )
            ones = jnp.ones(sde.noise_shape, y.dtype)
            return lx.DiagonalLinearOperator(sde.diffusion(y, ones, **_time(sde, t)))

        return vf

    def vf(t, y, args):
        return sde.diffusion_matrix(y, **_time(sde, t))

    return vf


def diffrax_terms(sde: AbstractSDE, brownian: diffrax.AbstractBrownianPath, *,
                  noise: str = "auto") -> diffrax.MultiTerm:
    """``MultiTerm(ODETerm(drift), ControlTerm(diffusion, brownian))`` for ``sde``.

    Args:
        sde: the SDE (a time-dependent one is given diffrax's ``t``; ``args`` is ignored).
        brownian: a diffrax Brownian path whose shape is ``sde.noise_shape``.
        noise: ``"auto"``, ``"additive"``, ``"diagonal"`` or ``"general"`` (module docstring).
    """
    check_instance("diffrax_terms", "sde", sde, AbstractSDE, "an AbstractSDE (e.g. alg.limit())")
    check_instance("diffrax_terms", "brownian", brownian, diffrax.AbstractBrownianPath,
                   "a diffrax Brownian path (e.g. diffrax.VirtualBrownianTree)")
    _noise_kind(sde, noise)
    drift = diffrax.ODETerm(drift_vector_field(sde))
    diffusion = diffrax.ControlTerm(diffusion_vector_field(sde, noise), brownian)
    return diffrax.MultiTerm(drift, diffusion)


class GridBrownianPath(diffrax.AbstractBrownianPath):
    r"""A Brownian path given by its increments on the grid tₖ = t0 + k·dt.

    ``increments[k]`` is W(t_{k+1}) − W(t_k) (shape ``(n_steps, *noise_shape)``); W(t0) = 0.
    Queries are snapped to the nearest grid point, so the path is meant for fixed-step solvers
    on that grid (or on a coarser grid that is a multiple of it, where the increment is the exact
    sum). A one-step query returns the stored increment itself (no cancellation), so a diffrax
    Euler solve on this path reproduces ``EulerMaruyama`` driven by
    ``increments / sqrt(dt)`` to rounding.

    Build from the standard normals of [`sde_opt.engine.trajectory`][sde_opt.engine.trajectory] with
    ``from_normals``.
    """

    increments: jax.Array
    cumulative: jax.Array
    grid_t0: float = eqx.field(static=True)
    grid_dt: float = eqx.field(static=True)
    levy_area: type = eqx.field(static=True, default=diffrax.BrownianIncrement)

    def __init__(self, increments, dt, t0: float = 0.0):
        owner = "GridBrownianPath"
        increments = jnp.asarray(check_array(owner, "increments", increments,
                                             ndim=tuple(range(1, 10))))
        dt = check_scalar(owner, "dt", dt, 0.0, np.inf, low_closed=False, high_closed=False)
        t0 = check_scalar(owner, "t0", t0, low_closed=False, high_closed=False)
        self.increments = increments
        zero = jnp.zeros_like(increments[:1])
        self.cumulative = jnp.concatenate([zero, jnp.cumsum(increments, axis=0)], axis=0)
        self.grid_t0 = float(t0)
        self.grid_dt = float(dt)
        self.levy_area = diffrax.BrownianIncrement

    @classmethod
    def from_normals(cls, normals, dt, t0: float = 0.0) -> GridBrownianPath:
        """From standard normals z (shape ``(n_steps, *noise_shape)``): increments √dt · z."""
        normals = jnp.asarray(normals)
        return cls(normals * jnp.sqrt(jnp.asarray(dt, normals.dtype)), dt, t0)

    @property
    def t0(self):
        return self.grid_t0

    @property
    def t1(self):
        return self.grid_t0 + self.grid_dt * self.increments.shape[0]

    def _index(self, t):
        n = self.increments.shape[0]
        k = jnp.round((jnp.asarray(t) - self.grid_t0) / self.grid_dt).astype(jnp.int32)
        return jnp.clip(k, 0, n)

    def evaluate(self, t0, t1=None, left: bool = True, use_levy: bool = False):
        del left
        if t1 is None:
            w = self.cumulative[self._index(t0)]
            dt = jnp.asarray(t0) - self.grid_t0
        else:
            i0, i1 = self._index(t0), self._index(t1)
            one_step = self.increments[jnp.clip(i0, 0, self.increments.shape[0] - 1)]
            w = jnp.where(i1 == i0 + 1, one_step, self.cumulative[i1] - self.cumulative[i0])
            dt = jnp.asarray(t1) - jnp.asarray(t0)
        if use_levy:
            return diffrax.BrownianIncrement(dt=dt, W=w)
        return w


def brownian_path(kind: str, sde: AbstractSDE, dtype, key, *, t0: float, t1: float,
                  dt: float) -> diffrax.AbstractBrownianPath:
    """diffrax's ``VirtualBrownianTree`` (``kind="virtual"``, tol = dt/2) or
    ``UnsafeBrownianPath`` (``kind="unsafe"``, fixed steps only) of shape ``sde.noise_shape``."""
    shape = jax.ShapeDtypeStruct(tuple(sde.noise_shape), dtype)
    if kind == "virtual":
        return diffrax.VirtualBrownianTree(t0, t1, tol=dt / 2, shape=shape, key=key)
    if kind == "unsafe":
        return diffrax.UnsafeBrownianPath(shape=shape, key=key)
    raise ValueError(
        f"brownian must be 'virtual', 'unsafe' or a diffrax Brownian path; got {kind!r}")


def solve_diffrax(sde: AbstractSDE, x0, t1: float, dt: float, key=None, *, t0: float = 0.0,
                  brownian="virtual", solver=None, saveat=None, noise: str = "auto",
                  max_steps: int | None = None, **kwargs) -> diffrax.Solution:
    """Solve ``sde`` from ``x0`` on [t0, t1] with diffrax at the constant step ``dt`` (one path).

    The solve starts from the SDE's state ``sde.init(x0)`` (the point itself, or e.g. (x0, 0) for
    underdamped Langevin) as [`EulerMaruyama`][sde_opt.EulerMaruyama] does; ``sol.ys`` are states
    (``jax.vmap(sde.position)`` reads the points back).

    Args:
        sde: the SDE.
        x0: the starting parameter point (one path; ``jax.vmap`` over keys for many paths).
        t1: end time; dt: step size (``ConstantStepSize``).
        key: ``jax.random`` key of the Brownian path (unused when ``brownian`` is a path).
        brownian: ``"virtual"`` (``VirtualBrownianTree``, deterministic in ``key``, tol = dt/2),
            ``"unsafe"`` (``UnsafeBrownianPath``, fastest, fixed steps only; solved with
            ``adjoint=diffrax.ForwardMode()`` unless given) or any diffrax
            Brownian path, e.g. a [`GridBrownianPath`][sde_opt.sde.diffrax_bridge.GridBrownianPath] replaying
            given increments.
        solver: a diffrax solver (default ``diffrax.Euler()``, the Itô Euler–Maruyama scheme).
        saveat: ``diffrax.SaveAt`` (default: the end point only).
        noise: diffusion structure (module docstring).
        max_steps: default ⌈(t1 − t0)/dt⌉ + 1.
        **kwargs: passed on to ``diffrax.diffeqsolve``.

    Note: diffrax does not retract onto a sphere; see the module docstring.
    """
    owner = "solve_diffrax"
    check_instance(owner, "sde", sde, AbstractSDE, "an AbstractSDE (e.g. alg.limit())")
    x0 = check_array(owner, "x0", x0)
    shape = getattr(sde, "point_shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape) \
            and tuple(np.shape(x0)) != shape:
        raise ValueError(f"{owner}: x0 must be one point of shape {shape}; got shape "
                         f"{tuple(np.shape(x0))}")
    t0 = check_scalar(owner, "t0", t0, low_closed=False, high_closed=False)
    t1 = check_scalar(owner, "t1", t1, low_closed=False, high_closed=False)
    dt = check_scalar(owner, "dt", dt, 0.0, np.inf, low_closed=False, high_closed=False)
    if not t1 > t0:
        raise ValueError(f"{owner}: t1 must be > t0 = {t0}; got {t1!r}")
    _noise_kind(sde, noise, owner)
    if isinstance(brownian, str):
        check_choice(owner, "brownian", brownian, ("virtual", "unsafe"))
        key = check_key(owner, "key", key)
    elif not isinstance(brownian, diffrax.AbstractBrownianPath):
        raise TypeError(f"{owner}: brownian must be 'virtual', 'unsafe' or a diffrax Brownian "
                        f"path; got {type(brownian).__name__}")
    if solver is not None:
        check_instance(owner, "solver", solver, diffrax.AbstractSolver, "a diffrax solver")
    if saveat is not None:
        check_instance(owner, "saveat", saveat, diffrax.SaveAt, "a diffrax.SaveAt")
    if max_steps is not None:
        max_steps = check_integer(owner, "max_steps", max_steps, low=1)
    y0 = sde.init(jnp.asarray(x0))
    if isinstance(brownian, str):
        brownian = brownian_path(brownian, sde, y0.dtype, key, t0=t0, t1=t1, dt=dt)
    if isinstance(brownian, diffrax.UnsafeBrownianPath):
        # the default RecursiveCheckpointAdjoint rejects an UnsafeBrownianPath
        kwargs.setdefault("adjoint", diffrax.ForwardMode())
    terms = diffrax_terms(sde, brownian, noise=noise)
    solver = diffrax.Euler() if solver is None else solver
    saveat = diffrax.SaveAt(t1=True) if saveat is None else saveat
    if max_steps is None:
        max_steps = math.ceil((t1 - t0) / dt) + 1
    return diffrax.diffeqsolve(terms, solver, t0, t1, dt, y0, saveat=saveat,
                               max_steps=max_steps, **kwargs)

r"""StocBiO + iNEON: StocBiO with inexact negative-curvature extraction from noise (Huang, Chen,
Ji, Ma & Lai, JMLR 2025, digest §3.6; NEON of Xu, Rong & Yang 2018)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._checks import check_integer, check_range
from ..noise import StandardNormal, joint, unjoin
from ..problems.bilevel import AbstractBilevel, ReducedHypergradient
from ..sde.field import FieldSDE
from ._base import AbstractAlgorithm
from ._bilevel import add_counts, check_bilevel, check_count, check_scalar_step, start_y, zero_counts
from .stocbio import stocbio_hypergradient, stocbio_parts


class INEONState(NamedTuple):
    """``x``, ``y``, ``g`` and ``counts`` as in StocBiO; ``mode`` 0 = StocBiO step, 1 = iNEON
    iteration; ``u`` the iNEON vector; ``tau`` its iteration count; ``since`` StocBiO steps since
    the last iNEON call; ``found``/``none``: iNEON calls that returned a direction / nothing."""

    x: jnp.ndarray
    y: jnp.ndarray
    g: jnp.ndarray
    mode: jnp.ndarray
    u: jnp.ndarray
    tau: jnp.ndarray
    since: jnp.ndarray
    found: jnp.ndarray
    none: jnp.ndarray
    counts: jnp.ndarray


class StocBiOINEON(AbstractAlgorithm):
    r"""StocBiO with iNEON negative-curvature steps (digest §3.6; one engine step = one StocBiO
    step or one iNEON iteration, so that every step costs about the same).

    * StocBiO mode: ĝ ← StocBiO hypergradient at x (warm-started y). If ‖ĝ‖ ≤ ``threshold`` and at
      least ``wait`` StocBiO steps passed since the last iNEON call, start iNEON at the anchor x:
      u₀ = r ζ/‖ζ‖ (ζ ~ N(0, I)); otherwise x ← x − βĝ.
    * iNEON iteration τ: u ← u − η (ĝ(x + u) − ĝ(x)), two StocBiO hypergradients with
      *independent* oracle draws (the difference ≈ ∇²Φ(x) u plus the noise of both estimates: the
      "inexact" NEON power step on I − η∇²Φ), their inner loops warm-started from the anchor's y.
      If ‖u‖ ≥ ``grow``·r: a negative-curvature direction was found: x ← x ± η_nc u/‖u‖ (random
      sign), back to StocBiO. If τ reaches ``iterations`` T′ first: no direction (x is taken as
      an approximate SOSP), back to StocBiO.
      (The function-decrease test Φ(x+u) − Φ(x) − ∇Φᵀu ≤ −F_thr of NEON is not used: Φ is not
      observable to a first-order stochastic method; the norm test alone decides.)

    Noise per step: two independent StocBiO draws plus d_x + 1 normals (ζ and the sign); a
    StocBiO step uses the first draw only. Oracle calls: one StocBiO hypergradient per StocBiO
    step, two per iNEON iteration (``counts``).
    Limit (β → 0, between iNEON calls): StocBiO's reduced SDE ([`StocBiO`][sde_opt.StocBiO]).

    Args:
        problem: a bilevel problem.
        alpha: as in StocBiO.
        beta: as in StocBiO.
        D: as in StocBiO.
        Q: as in StocBiO.
        radius: iNEON's start radius r > 0.
        step: iNEON's step η > 0.
        iterations: T′, an integer ≥ 1.
        escape_step: η_nc > 0.
        threshold: the ‖ĝ‖ level that triggers iNEON (> 0).
        grow: ‖u‖ ≥ grow·r means a direction was found (> 1).
        wait: the number of StocBiO steps between calls (an integer ≥ 0).
    """

    problem: AbstractBilevel
    alpha: jnp.ndarray
    beta: jnp.ndarray
    radius: jnp.ndarray
    step_size: jnp.ndarray
    iterations: jnp.ndarray
    escape_step: jnp.ndarray
    threshold: jnp.ndarray
    grow: jnp.ndarray
    wait: jnp.ndarray
    D: int = eqx.field(static=True)
    Q: int = eqx.field(static=True)

    def __init__(self, problem, alpha, beta, radius, step, iterations, escape_step, threshold,
                 grow=10.0, wait=10, D=10, Q=10):
        owner = "StocBiOINEON"
        check_bilevel(owner, problem)
        check_scalar_step(owner, "alpha", alpha)
        problem.check_lower_step(owner, alpha)
        for name, val in (("beta", beta), ("radius", radius), ("step", step),
                          ("escape_step", escape_step), ("threshold", threshold)):
            check_scalar_step(owner, name, val)
        iterations = _check_int(owner, "iterations", iterations, 1)
        check_range(owner, "grow", grow, 1.0, low_closed=False, scalar=True)
        wait = _check_int(owner, "wait", wait, 0)
        self.problem = problem
        self.alpha, self.beta = jnp.asarray(alpha), jnp.asarray(beta)
        self.radius, self.step_size = jnp.asarray(radius), jnp.asarray(step)
        self.iterations = jnp.asarray(iterations, jnp.int32)
        self.escape_step = jnp.asarray(escape_step)
        self.threshold, self.grow = jnp.asarray(threshold), jnp.asarray(grow)
        self.wait = jnp.asarray(wait, jnp.int32)
        self.D = check_count(owner, "D", D)
        self.Q = check_count(owner, "Q", Q)

    @property
    def dt(self):
        return self.beta

    def _parts(self):
        one = joint(*stocbio_parts(self.problem, self.D, self.Q))
        return (one, one, StandardNormal((self.problem.shape[0] + 1,)))

    @property
    def noise(self):
        return joint(*self._parts())

    def init(self, x0, y0=None):
        y0 = start_y("StocBiOINEON", self.problem, x0, y0)
        i = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
        big = i(jnp.iinfo(jnp.int32).max // 2)
        return INEONState(x0, y0, jnp.zeros_like(x0), i(0), jnp.zeros_like(x0), i(0), big, i(0),
                          i(0), zero_counts())

    def step(self, state, noise):
        s = state
        first, second, w = unjoin(self._parts(), noise)
        dtype = s.x.dtype
        parts = stocbio_parts(self.problem, self.D, self.Q)

        def hg(x, draw):
            draws = tuple(d.astype(dtype) if jnp.issubdtype(d.dtype, jnp.floating) else d
                          for d in unjoin(parts, draw))
            return stocbio_hypergradient(self.problem, x, s.y, self.alpha, self.D, self.Q, draws)

        w = w.astype(dtype)
        in_neon = s.mode == 1
        # StocBiO mode (its hypergradient at the anchor x is also iNEON's reference ĝ(x))
        g0, y0, c = hg(s.x, first)
        # iNEON mode: ĝ(x + u) with an independent draw
        g1, _, _ = hg(s.x + s.u, second)
        counts = add_counts(s.counts, **c)
        counts = jnp.where(in_neon, add_counts(counts, **c), counts)

        start = (~in_neon) & (jnp.linalg.norm(g0) <= self.threshold.astype(dtype)) & (
            s.since >= self.wait)
        r = self.radius.astype(dtype)
        zeta = w[:-1] / jnp.linalg.norm(w[:-1])
        u_new = s.u - self.step_size.astype(dtype) * (g1 - g0)
        tau = s.tau + 1
        found = in_neon & (jnp.linalg.norm(u_new) >= self.grow.astype(dtype) * r)
        give_up = in_neon & ~found & (tau >= self.iterations)
        sign = jnp.where(w[-1] >= 0, 1.0, -1.0).astype(dtype)
        direction = u_new / jnp.linalg.norm(u_new)

        x = jnp.where(in_neon,
                      jnp.where(found, s.x + sign * self.escape_step.astype(dtype) * direction, s.x),
                      jnp.where(start, s.x, s.x - self.beta.astype(dtype) * g0))
        y = jnp.where(in_neon, s.y, y0)
        mode = jnp.where(in_neon, jnp.where(found | give_up, 0, 1), jnp.where(start, 1, 0))
        u = jnp.where(in_neon, jnp.where(found | give_up, 0.0, u_new), jnp.where(start, r * zeta, 0.0))
        tau = jnp.where(in_neon & ~(found | give_up), tau, 0)
        since = jnp.where(in_neon, jnp.where(found | give_up, 0, s.since),
                          jnp.where(start, s.since, s.since + (s.since < jnp.iinfo(jnp.int32).max // 2)))
        return INEONState(x, y, jnp.where(in_neon, s.g, g0), mode.astype(jnp.int32), u,
                          tau.astype(jnp.int32), since.astype(jnp.int32),
                          s.found + found.astype(jnp.int32), s.none + give_up.astype(jnp.int32),
                          counts)

    def position(self, state):
        return state.x

    def limit(self):
        return FieldSDE(ReducedHypergradient(self.problem, self.alpha, self.D, self.Q), 1.0,
                        jnp.sqrt(self.beta))

    def ode_limit(self):
        return FieldSDE(ReducedHypergradient(self.problem, self.alpha, self.D, self.Q), 1.0, 0.0)


def _check_int(owner, name, value, low):
    if isinstance(value, (float, np.floating)):
        raise TypeError(f"{owner}: {name} must be an integer; got {value!r} (float)")
    return check_integer(owner, name, value, low=low, high=2**30)

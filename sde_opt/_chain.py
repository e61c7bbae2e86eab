"""The one abstraction everything that moves shares: a Markov chain that advances continuous time.

A discrete optimizer (heavy-ball momentum SGD, SGHMC, OGDA …) and a discretized SDE
(Euler–Maruyama, an exact-OU splitting …) are both a pure map

    state_{k+1} = step(state_k, noise_k),     noise_k ~ noise (a sampler),

that advances a fixed amount ``dt`` of continuous time (SGD: ``dt = η`` so that ``t = kη``;
a scheme for an SDE: its step size). The engine ([`sde_opt.engine.simulate`][sde_opt.simulate]) draws the
noise, stops each path at its own event and streams observables; it knows nothing else about the chain.

Randomness is an explicit argument: ``noise`` is a sampler (``sde_opt.noise``) and ``step`` is
deterministic given its draw. The engine derives path i's noise at step k from (key, i, k) alone,
so two chains whose noises have the same structure are coupled pathwise by giving them the same
key — the way a discrete algorithm and its diffusion limit are compared path by path.
"""

from __future__ import annotations

import abc

import equinox as eqx


class AbstractChain(eqx.Module):
    """A time-homogeneous Markov chain on a pytree state.

    Subclasses provide ``dt`` (continuous time per step, a field or property), ``init``,
    ``step``, ``position`` and ``noise`` (the sampler of one step's noise, usually
    [`StandardNormal`][sde_opt.StandardNormal]). States and positions are arrays or pytrees of arrays
    (a game's (x, y), the neural-collapse (W, H)); ``point_shape`` is the shape (or pytree of
    shapes) of a position when the chain knows it, so that the engine can check ``x0``.
    """

    dt: eqx.AbstractVar[float]

    @abc.abstractmethod
    def init(self, x0):
        """The chain state that starts at position ``x0``."""

    @abc.abstractmethod
    def step(self, state, noise):
        """Advance one step (``dt`` of continuous time) given this step's noise."""

    def position(self, state):
        """The point in parameter space that events and observables see."""
        return state

    @property
    def geometry(self):
        """Where positions live, if the chain knows (the engine checks ``x0`` against it)."""
        return None

    @property
    def point_shape(self):
        """Shape (or pytree of shapes) of a position, if known; ``None`` skips the engine's check."""
        return None

    def check_start(self, x0, *, per_path: bool = False) -> None:
        """Raise a clear error for a start the chain cannot take (a game's y outside a bounded
        Y). The engine calls it once on the concrete ``x0`` before any work — ``init`` cannot
        refuse under the engine's ``vmap``; ``per_path``: every leaf has a leading n_paths axis.
        Default: every start that fits ``point_shape`` and ``geometry`` is accepted."""

    @property
    @abc.abstractmethod
    def noise(self):
        """The sampler of one step's noise (``noise.sample(key, dtype)``)."""

r"""Bridge to torchsde (the ``sde_opt[torch]`` extra): any [`AbstractSDE`][sde_opt.AbstractSDE]
as a torchsde SDE.

[`to_torchsde`][sde_opt.sde.to_torchsde] wraps an SDE dX = a(X) dt + B(X) dW as the duck-typed module torchsde
expects (``sde_type = "ito"``; ``f(t, y)`` and ``g(t, y)`` on ``(batch, D)`` tensors, D = prod of the state
shape). ``f`` and ``g`` call the JAX functions (jit-compiled and vmapped over the batch) and copy through
NumPy: this adapter is a correctness reference, not a fast path. The noise type is

* ``"additive"`` when ``sde.additive`` (``g`` returns the constant ``(batch, D, M)`` matrix),
* ``"diagonal"`` when asked for (``g`` returns ``(batch, D)``: b(x) = B(x) 1, noise shape = state
  shape),
* ``"general"`` otherwise (``g`` returns B(x) as ``(batch, D, M)``).

``ReplayBrownian`` is a ``torchsde.BrownianInterval`` stand-in that replays given increments
on a fixed grid, so that ``torchsde.sdeint(method="euler")`` and
[`EulerMaruyama`][sde_opt.EulerMaruyama] can be driven by the same Brownian path.

A time-dependent SDE (``sde.time_dependent``) is called with torchsde's ``t``
(``drift(x, t=t)``, ``diffusion(x, z, t=t)``).

torch and torchsde are imported on first use only; importing ``sde_opt`` never imports them.
As for diffrax, torchsde integrates in the ambient space and does not retract onto a sphere
(see ``sde_opt.sde.diffrax_bridge``).
"""

from __future__ import annotations

import math

import numpy as np

_INSTALL_HINT = (
    "the torchsde bridge needs torch and torchsde: install the torch extra, "
    "`pip install 'sde_opt[torch]'` (CPU wheel: `pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu` first)"
)


def _import_torch():
    try:
        import torch
        import torchsde
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(_INSTALL_HINT) from err
    return torch, torchsde


_CLASSES: dict = {}


def _classes():
    """Define the torch-dependent classes once, on first use."""
    if _CLASSES:
        return _CLASSES
    torch, torchsde = _import_torch()
    import jax
    import jax.numpy as jnp

    def _as_tensor(a):
        return a if torch.is_tensor(a) else torch.from_numpy(np.array(a))

    def to_jax(t):
        return jnp.asarray(t.detach().cpu().numpy())

    class TorchSDE(torch.nn.Module):
        """An [`AbstractSDE`][sde_opt.AbstractSDE] seen by torchsde (Itô; see the module docstring)."""

        sde_type = "ito"

        def __init__(self, sde, state_shape, noise_type):
            super().__init__()
            self.sde = sde
            self.state_shape = tuple(state_shape)
            self.noise_shape = tuple(sde.noise_shape)
            self.noise_type = noise_type
            d = math.prod(self.state_shape)
            m = math.prod(self.noise_shape)
            shape = self.state_shape

            def at(t):
                return {"t": t} if sde.time_dependent else {}

            def drift(y, t):
                return sde.drift(y.reshape(shape), **at(t)).reshape(d)

            if noise_type == "diagonal":

                def diffusion(y, t):
                    x = y.reshape(shape)
                    return sde.diffusion(x, jnp.ones(sde.noise_shape, x.dtype), **at(t)).reshape(d)
            else:

                def diffusion(y, t):
                    return sde.diffusion_matrix(y.reshape(shape), **at(t)).reshape(d, m)

            self._f = jax.jit(jax.vmap(drift, in_axes=(0, None)))
            self._g = jax.jit(jax.vmap(diffusion, in_axes=(0, None)))

        def _call(self, fn, t, y):
            y_j = to_jax(y)
            out = np.asarray(fn(y_j, jnp.asarray(float(t), y_j.dtype)))
            return torch.from_numpy(out.copy()).to(device=y.device, dtype=y.dtype)

        def f(self, t, y):
            return self._call(self._f, t, y)

        def g(self, t, y):
            return self._call(self._g, t, y)

    class ReplayBrownian(torchsde.BaseBrownian):
        """Brownian motion given by its increments ``(batch, n_steps, M)`` on tₖ = t0 + k·dt.

        ``bm(ta, tb)`` returns W(tb) − W(ta) with both times snapped to the grid; a one-step query
        returns the stored increment itself (no cancellation error).
        """

        __slots__ = ("_inc", "_cum", "_t0", "_dt")

        def __init__(self, increments, dt, t0=0.0):
            inc = _as_tensor(increments)
            if inc.dim() != 3:
                raise ValueError("ReplayBrownian: increments must have shape (batch, n_steps, M); "
                                 f"got {tuple(inc.shape)}")
            self._inc = inc
            zero = torch.zeros_like(inc[:, :1])
            self._cum = torch.cat([zero, torch.cumsum(inc, dim=1)], dim=1)
            self._t0 = float(t0)
            self._dt = float(dt)

        @classmethod
        def from_normals(cls, normals, dt, t0=0.0):
            """From standard normals z ``(batch, n_steps, M)``: increments √dt · z."""
            z = _as_tensor(normals)
            return cls(z * math.sqrt(dt), dt, t0)

        def _index(self, t):
            k = int(round((float(t) - self._t0) / self._dt))
            return min(max(k, 0), self._inc.shape[1])

        def __call__(self, ta, tb=None, return_U=False, return_A=False):
            if return_U or return_A:
                raise ValueError("ReplayBrownian carries no Lévy area; use method='euler'")
            if tb is None:
                return self._cum[:, self._index(ta)]
            i0, i1 = self._index(ta), self._index(tb)
            if i1 == i0 + 1:
                return self._inc[:, i0]
            return self._cum[:, i1] - self._cum[:, i0]

        def __repr__(self):
            return (f"ReplayBrownian(batch={self._inc.shape[0]}, n_steps={self._inc.shape[1]}, "
                    f"dt={self._dt}, t0={self._t0})")

        @property
        def dtype(self):
            return self._inc.dtype

        @property
        def device(self):
            return self._inc.device

        @property
        def shape(self):
            return (self._inc.shape[0], self._inc.shape[2])

        @property
        def levy_area_approximation(self):
            return "none"

    _CLASSES.update(TorchSDE=TorchSDE, ReplayBrownian=ReplayBrownian)
    return _CLASSES


def _state_shape(sde, noise):
    if noise == "diagonal":
        return tuple(sde.noise_shape)
    problem = getattr(sde, "problem", None)
    if problem is not None:
        import jax

        point = jax.ShapeDtypeStruct(tuple(problem.shape), "float32")
        return tuple(jax.eval_shape(sde.init, point).shape)
    a = getattr(sde, "A", None)
    if a is not None:
        return (a.shape[0],)
    raise ValueError("to_torchsde: cannot infer the state shape of this SDE; pass state_shape")


def to_torchsde(sde, state_shape=None, *, noise: str = "auto"):
    """``sde`` as a torchsde module (``sdeint(module, y0, ts, method="euler", ...)``).

    Args:
        sde: an [`AbstractSDE`][sde_opt.AbstractSDE].
        state_shape: shape of one SDE state; torchsde sees flattened ``(batch, D)`` states
            (default: ``noise_shape`` for diagonal noise, the shape of ``sde.init`` of a point of
            ``sde.problem`` — e.g. ``(2, d)`` for underdamped Langevin — or ``(d,)`` for a
            ``LinearSDE``). Start torchsde from states, ``jax.vmap(sde.init)(x0)``.
        noise: ``"auto"`` (``"additive"`` if ``sde.additive`` else ``"general"``),
            ``"additive"``, ``"diagonal"`` or ``"general"``.
    """
    from .._checks import check_choice, check_instance
    from ._base import AbstractSDE

    check_instance("to_torchsde", "sde", sde, AbstractSDE, "an AbstractSDE (e.g. alg.limit())")
    check_choice("to_torchsde", "noise", noise, ("auto", "additive", "diagonal", "general"))
    if state_shape is not None:
        ok = isinstance(state_shape, tuple) and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in state_shape)
        if not ok:
            raise TypeError(f"to_torchsde: state_shape must be a tuple of positive integers; got "
                            f"{state_shape!r} ({type(state_shape).__name__})")
    if noise == "auto":
        noise = "additive" if sde.additive else "general"
    if state_shape is None:
        state_shape = _state_shape(sde, noise)
    return _classes()["TorchSDE"](sde, state_shape, noise)


def replay_brownian(increments, dt, t0: float = 0.0):
    """A torchsde Brownian motion replaying ``increments`` ``(batch, n_steps, M)`` on a grid."""
    _check_grid("replay_brownian", "increments", increments, dt, t0)
    return _classes()["ReplayBrownian"](increments, dt, t0)


def replay_brownian_from_normals(normals, dt, t0: float = 0.0):
    """Like [`replay_brownian`][sde_opt.sde.torchsde_bridge.replay_brownian], from standard
    normals z (increments √dt · z)."""
    _check_grid("replay_brownian_from_normals", "normals", normals, dt, t0)
    return _classes()["ReplayBrownian"].from_normals(normals, dt, t0)


def _check_grid(owner, name, values, dt, t0):
    from .._checks import check_array, check_scalar

    check_array(owner, name, values, ndim=3)
    check_scalar(owner, "dt", dt, 0.0, math.inf, low_closed=False, high_closed=False)
    check_scalar(owner, "t0", t0, low_closed=False, high_closed=False)

"""The implementations compared: sde_opt and its peers, each written the way a competent user of
that tool would write the workload.

Every ``prepare_*(w)`` builds what can be built ahead of time and returns a zero-argument ``run``
that simulates the whole batch of workload ``w`` and returns an :class:`Outcome` (NumPy, after
``block_until_ready``). The first call of ``run`` includes tracing/compilation; the timing harness
reports it separately.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .workloads import Workload


@dataclasses.dataclass
class Outcome:
    """What a run produced: final states, and for exit-time runs each path's steps and exit flag."""

    final: np.ndarray
    steps: np.ndarray | None = None
    exited: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# sde_opt
# --------------------------------------------------------------------------------------------

def sde_opt_chain(w: Workload):
    """The natural user path: Euler–Maruyama of the gradient-flow SDE of a ``QuadraticSaddle``.

    ``GradientSDE(problem, drift_scale=1, noise_scale=1)`` is dX = −∇f(X) dt + C^{1/2} dW with
    C = σ² I the problem's gradient-noise covariance.
    """
    from sde_opt import EulerMaruyama, GradientSDE, QuadraticSaddle

    problem = QuadraticSaddle(w.eigenvalues, noise_cov=w.sigma**2)
    return EulerMaruyama(GradientSDE(problem, drift_scale=1.0, noise_scale=1.0), w.dt)


def prepare_sde_opt(w: Workload, *, events: bool | None = None, seed: int = 0):
    """``sde_opt.simulate``; with ``LeaveBall(0, radius)`` when the workload stops at exit."""
    import jax.numpy as jnp
    import jax.random as jr

    from sde_opt import LeaveBall, simulate

    chain = sde_opt_chain(w)
    x0 = jnp.zeros(w.d, jnp.float32)
    use_events = (w.radius is not None) if events is None else events
    evs = [LeaveBall(jnp.zeros(w.d, jnp.float32), w.radius)] if use_events else []
    key = jr.key(seed)

    def run() -> Outcome:
        r = simulate(chain, x0, key, n_paths=w.n_paths, n_steps=w.n_steps, events=evs)
        if use_events:
            return Outcome(r.final, r.steps, r.exited)
        return Outcome(r.final)

    return run


# --------------------------------------------------------------------------------------------
# NumPy
# --------------------------------------------------------------------------------------------

def prepare_numpy_loop(w: Workload, *, seed: int = 0):
    """A hand-written NumPy loop: in-place updates, normals drawn into a preallocated buffer."""
    factor = w.step_factor.astype(np.float32)
    scale = np.float32(w.noise_scale)

    def run() -> Outcome:
        rng = np.random.default_rng(seed)
        x = np.zeros((w.n_paths, w.d), np.float32)
        z = np.empty_like(x)
        for _ in range(w.n_steps):
            rng.standard_normal(out=z, dtype=np.float32)
            z *= scale
            x *= factor
            x += z
        return Outcome(x)

    return run


# --------------------------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------------------------

def prepare_torch_loop(w: Workload, *, device: str = "cpu", seed: int = 0):
    """A hand-written PyTorch loop (fixed horizon): ``randn(out=)`` and in-place updates."""
    import torch

    factor = torch.tensor(w.step_factor, dtype=torch.float32, device=device)
    scale = float(w.noise_scale)

    def run() -> Outcome:
        gen = torch.Generator(device=device).manual_seed(seed)
        with torch.inference_mode():
            x = torch.zeros(w.n_paths, w.d, device=device)
            z = torch.empty_like(x)
            for _ in range(w.n_steps):
                torch.randn(w.n_paths, w.d, generator=gen, out=z)
                x.mul_(factor).add_(z, alpha=scale)
            return Outcome(x.cpu().numpy())

    return run


def prepare_torch_masked_loop(w: Workload, *, device: str = "cpu", seed: int = 0):
    """A hand-written PyTorch exit-time loop: step every path, freeze the exited ones with a mask,
    stop when all have exited (or at the horizon)."""
    import torch

    factor = torch.tensor(w.step_factor, dtype=torch.float32, device=device)
    scale = float(w.noise_scale)
    r2 = float(w.radius) ** 2

    def run() -> Outcome:
        gen = torch.Generator(device=device).manual_seed(seed)
        with torch.inference_mode():
            x = torch.zeros(w.n_paths, w.d, device=device)
            z = torch.empty_like(x)
            alive = torch.ones(w.n_paths, dtype=torch.bool, device=device)
            steps = torch.zeros(w.n_paths, dtype=torch.int32, device=device)
            for _ in range(w.n_steps):
                torch.randn(w.n_paths, w.d, generator=gen, out=z)
                x = torch.where(alive[:, None], torch.addcmul(z.mul_(scale), x, factor), x)
                steps += alive
                alive &= (x * x).sum(dim=1) < r2
                if not alive.any():
                    break
            return Outcome(x.cpu().numpy(), steps.cpu().numpy(), ~alive.cpu().numpy())

    return run


def prepare_torchsde(w: Workload, *, device: str = "cpu", seed: int = 0):
    """``torchsde.sdeint(method="euler")`` on a native torch SDE module (diagonal noise: g is the
    vector σ, so the noise term is the elementwise g·dW), with sdeint's default
    ``BrownianInterval``; only the end point is requested (``ts = [0, T]``)."""
    import torch
    import torchsde

    class SaddleSDE(torch.nn.Module):
        sde_type = "ito"
        noise_type = "diagonal"

        def __init__(self):
            super().__init__()
            self.register_buffer("drift", torch.tensor(w.drift_diagonal, dtype=torch.float32))
            self.register_buffer("sigma", torch.full((w.d,), w.sigma, dtype=torch.float32))

        def f(self, t, y):
            return y * self.drift

        def g(self, t, y):
            return self.sigma.expand_as(y)

    sde = SaddleSDE().to(device)
    ts = torch.tensor([0.0, w.n_steps * w.dt], device=device)

    def run() -> Outcome:
        torch.manual_seed(seed)
        with torch.inference_mode():
            y0 = torch.zeros(w.n_paths, w.d, device=device)
            ys = torchsde.sdeint(sde, y0, ts, method="euler", dt=w.dt)
            return Outcome(ys[-1].cpu().numpy())

    return run


# --------------------------------------------------------------------------------------------
# diffrax
# --------------------------------------------------------------------------------------------

def prepare_diffrax(w: Workload, *, brownian: str, shard: bool = True, seed: int = 0):
    """``jax.jit(jax.vmap(diffeqsolve))`` over one key per path: ``Euler()``,
    ``ConstantStepSize``, drift ``ODETerm``, diffusion ``ControlTerm`` returning a
    ``lineax.DiagonalLinearOperator`` (σ I), end point only, ``throw=False`` as the docs advise
    under vmap. ``brownian="virtual"``: ``VirtualBrownianTree(tol=dt/2)``; ``"unsafe"``:
    ``UnsafeBrownianPath`` (with ``ForwardMode``, which it requires). ``shard``: the keys are
    sharded over all devices so that XLA splits the batch (the same cores sde_opt uses)."""
    import diffrax
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import lineax as lx
    import numpy as onp

    t1 = w.n_steps * w.dt
    drift_diag = jnp.asarray(w.drift_diagonal, jnp.float32)
    sigma = jnp.full((w.d,), w.sigma, jnp.float32)
    y0 = jnp.zeros(w.d, jnp.float32)
    shape = jax.ShapeDtypeStruct((w.d,), jnp.float32)
    drift = diffrax.ODETerm(lambda t, y, args: drift_diag * y)

    def diffusion(t, y, args):
        return lx.DiagonalLinearOperator(sigma)

    def one_path(key):
        if brownian == "virtual":
            bm = diffrax.VirtualBrownianTree(0.0, t1, tol=w.dt / 2, shape=shape, key=key)
            adjoint = diffrax.RecursiveCheckpointAdjoint()
        else:
            bm = diffrax.UnsafeBrownianPath(shape=shape, key=key)
            adjoint = diffrax.ForwardMode()
        terms = diffrax.MultiTerm(drift, diffrax.ControlTerm(diffusion, bm))
        sol = diffrax.diffeqsolve(terms, diffrax.Euler(), 0.0, t1, w.dt, y0,
                                  saveat=diffrax.SaveAt(t1=True), max_steps=w.n_steps + 1,
                                  adjoint=adjoint, throw=False)
        return sol.ys[-1]

    keys = jr.split(jr.key(seed), w.n_paths)
    devices = jax.devices()
    if shard and len(devices) > 1 and w.n_paths % len(devices) == 0:
        mesh = jax.sharding.Mesh(onp.asarray(devices), ("paths",))
        keys = jax.device_put(keys, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("paths")))
    solve = jax.jit(jax.vmap(one_path))

    def run() -> Outcome:
        return Outcome(np.asarray(jax.block_until_ready(solve(keys))))

    return run


def n_threads_torch() -> int:
    import torch

    return torch.get_num_threads()


def rate(path_steps: float, seconds: float) -> float:
    return path_steps / seconds if seconds > 0 else math.inf

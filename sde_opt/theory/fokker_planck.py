r"""Finite-difference references: mean first-passage times of overdamped Langevin in 2-D and of
underdamped Langevin in 1-D (phase space (x, v)).

Overdamped.

The generator of dX = −∇V dt + √(2ε) dW is L = εΔ − ∇V·∇ = ε e^{V/ε} ∇·(e^{−V/ε} ∇). It is
discretized in this reversible (detailed-balance) form on a node grid with spacings Δx, Δy: the
rate from node i to a neighbour j across a face with midpoint m is

    ε e^{−(V(m) − V(x_i))/ε} / (Δ² f_i),      f_i = ½ for a node on a wall (half cell), else 1,

so the matrix is an M-matrix for every ε and grid (no cell-Péclet restriction) and the scheme is
second-order accurate. Walls are reflecting (zero flux); the absorbing set is the line x = b, where
T = 0. The mean first-passage time solves L T = −1; ``mfpt_overdamped_2d`` extrapolates two
grids (Δ and Δ/2) à la Richardson. With V(x, y) = U(x) + y²/2 it reproduces the exact 1-D
double integral (``sde_opt.theory.langevin.mean_first_passage_1d``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._checks import check_array, check_callable, check_integer, check_positive, check_range


def _node_index(owner, grid, value, name):
    k = (value - grid[0]) / (grid[1] - grid[0])
    i = int(round(k))
    if abs(k - i) > 1e-9 or not 0 <= i < grid.size:
        raise ValueError(f"{owner}: start's {name} is not a grid node (spacing "
                         f"{grid[1] - grid[0]:.6g} from {grid[0]:.6g}, below the absorbing "
                         f"end); got {value!r}")
    return i


def _interval(owner, lo_name, lo, hi_name, hi):
    """A finite interval lo < hi."""
    check_range(owner, lo_name, lo, low_closed=False, high_closed=False, scalar=True)
    check_range(owner, hi_name, hi, float(lo), np.inf, low_closed=False, high_closed=False,
                scalar=True)


def _check_grid(owner, fn, fn_name, eps, x_lo, b, nx, n2_name, n2, start):
    check_callable(owner, fn_name, fn, "a function (vectorized over arrays)")
    check_positive(owner, "eps", eps, scalar=True)
    _interval(owner, "x_lo", x_lo, "b", b)
    check_integer(owner, "nx", nx, low=1)
    check_integer(owner, n2_name, n2, low=1)
    check_array(owner, "start", start, shape=(2,))


def mfpt_overdamped_2d_grid(potential, eps, *, x_lo, b, y_lo, y_hi, nx, ny, start):
    """T(start) on one grid: ``nx`` cells in x on [x_lo, b], ``ny`` cells in y; the start must be
    a node. ``potential(X, Y)`` is vectorized."""
    owner = "mfpt_overdamped_2d_grid"
    _check_grid(owner, potential, "potential", eps, x_lo, b, nx, "ny", ny, start)
    _interval(owner, "y_lo", y_lo, "y_hi", y_hi)
    x = np.linspace(x_lo, b, nx + 1)
    y = np.linspace(y_lo, y_hi, ny + 1)
    dx, dy = x[1] - x[0], y[1] - y[0]
    xs = x[:-1]                                  # unknown columns (x = b is absorbing)
    v = potential(xs[:, None], y[None, :])       # (nx, ny + 1)
    fx = np.ones(nx)
    fx[0] = 0.5
    fy = np.ones(ny + 1)
    fy[0] = fy[-1] = 0.5
    vmx = potential(0.5 * (x[:-1] + x[1:])[:, None], y[None, :])   # face i | i+1, (nx, ny+1)
    east = eps / dx**2 * np.exp(-(vmx - v) / eps) / fx[:, None]              # i → i+1
    west = eps / dx**2 * np.exp(-(vmx[:-1] - v[1:]) / eps) / fx[1:, None]     # i+1 → i
    vmy = potential(xs[:, None], 0.5 * (y[:-1] + y[1:])[None, :])  # face j | j+1, (nx, ny)
    north = eps / dy**2 * np.exp(-(vmy - v[:, :-1]) / eps) / fy[None, :-1]    # j → j+1
    south = eps / dy**2 * np.exp(-(vmy - v[:, 1:]) / eps) / fy[None, 1:]      # j+1 → j

    idx = np.arange(nx * (ny + 1)).reshape(nx, ny + 1)
    diag = -east.copy()
    diag[1:] -= west
    diag[:, :-1] -= north
    diag[:, 1:] -= south
    rows = [idx[:-1], idx[1:], idx[:, :-1], idx[:, 1:], idx]
    cols = [idx[1:], idx[:-1], idx[:, 1:], idx[:, :-1], idx]
    vals = [east[:-1], west, north, south, diag]
    A = sp.csc_matrix((np.concatenate([a.ravel() for a in vals]),
                       (np.concatenate([r.ravel() for r in rows]),
                        np.concatenate([c.ravel() for c in cols]))), shape=(idx.size, idx.size))
    T = spla.spsolve(A, -np.ones(idx.size)).reshape(nx, ny + 1)
    return float(T[_node_index(owner, xs, start[0], "x"), _node_index(owner, y, start[1], "y")])


def mfpt_overdamped_2d(potential, eps, *, x_lo, b, y_lo, y_hi, nx, ny, start):
    """Richardson extrapolation (4 T_{Δ/2} − T_Δ)/3 of ``mfpt_overdamped_2d_grid`` over grids
    (nx, ny) and (2nx, 2ny). Returns (extrapolated, coarse, fine)."""
    owner = "mfpt_overdamped_2d"
    _check_grid(owner, potential, "potential", eps, x_lo, b, nx, "ny", ny, start)
    _interval(owner, "y_lo", y_lo, "y_hi", y_hi)
    kw = dict(x_lo=x_lo, b=b, y_lo=y_lo, y_hi=y_hi, start=start)
    coarse = mfpt_overdamped_2d_grid(potential, eps, nx=nx, ny=ny, **kw)
    fine = mfpt_overdamped_2d_grid(potential, eps, nx=2 * nx, ny=2 * ny, **kw)
    return (4 * fine - coarse) / 3, coarse, fine



def _entries(rows, cols, vals, r, c, a):
    rows.append(np.ravel(r))
    cols.append(np.ravel(c))
    vals.append(np.ravel(a))


def mfpt_underdamped_1d_grid(force, eps, gamma, *, x_lo, b, v_max, nx, nv, start):
    r"""Mean first-passage time to x = b of dX = V dt, dV = (f(X) − γV) dt + √(2γε) dW, on one grid.

    Solves L T = −1, L = v ∂ₓ + (f − γv) ∂ᵥ + γε ∂ᵥᵥ, on the (x, v) node grid with second-order
    differences: ∂ₓ one-sided in the direction of v (the backward equation looks downstream;
    (−3Tᵢ + 4Tᵢ₊₁ − Tᵢ₊₂)/(2Δx) for v > 0 and its mirror for v < 0, first order on the last node
    before a boundary), ∂ᵥ and ∂ᵥᵥ centred. The column x = b absorbs (T = 0; it is reached only
    with v > 0, so no condition is needed there for v < 0); the wall x = x_lo and the velocity
    bounds ±v_max reflect (no transport through the wall; mirror ghost nodes in v). Convergence
    is second order (checked against grid halving). ``start = (x0, v0)`` must be a node.
    """
    owner = "mfpt_underdamped_1d_grid"
    _check_grid(owner, force, "force", eps, x_lo, b, nx, "nv", nv, start)
    check_positive(owner, "gamma", gamma, scalar=True)
    check_positive(owner, "v_max", v_max, scalar=True)
    x = np.linspace(x_lo, b, nx + 1)
    v = np.linspace(-v_max, v_max, nv + 1)
    dx, dv = x[1] - x[0], v[1] - v[0]
    n_x, n_v = nx, nv + 1                       # unknowns: columns 0 … nx−1 (x = b absorbs)
    idx = np.arange(n_x * n_v).reshape(n_x, n_v)
    I, J = np.meshgrid(np.arange(n_x), np.arange(n_v), indexing="ij")
    V = v[J]
    rate = np.abs(V) / dx
    rows, cols, vals = [], [], []
    for side in (1, -1):                          # v > 0 looks at i+1, i+2; v < 0 at i−1, i−2
        moving = (V > 0) if side == 1 else (V < 0)
        i1, i2 = I + side, I + 2 * side
        second = moving & (i2 <= n_x) & (i2 >= 0)     # index n_x is the absorbing column (T = 0)
        first = moving & ~second & (i1 >= 0)
        m = second
        _entries(rows, cols, vals, idx[m], idx[m], -1.5 * rate[m])
        k = m & (i1 < n_x)
        _entries(rows, cols, vals, idx[k], idx[i1[k], J[k]], 2.0 * rate[k])
        k = m & (i2 < n_x)
        _entries(rows, cols, vals, idx[k], idx[i2[k], J[k]], -0.5 * rate[k])
        m = first
        _entries(rows, cols, vals, idx[m], idx[m], -rate[m])
        k = m & (i1 < n_x)
        _entries(rows, cols, vals, idx[k], idx[i1[k], J[k]], rate[k])
        # v < 0 on the wall column: no transport through the reflecting wall (no entry at all)
    drift = force(x[:-1])[I] - gamma * V
    diff = gamma * eps / dv**2
    up, down = diff + drift / (2 * dv), diff - drift / (2 * dv)
    top, bottom = J == n_v - 1, J == 0
    to_up = np.where(top, 0.0, up) + np.where(bottom, down, 0.0)      # mirror ghosts
    to_down = np.where(bottom, 0.0, down) + np.where(top, up, 0.0)
    m = ~top
    _entries(rows, cols, vals, idx[m], idx[I[m], J[m] + 1], to_up[m])
    m = ~bottom
    _entries(rows, cols, vals, idx[m], idx[I[m], J[m] - 1], to_down[m])
    _entries(rows, cols, vals, idx, idx, -(up + down))
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(idx.size, idx.size))
    T = spla.spsolve(A, -np.ones(idx.size)).reshape(n_x, n_v)
    return float(T[_node_index(owner, x[:-1], start[0], "x"), _node_index(owner, v, start[1], "v")])


def mfpt_underdamped_1d(force, eps, gamma, *, x_lo, b, v_max, nx, nv, start):
    """Richardson extrapolation (4 T_{Δ/2} − T_Δ)/3 (second-order scheme) of
    ``mfpt_underdamped_1d_grid`` over grids (nx, nv) and (2nx, 2nv). Returns
    (extrapolated, coarse, fine)."""
    owner = "mfpt_underdamped_1d"
    _check_grid(owner, force, "force", eps, x_lo, b, nx, "nv", nv, start)
    check_positive(owner, "gamma", gamma, scalar=True)
    check_positive(owner, "v_max", v_max, scalar=True)
    kw = dict(x_lo=x_lo, b=b, v_max=v_max, start=start)
    coarse = mfpt_underdamped_1d_grid(force, eps, gamma, nx=nx, nv=nv, **kw)
    fine = mfpt_underdamped_1d_grid(force, eps, gamma, nx=2 * nx, nv=2 * nv, **kw)
    return (4 * fine - coarse) / 3, coarse, fine

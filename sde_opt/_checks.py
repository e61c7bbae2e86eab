"""Argument checks that give clear errors at construction time.

Checks run only on concrete values: inside ``jit``/``vmap`` the fields of a module are tracers and
are left alone (they were checked when the module was first built).
"""

from __future__ import annotations

import jax
import numpy as np


def is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _interval(low, high, low_closed, high_closed) -> str:
    return f"{'[' if low_closed else '('}{low}, {high}{']' if high_closed else ')'}"


def check_range(
    owner: str,
    name: str,
    value,
    low=-np.inf,
    high=np.inf,
    *,
    low_closed: bool = True,
    high_closed: bool = True,
) -> None:
    """Raise ``ValueError`` naming ``owner.name``, its allowed range and the value given."""
    if not is_concrete(value):
        return
    v = np.asarray(value)
    ok = np.isfinite(v) | np.isinf(high) & (v == np.inf)
    ok &= (v >= low) if low_closed else (v > low)
    ok &= (v <= high) if high_closed else (v < high)
    if not np.all(ok):
        bad = (v if v.ndim == 0 else v[~ok].ravel()[0]).item()  # a Python number in the message
        raise ValueError(
            f"{owner}: {name} must lie in {_interval(low, high, low_closed, high_closed)}; got {bad!r}"
        )


def check_positive(owner: str, name: str, value) -> None:
    check_range(owner, name, value, 0.0, np.inf, low_closed=False, high_closed=False)


def check_psd(owner: str, name: str, matrix, *, tol: float = 1e-10) -> None:
    """Raise if ``matrix`` is not symmetric positive semi-definite."""
    if not is_concrete(matrix):
        return
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{owner}: {name} must be a square matrix; got shape {m.shape}")
    scale = max(1.0, float(np.max(np.abs(m))) if m.size else 1.0)
    if not np.allclose(m, m.T, atol=tol * scale):
        raise ValueError(f"{owner}: {name} must be symmetric")
    low = float(np.linalg.eigvalsh(m).min()) if m.size else 0.0
    if low < -tol * scale * m.shape[0]:
        raise ValueError(
            f"{owner}: {name} must be positive semi-definite; its smallest eigenvalue is {low:.3g}"
        )


def check_shape(owner: str, name: str, array, shape: tuple) -> None:
    """Raise if ``array.shape != shape``."""
    got = tuple(np.shape(array))
    if got != tuple(shape):
        raise ValueError(f"{owner}: {name} must have shape {tuple(shape)}; got {got}")

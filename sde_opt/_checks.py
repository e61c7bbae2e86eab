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


def _show(value) -> str:
    """A short repr of a value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_real(owner: str, name: str, value, *, scalar: bool = False) -> np.ndarray:
    """Raise ``TypeError`` unless ``value`` is a real number (or, without ``scalar``, an array of
    real numbers): strings, ``None``, booleans, complex numbers and ragged lists are refused.

    With ``scalar``, an array of more than one value is refused too (``ValueError``). Returns the
    value as a NumPy array (tracers are returned unchanged).
    """
    if not is_concrete(value):
        return value
    what = "a real number" if scalar else "a real number or an array of real numbers"
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be {what}; got {_show(value)} "
                        f"({type(value).__name__})")
    try:
        v = np.asarray(value)
    except (ValueError, TypeError):
        raise TypeError(f"{owner}: {name} must be {what}; got {_show(value)}") from None
    if v.dtype == object or not (np.issubdtype(v.dtype, np.integer)
                                 or np.issubdtype(v.dtype, np.floating)):
        raise TypeError(f"{owner}: {name} must be {what}; got {_show(value)} (dtype {v.dtype})")
    if scalar and v.ndim != 0:
        raise ValueError(f"{owner}: {name} must be a scalar (one real number); got "
                         f"{_show(value)} of shape {v.shape}")
    return v


def check_integer(owner: str, name: str, value, low=None, high=None) -> int:
    """Return ``value`` as a Python int; raise ``TypeError`` unless it is an integer (any integer
    type: ``int``, ``np.int64``, a 0-d integer array; never a float, a string or a bool) and
    ``ValueError`` unless ``low <= value <= high``."""
    ok = not isinstance(value, (bool, np.bool_)) and (
        isinstance(value, (int, np.integer))
        or (hasattr(value, "dtype") and getattr(value, "shape", None) == ()
            and np.issubdtype(value.dtype, np.integer)))
    if not ok:
        raise TypeError(f"{owner}: {name} must be an integer; got {_show(value)} "
                        f"({type(value).__name__})")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "(-inf" if low is None else f"[{low}"
        hi = "inf)" if high is None else f"{high}]"
        raise ValueError(f"{owner}: {name} must lie in {lo}, {hi} (an integer); got {v}")
    return v


def check_range(
    owner: str,
    name: str,
    value,
    low=-np.inf,
    high=np.inf,
    *,
    low_closed: bool = True,
    high_closed: bool = True,
    scalar: bool = False,
) -> None:
    """Raise ``ValueError`` naming ``owner.name``, its allowed range and the value given
    (``TypeError`` for a value that is not a real number, see ``check_real``)."""
    if not is_concrete(value):
        return
    v = check_real(owner, name, value, scalar=scalar)
    ok = np.isfinite(v) | np.isinf(high) & (v == np.inf)
    ok &= (v >= low) if low_closed else (v > low)
    ok &= (v <= high) if high_closed else (v < high)
    if not np.all(ok):
        bad = (v if v.ndim == 0 else v[~ok].ravel()[0]).item()  # a Python number in the message
        raise ValueError(
            f"{owner}: {name} must lie in {_interval(low, high, low_closed, high_closed)}; got {bad!r}"
        )


def check_positive(owner: str, name: str, value, *, scalar: bool = False) -> None:
    check_range(owner, name, value, 0.0, np.inf, low_closed=False, high_closed=False,
                scalar=scalar)


def check_level(owner: str, level) -> float:
    """A coverage level must be a real number in (0, 1); returns it as a float."""
    check_range(owner, "level", level, 0.0, 1.0, low_closed=False, high_closed=False, scalar=True)
    return float(level)


def check_psd(owner: str, name: str, matrix, *, tol: float = 1e-10) -> None:
    """Raise if ``matrix`` is not symmetric positive semi-definite."""
    if not is_concrete(matrix):
        return
    m = check_real(owner, name, matrix).astype(np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{owner}: {name} must be a square matrix; got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{owner}: {name} must be finite; got {int(np.sum(~np.isfinite(m)))} "
                         f"NaN/inf entries")
    scale = max(1.0, float(np.max(np.abs(m))) if m.size else 1.0)
    if not np.allclose(m, m.T, atol=tol * scale):
        i, j = np.unravel_index(np.argmax(np.abs(m - m.T)), m.shape)
        raise ValueError(f"{owner}: {name} must be symmetric; got {name}[{i}, {j}] = {m[i, j]:.6g} "
                         f"but {name}[{j}, {i}] = {m[j, i]:.6g}")
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

"""Argument checks that give clear errors at construction time.

Checks run only on concrete values: inside ``jit``/``vmap`` the fields of a module are tracers and
are left alone (they were checked when the module was first built).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
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


def check_scalar(owner: str, name: str, value, low=-np.inf, high=np.inf, *, low_closed: bool = True,
                 high_closed: bool = True) -> float:
    """A real scalar in a range, returned as a Python float (tracers are returned unchanged).

    ``TypeError`` for anything that is not one real number (strings, ``None``, booleans, complex
    numbers, arrays of several values), ``ValueError`` for NaN, an infinity (unless the range is
    unbounded on that side and closed there) or a value outside the range."""
    if not is_concrete(value):
        return value
    check_range(owner, name, value, low, high, low_closed=low_closed, high_closed=high_closed,
                scalar=True)
    return float(value)


def check_bool(owner: str, name: str, value) -> bool:
    """A flag: ``True`` or ``False`` (``numpy.bool_`` too). Strings (``'no'``), numbers and
    ``None`` are refused with a ``TypeError``: ``bool('no')`` is ``True``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False; got {_show(value)} "
                        f"({type(value).__name__})")
    return bool(value)


def check_choice(owner: str, name: str, value, options) -> str:
    """One of a fixed set of strings (``TypeError`` for a non-string, ``ValueError`` for an
    unknown string, both listing the options)."""
    listed = ", ".join(repr(o) for o in options)
    if not isinstance(value, str):
        raise TypeError(f"{owner}: {name} must be one of {listed}; got {_show(value)} "
                        f"({type(value).__name__})")
    if value not in options:
        raise ValueError(f"{owner}: {name} must be one of {listed}; got {value!r}")
    return value


def check_text(owner: str, name: str, value, *, optional: bool = False) -> str | None:
    """A string (a label, a description); ``None`` too with ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{owner}: {name} must be a string; got {_show(value)} "
                        f"({type(value).__name__})")
    return value


def check_callable(owner: str, name: str, value, what: str = "a function") -> Callable:
    """Anything callable (a function, an equinox module with ``__call__``, a class)."""
    if not callable(value):
        raise TypeError(f"{owner}: {name} must be {what}; got {_show(value)} "
                        f"({type(value).__name__})")
    return value


def check_instance(owner: str, name: str, value, cls, what: str | None = None):
    """``value`` must be an instance of ``cls`` (a class or a tuple of classes); ``what`` says what
    is expected in words (default: the class names)."""
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise TypeError(f"{owner}: {name} must be {what or 'a ' + names}; got {_show(value)} "
                        f"({type(value).__name__})")
    return value


def _shape_text(shape) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1
                                                                           else "") + ")"


def check_array(owner: str, name: str, value, *, ndim=None, shape=None, finite: bool = True,
                nonempty: bool = True, low=None, high=None, low_closed: bool = True,
                high_closed: bool = True) -> np.ndarray:
    """A real array, returned as a NumPy array (tracers are returned unchanged).

    ``ndim``: an int or a tuple of allowed numbers of axes. ``shape``: a tuple whose ``None``
    entries match any length. ``finite``: refuse NaN/inf entries. ``nonempty``: refuse an array
    with no entries. ``low``/``high``: bounds on every entry (closed unless told)."""
    if not is_concrete(value):
        return value
    v = check_real(owner, name, value)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if v.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{owner}: {name} must have {want} axes; got an array of shape "
                             f"{v.shape}")
    if shape is not None and (v.ndim != len(shape) or any(
            s is not None and s != g for s, g in zip(shape, v.shape))):
        raise ValueError(f"{owner}: {name} must have shape {_shape_text(shape)}; got shape "
                         f"{v.shape}")
    if nonempty and v.size == 0:
        raise ValueError(f"{owner}: {name} must not be empty; got an array of shape {v.shape}")
    if finite and not np.all(np.isfinite(v)):
        bad = v[~np.isfinite(v)].ravel()[0].item()
        raise ValueError(f"{owner}: {name} must be finite; got {int(np.sum(~np.isfinite(v)))} "
                         f"non-finite entries (e.g. {bad!r})")
    if low is not None or high is not None:
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        low_closed = low_closed and np.isfinite(lo)
        high_closed = high_closed and np.isfinite(hi)
        ok = (v >= lo) if low_closed else (v > lo)
        ok &= (v <= hi) if high_closed else (v < hi)
        ok |= np.isnan(v) & (not finite)
        if not np.all(ok):
            bad = v[~ok].ravel()[0].item()
            raise ValueError(f"{owner}: every entry of {name} must lie in "
                             f"{_interval(lo, hi, low_closed, high_closed)}; got {bad!r}")
    return v


def check_mask(owner: str, name: str, value, shape=None) -> np.ndarray:
    """A boolean array (True/False entries; integer 0/1 arrays too), of ``shape`` when given;
    anything else (floats, strings, other integers) is refused rather than cast with ``bool``."""
    try:
        m = np.asarray(value)
    except (ValueError, TypeError):
        raise TypeError(f"{owner}: {name} must be a boolean array; got {_show(value)}") from None
    if m.dtype != np.bool_:
        if not (np.issubdtype(m.dtype, np.integer) and np.all((m == 0) | (m == 1))):
            raise TypeError(f"{owner}: {name} must be a boolean array (True/False); got "
                            f"{_show(value)} (dtype {m.dtype})")
        m = m.astype(bool)
    if shape is not None and m.shape != tuple(shape):
        raise ValueError(f"{owner}: {name} must have shape {tuple(shape)}; got {m.shape}")
    return m


def check_seed(owner: str, name: str, value) -> int:
    """A seed for ``numpy.random.default_rng``: an integer >= 0."""
    return check_integer(owner, name, value, low=0)


def check_key(owner: str, name: str, key):
    """A single ``jax.random`` key from a key or an integer seed of any integer type.

    Accepted: a typed key of shape ``()`` (``jax.random.key``), raw key data of shape ``(2,)``
    (``jax.random.PRNGKey``), or an integer (``int``, ``np.int64``, a 0-d integer array). Refused,
    with the value named: strings, ``None``, floats, booleans and batches of keys."""
    how = "give an integer seed or one jax.random key (jax.random.key(0))"
    if isinstance(key, (bool, np.bool_)) or key is None or isinstance(key, (str, bytes, float)):
        raise TypeError(f"{owner}: {name} must be an integer seed or a jax.random key; got "
                        f"{key!r} ({type(key).__name__}); {how}")
    if isinstance(key, (int, np.integer)):
        return jr.key(int(key))
    if not is_concrete(key):
        return key
    dtype = getattr(key, "dtype", None)
    shape = tuple(getattr(key, "shape", ()))
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if shape != ():
            raise ValueError(f"{owner}: {name} must be one key (shape ()); got a batch of keys of "
                             f"shape {shape}; {how}")
        return key
    if dtype is not None and np.issubdtype(dtype, np.integer):
        if shape == ():
            return jr.key(int(key))
        if shape == (2,):
            return jr.wrap_key_data(jnp.asarray(key, jnp.uint32))
        raise ValueError(f"{owner}: {name} must be one key (an integer, or raw key data of shape "
                         f"(2,)); got integer data of shape {shape}; {how}")
    raise TypeError(f"{owner}: {name} must be an integer seed or a jax.random key; got "
                    f"{str(key)[:60]!r} ({type(key).__name__}"
                    f"{'' if dtype is None else ', dtype ' + str(dtype)}); {how}")


def check_path(owner: str, name: str, value) -> str:
    """A file-system path: a string or an ``os.PathLike`` (not empty)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{owner}: {name} must be a path (a string or a pathlib.Path); got "
                        f"{_show(value)} ({type(value).__name__})")
    if not os.fspath(value):
        raise ValueError(f"{owner}: {name} must be a path; got an empty string")
    return value

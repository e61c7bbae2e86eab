"""One progress display for every study: a tqdm bar on stderr, or nothing.

    bar = Progress("msgd-escape", ["escape", "phases", "floor"], enabled=progress)
    with bar.part("escape"):
        ...                        # the bar shows "escape" while it runs, and advances after
    for name in bar.track(RUNS):   # or: one tick per item of a loop
        ...
    bar.close()

The engine's own per-simulation bars (``simulate(..., progress=label)``) nest under it (they are
transient: ``leave=False``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from .._checks import check_bool, check_integer, check_text


class Progress:
    """Progress over a known list of parts (``parts``) or a count (``total``); inert when
    ``enabled`` is false, so a study calls it unconditionally."""

    def __init__(self, desc: str, parts: Sequence[str] | int, *, enabled: bool = True,
                 unit: str = "part"):
        check_text("Progress", "desc", desc)
        check_text("Progress", "unit", unit)
        if isinstance(parts, (int, np.integer)) and not isinstance(parts, (bool, np.bool_)):
            total = check_integer("Progress", "parts", parts, low=0)
        elif isinstance(parts, Sequence) and not isinstance(parts, (str, bytes)) and all(
                isinstance(p, str) for p in parts):
            total = len(parts)
        else:
            raise TypeError(f"Progress: parts must be a list of part names or a count; got "
                            f"{parts!r:.60} ({type(parts).__name__})")
        self.enabled = check_bool("Progress", "enabled", enabled)
        self._bar = None
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Show ``name`` while the block runs; advance by one when it finishes."""
        if self._bar is not None:
            self._bar.set_postfix_str(name)
        yield
        if self._bar is not None:
            self._bar.update(1)

    def track(self, items: Iterable) -> Iterator:
        """Yield ``items``, advancing by one after each."""
        for item in items:
            if self._bar is not None:
                self._bar.set_postfix_str(str(item[0] if isinstance(item, tuple) else item))
            yield item
            if self._bar is not None:
                self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Print the pins of ``constraints.txt``: every package that sde_opt and its extras need, at the
version installed now (run after the tests pass: ``python .ci/constraints.py > constraints.txt``).

The closure is read from the installed packages' metadata (``importlib.metadata``), starting from
sde_opt's requirements with the extras ``torch``, ``test``, ``data`` and ``docs``; environment
markers are evaluated for this interpreter. torch is pinned at the CPU build's version
(``torch==2.13.0``), which ``.ci/run`` installs first.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys

from packaging.requirements import Requirement

EXTRAS = ("torch", "test", "data", "docs")


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def closure(root: str = "sde_opt", extras=EXTRAS) -> dict[str, str]:
    seen: dict[str, str] = {}
    todo = [(root, set(extras))]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            print(f"# not installed: {name}", file=sys.stderr)
            continue
        key = _name(dist.metadata["Name"])
        first = key not in seen
        seen[key] = dist.version.split("+")[0]  # torch 2.13.0+cpu: == 2.13.0 admits the local build
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
                continue
            if first or req.extras:
                todo.append((req.name, set(req.extras)))
    seen.pop(_name(root), None)
    return seen


if __name__ == "__main__":
    print("# The versions the tests last passed with (Python "
          f"{sys.version_info.major}.{sys.version_info.minor}, x86-64 Linux).")
    print("# Regenerate after a green run: python .ci/constraints.py > constraints.txt")
    for name, version in sorted(closure().items()):
        print(f"{name}=={version}")

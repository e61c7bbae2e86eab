"""Run the code of the documentation's tutorials, as a reader would.

Every fenced ``python`` block of a page is run, in order, in one namespace per page (so a page's
later blocks see its earlier names), in a fresh temporary folder. In ``bash`` blocks, the
``sde-opt fit …`` lines are run too (in-process, they take a second) and must exit with status 0;
the other shell lines (installs, full studies that take minutes) are shown to the reader but not
run. Exit status 1 if any page fails, with the page and the block's first line.

    python docs/run_snippets.py                  # every page under docs/tutorials/ and index.md
    python docs/run_snippets.py docs/tutorials/fit-traces.md
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PAGES = [DOCS / "index.md", *sorted((DOCS / "tutorials").glob("*.md"))]
BLOCK = re.compile(r"^```(python|bash)[^\n]*\n(.*?)^```", re.S | re.M)
RUN_IN_BASH = "sde-opt fit "


def blocks(page: Path) -> list[str]:
    """The page's runnable code, in order: python blocks as they are, and each ``sde-opt fit``
    line of a bash block as a call of the command-line entry point."""
    out = []
    for lang, src in BLOCK.findall(page.read_text()):
        if lang == "python":
            out.append(src)
            continue
        for line in src.splitlines():
            line = line.split("#")[0].strip()
            if line.startswith(RUN_IN_BASH):
                argv = shlex.split(line)[1:]
                out.append(f"from sde_opt.cli import main as _main\n"
                           f"assert _main({argv!r}) == 0, {line!r}\n")
    return out


def run_page(page: Path) -> bool:
    code = blocks(page)
    if not code:
        print(f"{page.name}: no python blocks")
        return True
    namespace = {"__name__": "__main__"}
    t0 = time.perf_counter()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for i, src in enumerate(code):
                try:
                    exec(compile(src, f"{page.name}[block {i + 1}]", "exec"), namespace)
                except Exception:  # noqa: BLE001 - reported with the page and block
                    first = src.strip().splitlines()[0]
                    print(f"FAILED {page.name}, block {i + 1} ({first!r}):", file=sys.stderr)
                    traceback.print_exc()
                    return False
        finally:
            os.chdir(here)
    print(f"ok {page.name}: {len(code)} blocks in {time.perf_counter() - t0:.1f} s")
    return True


def main(argv: list[str]) -> int:
    pages = [Path(a) for a in argv] or PAGES
    import sde_opt

    sde_opt.use_cpu_cores()
    results = [run_page(p) for p in pages]
    print(f"{sum(results)}/{len(results)} pages ran")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Check the built documentation site: no literal Sphinx role, no public name left out.

    python docs/check_docs.py SITE_DIR            # after `mkdocs build --site-dir SITE_DIR`
    python docs/check_docs.py --convert FILE...   # rewrite Sphinx roles in docstrings (see below)

Two checks, each failing with a list of what is wrong (exit status 1):

* **Literal roles.** mkdocstrings renders Markdown, so a Sphinx role (``:class:`X```,
  ``:func:`~sde_opt.f```) reaches the reader verbatim. Every HTML page of the site is searched
  for ``:class:``, ``:func:``, ``:meth:``, ``:attr:``, ``:mod:``, ``:data:``, ``:obj:``,
  ``:exc:`` and for a ``~sde_opt.`` tilde. Write cross-references as
  ``[`Name`][sde_opt.Name]`` (mkdocs-autorefs) instead.
* **Public names.** Every name in ``__all__`` of ``sde_opt`` and of the documented submodules
  (``DOCUMENTED_MODULES``) that is not itself a module must appear in the API reference: its public
  path (``sde_opt.FiniteSum``), or the path of the object it names (``sde_opt.problems.finite_sum.
  FiniteSum``), must be in the site's ``objects.inv``. A new public name therefore needs one line
  ``::: sde_opt.NAME`` on the right page of ``docs/api/``.

``--convert`` rewrites the Sphinx roles of the given Python files in place: a role whose target
resolves to a public object becomes an autorefs link to its public path (a tilde shows the last
component only, as in Sphinx); a role naming something private or a module becomes a code span.
"""

from __future__ import annotations

import importlib
import re
import sys
import types
import zlib
from pathlib import Path

DOCUMENTED_MODULES = ("sde_opt", "sde_opt.engine", "sde_opt.problems", "sde_opt.geometry",
                      "sde_opt.algorithms", "sde_opt.sde", "sde_opt.theory", "sde_opt.stats",
                      "sde_opt.fit", "sde_opt.experiment")
ROLE = re.compile(r":(class|func|meth|attr|mod|data|obj|exc):`([^`]+)`")
LITERAL = re.compile(r":(?:class|func|meth|attr|mod|data|obj|exc):(?:<code>|`)|~sde_opt\.")
ROOT = Path(__file__).resolve().parent.parent


def public_names():
    """``[(public path, object)]`` for every non-module name in the documented ``__all__``s."""
    out = []
    for mod_name in DOCUMENTED_MODULES:
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if not isinstance(obj, types.ModuleType):
                out.append((f"{mod_name}.{name}", obj))
    return out


def canonical_path(obj) -> str | None:
    """``module.qualname`` of a class or function (where it is defined), else ``None``."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        return f"{module}.{qualname}"
    return None


def inventory(site: Path) -> set[str]:
    """The identifiers of a site's ``objects.inv`` (Sphinx inventory v2, as mkdocstrings writes)."""
    raw = (site / "objects.inv").read_bytes()
    body = zlib.decompress(raw.split(b"\n", 4)[4]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


def missing_names(site: Path) -> list[str]:
    """Public names with no entry in the API reference."""
    inv = inventory(site)
    out = []
    for path, obj in public_names():
        canon = canonical_path(obj)
        if path not in inv and (canon is None or canon not in inv):
            out.append(path + (f" (defined as {canon})" if canon and canon != path else ""))
    return sorted(set(out))


def literal_roles(site: Path) -> list[str]:
    """``page: …context…`` for every literal role or tilde in the site's HTML."""
    out = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(errors="replace")
        for m in LITERAL.finditer(text):
            context = re.sub(r"<[^>]+>", "", text[max(0, m.start() - 40):m.end() + 40]).replace("\n", " ")
            out.append(f"{page.relative_to(site)}: …{context}…")
    return out


def check(site: Path) -> int:
    problems = 0
    roles = literal_roles(site)
    if roles:
        print(f"{len(roles)} literal Sphinx role(s) in the built HTML (write [`Name`][sde_opt.Name]; "
              f"`python docs/check_docs.py --convert FILE` rewrites a file's roles):")
        print("\n".join(f"  {r}" for r in roles[:50]))
        problems += len(roles)
    missing = missing_names(site)
    if missing:
        print(f"{len(missing)} public name(s) missing from the API reference (add `::: PATH` to a "
              f"page of docs/api/):")
        print("\n".join(f"  {m}" for m in missing))
        problems += len(missing)
    n = len(public_names())
    print(f"docs check: {n} public names, {len(roles)} literal roles, {len(missing)} missing")
    return 1 if problems else 0


# ---- --convert: rewrite Sphinx roles as autorefs links ---------------------------------------------

def _import_path(path: str):
    """The object at a dotted path (a module, then attributes), or ``None``."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except Exception:  # noqa: BLE001 - not a module at this length
            continue
        try:
            for p in parts[i:]:
                obj = getattr(obj, p)
        except AttributeError:
            return None
        return obj
    return None


def _public_index():
    index = {}
    for path, obj in public_names():
        index.setdefault(id(obj), path)
    return index


def _module_of(file: Path) -> str:
    rel = file.resolve().relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] in ("studies", "validation"):
        parts = ["sde_opt", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(target: str, module: str, index) -> str | None:
    """The public path of a role's target (relative names looked up from ``module``)."""
    t = target.lstrip("~").removesuffix("()").lstrip(".")
    candidates = [t] if t.startswith("sde_opt") else [f"{module}.{t}", f"sde_opt.{t}"] + [
        f"{m}.{t}" for m in DOCUMENTED_MODULES]
    for cand in candidates:
        obj = _import_path(cand)
        if obj is None or isinstance(obj, types.ModuleType):
            continue
        if id(obj) in index:
            return index[id(obj)]
        # a method or attribute of a public class
        owner_path, _, member = cand.rpartition(".")
        owner = _import_path(owner_path)
        if owner is not None and id(owner) in index and isinstance(owner, type):
            return f"{index[id(owner)]}.{member}"
    return None


def convert(files) -> int:
    index = _public_index()
    changed = 0
    for name in files:
        file = Path(name)
        module = _module_of(file)
        text = file.read_text()

        def sub(m):
            target = m.group(2)
            shown = target.removesuffix("()")
            if shown.startswith("~"):
                shown = shown[1:].rsplit(".", 1)[-1]
            shown = shown + ("()" if target.endswith("()") else "")
            path = None if m.group(1) == "mod" else _resolve(target, module, index)
            return f"[`{shown}`][{path}]" if path else f"``{shown}``"

        new = ROLE.sub(sub, text)
        if new != text:
            file.write_text(new)
            changed += 1
    print(f"converted the roles of {changed} file(s)")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--convert"]:
        return convert(argv[1:])
    if len(argv) != 1:
        print(__doc__)
        return 2
    return check(Path(argv[0]))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))

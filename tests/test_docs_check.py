"""docs/check_docs.py: it finds a literal Sphinx role in built HTML, a public name missing from the
API reference, and converts roles to autorefs links (on a fake site: no mkdocs build here; CI runs
the check on the real one)."""

from __future__ import annotations

import importlib.util
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def check_docs():
    spec = importlib.util.spec_from_file_location("check_docs", ROOT / "docs" / "check_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _site(tmp_path, identifiers, html):
    body = "".join(f"{i} py:class 1 api/#{i} -\n" for i in identifiers)
    (tmp_path / "objects.inv").write_bytes(
        b"# Sphinx inventory version 2\n# Project: x\n# Version: 0\n# zlib\n" + zlib.compress(body.encode()))
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "index.html").write_text(html)
    return tmp_path


def test_a_complete_site_passes(check_docs, tmp_path):
    names = [path for path, _ in check_docs.public_names()]
    site = _site(tmp_path, names, "<p>See <a href='#'>simulate</a>.</p>")
    assert check_docs.missing_names(site) == [] and check_docs.literal_roles(site) == []
    assert check_docs.check(site) == 0


def test_a_missing_public_name_and_a_literal_role_fail(check_docs, tmp_path, capsys):
    names = [p for p, _ in check_docs.public_names() if p not in ("sde_opt.FiniteSumGame",
                                                                  "sde_opt.problems.FiniteSumGame")]
    html = "<p>uses :class:<code>Estimate</code> and <code>~sde_opt.simulate</code></p>"
    site = _site(tmp_path, names, html)
    missing = check_docs.missing_names(site)
    assert missing == ["sde_opt.FiniteSumGame (defined as sde_opt.problems.finite_sum.FiniteSumGame)",
                       "sde_opt.problems.FiniteSumGame (defined as "
                       "sde_opt.problems.finite_sum.FiniteSumGame)"]
    assert len(check_docs.literal_roles(site)) == 2
    assert check_docs.check(site) == 1
    assert "public name(s) missing" in capsys.readouterr().out


def test_a_name_documented_where_it_is_defined_counts(check_docs, tmp_path):
    names = [p for p, _ in check_docs.public_names() if not p.endswith(".FiniteSumGame")]
    site = _site(tmp_path, [*names, "sde_opt.problems.finite_sum.FiniteSumGame"], "")
    assert check_docs.missing_names(site) == []


def test_convert_rewrites_roles_as_autorefs_links(check_docs, tmp_path, monkeypatch):
    src = tmp_path / "sde_opt" / "mod.py"
    src.parent.mkdir()
    src.write_text('"""Uses :class:`~sde_opt.sde.FieldSDE`, :func:`sde_opt.simulate`, '
                   ':meth:`~sde_opt.AbstractField.check`, :mod:`sde_opt.engine` and '
                   ':func:`_private`."""\n')
    monkeypatch.setattr(check_docs, "ROOT", tmp_path)
    check_docs.convert([str(src)])
    assert src.read_text() == ('"""Uses [`FieldSDE`][sde_opt.FieldSDE], '
                               '[`sde_opt.simulate`][sde_opt.simulate], '
                               '[`check`][sde_opt.AbstractField.check], ``sde_opt.engine`` and '
                               '``_private``."""\n')

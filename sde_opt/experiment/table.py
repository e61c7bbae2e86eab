"""A study's headline claims as a compact fixed-width table (what ``sde-opt study`` prints).

A *row* is a plain dict, as stored in ``summary.json`` under ``"headline_claims"``::

    {"quantity": "MSGD / predicted mean escape, η = 0.006, μ = 0",   # what is measured
     "measured": 1.012,                # the number, read from the study's summary
     "ci": [0.981, 1.044],             # its interval, or None
     "theory": 1.0,                    # the prediction it is compared with, or None
     "verdict": "pass",                # "pass" | "fail" | "deviation" | "-" (no verdict)
     "note": "95% CI"}                 # optional: the CI's level, what the verdict rests on

Only studies decide verdicts (``sde_opt.experiment.verdict`` is the rule): a row without one
has ``"-"``.

[`format_claims`][sde_opt.experiment.format_claims] renders rows as a table of at most ``width`` columns: the
quantity wraps, numbers have 4 significant digits, "—" marks a missing CI or theory value, a note goes on its
own indented line(s), and a closing line counts the rows per verdict.
"""

from __future__ import annotations

import math
import textwrap

from .._checks import check_choice, check_integer, check_real, check_scalar, check_text

VERDICTS = ("pass", "fail", "deviation", "-")
DASH = "—"
HEAD = ("quantity", "measured", "CI", "theory", "verdict")


def claim(quantity: str, measured, *, ci=None, theory=None, verdict: str = "-",
          note: str = "") -> dict:
    """One row (see the module docstring); numbers are converted with ``number``."""
    return _claim("claim", quantity, measured, ci, theory, verdict, note)


def _claim(owner, quantity, measured, ci, theory, verdict, note) -> dict:
    check_text(owner, "quantity", quantity)
    check_choice(owner, "verdict", verdict, VERDICTS)
    check_text(owner, "note", note)
    ci = _pair(owner, ci)
    row = {"quantity": quantity, "measured": _number(owner, "measured", measured),
           "ci": None if ci is None else [_number(owner, "ci[0]", ci[0]),
                                          _number(owner, "ci[1]", ci[1])],
           "theory": _number(owner, "theory", theory), "verdict": verdict}
    if note:
        row["note"] = note
    return row


def _pair(owner, ci):
    if ci is not None and (isinstance(ci, (str, bytes, dict)) or not hasattr(ci, "__len__")
                           or len(ci) != 2):
        raise TypeError(f"{owner}: ci must be a pair (low, high) or None; got {ci!r:.60}")
    return ci


def number(x) -> float | None:
    """A summary value as a float: ``None`` stays ``None``; JSON's ``"inf"``/``"-inf"`` strings
    (how ``summary.json`` writes infinities) become ±inf."""
    return _number("number", "x", x)


_NONFINITE = ("inf", "-inf", "nan", "Infinity", "-Infinity", "NaN")


def _number(owner: str, name: str, x) -> float | None:
    if x is None:
        return None
    if isinstance(x, str):
        if x not in _NONFINITE:
            raise ValueError(f"{owner}: {name} must be a number, None or one of JSON's "
                             f"non-finite strings {_NONFINITE}; got {x!r}")
        return float(x)
    return float(check_real(owner, name, x, scalar=True))


def se_claim(quantity: str, measured, se, predicted, verdict: str, *, z: float | None = None,
             note: str = "") -> dict:
    """A row for a verdict the study took by the shared rule |measured − predicted| ≤ z·SE
    ([`sde_opt.experiment.compare`][sde_opt.experiment.compare], no bias allowance): its CI is that acceptance
    interval, measured ± z·SE (z = 4 unless given), so the theory lies in it exactly when the verdict is
    pass."""
    from .verdict import Z_DEFAULT

    owner = "se_claim"
    z = Z_DEFAULT if z is None else check_scalar(owner, "z", z, 0.0, math.inf, low_closed=False,
                                                 high_closed=False)
    m, s = _number(owner, "measured", measured), _number(owner, "se", se)
    if s is not None and s < 0:
        raise ValueError(f"{owner}: se must be >= 0 (or NaN/None for none); got {s!r}")
    _number(owner, "predicted", predicted)
    check_text(owner, "note", note)
    ci = None if m is None or s is None else [m - z * s, m + z * s]
    text = f"acceptance interval ±{z:g} SE"
    return _claim(owner, quantity, m, ci, predicted, verdict,
                  f"{text}; {note}" if note else text)


def verdict_claim(v, quantity: str | None = None, *, note: str = "") -> dict:
    """A row from a [`Verdict`][sde_opt.experiment.Verdict] of
    [`compare`][sde_opt.experiment.compare]: its CI is the acceptance interval, measured ± (z·SE +
    bias), so the theory lies in it exactly when the verdict is pass (or, for a documented
    deviation, exactly when it is fail); the note says so, with the bias's derivation and the
    deviation's reason where there are."""
    parts = [f"acceptance interval ±({v.z:g} SE" + (f" + bias {v.bias:.3g})" if v.bias else ")")]
    if v.bias:
        parts.append(f"bias: {v.bias_source}")
    if v.deviation:
        parts.append(f"documented deviation: {v.deviation}")
    if v.note:
        parts.append(v.note)
    if note:
        parts.append(note)
    return claim(v.claim if quantity is None else quantity, v.measured, ci=[v.ci_low, v.ci_high],
                 theory=v.predicted, verdict=v.verdict, note="; ".join(parts))


def fmt(x) -> str:
    """A number with 4 significant digits ("—" for ``None``)."""
    x = _number("fmt", "x", x)
    if x is None:
        return DASH
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.4g}"


def fmt_ci(ci) -> str:
    """``[lo, hi]`` with 4 significant digits each ("—" for no interval)."""
    if _pair("fmt_ci", ci) is None:
        return DASH
    lo, hi = (_number("fmt_ci", f"ci[{i}]", ci[i]) for i in (0, 1))
    return f"[{fmt(lo)}, {fmt(hi)}]"


def counts(rows) -> dict:
    """Rows per verdict: ``{"pass": n, "fail": n, "deviation": n, "-": n, "total": n}``."""
    rows = _rows("counts", rows)
    out = {v: sum(r.get("verdict", "-") == v for r in rows) for v in VERDICTS}
    out["total"] = len(rows)
    return out


def counts_line(rows) -> str:
    """The closing line, e.g. ``7 claims: 3 pass, 1 fail, 0 deviation, 3 without verdict``."""
    c = counts(_rows("counts_line", rows))
    noun = "claim" if c["total"] == 1 else "claims"
    return (f"{c['total']} {noun}: {c['pass']} pass, {c['fail']} fail, {c['deviation']} "
            f"deviation, {c['-']} without verdict")


def format_claims(rows, width: int = 120, title: str | None = None) -> str:
    """The rows as a table of lines at most ``width`` long (for ``width`` ≥ 80).

    Columns: quantity (wrapped, continuation lines indented by 2), measured, CI, theory, verdict;
    a row's note follows on line(s) indented by 4; the last line counts the rows per verdict
    (``counts_line``).
    """
    rows = _rows("format_claims", rows)
    width = check_integer("format_claims", "width", width, low=80)
    check_text("format_claims", "title", title, optional=True)
    for r in rows:
        if r.get("verdict", "-") not in VERDICTS:
            raise ValueError(f"row {r.get('quantity')!r}: verdict must be one of {VERDICTS}; "
                             f"got {r.get('verdict')!r}")
    cells = [(fmt(r.get("measured")), fmt_ci(r.get("ci")), fmt(r.get("theory")),
              str(r.get("verdict", "-"))) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(HEAD[1:])]
    numbers_w = sum(widths) + 2 * len(widths)          # each number column: "  " + cell
    longest = max([len(HEAD[0])] + [len(str(r.get("quantity", ""))) for r in rows])
    q_w = max(20, min(longest, width - numbers_w))     # as narrow as the names allow
    lines = []
    if title:
        lines.extend(textwrap.wrap(title, width))
    lines.append(_line(HEAD[0], HEAD[1:], q_w, widths))
    lines.append("-" * min(width, q_w + numbers_w))
    for r, c in zip(rows, cells):
        text = textwrap.wrap(str(r.get("quantity", "")), q_w, subsequent_indent="  ") or [""]
        lines.append(_line(text[0], c, q_w, widths))
        lines.extend(text[1:])
        note = r.get("note")
        if note:
            lines.extend(textwrap.wrap(str(note), width - 4, initial_indent="    ",
                                       subsequent_indent="    "))
    lines.append(counts_line(rows))
    return "\n".join(line.rstrip() for line in lines)


def _rows(owner, rows) -> list:
    if isinstance(rows, (str, bytes, dict)) or not hasattr(rows, "__iter__"):
        raise TypeError(f"{owner}: rows must be a list of row dicts; got {type(rows).__name__}")
    rows = list(rows)
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise TypeError(f"{owner}: rows[{i}] must be a row dict (see claim()); got "
                            f"{type(r).__name__}")
    return rows


def _line(quantity: str, cells, q_w: int, widths) -> str:
    # numbers right-aligned (they line up on the last digit), the verdict left-aligned
    parts = [quantity.ljust(q_w)]
    for i, (c, w) in enumerate(zip(cells, widths)):
        parts.append(c.ljust(w) if i == len(widths) - 1 else c.rjust(w))
    return "  ".join(parts)

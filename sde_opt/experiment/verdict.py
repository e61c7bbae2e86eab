"""The verdict rule shared by studies and validation: predicted vs measured ± interval.

[`compare`][sde_opt.experiment.compare] builds the verdict from a Monte-Carlo estimate and its standard error:
the acceptance interval is ``measured ± (z·SE + bias)`` (z = 4 by default, a false-alarm rate of about 6e-5
per check). ``bias`` is a bound on a *known, derived* systematic effect (a discretization bias from its
formula, a quadrature/grid error, an unmodelled term of stated order) — never the distance between two
predictions of the same quantity, which would let a claim pass whenever its companion does. Every verdict
records where its prediction comes from (``reference``: the formula and how it was obtained independently of
the code under test — closed form, quadrature, finite differences, a hand-derived matrix, a published value)
and where the bias allowance comes from (``bias_source``). Checks use fixed seeds, so a verdict is
reproducible.

Verdicts:

* ``pass`` — the prediction lies in the acceptance interval;
* ``fail`` — an unexpected disagreement (or a documented deviation that did not show);
* ``deviation`` — a paper's statement, tested as written, that the measurement shows not to hold;
  it carries the reason and the statement that does hold (``deviation``). A claim is declared a
  deviation *before* it is run (``compare(..., deviation=Deviation(...))``): the verdict is
  ``deviation`` when it disagrees and ``fail`` when it unexpectedly agrees.

``kind`` separates claims about the schemes and the theory (``"claim"``) from self-consistency
checks of the engine's own tooling (``"engine"``, e.g. a chain against the autodiff linearization
of that same chain), which are reported but not counted among the claims.
"""

from __future__ import annotations

import dataclasses
import math

from .._checks import check_choice, check_instance, check_real, check_scalar, check_text

Z_DEFAULT = 4.0
VERDICTS = ("pass", "fail", "deviation")


@dataclasses.dataclass(frozen=True)
class Deviation:
    """A paper's statement that is known not to hold as written.

    ``reason``: why (what the statement drops); ``holds``: the statement that does hold (checked
    by its own claim).
    """

    reason: str
    holds: str

    def __post_init__(self):
        check_text("Deviation", "reason", self.reason)
        check_text("Deviation", "holds", self.holds)

    def __str__(self) -> str:
        return f"{self.reason} — what holds: {self.holds}"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One claim's outcome. ``ci_low``/``ci_high`` is the acceptance interval around ``measured``.

    ``se``/``z``/``bias`` give its half-width z·se + bias (NaN se: an interval given directly);
    ``reference`` says what the prediction is and how it was obtained; ``bias_source`` derives
    the bias allowance; ``deviation`` is set for a documented deviation; ``kind`` is ``"claim"``
    or ``"engine"`` (a self-consistency check, not counted among the claims).
    """

    claim: str
    predicted: float
    measured: float
    ci_low: float
    ci_high: float
    verdict: str
    note: str = ""
    reference: str = ""
    se: float = math.nan
    z: float = Z_DEFAULT
    bias: float = 0.0
    bias_source: str = ""
    deviation: str = ""
    kind: str = "claim"

    @property
    def z_score(self) -> float:
        """(measured − predicted)/se (NaN when there is no se)."""
        if not (math.isfinite(self.se) and self.se > 0):
            return math.nan
        return (self.measured - self.predicted) / self.se

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["z_score"] = self.z_score
        return d


def _decide(ok: bool, deviation) -> tuple[str, str, str]:
    if deviation is None:
        return ("pass" if ok else "fail"), "", ""
    text = str(deviation)
    if ok:
        return "fail", text, "documented deviation did not show: the statement now holds as written"
    return "deviation", text, ""


def _check_kind(kind: str, owner: str = "compare") -> str:
    return check_choice(owner, "kind", kind, ("claim", "engine"))


def _check_common(owner, claim, predicted, measured, note, reference, bias, bias_source,
                  deviation, kind):
    """The arguments compare and compare_interval share. ``predicted`` and ``measured`` may be
    NaN or infinite (a failed measurement is a failed claim, not an error)."""
    check_text(owner, "claim", claim)
    for name, v in (("predicted", predicted), ("measured", measured)):
        check_real(owner, name, v, scalar=True)
    for name, v in (("note", note), ("reference", reference), ("bias_source", bias_source)):
        check_text(owner, name, v)
    bias = check_scalar(owner, "bias", bias, 0.0, math.inf, high_closed=False)
    if deviation is not None:
        check_instance(owner, "deviation", deviation, Deviation, "a Deviation or None")
    _check_kind(kind, owner)
    return bias


def compare(claim: str, predicted: float, measured: float, se: float, *, bias: float = 0.0,
            z: float = Z_DEFAULT, note: str = "", reference: str = "", bias_source: str = "",
            deviation: Deviation | None = None, kind: str = "claim") -> Verdict:
    """Pass when |measured − predicted| ≤ z·se + bias.

    ``bias`` must come with ``bias_source`` (its derivation) when it is nonzero.
    """
    bias = _check_common("compare", claim, predicted, measured, note, reference, bias,
                         bias_source, deviation, kind)
    z = check_scalar("compare", "z", z, 0.0, math.inf, low_closed=False, high_closed=False)
    check_real("compare", "se", se, scalar=True)
    if float(se) < 0:
        raise ValueError(f"compare: se must be >= 0 (or NaN for none); got {float(se)!r}")
    if bias > 0 and not bias_source:
        raise ValueError(f"compare({claim!r}): bias_source must derive a nonzero bias allowance; "
                         f"got bias={bias!r} with bias_source=''")
    half = z * float(se) + bias
    lo, hi = float(measured) - half, float(measured) + half
    ok = math.isfinite(measured) and lo <= float(predicted) <= hi
    verdict, dev, extra = _decide(ok, deviation)
    if extra:
        note = f"{note}; {extra}" if note else extra
    return Verdict(claim, float(predicted), float(measured), lo, hi, verdict, note,
                   reference=reference, se=float(se), z=float(z), bias=bias,
                   bias_source=bias_source, deviation=dev, kind=_check_kind(kind))


def compare_interval(claim: str, predicted: float, measured: float, ci_low: float, ci_high: float,
                     *, note: str = "", reference: str = "", bias: float = 0.0,
                     bias_source: str = "", deviation: Deviation | None = None,
                     kind: str = "claim") -> Verdict:
    """Pass when ``predicted`` lies in the given interval (e.g. a fitted slope's band).

    ``bias`` (with its ``bias_source``) is only recorded: it must already be inside the interval.
    """
    bias = _check_common("compare_interval", claim, predicted, measured, note, reference, bias,
                         bias_source, deviation, kind)
    for name, v in (("ci_low", ci_low), ("ci_high", ci_high)):
        check_real("compare_interval", name, v, scalar=True)
    if float(ci_high) < float(ci_low):
        raise ValueError(f"compare_interval: ci_high must be >= ci_low = {float(ci_low)!r}; got "
                         f"{float(ci_high)!r}")
    ok = ci_low <= predicted <= ci_high
    verdict, dev, extra = _decide(ok, deviation)
    if extra:
        note = f"{note}; {extra}" if note else extra
    return Verdict(claim, float(predicted), float(measured), float(ci_low), float(ci_high),
                   verdict, note, reference=reference, bias=bias,
                   bias_source=bias_source, deviation=dev, kind=_check_kind(kind))


def counts(verdicts) -> dict:
    """Counts per verdict among the claims, and of the engine checks: ``{"claims": {...},
    "engine": {...}}`` with keys pass/fail/deviation and total."""
    verdicts = _verdict_list("counts", verdicts)
    out = {}
    for kind in ("claim", "engine"):
        vs = [v for v in verdicts if v.kind == kind]
        c = {k: sum(v.verdict == k for v in vs) for k in VERDICTS}
        c["total"] = len(vs)
        out["claims" if kind == "claim" else "engine"] = c
    return out


def exit_status(verdicts) -> int:
    """0 when every claim and engine check passes or is a documented deviation; 1 on any fail."""
    verdicts = _verdict_list("exit_status", verdicts)
    return 1 if any(v.verdict == "fail" for v in verdicts) else 0


def _verdict_list(owner, verdicts) -> list:
    if isinstance(verdicts, (str, bytes)) or not hasattr(verdicts, "__iter__"):
        raise TypeError(f"{owner}: verdicts must be a list of Verdict; got "
                        f"{type(verdicts).__name__}")
    verdicts = list(verdicts)
    for i, v in enumerate(verdicts):
        check_instance(owner, f"verdicts[{i}]", v, Verdict, "a Verdict (from compare)")
    return verdicts

"""The headline-claims table of every study: its formatting, its rows read from real summaries
(stored quick-mode summaries, trimmed to the keys the rows read), and `sde-opt study` printing it
on stdout while progress goes to stderr. No study is run here."""

import importlib
import json
import math
import types
from pathlib import Path

import pytest

from sde_opt.experiment import format_claims
from sde_opt.experiment.table import VERDICTS, claim, counts, number, se_claim

DATA = Path(__file__).parent / "data" / "study_summaries"
WIDTH = 120


def interval_verdict(theory, ci) -> str:
    """The rule a row's verdict must follow when its CI is the study's acceptance interval:
    ``"pass"`` when ``theory`` lies in ``ci = [lo, hi]``, else ``"fail"``; ``"-"`` when either is
    missing."""
    t = number(theory)
    if t is None or ci is None or any(v is None for v in ci):
        return "-"
    lo, hi = number(ci[0]), number(ci[1])
    return "pass" if lo <= t <= hi else "fail"


# ------------------------------------------------------------------------------- format_claims

def _rows():
    return [
        claim("a ratio with its 95% CI against a prediction of 1", 1.0132200734608257,
              ci=[0.998915830844069, 1.0275243160775824], theory=1.0, note="95% CI"),
        claim("a quantity whose name is long enough to need wrapping: " + "word " * 30,
              -1.2345678e-5, ci=[-2e-5, 3.0e9], theory=None, verdict="pass"),
        claim("no interval, no theory", 12345.678),
        claim("an infinite value from JSON", "inf", theory=2.0, verdict="deviation",
              note="n " * 120),
        se_claim("a study's ±4 SE verdict", 0.2, 0.01, 0.25, "fail"),
        claim("measured missing", None, verdict="-"),
    ]


def test_every_line_fits_and_the_counts_line_is_right():
    text = format_claims(_rows(), width=WIDTH, title="fake (quick): headline claims " + "t" * 200)
    lines = text.splitlines()
    assert all(len(line) <= WIDTH for line in lines), max(map(len, lines))
    assert lines[-1] == "6 claims: 1 pass, 1 fail, 1 deviation, 3 without verdict"
    assert counts(_rows()) == {"pass": 1, "fail": 1, "deviation": 1, "-": 3, "total": 6}


def test_numbers_have_four_significant_digits_and_a_dash_where_none():
    text = format_claims(_rows())
    first = next(line for line in text.splitlines() if line.startswith("a ratio"))
    assert first.split()[-5:] == ["1.013", "[0.9989,", "1.028]", "1", "-"]
    row = next(line for line in text.splitlines() if line.startswith("no interval"))
    assert row.split()[-4:] == ["1.235e+04", "—", "—", "-"]
    assert "-1.235e-05" in text and "[-2e-05, 3e+09]" in text and "inf" in text
    missing = next(line for line in text.splitlines() if line.startswith("measured missing"))
    assert missing.split()[-4:] == ["—", "—", "—", "-"]


def test_long_names_wrap_and_notes_are_indented():
    lines = format_claims(_rows()).splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("a quantity whose name"))
    assert lines[i + 1].startswith("  word")          # the name continues, indented by 2
    notes = [line for line in lines if line.startswith("    n n")]
    assert len(notes) >= 2                            # a long note wraps, indented by 4


def test_empty_table_and_bad_verdicts():
    assert format_claims([]).splitlines()[-1] == "0 claims: 0 pass, 0 fail, 0 deviation, " \
                                                 "0 without verdict"
    with pytest.raises(ValueError):
        claim("x", 1.0, verdict="ok")
    with pytest.raises(ValueError):
        format_claims([{"quantity": "x", "measured": 1.0, "ci": None, "theory": None,
                        "verdict": "PASS"}])


def test_the_acceptance_rules():
    assert interval_verdict(1.0, [0.9, 1.1]) == "pass"
    assert interval_verdict(1.2, [0.9, 1.1]) == "fail"
    assert interval_verdict(None, [0.9, 1.1]) == "-" and interval_verdict(1.0, None) == "-"
    r = se_claim("x", 1.0, 0.1, 1.3, "pass")          # the study's verdict is kept as given
    assert r["ci"] == pytest.approx([0.6, 1.4]) and r["verdict"] == "pass"
    assert "±4 SE" in r["note"]


# ------------------------------------------------------------ headline_claims on real summaries

# Per study, in row order: (path of the measured value, path of its interval or None, where the
# verdict comes from). An interval path is one list [lo, hi] or two paths (lo, hi); the verdict
# source is None ("-": the summary has no verdict), the path of the study's own verdict (a
# "pass"/"fail" string or a boolean), or COMPUTED: headline_claims decides it from the summary's
# numbers by the shared rule (then test_verdicts_follow_the_rule checks it against the row's
# acceptance interval). A measured "path" may be a function of the summary (a ratio the row
# computes).
P = tuple
COMPUTED = "computed"


def _speedup(i, j):
    """Ratio of two measured quadratic rates of sghmc-vs-sgld (what its speedup rows show)."""
    return lambda s: (s["quadratic"]["rows"][i]["measured_rate"]["value"]
                      / s["quadratic"]["rows"][j]["measured_rate"]["value"])


_FIT_RUNS_IID = ("sgd-iid", "msgd0.5-iid", "msgd0.9-iid")
KS, MEAN = "quadratic NC-SC (exact law)", "double well (linearized law)"
RUNS = ("sgd-iid", "sgd-epoch", "msgd0.5-iid", "msgd0.9-iid")
NVR = "normalized_vs_regularized"
EXPECTED = {
    "msgd-escape": [
        (P(["phase1_escape", 0, "msgd", "mean"]), None, COMPUTED),
        (P(["phase1_escape", 1, "msgd", "mean"]), None, COMPUTED),
        (P(["phase1_escape", 3, "msgd", "mean"]), None, COMPUTED),
        (P(["phase1_escape", 3, "msgd", "mean"]), None, COMPUTED),
        (P(["collapse", "gaussian", "equal_eta_eff_ratios", 0, "ratio"]), None, COMPUTED),
        (P(["collapse", "gaussian", "equal_eta_eff_ratios", 0, "ratio"]), None, COMPUTED),
        (P(["collapse", "gaussian", "momentum_factor_at_fixed_eta", 1, "factor"]), None, COMPUTED),
        (P(["collapse", "gaussian", "momentum_factor_at_fixed_eta", 1, "factor"]), None, COMPUTED),
        (P(["floor", 0, "msgd", "value"]), None, COMPUTED),
        (P(["floor", 1, "msgd", "value"]), None, COMPUTED),
        (P(["floor", 1, "msgd", "value"]), None, COMPUTED),
        (P(["weak_error", "mu=0.9", "escape_order_fit", "order"]), None, COMPUTED),
    ],
    "sghmc-vs-sgld": [
        (P(["claims", 0, "measured"]), None, P(["claims", 0, "verdict"])),
        (P(["claims", 3, "measured"]), None, P(["claims", 3, "verdict"])),
        (P(["claims", 4, "measured"]), None, P(["claims", 4, "verdict"])),
        (_speedup(3, 0), None, COMPUTED),
        (_speedup(4, 0), None, COMPUTED),
        (P(["double_well_1d", "claims", 0, "measured"]), None,
         P(["double_well_1d", "claims", 0, "verdict"])),
        (P(["double_well_1d", "claims", 3, "measured"]), None,
         P(["double_well_1d", "claims", 3, "verdict"])),
        (P(["double_well_1d", "claims", 4, "measured"]), None,
         P(["double_well_1d", "claims", 4, "verdict"])),
        (P(["robust_regression", "rows", 0, "measured_rate", "value"]),
         P(["robust_regression", "rows", 0, "measured_rate", "ci95"]), None),
        (P(["robust_regression", "rows", 2, "measured_rate", "value"]),
         P(["robust_regression", "rows", 2, "measured_rate", "ci95"]), None),
    ],
    "fit-traces": (
        [(P(["runs", r, "diffusion_trace_ratio", "ratio"]), None, COMPUTED) if r in _FIT_RUNS_IID
         else (P(["runs", r, "diffusion_trace_ratio", "ratio"]),
               P(["runs", r, "diffusion_trace_ratio", "ci_conservative"]), None) for r in RUNS]
        + [(P(["runs", r, "eta_eff", "fitted"]), None, COMPUTED) if r in _FIT_RUNS_IID
           else (P(["runs", r, "eta_eff", "fitted"]), P(["runs", r, "eta_eff", "ci"]), None)
           for r in RUNS]),
    # the minimax studies keep their rows as verdicts in summary["claims"] (measured, acceptance
    # interval or 95% CI, verdict or "-" with the reason in the note)
    "minimax-escape": [(P(["claims", i, "measured"]), P(["claims", i, "ci"]),
                        P(["claims", i, "verdict"])) for i in range(10)],
    "minimax-rates": [(P(["claims", i, "measured"]), P(["claims", i, "ci"]),
                       P(["claims", i, "verdict"])) for i in range(12)],
    "bilevel-escape": (
        [(P(["contraction", "rows", i, "measured_rate"]), None,
          P(["contraction", "rows", i, "within"])) for i in (1, 2)]
        + [(P(["kick", "mean_escape_iterations", "value"]), P(["kick", "acceptance"]),
            P(["kick", "verdict"])),
           (P(["kappa", "iterations_fit", "slope"]), P(["kappa", "acceptance"]),
            P(["kappa", "verdict"])),
           (P(["eps", "exponent_fit", "slope"]),
            (P(["eps", "exponent_fit", "ci_low"]), P(["eps", "exponent_fit", "ci_high"])), None),
           (P(["eps", "log_slope"]), P(["eps", "acceptance"]), P(["eps", "verdict"]))]
        + [(P(["ineon", "by_sigma", s, "ratio"]), P(["ineon", "by_sigma", s, "interval_4se"]),
            P(["ineon", "by_sigma", s, "verdict"])) for s in ("0.001", "0.1")]
        + [(P(["complexity", "fits", "upper_vs_eps", "slope"]),
            (P(["complexity", "fits", "upper_vs_eps", "ci_low"]),
             P(["complexity", "fits", "upper_vs_eps", "ci_high"])), None),
           (P(["sde", "escape", 1, "mean_time"]), P(["sde", "escape", 1, "acceptance"]),
            P(["sde", "escape", 1, "verdict"]))]
        + [(P(["digits", k, m]), P(["digits", k, "acceptance"]), P(["digits", k, "verdict"]))
           for k, m in (("diffusion", "measured_trace"), ("contraction", "measured_rate"))]),
    "neural-collapse": (
        [(P(["table_claim", "fraction", "value"]),
          (P(["table_claim", "fraction", "ci_low"]), P(["table_claim", "fraction", "ci_high"])),
          P(["table_claim", "verdict"])),
         (P(["saddle_claims", "collapsed", "lambda_min_reference"]),
          P(["saddle_claims", "collapsed", "acceptance_interval"]),
          P(["saddle_claims", "collapsed", "closed_form_verdict"])),
         (P(["saddle_claims", "all", "max_abs_difference"]), None,
          P(["saddle_claims", "all", "verdict"])),
         (P(["census", "fraction_classified", "value"]),
          (P(["census", "fraction_classified", "ci_low"]),
           P(["census", "fraction_classified", "ci_high"])), P(["census", "verdict"])),
         (P(["escape", "headline", "measured_mean", "value"]),
          P(["escape", "headline", "acceptance_interval"]), P(["escape", "headline", "verdict"])),
         (P(["noise_escape", "order", "slope"]),
          (P(["noise_escape", "order", "ci_low"]), P(["noise_escape", "order", "ci_high"])),
          P(["noise_escape", "order", "verdict"])),
         (P([NVR, "best_of_grid", "value"]),
          (P([NVR, "best_of_grid", "ci_low"]), P([NVR, "best_of_grid", "ci_high"])),
          P([NVR, "best_of_grid", "verdict"]))]
        + [(P(["temperature", "rows", i, "fraction_collapsed", "value"]),
            (P(["temperature", "rows", i, "fraction_collapsed", "ci_low"]),
             P(["temperature", "rows", i, "fraction_collapsed", "ci_high"])),
            P(["temperature", "rows", i, "verdict"])) for i in (0, -1)]
        + [(P(["mlp", "comparison", "log_score_difference", "value"]),
            (P(["mlp", "comparison", "log_score_difference", "ci_low"]),
             P(["mlp", "comparison", "log_score_difference", "ci_high"])),
            P(["mlp", "comparison", "verdict"]))]),
    "adaptive-sde": (
        [(P(["headline", "one_step", "max_normalized"]), None,
          P(["headline", "one_step", "verdict"]))]
        + [(P(["weak_order", n, "verdict", "measured"]), P(["weak_order", n, "verdict", "ci"]),
            P(["weak_order", n, "verdict", "verdict"])) for n in ("RMSprop", "Adam")]
        + [(P(["headline", "stationary", "max_normalized"]), None,
            P(["headline", "stationary", "verdict"]))]
        + [(P(["escape", "claims", i, "measured"]), P(["escape", "claims", i, "ci"]),
            P(["escape", "claims", i, "verdict"])) for i in (0, 2)]
        + [(P(["svag", n, "verdict", "measured"]), P(["svag", n, "verdict", "ci"]),
            P(["svag", n, "verdict", "verdict"])) for n in ("SGD", "RMSprop")]
        + [(P(["headline", "scaling", "logistic", "max_abs_z"]), None,
            P(["headline", "scaling", "logistic", "verdict"])),
           (P(["headline", "power", "rejected"]), None, P(["headline", "power", "verdict"]))]),
}


def _at(summary, path):
    if callable(path):
        return path(summary)
    x = summary
    for k in path:
        x = x[k]
    return x


def _num(x):
    return None if x is None else float(x)


def _interval(summary, spec):
    if spec is None:
        return None
    if isinstance(spec[0], tuple):
        return [_at(summary, spec[0]), _at(summary, spec[1])]
    v = _at(summary, spec)
    return None if v is None else list(v)   # a row may have no interval


def _verdict(summary, spec):
    if spec is None:
        return "-"
    v = _at(summary, spec)
    return ("pass" if v else "fail") if isinstance(v, bool) else v


MODULES = {"msgd-escape": "msgd_escape", "sghmc-vs-sgld": "sghmc_vs_sgld",
           "fit-traces": "fit_traces", "minimax-escape": "minimax_escape",
           "minimax-rates": "minimax_rates", "bilevel-escape": "bilevel_escape",
           "neural-collapse": "neural_collapse", "adaptive-sde": "adaptive_sde"}


def _claims(name):
    module = importlib.import_module(f"sde_opt.studies.{MODULES[name]}")
    summary = json.loads((DATA / f"{name}.json").read_text())
    return summary, module.headline_claims(summary)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_rows_are_the_summary_numbers(name):
    summary, rows = _claims(name)
    exp = EXPECTED[name]
    assert 3 <= len(rows) <= 12
    assert len(rows) == len(exp), [r["quantity"] for r in rows]
    for row, (m_path, ci_path, v_path) in zip(rows, exp):
        assert set(row) <= {"quantity", "measured", "ci", "theory", "verdict", "note"}
        measured = _num(_at(summary, m_path))
        assert row["measured"] == measured or (measured is not None and math.isnan(measured)
                                               and math.isnan(row["measured"])), (row, m_path)
        if ci_path is not None:
            ci = _interval(summary, ci_path)
            assert row["ci"] == (None if ci is None else [_num(v) for v in ci]), row
        if v_path == COMPUTED:
            assert row["verdict"] in ("pass", "fail", "deviation") and row["ci"] is not None, row
        else:
            assert row["verdict"] == _verdict(summary, v_path), row


@pytest.mark.parametrize("name", sorted(MODULES))
def test_verdicts_follow_the_rule(name):
    """A verdict is the study's own; where the row shows the interval and the theory behind a
    pass/fail, the theory lies in it exactly when the verdict is pass; an interval without a
    verdict names its level in the note; no verdict is invented for a row without theory."""
    _, rows = _claims(name)
    for row in rows:
        assert row["verdict"] in VERDICTS
        if row["verdict"] in ("pass", "fail") and row["ci"] is not None \
                and row["theory"] is not None:
            assert interval_verdict(row["theory"], row["ci"]) == row["verdict"], row
        if row["verdict"] == "-" and row["ci"] is not None:
            assert "%" in row.get("note", "") and "CI" in row["note"], row
        if row["verdict"] in ("pass", "fail") and row["theory"] is None:
            assert row.get("note"), row      # what the verdict rests on (e.g. a critical value)
        if row["verdict"] == "deviation" and row["ci"] is not None and row["theory"] is not None:
            assert interval_verdict(row["theory"], row["ci"]) == "fail", row   # it did show
            assert "documented deviation" in row.get("note", ""), row


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_printed_table_fits(name):
    _, rows = _claims(name)
    text = format_claims(rows, title=f"{name} (quick): headline claims")
    assert all(len(line) <= WIDTH for line in text.splitlines())
    c = counts(rows)
    assert text.splitlines()[-1].startswith(f"{c['total']} claims: {c['pass']} pass")


def test_every_study_has_a_table_and_run_times():
    for mod in MODULES.values():
        module = importlib.import_module(f"sde_opt.studies.{mod}")
        assert callable(module.headline_claims)
        assert set(module.RUN_TIMES) == {"quick", "full"}


def test_study_help_shows_the_run_times(capsys):
    from sde_opt.cli import main

    with pytest.raises(SystemExit):
        main(["study", "--help"])
    out = capsys.readouterr().out
    assert "msgd-escape" in out and "[quick ≈" in out


# ------------------------------------------------------------------------- sde-opt study (CLI)

def _fake_study(with_table=True):
    from sde_opt.experiment import Progress

    mod = types.ModuleType("fake_study")
    mod.NAME = "fake"
    mod.DESCRIPTION = "a fake study"

    def run(out, quick=False, progress=True):
        with Progress("fake", ["one", "two"], enabled=progress) as bar:
            for part in ("one", "two"):
                with bar.part(part):
                    pass
        return {"answer": {"value": 0.5, "ci": [0.4, 0.6], "theory": 0.55}}

    def headline_claims(summary):
        a = summary["answer"]
        return [claim("the answer", a["value"], ci=a["ci"], theory=a["theory"],
                      verdict=interval_verdict(a["theory"], a["ci"]), note="acceptance interval")]

    mod.run = run
    if with_table:
        mod.headline_claims = headline_claims
    return mod


@pytest.mark.parametrize("with_table", [True, False])
def test_cli_prints_the_table_on_stdout_and_progress_on_stderr(tmp_path, monkeypatch, capsys,
                                                               with_table):
    from sde_opt import studies
    from sde_opt.cli import main

    monkeypatch.setattr(studies, "registry", lambda: {"fake": _fake_study(with_table)})
    assert main(["study", "fake", "--quick", "--out", str(tmp_path)]) == 0
    cap = capsys.readouterr()
    saved = json.loads((tmp_path / "fake" / "summary.json").read_text())
    if with_table:
        assert "the answer" in cap.out and "0.5" in cap.out and "[0.4, 0.6]" in cap.out
        assert "1 claim: 1 pass, 0 fail, 0 deviation, 0 without verdict" in cap.out
        assert saved["headline_claims"][0]["measured"] == saved["answer"]["value"]
    else:
        assert "claims" not in cap.out and "headline_claims" not in saved
    assert cap.out.rstrip().splitlines()[-1].startswith(f"wrote {tmp_path / 'fake'}")
    assert "fake" in cap.err and "2/2" in cap.err      # the tqdm bar
    assert "the answer" not in cap.err and "wrote" not in cap.err


def test_a_failing_table_costs_the_table_not_the_summary(tmp_path, monkeypatch, capsys):
    from sde_opt import studies
    from sde_opt.cli import main

    mod = _fake_study()
    mod.headline_claims = lambda summary: summary["missing"]
    monkeypatch.setattr(studies, "registry", lambda: {"fake": mod})
    assert main(["study", "fake", "--out", str(tmp_path), "--no-progress"]) == 0
    cap = capsys.readouterr()
    assert "no headline table (KeyError" in cap.err
    assert "answer" in json.loads((tmp_path / "fake" / "summary.json").read_text())


@pytest.mark.parametrize("name", ["msgd-escape", "sghmc-vs-sgld", "fit-traces"])
def test_every_row_states_its_units_and_a_verdict_or_why_not(name):
    """Issue 22: every headline row gets a verdict, or says on its row why it has none; rows
    state their units."""
    _, rows = _claims(name)
    for row in rows:
        note = row.get("note", "")
        assert "units:" in note, row
        if row["verdict"] == "-":
            assert "no verdict:" in note, row

"""What the two minimax studies share: path counts kept apart, per-run fractions with exact
intervals, exponent fits over exited paths only, and claim rows built from verdicts.

A headline row is a [`Verdict`][sde_opt.experiment.Verdict] (or a row without one and the
reason on it), stored in the summary as a plain dict by ``verdict_row`` and printed by
``table_rows``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from sde_opt.experiment.verdict import Z_DEFAULT, Deviation, compare, compare_interval

#: two-sided error rate of every interval a verdict rests on (the 4σ rule of compare)
ALPHA = 2.0 * sps.norm.sf(Z_DEFAULT)
EXITED, DIVERGED, CENSORED = 1, 2, 3


def counts(status) -> dict:
    """Paths per outcome: exited (reached the target), diverged, censored (horizon reached)."""
    s = np.asarray(status)
    return {"exited": int(np.sum(s == EXITED)), "diverged": int(np.sum(s == DIVERGED)),
            "censored": int(np.sum(s == CENSORED))}


def clopper_pearson(k: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Exact two-sided interval of a binomial proportion k/n at error rate ``alpha``."""
    if n <= 0:
        return (0.0, 1.0)
    lo = 0.0 if k == 0 else float(sps.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def fraction_verdict(claim: str, k: int, n: int, *, predicted: float = 1.0, at_least=None,
                     note: str = "", reference: str = "", deviation: Deviation | None = None):
    """A per-run claim: the fraction k/n of runs with a property, with its exact (Clopper–Pearson)
    interval at the 4σ error rate. ``predicted`` must lie in the interval (e.g. 1 for "every
    run"), or, with ``at_least`` (a "with probability ≥ p" claim), the interval must reach p."""
    lo, hi = clopper_pearson(k, n)
    if at_least is not None:
        # one-sided: the claim fails only when the whole interval lies below p
        return compare_interval(claim, float(at_least), k / max(n, 1), min(lo, at_least), hi,
                                note=note, reference=reference, deviation=deviation)
    return compare_interval(claim, predicted, k / max(n, 1), lo, hi, note=note,
                            reference=reference, deviation=deviation)


def fit_exponents(epsilons, kappas, values, *, valid=None, n_boot=400, seed=0, level=0.95):
    """OLS of log (mean over starts) on [1, log ε, log κ], bootstrap over starts (resampled
    jointly across grid points). ``values``: (n_kappa, n_eps, n_starts).

    ``valid`` (same shape, bool): the starts that reached the target. A cell with any start that
    did not (diverged or censored) has no mean — its value would be a divergence step or the
    horizon, not an iteration count — so it is left out of the fit and listed in
    ``cells_left_out`` with its counts; never averaged in."""
    v = np.asarray(values, float)
    ok = np.ones(v.shape, bool) if valid is None else np.asarray(valid, bool)
    le, lk = np.meshgrid(np.log(epsilons), np.log(kappas))
    cell_ok = ok.all(axis=-1)
    left_out = [{"kappa": float(kappas[i]), "eps": float(epsilons[j]),
                 "not_reached": int(np.sum(~ok[i, j]))}
                for i, j in zip(*np.nonzero(~cell_ok))]
    design = np.stack([np.ones(int(cell_ok.sum())), le[cell_ok], lk[cell_ok]], 1)
    out = {"cells_left_out": left_out, "cells_used": int(cell_ok.sum()), "level": level,
           "n_boot": n_boot}
    if design.shape[0] < 3 or np.linalg.matrix_rank(design) < 3:
        return {**out, "eps_exponent": None, "kappa_exponent": None, "eps_se": None,
                "kappa_se": None, "eps_ci": None, "kappa_ci": None}

    def fit(sample):
        y = np.log(np.mean(sample, axis=-1))[cell_ok]
        return np.linalg.lstsq(design, y, rcond=None)[0][1:]

    p = fit(v)
    rng = np.random.default_rng(seed)
    n = v.shape[-1]
    boots = np.array([fit(v[..., rng.integers(0, n, n)]) for _ in range(n_boot)])
    a = (1 - level) / 2
    lo, hi = np.quantile(boots, [a, 1 - a], axis=0)
    se = boots.std(axis=0, ddof=1)
    return {**out, "eps_exponent": float(p[0]), "eps_se": float(se[0]),
            "eps_ci": [float(lo[0]), float(hi[0])], "kappa_exponent": float(p[1]),
            "kappa_se": float(se[1]), "kappa_ci": [float(lo[1]), float(hi[1])]}


def loglog_slope(x, per_path, *, n_boot=400, seed=0):
    """Slope of log(mean over paths) on log x, with a bootstrap SE over paths (rows of
    ``per_path`` are the x values, columns the paths, resampled jointly)."""
    x = np.log(np.asarray(x, float))
    v = np.asarray(per_path, float)

    def slope(sample):
        return float(np.polyfit(x, np.log(sample.mean(axis=-1)), 1)[0])

    rng = np.random.default_rng(seed)
    n = v.shape[-1]
    boots = np.array([slope(v[:, rng.integers(0, n, n)]) for _ in range(n_boot)])
    return slope(v), float(boots.std(ddof=1))


def verdict_row(v, units: str, **extra) -> dict:
    """A verdict as a plain dict for the summary (what ``table_rows`` prints)."""
    return {"claim": v.claim, "measured": v.measured, "predicted": v.predicted,
            "ci": [v.ci_low, v.ci_high], "verdict": v.verdict, "note": v.note,
            "units": units, "deviation": v.deviation, "reference": v.reference, **extra}


def no_verdict_row(claim: str, measured, units: str, why: str, *, ci=None, predicted=None,
                   note: str = "") -> dict:
    """A row without a verdict; ``why`` says why on the row."""
    return {"claim": claim, "measured": None if measured is None else float(measured),
            "predicted": None if predicted is None else float(predicted),
            "ci": None if ci is None else [float(ci[0]), float(ci[1])], "verdict": "-",
            "note": f"{note}; no verdict: {why}" if note else f"no verdict: {why}",
            "units": units, "deviation": "", "reference": ""}


def se_verdict(claim, predicted, measured, se, *, bias=0.0, units="", note="", reference="",
               bias_source="", deviation=None, **extra) -> dict:
    """|measured − predicted| ≤ 4·SE + bias as a row."""
    v = compare(claim, predicted, measured, se, bias=bias, note=note, reference=reference,
                bias_source=bias_source, deviation=deviation)
    return verdict_row(v, units, **extra)


def one_sided_row(claim, bound, measured, se, *, at_least: bool, units="", note="",
                  reference="") -> dict:
    """A bound claim: measured ≥ bound (``at_least``) or ≤ bound, failing only when the whole
    interval measured ± 4·SE lies on the wrong side."""
    z = Z_DEFAULT
    lo, hi = measured - z * se, measured + z * se
    if at_least:
        lo = min(lo, bound)
    else:
        hi = max(hi, bound)
    v = compare_interval(claim, bound, measured, lo, hi, note=note, reference=reference)
    return verdict_row(v, units)


def table_rows(rows) -> list[dict]:
    """The stored rows as the closing table's rows (``sde_opt.experiment.table.claim``)."""
    from sde_opt.experiment.table import claim

    out = []
    for r in rows:
        note = r.get("note", "")
        if r.get("units"):
            note = f"[{r['units']}] {note}" if note else f"[{r['units']}]"
        if r.get("deviation"):
            note = f"{note}; documented deviation: {r['deviation']}"
        out.append(claim(r["claim"], r["measured"], ci=r["ci"], theory=r["predicted"],
                         verdict=r["verdict"], note=note))
    return out


def finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None

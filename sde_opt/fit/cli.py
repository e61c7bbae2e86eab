"""``sde-opt fit TRACE --model {qv,ou,km}``: estimates with intervals, ``fit.json`` and ``fit.png``.

Trace layouts (``.npz``: key ``x``, optional ``dt`` or ``t``; ``.csv``: header ``t,trace,x0,x1,…``
with ``t`` and ``trace`` optional) are described in :mod:`sde_opt.fit._trace`. Without ``t``/``dt``
in the file, pass ``--dt``. Output goes to ``--out`` (default: ``<trace>-fit/`` beside the file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._trace import load_trace

MAX_ROWS = 40


def _fit(model: str, trace, args):
    from .kramers_moyal import fit_kramers_moyal
    from .ou_mle import fit_ou
    from .realized import fit_quadratic_variation

    level = getattr(args, "level", 0.95)
    results = {}
    if model == "ou":
        results["ou"] = fit_ou(trace, ci=getattr(args, "ci", "asymptotic"), level=level)
        main = results["ou"]
    elif model == "qv":
        results["qv"] = main = fit_quadratic_variation(trace, level=level)
        try:  # the exact-OU drift correction, when an OU drift can be fitted
            ou = fit_ou(trace, level=level)
            results["qv_drift_corrected"] = fit_quadratic_variation(
                trace, drift_matrix=ou["drift"].value, mean=ou["mean"].value, level=level)
        except ValueError as e:
            results["qv_drift_corrected_skipped"] = str(e)
    else:
        results["km"] = main = fit_kramers_moyal(
            trace, bins=args.bins, correction=getattr(args, "correction", "ou"), level=level)
    return main, results


def _print(results, trace) -> None:
    print(f"trace: {trace!r}")
    for name, r in results.items():
        if isinstance(r, str):
            print(f"\n[{name}] {r}")
            continue
        print(f"\n[{name}]")
        if r.model == "km":
            _print_km(r)
        else:
            print(repr(r))
        for k in ("bias", "model"):
            if k in r.info:
                print(f"  note: {r.info[k]}")


def _print_km(r) -> None:
    import numpy as np

    from ..stats import normal_quantile as z_quantile

    counts = r.extras["counts"].reshape(-1)
    d = r.info["dim"]
    dr, di = r["drift"], r["diffusion"]
    x = r.extras["x_mean"].reshape(-1, d)
    print(f"  correction={r.info['correction']}; {int((counts >= r.info['min_count']).sum())} of "
          f"{counts.size} bins with >= {r.info['min_count']} samples")
    print(f"  x (bin mean) | n | drift ± {r['drift'].level:.0%} half-width | "
          "diffusion (diagonal) ± half-width")
    v = dr.value.reshape(-1, d)
    s = dr.se.reshape(-1, d)
    dv = np.diagonal(di.value.reshape(-1, d, d), axis1=1, axis2=2)
    ds = np.diagonal(di.se.reshape(-1, d, d), axis1=1, axis2=2)
    q = z_quantile(dr.level)
    shown = np.flatnonzero(counts >= r.info["min_count"])
    if shown.size > MAX_ROWS:
        print(f"  (the {MAX_ROWS} most populated bins; all bins are in fit.json)")
        shown = np.sort(shown[np.argsort(-counts[shown], kind="stable")[:MAX_ROWS]])
    for b in shown:
        xs = ", ".join(f"{t:.4g}" for t in x[b])
        a = ", ".join(f"{vv:.4g} ± {q * ss:.2g}" for vv, ss in zip(v[b], s[b]))
        dd = ", ".join(f"{vv:.4g} ± {q * ss:.2g}" for vv, ss in zip(dv[b], ds[b]))
        print(f"  [{xs}] | {int(counts[b])} | {a} | {dd}")


def run_fit(args) -> int:
    """Entry point of ``sde-opt fit`` (``args``: trace, model, dt, out, bins; optional level,
    ci, correction). Returns the exit status: 0, or 2 for unusable input."""
    path = Path(args.trace)
    try:
        trace = load_trace(path, dt=args.dt)
        main, results = _fit(args.model, trace, args)
    except (ValueError, FileNotFoundError) as e:
        print(f"sde-opt fit: {e}", file=sys.stderr)
        return 2
    _print(results, trace)

    out = Path(args.out) if args.out else path.with_name(path.stem + "-fit")
    out.mkdir(parents=True, exist_ok=True)
    payload = {"trace": str(path), "model": args.model,
               "trace_info": {"n_traces": trace.n_traces, "n_steps": trace.n_steps,
                              "dim": trace.dim, "dt": trace.dt},
               "results": {k: (v if isinstance(v, str) else v.as_dict())
                           for k, v in results.items()}}
    (out / "fit.json").write_text(json.dumps(payload, indent=2) + "\n")

    from .plots import plot_fit

    fig = plot_fit(main, trace, bins=args.bins)
    fig.savefig(out / "fit.png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"\nwrote {out / 'fit.json'} and {out / 'fit.png'}")
    return 0

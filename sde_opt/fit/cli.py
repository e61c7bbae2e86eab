"""``sde-opt fit TRACE --model {qv,ou,km}``: estimates with intervals, ``fit.json`` and ``fit.png``.

Trace layouts (``.npz``: key ``x``, optional ``dt`` or ``t``; ``.csv``: header ``t,trace,x0,x1,…``
with ``t`` and ``trace`` optional) are described in ``sde_opt.fit._trace``. Without ``t``/``dt``
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


def _prepare_out(path: Path, out) -> Path:
    """The output folder, checked before any work (``ValueError`` if it cannot be written): it
    must be a folder or not exist yet, under a writable folder. It is created only after the fit
    succeeded, so a refused run leaves nothing behind."""
    import os

    out = Path(out) if out else path.with_name(path.stem + "-fit")
    for p in (out, *out.absolute().parents):
        if p.exists():
            if not p.is_dir():
                if p == out:
                    raise ValueError(f"--out {out} is a file, not a folder")
                raise ValueError(f"cannot write to the output folder {out}: {p} is a file, "
                                 "not a folder")
            if not os.access(p, os.W_OK | os.X_OK):
                raise ValueError(f"cannot write to the output folder {out}: {p} is not writable")
            break
    return out


def _check_args(args) -> None:
    """Command-line values that no trace can make valid (``ValueError`` naming the option)."""
    import math

    level = getattr(args, "level", 0.95)
    if not (isinstance(level, float) and 0.0 < level < 1.0):
        raise ValueError(f"--level must lie in (0, 1), e.g. 0.95; got {level!r}")
    if args.dt is not None and not (math.isfinite(args.dt) and args.dt > 0):
        raise ValueError(f"--dt must be a finite number > 0; got {args.dt!r}")
    if args.model == "km" and args.bins < 1:
        raise ValueError(f"--bins must be an integer >= 1; got {args.bins}")


def run_fit(args) -> int:
    """Entry point of ``sde-opt fit`` (``args``: trace, model, dt, out, bins; optional level,
    ci, correction). Returns the exit status: 0, or 2 for unusable input (a one-line message on
    stderr, no traceback)."""
    path = Path(args.trace)
    try:
        _check_args(args)
        if not path.exists():
            raise FileNotFoundError(f"no such file: {path}")
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give a trace file (.npz or .csv)")
        out = _prepare_out(path, args.out)
        trace = load_trace(path, dt=args.dt)
        main, results = _fit(args.model, trace, args)
    except (ValueError, OSError) as e:
        msg = str(e) if not isinstance(e, OSError) or e.strerror is None else (
            f"{e.strerror}: {e.filename}" if e.filename else e.strerror)
        print(f"sde-opt fit: error: {' '.join(msg.split())}", file=sys.stderr)
        return 2
    _print(results, trace)

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"sde-opt fit: error: cannot create the output folder {out}: {e.strerror}",
              file=sys.stderr)
        return 2
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

"""Throughput of sde_opt and its peers on the same workloads, in one process and one table.

    python benchmarks/run.py                 # the reference workloads (several minutes on 2 cores)
    python benchmarks/run.py --json          # {workload: {implementation: path_steps_per_second}}
    python benchmarks/run.py --update-results cpu   # also rewrite the CPU section of RESULTS.md

Workloads (:mod:`benchmarks.workloads`): Euler–Maruyama at a quadratic saddle, 10,000 paths,
d = 10, σ = 0.1, dt = 0.01, float32 — (1) a fixed horizon of 1,000 steps; (2) each path stopped at
its exit from the unit ball (horizon 2,000 steps). Implementations: :mod:`benchmarks.peers`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sde_opt  # noqa: E402

# Before any JAX computation: one CPU device per core, so that sde_opt shards paths over both.
N_CPU_DEVICES = sde_opt.use_cpu_cores()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import peers  # noqa: E402
from benchmarks.timing import measure_interleaved  # noqa: E402
from benchmarks.workloads import EXIT, FIXED, Workload, exit_summary, final_moments  # noqa: E402
from sde_opt.experiment.environment import cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One implementation on one workload.

    ``scale``: measure on a smaller batch (``{"n_paths": …, "n_steps": …}``) when the full one
    would take minutes; path-steps/s is then computed on the batch actually run.
    ``target``: the least acceptable ratio sde_opt ÷ this implementation, judged on the median
    over the interleaved rounds of the round's ratio (issue 14; issue 2 set the others).
    """

    key: str
    label: str
    workload: str
    prepare: Callable[[Workload], Callable]
    scale: dict | None = None
    target: float | None = None
    target_text: str = ""


def entries(torch_device: str = "cpu", vbt_paths: int = 1_000) -> list[Entry]:
    dev = {"device": torch_device}
    return [
        Entry("sde_opt", "sde_opt simulate (GradientSDE of QuadraticSaddle, EulerMaruyama)",
              "fixed_horizon", peers.prepare_sde_opt),
        Entry("torchsde", "torchsde sdeint(method='euler'), BrownianInterval", "fixed_horizon",
              lambda w: peers.prepare_torchsde(w, **dev), target=10.0, target_text="≥ 10×"),
        Entry("diffrax_vbt", "diffrax Euler, VirtualBrownianTree (vmap, jit)", "fixed_horizon",
              lambda w: peers.prepare_diffrax(w, brownian="virtual"),
              scale={"n_paths": vbt_paths}, target=50.0, target_text="≥ 50×"),
        Entry("diffrax_unsafe", "diffrax Euler, UnsafeBrownianPath (vmap, jit)", "fixed_horizon",
              lambda w: peers.prepare_diffrax(w, brownian="unsafe")),
        Entry("numpy_loop", "hand-written NumPy loop", "fixed_horizon", peers.prepare_numpy_loop,
              target=1.0, target_text="≥ 1×"),
        Entry("torch_loop", "hand-written PyTorch loop", "fixed_horizon",
              lambda w: peers.prepare_torch_loop(w, **dev), target=1.5, target_text="≥ 1.5×"),
        Entry("sde_opt_events", "sde_opt simulate, events=[LeaveBall(0, 1)]", "exit_time",
              peers.prepare_sde_opt),
        Entry("sde_opt_fixed_horizon", "sde_opt simulate, no events (every path to the horizon)",
              "exit_time", lambda w: peers.prepare_sde_opt(w, events=False)),
        Entry("torch_masked_loop", "hand-written PyTorch loop, exited paths masked",
              "exit_time", lambda w: peers.prepare_torch_masked_loop(w, **dev), target=3.0,
              target_text="≥ 3×"),
    ]


@dataclasses.dataclass
class Row:
    entry: Entry
    workload: Workload
    first_s: float
    best_s: float
    runs_s: list
    computed_path_steps: int | None
    useful_path_steps: int
    check: dict

    @property
    def rate(self) -> float:
        """path-steps per second: useful ones (Σ steps to exit) for the exit-time workload."""
        return self.useful_path_steps / self.best_s

    @property
    def round_rates(self) -> np.ndarray:
        """The rate of each interleaved round."""
        return self.useful_path_steps / np.asarray(self.runs_s)


def median_ratio(ref: Row, row: Row) -> float:
    """Median over the interleaved rounds of (ref's rate ÷ row's rate) in the same round: a burst
    of load during one round moves both alike, so the ratio is steadier than either rate."""
    return float(np.median(ref.round_rates / row.round_rates))


def _scaled(w: Workload, entry: Entry, n_paths: int | None, n_steps: int | None) -> Workload:
    w = w.scaled(n_paths, n_steps)
    if entry.scale:
        w = w.scaled(min(w.n_paths, entry.scale.get("n_paths", w.n_paths)),
                     min(w.n_steps, entry.scale.get("n_steps", w.n_steps)))
    return w


def run_benchmarks(selected: list[Entry], workloads: dict[str, Workload], repeats: int = 3,
                   log: Callable[[str], None] | None = None) -> list[Row]:
    """Prepare, warm up and time every selected entry; returns one :class:`Row` each."""
    plan = []
    for e in selected:
        w = workloads[e.workload]
        w = _scaled(w, e, None, None)
        plan.append((e, w, e.prepare(w)))
    timed = measure_interleaved([run for _, _, run in plan], repeats,
                                on_progress=log)
    rows = []
    exit_steps_by_key = {}
    for (e, w, _), t in zip(plan, timed):
        out = t.outcome
        if w.radius is not None and out.steps is not None:
            s = exit_summary(out.steps, w.n_steps)
            s["exited"] = int(np.sum(out.exited))
            check = {"exit": s}
            useful = s["useful_path_steps"]
            # the masked loop steps every path until the last one exits; sde_opt's own count of
            # masked steps (bounded by its compaction) is not visible from outside
            computed = w.n_paths * int(np.max(out.steps)) if e.key != "sde_opt_events" else None
            exit_steps_by_key[e.key] = useful
        else:
            check = {"moments": final_moments(w, out.final)} if w.radius is None else {}
            useful = computed = w.path_steps
        rows.append(Row(e, w, t.first_s, t.best_s, t.runs_s, computed, useful, check))
    # sde_opt's fixed-horizon run on the exit workload uses the same key, hence the same Brownian
    # paths and exit steps as the events run: its useful work is the events run's Σ steps.
    for r in rows:
        if r.entry.key == "sde_opt_fixed_horizon" and "sde_opt_events" in exit_steps_by_key:
            r.useful_path_steps = exit_steps_by_key["sde_opt_events"]
    return rows


def environment() -> dict:
    import diffrax
    import jax

    env = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": jax.__version__,
        "jax_devices": f"{len(jax.devices())} × {jax.devices()[0].platform}",
        "diffrax": diffrax.__version__,
        "sde_opt": sde_opt.__version__,
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "load_before": os.getloadavg()[0],
    }
    try:
        import torch
        import torchsde

        env.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                   torchsde=torchsde.__version__)
        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        env.update(torch="not installed", torchsde="not installed")
    return env


def _fmt_rate(x: float) -> str:
    return f"{x / 1e6:,.2f} M" if x >= 1e5 else f"{x / 1e3:,.1f} k"


def format_report(rows: list[Row], env: dict, command: str, repeats: int = 3) -> str:
    """The markdown report: header, one table per workload, notes."""
    lines = [
        f"Date: {env['date']}. Machine: {env['cpu']}, {env['cores']} cores"
        + (f", GPU: {env['gpu']}" if "gpu" in env else "") + ".",
        f"Versions: sde_opt {env['sde_opt']}, jax {env['jax']} ({env['jax_devices']} devices), "
        f"diffrax {env['diffrax']}, torch {env.get('torch')} ({env.get('torch_threads', '?')} "
        f"threads), torchsde {env.get('torchsde')}, numpy {env['numpy']}, Python {env['python']}.",
        f"Load average (1 min) before/after: {env['load_before']:.2f} / "
        f"{env.get('load_after', float('nan')):.2f}.",
        f"Command: `{command}`",
        "",
    ]
    ref = {}
    for r in rows:
        if r.entry.key in ("sde_opt", "sde_opt_events"):
            ref[r.entry.workload] = r
    for wname, title, w in (("fixed_horizon", "Fixed horizon", FIXED),
                            ("exit_time", "Exit time", EXIT)):
        wrows = [r for r in rows if r.entry.workload == wname]
        if not wrows:
            continue
        full = wrows[0].workload if wrows[0].entry.scale is None else w
        lines += [f"### {title}: {full.describe()}", ""]
        if wname == "fixed_horizon":
            lines += [
                "| implementation | path-steps/s | sde_opt ÷ this | median ratio of rounds | "
                "target | best (s) | first call (s) | measured on | E X₁² z | E Σ X₂..² z |",
                "|---|---:|---:|---:|---|---:|---:|---|---:|---:|",
            ]
        else:
            lines += [
                "| implementation | useful path-steps/s | sde_opt ÷ this | median ratio of rounds | "
                "target | best (s) | first call (s) | computed path-steps/s | mean exit step ± SE | "
                "exited |",
                "|---|---:|---:|---:|---|---:|---:|---:|---|---:|",
            ]
        for r in wrows:
            base = ref.get(wname)
            ratio = base.rate / r.rate if base else float("nan")
            med = median_ratio(base, r) if base else float("nan")
            target = ""
            if r.entry.target is not None:
                ok = med > r.entry.target if r.entry.target_text.startswith(">") else (
                    med >= r.entry.target)
                target = f"{r.entry.target_text} {'met' if ok else '**missed**'}"
            on = f"{r.workload.n_paths:,} × {r.workload.n_steps:,}"
            if wname == "fixed_horizon":
                m = r.check["moments"]
                lines.append(
                    f"| {r.entry.label} | {_fmt_rate(r.rate)} | {ratio:.2f} | {med:.2f} | {target} | "
                    f"{r.best_s:.3f} | {r.first_s:.2f} | {on} | {m['unstable']['z']:+.2f} | "
                    f"{m['stable']['z']:+.2f} |")
            else:
                ex = r.check.get("exit")
                computed = ("—" if r.computed_path_steps is None
                            else _fmt_rate(r.computed_path_steps / r.best_s))
                mean = f"{ex['mean']:.1f} ± {ex['se']:.1f}" if ex else "—"
                exited = f"{ex['exited']:,}" if ex else "—"
                lines.append(
                    f"| {r.entry.label} | {_fmt_rate(r.rate)} | {ratio:.2f} | {med:.2f} | {target} | "
                    f"{r.best_s:.3f} | {r.first_s:.2f} | "
                    f"{computed} | {mean} | {exited} |")
        lines.append("")
    lines += [
        f"Path-steps/s = paths × steps ÷ best wall time of {repeats} interleaved rounds; "
        "`first call` "
        "includes tracing and compilation (and is excluded from the rate). `sde_opt ÷ this` > 1 "
        "means sde_opt is faster (ratio of best rounds); the target is judged on the median over "
        "the rounds of the ratio within a round. `z` = (measured − exact EM value)/SE of E X₁² (unstable "
        "coordinate) and E Σᵢ≥₂ Xᵢ² at the horizon: every implementation simulates the same law "
        "(|z| ≤ 4 expected). Exit time: useful path-steps = Σ over paths of the steps to exit "
        "(the work an exit-time study needs); computed path-steps counts every step actually "
        "taken, including masked ones (the fixed-horizon run computes every step to the horizon "
        "for every path; it uses the events run's key, hence the same paths and the same useful "
        "work). sde_opt's events run steps only the paths still alive, up to the granularity of "
        "its segments and compactions.",
        "",
    ]
    return "\n".join(lines)


def update_results(section: str, report: str, path: Path = RESULTS) -> None:
    """Replace the text between ``<!-- {section}-results:start -->`` and ``…:end -->``."""
    text = path.read_text()
    start, end = f"<!-- {section}-results:start -->", f"<!-- {section}-results:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"run.py: no {start} … {end} markers in {path}")
    path.write_text(pattern.sub(lambda _: f"{start}\n{report}\n{end}", text))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true",
                   help="print {workload: {implementation: path_steps_per_second}} only")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (best is kept; ≥ 3)")
    p.add_argument("--workload", choices=["fixed_horizon", "exit_time", "all", "optax_adam"],
                   default="all", help="optax_adam: many paths of OptaxChain(adam) against a "
                                       "vmapped hand-written optax loop (benchmarks/optax_adam.py)")
    p.add_argument("--only", default="", help="comma-separated implementation keys")
    p.add_argument("--paths", type=int, default=None, help="override the number of paths")
    p.add_argument("--steps", type=int, default=None,
                   help="override the fixed-horizon steps (exit horizon = 2 × this)")
    p.add_argument("--vbt-paths", type=int, default=1_000,
                   help="paths for diffrax with VirtualBrownianTree (too slow for all 10,000)")
    p.add_argument("--torch-device", default="cpu", help="device of the torch implementations")
    p.add_argument("--update-results", choices=["cpu", "gpu"], default=None,
                   help="also write the report into that section of benchmarks/RESULTS.md")
    p.add_argument("--report-file", default=None, help="also write the markdown report here")
    args = p.parse_args(argv)
    if args.workload == "optax_adam":
        from benchmarks import optax_adam

        return optax_adam.main([*(["--paths", str(args.paths)] if args.paths else []),
                                *(["--steps", str(args.steps)] if args.steps else []),
                                "--repeats", str(args.repeats), *(["--json"] if args.json else [])])

    selected = entries(args.torch_device, args.vbt_paths)
    if args.workload != "all":
        selected = [e for e in selected if e.workload == args.workload]
    if args.only:
        keys = {k.strip() for k in args.only.split(",")}
        unknown = keys - {e.key for e in selected}
        if unknown:
            p.error(f"unknown implementation(s) {sorted(unknown)}; "
                    f"available: {[e.key for e in selected]}")
        selected = [e for e in selected if e.key in keys]
    workloads = {
        "fixed_horizon": FIXED.scaled(args.paths, args.steps),
        "exit_time": EXIT.scaled(args.paths, 2 * args.steps if args.steps else None),
    }
    env = environment()
    log = None if args.json else (lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
    rows = run_benchmarks(selected, workloads, repeats=args.repeats, log=log)
    env["load_after"] = os.getloadavg()[0]
    if args.json:
        out: dict = {}
        for r in rows:
            out.setdefault(r.entry.workload, {})[r.entry.key] = r.rate
        print(json.dumps(out, indent=2))
    command = " ".join(["python benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    report = format_report(rows, env, command, args.repeats)
    if not args.json:
        print(report)
    if args.report_file:
        Path(args.report_file).write_text(report)
    if args.update_results:
        update_results(args.update_results, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

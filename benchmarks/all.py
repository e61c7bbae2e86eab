"""Every family's workload in one command: sde_opt against its hand-written peer loop, both arms
interleaved in one process, the median over rounds of the throughput ratio within a round.

    python benchmarks/all.py                       # every workload, 3 rounds (≈ 10 min, idle 2-core CPU)
    python benchmarks/all.py --scale 0.1           # a tenth of the paths (a quick look)
    python benchmarks/all.py --only bilevel_stocbio,fixed_horizon --json
    python benchmarks/all.py --update-results      # also write the table into RESULTS.md

Workloads (each module's docstring has the details; the sizes are each benchmark's defaults):

* ``fixed_horizon``, ``exit_time`` (``run.py``): Euler–Maruyama at a quadratic saddle, 10⁴ paths;
  fixed horizon against a PyTorch loop, exit events against a PyTorch loop masking exited paths.
* ``minimax_gda``, ``minimax_eg`` (``minimax.py``): GDA / extragradient escaping a saddle with an
  event, against a PyTorch loop masking exited paths.
* ``bilevel_stocbio``, ``bilevel_aid``, ``bilevel_perturbed_aid`` (``bilevel.py``): against
  PyTorch loops of the same recursions.
* ``neural_collapse_rsgd`` (``neural_collapse.py``): 256 Riemannian-SGD runs on the UFM in one
  ``simulate``, against a batched PyTorch loop.
* ``optax_adam`` (``optax_adam.py``): ``OptaxChain(adam)`` against the ``jit(vmap(fori_loop))``
  optax loop a JAX user writes (goal ≥ 1: the engine adds no cost).

Rates are path-steps per second (useful ones, Σ steps to exit, for the exit-time workloads; each
implementation's own). Each workload: first calls of both arms (compilation, reported apart), then
``--rounds`` rounds alternating the two arms; the ratio of a round is sde_opt's rate over the
peer's, and the table reports the median of those ratios (``timing.py``'s rules). The load
average is recorded before and after: on a shared 2-core machine the PyTorch loops suffer most.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sde_opt as so  # noqa: E402

N_CPU_DEVICES = so.use_cpu_cores()

import numpy as np  # noqa: E402

from benchmarks.timing import measure_interleaved  # noqa: E402
from sde_opt.experiment.environment import cpu_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclasses.dataclass(frozen=True)
class Case:
    """One workload: ``build(scale)`` returns (sde_opt run, peer run, work), ``work(outcome)``
    the path-steps an outcome represents; ``target``: the least acceptable median ratio."""

    key: str
    family: str
    peer: str
    target: float
    build: Callable


def _scaled(n: int, scale: float, least: int = 64) -> int:
    return max(least, int(round(n * scale)))


def _em(events: bool):
    def build(scale, device):
        from benchmarks import peers
        from benchmarks.workloads import EXIT, FIXED

        w = EXIT if events else FIXED
        w = dataclasses.replace(w, n_paths=_scaled(w.n_paths, scale))
        if events:
            return (peers.prepare_sde_opt(w, events=True), peers.prepare_torch_masked_loop(w, device=device),
                    lambda o: float(np.sum(o.steps)))
        return (peers.prepare_sde_opt(w, events=False), peers.prepare_torch_loop(w, device=device),
                lambda o: float(w.n_paths * w.n_steps))

    return build


def _minimax(method: str):
    def build(scale, device):
        from benchmarks import minimax

        n = _scaled(10_000, scale)
        return (minimax.sde_opt_run(method, n, 4_000, 1), minimax.torch_run(method, n, 4_000, 1, device),
                lambda o: float(np.sum(o[0])))

    return build


def _bilevel(workload: str):
    def build(scale, device):
        from benchmarks import bilevel

        n, k = _scaled(4_000, scale), 200
        return (bilevel.sde_opt_run(n, k, workload), bilevel.torch_run(n, k, device, workload),
                lambda o: float(n * k))

    return build


def _neural_collapse(scale, device):
    from benchmarks import neural_collapse as nc

    runs, steps = _scaled(256, scale, least=16), 400
    return (nc.prepare_sde_opt(runs, steps), nc.prepare_torch(runs, steps, device=device),
            lambda o: float(runs * steps))


def _optax(scale, device):  # both arms JAX: on the GPU when jax has CUDA
    from benchmarks import optax_adam

    paths, steps = _scaled(2048, scale), 500
    return (optax_adam.prepare_sde_opt(paths, steps), optax_adam.prepare_hand_loop(paths, steps),
            lambda o: float(paths * steps))


CASES = (
    Case("fixed_horizon", "SDE (Euler–Maruyama), fixed horizon", "PyTorch loop", 2.0, _em(False)),
    Case("exit_time", "SDE, exit events", "PyTorch loop, exited paths masked", 3.0, _em(True)),
    Case("minimax_gda", "minimax: stochastic GDA escape", "PyTorch loop, masked", 2.0, _minimax("gda")),
    Case("minimax_eg", "minimax: extragradient escape", "PyTorch loop, masked", 2.0, _minimax("eg")),
    Case("bilevel_stocbio", "bilevel: StocBiO", "PyTorch loop", 2.0, _bilevel("stocbio")),
    Case("bilevel_aid", "bilevel: AID (CG in the step)", "PyTorch loop", 2.0, _bilevel("aid")),
    Case("bilevel_perturbed_aid", "bilevel: perturbed AID", "PyTorch loop", 2.0,
         _bilevel("perturbed_aid")),
    Case("neural_collapse_rsgd", "neural collapse: Riemannian SGD, 256 runs", "PyTorch loop", 2.0,
         _neural_collapse),
    Case("optax_adam", "optax: OptaxChain(adam)", "jit(vmap) optax loop", 1.0, _optax),
)


def run_case(case: Case, scale: float, rounds: int, device: str = "cpu") -> dict:
    sde_run, peer_run, work = case.build(scale, device)
    t_sde, t_peer = measure_interleaved([sde_run, peer_run], rounds)
    w_sde, w_peer = work(t_sde.outcome), work(t_peer.outcome)
    sde_rates = w_sde / np.asarray(t_sde.runs_s)
    peer_rates = w_peer / np.asarray(t_peer.runs_s)
    ratios = sde_rates / peer_rates
    return {"family": case.family, "peer": case.peer, "target": case.target,
            "sde_opt_rate_median": float(np.median(sde_rates)),
            "peer_rate_median": float(np.median(peer_rates)),
            "ratios": ratios.tolist(), "median_ratio": float(np.median(ratios)),
            "first_call_s": {"sde_opt": t_sde.first_s, "peer": t_peer.first_s}}


def format_table(report: dict) -> str:
    env = report["environment"]
    lines = [f"Date: {env['date']}. Machine: {env['cpu']}, {env['cores']} cores, "
             f"{env['jax_devices']} JAX {env['jax_platform']} devices; torch {env['torch']} on "
             f"{env['torch_device']} ({env['torch_threads']} threads), jax {env['jax']}.",
             f"Load average (1 min) before/after: {env['load_before']:.2f} / {env['load_after']:.2f}.",
             f"Command: `{env['command']}` (scale {env['scale']}, {env['rounds']} interleaved rounds).",
             "",
             "| workload | family | peer | sde_opt (path-steps/s) | peer (path-steps/s) | ratio per round | "
             "**median ratio** | target | first call sde_opt / peer (s) |",
             "|---|---|---|---:|---:|---|---:|---|---|"]
    for key, r in report["workloads"].items():
        met = "met" if r["median_ratio"] >= r["target"] else "**not met**"
        lines.append(
            f"| {key} | {r['family']} | {r['peer']} | {r['sde_opt_rate_median']:.3g} | "
            f"{r['peer_rate_median']:.3g} | {', '.join(f'{x:.2f}' for x in r['ratios'])} | "
            f"**{r['median_ratio']:.2f}** | ≥ {r['target']:g} {met} | "
            f"{r['first_call_s']['sde_opt']:.1f} / {r['first_call_s']['peer']:.1f} |")
    return "\n".join(lines) + "\n"


def update_results(text: str, section: str = "cpu", path: Path = RESULTS) -> None:
    tag = "all-results" if section == "cpu" else "all-gpu-results"
    start, end = f"<!-- {tag}:start -->", f"<!-- {tag}:end -->"
    doc = path.read_text()
    if start not in doc:
        title = "Every family (`benchmarks/all.py`)" + (", GPU" if section == "gpu" else "")
        doc += f"\n## {title}\n\n{start}\n{end}\n"
    head, rest = doc.split(start, 1)
    path.write_text(head + start + "\n" + text + end + rest.split(end, 1)[1])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated workload keys: "
                    + ", ".join(c.key for c in CASES))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every workload's paths")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds (median kept)")
    ap.add_argument("--torch-device", default="cpu", help="device of the PyTorch loops (cuda on a GPU)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--update-results", choices=["cpu", "gpu"], default=None,
                    help="write the table into RESULTS.md (between the all-results or the "
                    "all-gpu-results markers)")
    args = ap.parse_args(argv)
    keys = [k for k in args.only.split(",") if k]
    unknown = sorted(set(keys) - {c.key for c in CASES})
    if unknown:
        ap.error(f"--only: unknown workloads {unknown}; choose from {[c.key for c in CASES]}")
    if not args.scale > 0:
        ap.error(f"--scale must be > 0; got {args.scale}")
    import jax
    import torch

    load_before = os.getloadavg()[0]
    report = {"workloads": {}}
    for case in CASES:
        if keys and case.key not in keys:
            continue
        print(f"[all.py] {case.key} …", file=sys.stderr, flush=True)
        report["workloads"][case.key] = run_case(case, args.scale, args.rounds, args.torch_device)
    report["environment"] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)), "jax_devices": N_CPU_DEVICES, "jax": jax.__version__,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "load_before": load_before, "load_after": os.getloadavg()[0],
        "command": "python benchmarks/all.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "scale": args.scale, "rounds": args.rounds, "torch_device": args.torch_device,
        "jax_platform": jax.devices()[0].platform}
    text = format_table(report)
    if args.update_results:
        update_results(text, args.update_results)
    print(json.dumps(report, indent=2) if args.json else text)
    return report


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# One-shot GPU benchmark of every family (issues 14 and 24; under 10 minutes on one GPU):
#  1. the SDE workloads (run.py): sde_opt vs the hand-written PyTorch loop vs diffrax (and torchsde
#     at up to 10^6 paths) on CUDA, at 10^6 and 10^7 paths;
#  2. every family's workload (all.py: fixed horizon, exit time, minimax GDA/EG escape, bilevel
#     StocBiO/AID/perturbed AID, neural-collapse RSGD, optax adam) against its peer loop, both on
#     the GPU, at ALL_SCALE times each benchmark's CPU size (default 10: GPU-sized batches).
# Writes the tables into the GPU sections of benchmarks/RESULTS.md (between the gpu-results and
# all-gpu-results markers) and prints them.
#
# Needs, on the GPU machine: this repository, jax with CUDA (`pip install -U "jax[cuda12]"`),
# equinox, diffrax, lineax, optax, torch with CUDA and torchsde (`pip install -e ".[torch]"`).
# Usage:  bash benchmarks/gpu.sh            (PYTHON=... to choose the interpreter)
#         PATHS="1000000" ALL_SCALE=4 bash benchmarks/gpu.sh   (smaller batches)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PATHS=${PATHS:-"1000000 10000000"}
ALL_SCALE=${ALL_SCALE:-10}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$PY" - <<'CHECK'
import sys
import jax
gpus = [d for d in jax.devices() if d.platform == "gpu"]
if not gpus:
    sys.exit(f"gpu.sh: JAX sees no GPU ({jax.devices()}); install jax[cuda12]")
import torch
if not torch.cuda.is_available():
    sys.exit("gpu.sh: torch.cuda.is_available() is False; install a CUDA build of torch")
print(f"jax {jax.__version__} on {gpus[0].device_kind}; torch {torch.__version__} on "
      f"{torch.cuda.get_device_name(0)}", file=sys.stderr)
CHECK

out=$(mktemp -d)
for n in $PATHS; do
  only="sde_opt,diffrax_unsafe,diffrax_vbt,torch_loop,sde_opt_events,sde_opt_fixed_horizon,torch_masked_loop"
  if [ "$n" -le 1000000 ]; then only="$only,torchsde"; fi
  "$PY" benchmarks/run.py --paths "$n" --torch-device cuda --vbt-paths 100000 --only "$only" \
    --report-file "$out/report-$n.md"
done

"$PY" - "$out" $PATHS <<'WRITE'
import sys
from pathlib import Path
from benchmarks.run import update_results
out, sizes = Path(sys.argv[1]), sys.argv[2:]
parts = [f"#### {int(n):,} paths\n\n" + (out / f"report-{n}.md").read_text() for n in sizes]
update_results("gpu", "\n".join(parts))
print("wrote the GPU section of benchmarks/RESULTS.md", file=sys.stderr)
WRITE

"$PY" benchmarks/all.py --torch-device cuda --scale "$ALL_SCALE" --update-results gpu

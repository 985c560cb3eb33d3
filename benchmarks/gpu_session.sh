#!/usr/bin/env bash
# One prepared GPU session (the device machine: no network, its own python3 with torch): the
# engine's GPU options measured (benchmarks/bench_gpu.py), then a short end-to-end pre-training
# through the study's own runner at the gpu profile's model, on CUDA with bf16 autocast, to show
# that the runner's CUDA path runs (a pilot: 10,000 images x 2 epochs, not the profile's schedule).
# Everything it writes lands in ${OUT:-/tmp/gpu_out}.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MAE_STUDY_RESULTS=/tmp/gpu_results
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$OUT/nvidia-smi.csv"
python3 -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, torch.cuda.get_device_name())"
timeout 330 python3 benchmarks/bench_gpu.py --out "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/bench_gpu.log"
timeout 200 python3 - <<'PY' 2>&1 | tee "$OUT/pilot.log"
import json, os, shutil
from mae_study.chapters.mae.plan import MAE_PRETRAIN
from mae_study.runs.pretrain import run_pretrain
p = MAE_PRETRAIN.resolve("gpu", num_images=10_000, num_epochs=2, amp_dtype="bfloat16", recon_epochs=[])
run = run_pretrain(p, progress=False)
for f in ("final.json", "provenance.json", "config.json", "metrics.csv"):
    shutil.copy(run.path / f, os.path.join(os.environ["OUT"], f"pilot_{f}"))
print(json.dumps(run.read("final.json"), indent=1))
PY
ls -la "$OUT"

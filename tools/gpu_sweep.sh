#!/usr/bin/env bash
# A sweep's runs of one profile on a GPU machine, in N processes sharing the GPU (each process its
# share of the encoders and their evaluations: `mae_study.sweep --shard`), in float32: the same
# runs, with the same names, as on a CPU (a device is where a run runs, recorded in provenance).
#
#   OUT=/tmp/out tools/gpu_sweep.sh mae_ablations cpu 14
#
# The runs land in $OUT/results/<profile>/... (copy them into data/results/ and commit); the base
# recipe's committed runs are copied there first, so the runs the sweep shares with them count as
# done. Logs: $OUT/logs/. A run cut off by a time limit resumes on the next call (its checkpoint).
set -uo pipefail
cd "$(dirname "$0")/.."
SWEEP=${1:?sweep name}; PROFILE=${2:-cpu}; N=${3:-12}; DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT/logs" "$OUT/results/$PROFILE"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MAE_STUDY_RESULTS=$OUT/results TQDM_DISABLE=1
for d in data/results/"$PROFILE"/ladder_*; do [ -d "$d" ] && cp -rn "$d" "$OUT/results/$PROFILE/"; done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/logs/nvidia-smi.csv"
python3 -m mae_study.sweep "$SWEEP" --profile "$PROFILE" --dry-run > "$OUT/logs/plan.txt"
for i in $(seq 0 $((N - 1))); do
  python3 -m mae_study.sweep "$SWEEP" --profile "$PROFILE" --device "$DEVICE" --threads 1 --shard "$i/$N" \
    > "$OUT/logs/shard_$i.log" 2>&1 &
done
wait
python3 -m mae_study.sweep "$SWEEP" --profile "$PROFILE" --dry-run > "$OUT/logs/after.txt"
grep -c "finished before" "$OUT/logs/after.txt"; grep -vc "finished before" "$OUT/logs/after.txt"
# weights are not committed (.gitignore) and need not come back
find "$OUT/results" \( -name 'checkpoint.pt' -o -name 'model.pt' \) -delete

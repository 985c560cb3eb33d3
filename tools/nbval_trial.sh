#!/usr/bin/env bash
# The notebook check can fail: a copy of the tree whose MAE loss averages over every patch instead
# of the masked ones (a one-line change of the method) must fail notebook 02's checked cell under
# `make nbval`'s settings. Exits 0 when the check caught the change, 1 when it did not.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$tmp"          # the working tree's tracked files, edits included
"$root/.venv/bin/python" - "$tmp/mae_study/models/mae.py" <<'PY' || exit 1
import sys
from pathlib import Path
path = Path(sys.argv[1])
line = "return torch.where(denom > 0, (loss * mask).sum() / denom.clamp(min=1), loss.mean())"
text = path.read_text()
if text.count(line) != 1:
    sys.exit("nbval_trial: the MAE loss line to change was not found")
path.write_text(text.replace(line, "return loss.mean()  # trial: every patch"))
PY
cd "$tmp"
if env ${NBVAL_ENV:-} PYTHONPATH="$tmp" MAE_STUDY_ROOT="$tmp" MAE_STUDY_CI_CHECK=1 MAE_STUDY_PROFILE=ci "$root/.venv/bin/python" -m pytest -q \
     --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider \
     notebooks/02_mae_pretrain.ipynb > "$tmp/trial.log" 2>&1; then
  cat "$tmp/trial.log"; echo "nbval_trial: FAILED: notebook 02 passed with the MAE loss averaged over every patch"; exit 1
fi
grep -q "final_loss" "$tmp/trial.log" || { cat "$tmp/trial.log"; echo "nbval_trial: failed for another reason than the loss"; exit 1; }
echo "nbval_trial: ok, the changed MAE loss fails notebook 02's check:"; grep -m1 -o "final_loss: [^;]*" "$tmp/trial.log"

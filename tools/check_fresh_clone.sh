#!/usr/bin/env bash
# The README's first command on a fresh clone: `make book` from the committed tree alone (no
# untracked files, no weights), reusing this checkout's .venv. It must build the cpu book from the
# committed results and compute nothing: a run that it had to compute is reported as a failure.
#   tools/check_fresh_clone.sh [REV]     (default HEAD)
set -euo pipefail
rev=${1:-HEAD}
repo=$(cd "$(dirname "$0")/.." && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
git -C "$repo" archive --format=tar "$rev" | tar -x -C "$d"
ln -s "$repo/.venv" "$d/.venv"
cd "$d"
# The archive's files carry the commit's time, which may be newer than the venv's install stamp:
# date the files the stamp depends on back, so that no make (nor its sub-makes) reinstalls the
# package into the shared venv from this temporary folder.
touch -d @0 requirements.txt requirements-lock.txt pyproject.toml
# The venv's editable install points at $repo: put the clone first on the path.
export PYTHONPATH="$d" MAE_STUDY_ROOT="$d"
unset MAE_STUDY_PROFILE MAE_STUDY_RESULTS
finished() { find data/results/cpu -name final.json -not -path '*/_notebooks/*' | sort; }
finished > "$d/.before"
echo "== fresh clone of $rev in $d: make book (the .venv of $repo is reused)"
make book
finished > "$d/.after"
if ! diff -q "$d/.before" "$d/.after" >/dev/null; then
  echo "FAIL: make book on a fresh clone computed runs that should have been committed:"
  diff "$d/.before" "$d/.after" | grep '^>' || true
  exit 1
fi
if ! grep -q "'mae_study': '$repo/mae_study'" "$repo"/.venv/lib/python3.11/site-packages/__editable___mae_study_*_finder.py; then
  echo "FAIL: the check reinstalled the package into the shared venv"; exit 1
fi
weights=$(find data/results/cpu -name encoder.pt | wc -l)
if [ "$weights" -gt 0 ]; then
  echo "FAIL: make book on a fresh clone recomputed $weights encoder weight file(s)"; exit 1
fi
MAE_STUDY_HTML="$d/_build/cpu/_build/html" .venv/bin/python -m pytest -q -p no:cacheprovider "$d/tests/book"
echo "fresh clone of $rev: make book built the cpu book from committed results, computing nothing"

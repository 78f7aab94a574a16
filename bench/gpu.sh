#!/usr/bin/env bash
# The GPU figures bench/README.md asks for, in one go, each step time-boxed so that a
# machine lent for a few minutes still returns what finished:
#   1. `kdigits submit --model best` as a user runs it (wall time, peak memory, score);
#   2. bench/train_speed.py for `cnn` and `cnn-fast` on each backend in BACKENDS;
#   3. bench/best_frontier.py for as many of best's members as the remaining time allows.
# Needs kdigits' dependencies and a GPU build of each backend (README, "Backends and GPUs")
# and the built-in data (`kdigits data fetch`). Results go to OUT (default bench/results/gpu).
#
#   bash bench/gpu.sh                     # about 10 minutes
#   BUDGET=3600 MEMBERS=15 bash bench/gpu.sh
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-bench/results/gpu}
BUDGET=${BUDGET:-560}              # seconds for the whole script
MEMBERS=${MEMBERS:-15}
BACKENDS=${BACKENDS:-jax torch}
FIRST=${FIRST_BACKEND:-jax}        # the backend of steps 1 and 3
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
start=$SECONDS
left() { echo $(( BUDGET - (SECONDS - start) )); }
box() { local t; t=$(left); (( t > $1 )) && t=$1; (( t < 1 )) && t=1; echo "$t"; }

{ nvidia-smi -L; nproc; } > "$OUT/machine.txt" 2>&1

KERAS_BACKEND=$FIRST $PYTHON bench/peak.py "$OUT/submit-best.json" -- \
  timeout "$(box 300)" $PYTHON -m kaggle_digits submit --model best --force \
  --out "$OUT/submission-best.csv" > "$OUT/submit-best.log" 2>&1
echo "submit best: exit $? at $((SECONDS - start)) s"; tail -4 "$OUT/submit-best.log"

for backend in $BACKENDS; do
  timeout "$(box 150)" $PYTHON bench/train_speed.py --models cnn-fast --backends "$backend" \
    --out "$OUT/train_speed-$backend.json" > "$OUT/train_speed-$backend.log" 2>&1
  echo "train_speed $backend: exit $? at $((SECONDS - start)) s"
  grep -E "after .* of training" "$OUT/train_speed-$backend.log"
done

KERAS_BACKEND=$FIRST timeout "$(box "$BUDGET")" $PYTHON bench/best_frontier.py \
  --members "$MEMBERS" --label "gpu-$FIRST" > "$OUT/frontier.log" 2>&1
echo "frontier: exit $? at $((SECONDS - start)) s"; grep "member(s)" "$OUT/frontier.log"
cp bench/results/best_frontier-gpu-"$FIRST".json "$OUT/" 2>/dev/null
exit 0

#!/usr/bin/env bash
# One command on a CUDA machine: train the FWL model and the plain-transformer baseline side by side
# on the same shards for the same wall-clock budget, then ship both as weight parts of <16 MiB.
#   OUT=/path/for/results BUDGET_MIN=7 bash training/gpu_run.sh
# Needs only python3 with torch and numpy (the shards travel as data/shards).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to a folder for the results}
BUDGET_MIN=${BUDGET_MIN:-7}
RUNS=${RUNS:-runs/gpu}
DATA=${DATA:-data/shards}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$RUNS"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
common=(--preset gpu --data "$DATA" --budget-min "$BUDGET_MIN" --ckpt-every-min 1 --eval-every-min 2)
python3 training/train.py "${common[@]}" --out "$RUNS/fwl" >"$OUT/fwl.log" 2>&1 &
fwl=$!
python3 training/train.py "${common[@]}" --no-fwl --out "$RUNS/baseline" >"$OUT/baseline.log" 2>&1 &
base=$!
wait $fwl; echo "fwl exit $?"
wait $base; echo "baseline exit $?"
for run in fwl baseline; do
  [ -f "$RUNS/$run/checkpoint.pt" ] && python3 training/pack_weights.py split "$RUNS/$run/checkpoint.pt" "$OUT/$run"
done
for log in "$OUT"/fwl.log "$OUT"/baseline.log; do echo "== $log"; tail -n 4 "$log"; done

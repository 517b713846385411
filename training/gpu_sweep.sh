#!/usr/bin/env bash
# One call on a lent CUDA machine: train the no-FWL baseline and several FWL variants side by side
# on one GPU for the same wall-clock budget, pick the FWL variant by VALID bits per byte (whole
# file), score the test split for the pick and the baseline with evaluate_suite.py's score stage,
# and ship what fits in the 64 MiB that comes back (weights as fp16, one file each).
#   OUT=/path BUDGET_MIN=5 bash training/gpu_sweep.sh
# Carry data/shards-gpu (training/shards.py --xz) and data/gpu-eval (valid.jsonl and test.jsonl of
# data/corpus). The shipped ONNX graphs must be set aside for the call (64 MiB travel limit).
# VARIANTS: name:train.py arguments, separated by ';'. DEADLINE_S: stop scoring by then.
# SEQUENTIAL=1 trains the runs one after another, each with the GPU to itself: measured on an H200
# (batch 32 x 1,024), the FWL ran at about 700k tokens/s alone, 380k beside the baseline and 173k
# with three other runs, so for one FWL variant and the baseline, sequential runs see more tokens:
#   SEQUENTIAL=1 VARIANTS="fwl-h256:--fwl-half-life 256" BUDGET_MIN=3 bash training/gpu_sweep.sh
# BASELINE_FROM=path reuses a carried baseline checkpoint (the fp16 weights an earlier call shipped)
# instead of training one: the whole call then goes to the FWL variants, e.g. a larger body:
#   BASELINE_FROM=runs/my-sweep/baseline.pt VARIANTS="fwl-d320:--d-model 320 --n-head 5" ...
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to a folder for the results}
BUDGET_MIN=${BUDGET_MIN:-5}
DEADLINE_S=${DEADLINE_S:-560}
RUNS=${RUNS:-runs/sweep}
DATA=${DATA:-data/shards-gpu}
EVAL=${EVAL:-data/gpu-eval}
DEVICE=${DEVICE:-cuda}
SHARDS=${SHARDS:-7}  # processes scoring the test split at once
EXTRA=${EXTRA:-}  # more train.py arguments for every run (last, so they win)
BASELINE_FROM=${BASELINE_FROM:-}
VARIANTS=${VARIANTS:-"fwl-h256:--fwl-half-life 256;fwl-h512:--fwl-half-life 512 --seq-len 2048 --batch 16;fwl-h1024:--fwl-half-life 1024 --seq-len 2048 --batch 16"}
export PYTHONUNBUFFERED=1
start=$(date +%s)
left() {  # seconds until the deadline minus $1, at least 5 (timeout 0 would mean no limit)
  local s=$((DEADLINE_S - ($(date +%s) - start) - $1))
  echo $((s < 5 ? 5 : s))
}
mkdir -p "$OUT" "$RUNS"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" || exit 1
# What the onnxruntime-node CUDA provider would need here (reported, not required).
{ command -v node && node --version; python3 -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"; ls /usr/local/cuda*/lib64/libcudart.so* /usr/lib/x86_64-linux-gnu/libcudnn.so* 2>/dev/null | head; } >"$OUT/probe.txt" 2>&1
common=(--preset gpu --data "$DATA" --budget-min "$BUDGET_MIN" --ckpt-every-min 1 --eval-every-min 2)
names=(baseline)
if [ -n "$BASELINE_FROM" ]; then
  mkdir -p "$RUNS/baseline" && cp "$BASELINE_FROM" "$RUNS/baseline/checkpoint.pt" || exit 1
  echo "baseline reused from $BASELINE_FROM, not trained" >"$RUNS/baseline.log"
else
  # shellcheck disable=SC2086  # EXTRA is split into words on purpose
  python3 training/train.py "${common[@]}" --no-fwl $EXTRA --out "$RUNS/baseline" >"$RUNS/baseline.log" 2>&1 &
  [ "${SEQUENTIAL:-0}" = 1 ] && wait
fi
IFS=';' read -ra specs <<<"$VARIANTS"
for spec in "${specs[@]}"; do
  name=${spec%%:*}
  # shellcheck disable=SC2086  # the variant's arguments are split into words on purpose
  python3 training/train.py "${common[@]}" ${spec#*:} $EXTRA --out "$RUNS/$name" >"$RUNS/$name.log" 2>&1 &
  [ "${SEQUENTIAL:-0}" = 1 ] && wait
  names+=("$name")
done
wait
echo "trained in $(($(date +%s) - start)) s"
for name in "${names[@]}"; do tail -n 2 "$RUNS/$name.log"; done
tar -C "$RUNS" -czf "$OUT/logs.tar.gz" --exclude=suite --exclude='*/checkpoint.pt' .

# Valid split, files of >= 1,000 tokens, every FWL variant at once.
tok=models/fw-code-small/tokenizer.json
for name in "${names[@]:1}"; do
  budget=$(left 75)  # leaves about a minute for the test scores (53 s on an H200, 7 processes)
  timeout "$((budget > 100 ? 100 : budget))" python3 training/evaluate.py --checkpoint "$RUNS/$name/checkpoint.pt" \
    --tokenizer $tok --corpus "$EVAL" --shards "$DATA" --split valid --min-tokens 1000 \
    --device "$DEVICE" --json "$RUNS/$name.valid.json" >"$RUNS/$name.valid.log" 2>&1 &
done
wait
echo "valid scored at $(($(date +%s) - start)) s"
pick=$(python3 - "$RUNS" "${names[@]:1}" <<'PY'
import json, sys
from pathlib import Path
runs, names = Path(sys.argv[1]), sys.argv[2:]
scores = {}
for n in names:
    p = runs / f"{n}.valid.json"
    if p.exists():
        r = json.loads(p.read_text())
        scores[n] = r["adapted_whole_file"]["bits_per_byte"]
        print(n, {m: round(r[m]["bits_per_byte"], 4) for m in ("static", "adapted", "adapted_whole_file")}, file=sys.stderr)
print(min(scores, key=scores.get) if scores else names[0])
PY
)
echo "pick (lowest valid whole-file bits per byte): $pick"
echo "$pick" >"$RUNS/pick.txt"

ship() {  # run name: fp16 weights and metadata in one file
  python3 - "$RUNS/$1/checkpoint.pt" "$OUT/$1.pt" <<'PY'
import sys
import torch
c = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
c["model"] = {k: t.half() if t.is_floating_point() else t for k, t in c["model"].items()}
c.pop("opt", None)
torch.save(c, sys.argv[2])
PY
}
ship "$pick"  # fp16: 15 MB a model, so three fit beside the scores
[ -n "$BASELINE_FROM" ] || ship baseline  # a reused one is already here
[ "$pick" = fwl-h256 ] || [ ! -f "$RUNS/fwl-h256/checkpoint.pt" ] || ship fwl-h256

# The test split for the pick and the baseline: per-token NLL arrays, the suite's score stage.
suite=$RUNS/suite
mkdir -p "$suite"
last=$((SHARDS - 1))
for k in $(seq 0 "$last"); do
  stages=score
  [ "$k" = "$last" ] && stages=score,valid  # the valid subset for the later mix stage
  timeout "$(left 20)" python3 training/evaluate_suite.py --stages $stages --shard "$k/$SHARDS" \
    --checkpoint "$RUNS/$pick/checkpoint.pt" --baseline "$RUNS/baseline/checkpoint.pt" \
    --tokenizer $tok --corpus "$EVAL" --out "$suite" --device "$DEVICE" >"$RUNS/score$k.log" 2>&1 &
done
wait
echo "test scored at $(($(date +%s) - start)) s: $(ls "$suite/test" | wc -l) files"
# Files over 16 MiB do not come back: the scores travel in parts (cat them together to unpack).
XZ_OPT=-T0 tar -C "$suite" -cJf "$RUNS/suite-scores.tar.xz" test valid_static.npz valid_fwl.npz 2>/dev/null
split -b 15M "$RUNS/suite-scores.tar.xz" "$OUT/suite-scores.part."
# The logs leave out the scores' archive (it made them too large to come back on 2026-11-27).
tar -C "$RUNS" -czf "$OUT/logs.tar.gz" --exclude=suite --exclude='*/checkpoint.pt' --exclude=suite-scores.tar.xz .
ls -l "$OUT"

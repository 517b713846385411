#!/usr/bin/env bash
# One command on a CUDA machine: train the FWL model and the plain-transformer baseline on the same
# shards for the same wall-clock budget (bf16, the `gpu` preset), then ship both as weight parts of
# <16 MiB.
#   OUT=/path/for/results BUDGET_MIN=7 bash training/gpu_run.sh
# DATA (default data/shards-gpu) holds what training/shards.py --xz wrote: meta.json, tokenizer.json,
# train.bin.xz and valid.bin.xz (or plain .bin files); carry it to the GPU machine.
# One GPU: the two runs share it, side by side. N > 1 GPUs: the FWL run takes the first ceil(N/2),
# the baseline the rest, each under torchrun (DistributedDataParallel, --batch per GPU).
# EXTRA: more train.py arguments for both runs, e.g. EXTRA="--d-model 320 --n-layer 8".
# Needs only python3 with torch and numpy (lzma is in the standard library).
# From a session with a lent GPU (one call, ~8 of the 15 device-minutes; the tracked tree plus the
# carry must stay under 64 MiB, so set the shipped ONNX graphs (94 MB) aside for the call):
#   run(command="OUT=$OUT BUDGET_MIN=7 bash training/gpu_run.sh", carry=["data/shards-gpu"],
#       timeout_s=600)
# then: .venv/bin/python training/pack_weights.py join <files_at>/fwl runs/gpu-v2/fwl/checkpoint.pt
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to a folder for the results}
BUDGET_MIN=${BUDGET_MIN:-7}
RUNS=${RUNS:-runs/gpu}
DATA=${DATA:-data/shards-gpu}
EXTRA=${EXTRA:-}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$RUNS"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import lzma, numpy, torch; print('torch', torch.__version__, 'gpus', torch.cuda.device_count())" || exit 1
[ -f "$DATA/meta.json" ] || { echo "no $DATA/meta.json: carry the shards"; exit 1; }
NGPU=$(python3 -c "import torch; print(torch.cuda.device_count())")
# shellcheck disable=SC2206  # EXTRA is split into words on purpose
common=(--preset gpu --data "$DATA" --budget-min "$BUDGET_MIN" --ckpt-every-min 1 --eval-every-min 2 $EXTRA)

launch() {  # name, comma-separated GPU ids, more train.py arguments
  local name=$1 gpus=$2
  shift 2
  local n
  n=$(awk -F, '{print NF}' <<<"$gpus")
  if [ "$n" -gt 1 ]; then
    CUDA_VISIBLE_DEVICES=$gpus python3 -m torch.distributed.run --standalone --nproc_per_node="$n" \
      training/train.py "${common[@]}" "$@" --out "$RUNS/$name" >"$OUT/$name.log" 2>&1
  else
    CUDA_VISIBLE_DEVICES=$gpus python3 training/train.py "${common[@]}" "$@" --out "$RUNS/$name" \
      >"$OUT/$name.log" 2>&1
  fi
}

if [ "$NGPU" -le 1 ]; then
  fwl_gpus=0 base_gpus=0
else
  half=$(((NGPU + 1) / 2))
  fwl_gpus=$(seq -s, 0 $((half - 1)))
  base_gpus=$(seq -s, "$half" $((NGPU - 1)))
fi
launch fwl "$fwl_gpus" &
fwl=$!
launch baseline "$base_gpus" --no-fwl &
base=$!
wait $fwl
echo "fwl exit $?"
wait $base
echo "baseline exit $?"
# Both models and the two logs must come back in 8 files of 16 MiB, 64 MiB in all: weights over
# 30 MiB in fp32 (about 7.8M parameters) travel as fp16 (join + load_state_dict cast them back).
for run in fwl baseline; do
  ckpt="$RUNS/$run/checkpoint.pt"
  [ -f "$ckpt" ] || continue
  python3 - "$ckpt" "$RUNS/$run/ship.pt" <<'PY'
import sys

import torch

c = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
n = sum(t.numel() * t.element_size() for t in c["model"].values())
if n > 30 * 2**20:
    c["model"] = {k: t.half() if t.is_floating_point() else t for k, t in c["model"].items()}
    print(f"{sys.argv[1]}: {n / 2**20:.1f} MiB of fp32 weights, shipped as fp16")
c.pop("opt", None)
torch.save(c, sys.argv[2])
PY
  python3 training/pack_weights.py split "$RUNS/$run/ship.pt" "$OUT/$run" --max-mib 15
done
for log in "$OUT"/fwl.log "$OUT"/baseline.log; do
  echo "== $log"
  tail -n 4 "$log"
done
ls -l "$OUT"

#!/usr/bin/env bash
# Runs the runtime on onnxruntime-node's CUDA execution provider and on the CPU provider of the same
# machine, for docs/cuda.md: which provider really ran, whether the two agree (bits per
# byte of the unit-test fixtures) and the benchmark on each.
#   OUT=/tmp/cuda-check bash scripts/cuda-check.sh
# Needs an NVIDIA GPU, CUDA 13 and cuDNN 9 libraries (the pip packages nvidia-cublas, nvidia-cuda-runtime,
# nvidia-cudnn-cu13 ... that a cu130 PyTorch installs are found and put on the loader path), the built
# out/ (npm run build, out/bench.js from npm run bench) and libonnxruntime_providers_cuda.so and
# libonnxruntime_providers_shared.so beside the binding in node_modules/onnxruntime-node/bin/napi-v6/linux/x64/.
# NODE: the node binary (default: node on the PATH).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to a folder for the results}
NODE=${NODE:-node}
mkdir -p "$OUT"
ort=node_modules/onnxruntime-node/bin/napi-v6/linux/x64

sp=$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null)
if [ -n "$sp" ] && [ -d "$sp/nvidia" ]; then
  libs=$(find "$sp/nvidia" -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd:)
  export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "node $($NODE --version)"
  echo "libraries the CUDA provider links to that the loader cannot find (none is good):"
  ldd "$ort/libonnxruntime_providers_cuda.so" | grep 'not found'
  echo "cuDNN: $(find / -name 'libcudnn.so.9*' 2>/dev/null | head -1)"
} 2>&1

# Bits per byte and line completion on both providers (fp32 graphs: the same numbers are expected).
for p in cuda cpu; do
  "$NODE" out/cli.js eval test/unit/fixtures --provider "$p" --json --verbose --lines 2 \
    >"$OUT/eval-$p.json" 2>"$OUT/eval-$p.log"
  echo "eval $p: exit $?, $(tr -d '\n' <"$OUT/eval-$p.json" | head -c 600)"
  grep -i 'cuda\|provider' "$OUT/eval-$p.log" | head -5
done

# The benchmark on each provider with the fp32 graphs.
for p in cuda cpu; do
  timeout 110 "$NODE" --expose-gc out/bench.js --json --provider "$p" --precision fp32 \
    >"$OUT/bench-$p.json" 2>"$OUT/bench-$p.log"
  echo "bench $p: exit $?"
  tail -n 3 "$OUT/bench-$p.log"
done

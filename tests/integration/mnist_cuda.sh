#!/usr/bin/env bash
# mnist.train and mnist.embed on a GPU match the CPU path: the same data and
# seed trained for 300 steps on each, embedded, indexed and scored by kNN; the
# accuracies agree within a tolerance, and the GPU-trained model gives the
# same embeddings on the GPU (bfloat16 autocast) as on the CPU. Skipped where
# there is no GPU or libtorch was built without CUDA, also under CI=true: a GPU
# is not something scripts/setup.sh installs. Progress lines reach
# CTFLOW_METRICS on both paths.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

use_mnist
ls /dev/nvidia[0-9]* > /dev/null 2>&1 || skip "no NVIDIA GPU here (/dev/nvidia0 is absent)"

step() {  # step NAME OUT [--gpus N] --param ...: runs one plugin, its log in OUT.log
  local plugin="$1" out="$2"
  shift 2
  CTFLOW_METRICS="$out.metrics" ctflow step --plugin "$plugin" --out "$out" "$@" 2> "$out.log" ||
    fail "$plugin failed: $(tail -5 "$out.log")"
}

# 12,800 training images: 100 batches of 128 an epoch, 3 epochs = 300 steps.
step mnist.ingest "$T/data" --param source="$DATA" --param limit=14222 --param val_fraction=0.1
DS="$T/data/artifacts/dataset"

step mnist.train "$T/gpu-model" --gpus 1 --param dataset="$DS" --param epochs=3 --param seed=7
grep -q "device cuda" "$T/gpu-model.log" ||
  skip "libtorch here is CPU-only (see the README: building against a CUDA libtorch): $(grep -m1 'training on' "$T/gpu-model.log")"
step mnist.train "$T/cpu-model" --param dataset="$DS" --param epochs=3 --param seed=7
grep -q "device cpu" "$T/cpu-model.log" || fail "the step without a GPU did not train on the CPU"
pass "trained 300 steps on the GPU and on the CPU"

for dev in gpu cpu; do
  gpus=0
  [ "$dev" = gpu ] && gpus=1
  step mnist.embed "$T/$dev-emb" --gpus "$gpus" --param model="$T/$dev-model/artifacts/model" --param dataset="$DS"
  step mnist.index "$T/$dev-index" --param embeddings="$T/$dev-emb/artifacts/embeddings" --param type=flat
  step mnist.analyze "$T/$dev-analyze" --param index="$T/$dev-index/artifacts/index" \
    --param embeddings="$T/$dev-emb/artifacts/embeddings" --param k=10
done
# The GPU-trained model embedded on the CPU, for the same-model comparison.
step mnist.embed "$T/gpu-model-on-cpu" --param model="$T/gpu-model/artifacts/model" --param dataset="$DS"

"$PY" - "$T" <<'PY' || fail "the GPU path does not match the CPU path"
import json, sys
import numpy as np
t = sys.argv[1]
acc = {d: json.load(open(f"{t}/{d}-analyze/outputs/accuracy")) for d in ("gpu", "cpu")}
print(f"kNN accuracy after 300 steps: gpu {acc['gpu']:.4f}, cpu {acc['cpu']:.4f}")
ok = abs(acc["gpu"] - acc["cpu"]) <= 0.03 and acc["gpu"] >= 0.6
a = np.load(f"{t}/gpu-emb/artifacts/embeddings/test.npy")
b = np.load(f"{t}/gpu-model-on-cpu/artifacts/embeddings/test.npy")
cos = (a * b).sum(1)
print(f"the GPU model's test embeddings, GPU (bf16) against CPU (fp32): cosine min {cos.min():.4f}, mean {cos.mean():.4f}")
ok = ok and a.dtype == np.float32 and cos.mean() >= 0.995 and cos.min() >= 0.95
sys.exit(0 if ok else 1)
PY
pass "GPU and CPU agree (accuracy within 0.03, embeddings within bf16 rounding)"

for f in gpu-model cpu-model gpu-emb; do
  assert_contains "$(tail -1 "$T/$f.metrics")" '"progress"' "$f: progress in CTFLOW_METRICS"
done
pass "train and embed report progress on both paths"

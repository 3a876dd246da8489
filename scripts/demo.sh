#!/usr/bin/env bash
# The quickstart: install, build, and run the MNIST continuous-training workflow.
# Extra arguments go to `ctflow run` (e.g. -p epochs=1 -p limit=5000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
if [[ -f workflows/mnist-ct.yaml && -f build/plugins/libctflow_mnist.so ]]; then
  exec ./build/ctflow run workflows/mnist-ct.yaml "$@"
fi
echo "demo: the MNIST plugins are not built here; running the hello example instead"
exec ./build/ctflow run workflows/examples/hello.yaml "$@"

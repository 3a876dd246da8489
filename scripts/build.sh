#!/usr/bin/env bash
# Configures and builds ctflow into build/ (Release with debug info, Ninja).
set -euo pipefail
cd "$(dirname "$0")/.."
# Compiler cache keyed on paths relative to the checkout, so clones share it.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCTFLOW_WERROR=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"

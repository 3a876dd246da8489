#!/usr/bin/env bash
# Configures and builds ctflow into build/ (Release with debug info, Ninja).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCTFLOW_WERROR=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"

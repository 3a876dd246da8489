#!/usr/bin/env bash
# The sanitizer build: clang with ASan+UBSan in build-asan/, builds the unit
# tests (and what they run: the ctflow binary and the core plugins) and runs
# `ctest -L unit` there. Any sanitizer report fails the test that caused it.
#   SANITIZE_JOBS=2 (parallel compile jobs, default 2)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SANITIZE_BUILD_DIR:-$root/build-asan}"
jobs="${SANITIZE_JOBS:-2}"

# -O1 keeps sanitized tests quick without the compile cost of -O2.
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
  -DCTFLOW_SANITIZE=ON -DCTFLOW_MNIST=OFF -DCTFLOW_IOT=OFF -DCTFLOW_TESTS=ON \
  -DCMAKE_CXX_FLAGS=-Wno-unknown-warning-option >/dev/null

# Only the unit tests and their runtime needs, not every tool and benchmark.
targets=(ctflow ctflow_core)
for src in "$root"/tests/unit/*_test.cc; do
  targets+=("$(basename "$src" .cc)")
done
# Keep going past a broken target so every test that can be built still runs;
# the script fails at the end if anything did not build.
build_ok=1
cmake --build "$build" --target "${targets[@]}" -j "$jobs" -- -k 0 || build_ok=0

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
tests_ok=1
ctest --test-dir "$build" -L unit --output-on-failure -j "$jobs" || tests_ok=0
if [ "$build_ok" = 0 ]; then echo "sanitize: the build failed (see above)" >&2; fi
[ "$build_ok" = 1 ] && [ "$tests_ok" = 1 ]

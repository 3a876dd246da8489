#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan+UBSan) in build-fuzz/ and runs each
# for FUZZ_SECONDS (default 20) over a temporary copy of its seed corpus
# tests/fuzz/corpus/<target>/, so the repository is never modified.
# Exits non-zero on any crash, leak, timeout (> 5 s for one input) or OOM;
# the reproducer is left in build-fuzz/fuzz-artifacts/<target>/.
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh
#   FUZZ_JOBS=2 (parallel compile jobs, default 2)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-20}"
jobs="${FUZZ_JOBS:-2}"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCTFLOW_FUZZ=ON -DCTFLOW_SANITIZE=ON -DCTFLOW_MNIST=OFF -DCTFLOW_IOT=OFF -DCTFLOW_TESTS=OFF \
  -DCMAKE_CXX_FLAGS=-Wno-unknown-warning-option >/dev/null
cmake --build "$build" --target ctflow_fuzzers -j "$jobs"

shopt -s nullglob
fuzzers=("$build"/fuzz/fuzz_*)
if [ ${#fuzzers[@]} -eq 0 ]; then
  echo "fuzz-smoke: no fuzz_* executables in $build/fuzz" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for exe in "${fuzzers[@]}"; do
  [ -x "$exe" ] || continue
  name="$(basename "$exe")"
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [ -d "$root/tests/fuzz/corpus/$name" ]; then
    cp -r "$root/tests/fuzz/corpus/$name/." "$corpus/"
  fi
  artifacts="$build/fuzz-artifacts/$name"
  mkdir -p "$artifacts"
  args=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  if [ -f "$root/tests/fuzz/$name.dict" ]; then
    args+=(-dict="$root/tests/fuzz/$name.dict")
  fi
  echo "== $name: ${seconds}s"
  if "$exe" "${args[@]}" "$corpus" >"$work/$name.log" 2>&1; then
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$work/$name.log" | tail -n 2 || true
  else
    echo "fuzz-smoke: $name FAILED; log tail:" >&2
    tail -n 60 "$work/$name.log" >&2
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz-smoke: failed: ${failed[*]} (reproducers in $build/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz-smoke: all ${#fuzzers[@]} fuzzers passed"

#!/usr/bin/env bash
# The ThreadSanitizer build: clang with -fsanitize=thread in build-tsan/. Builds
# the unit tests of the code that runs on several threads (the store, the
# scheduler: whichever of TSAN_TESTS exist) and the engine's in-process
# integration test (plugin steps on the engine's worker threads), and runs them.
# Any ThreadSanitizer report, in a test or in a process it starts, fails the
# stage: every report is also written under build-tsan/tsan-reports/.
#   TSAN_JOBS=2 (parallel compile jobs, default 2)
#   TSAN_BUILD_DIR (default build-tsan)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TSAN_BUILD_DIR:-$root/build-tsan}"
jobs="${TSAN_JOBS:-2}"
# tests/unit/<pattern>.cc; a pattern that matches no file is left out, so a
# test added later (scheduler_test) joins when it lands.
unit_patterns=(store_*_test artifact_store_test scheduler_test scheduler_*_test)
# tests/integration/<name>.sh that run here too.
slow_tests=(engine_inprocess)

command -v clang++ > /dev/null || {
  echo "tsan: clang++ is not installed (scripts/setup.sh --test installs clang)" >&2
  exit 1
}

tsan="-fsanitize=thread -fno-omit-frame-pointer"
# -O1 keeps sanitized tests quick without the compile cost of -O2.
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
  -DCTFLOW_MNIST=OFF -DCTFLOW_IOT=OFF -DCTFLOW_TESTS=ON \
  -DCMAKE_C_FLAGS="$tsan" -DCMAKE_CXX_FLAGS="$tsan -Wno-unknown-warning-option" \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=thread > /dev/null

shopt -s nullglob
unit=()
for pattern in "${unit_patterns[@]}"; do
  for src in "$root"/tests/unit/$pattern.cc; do
    [ -f "$src" ] || continue  # a pattern without wildcards stays as it is
    name="$(basename "$src" .cc)"
    [[ " ${unit[*]} " == *" $name "* ]] || unit+=("$name")
  done
done
shopt -u nullglob
if [ ${#unit[@]} -eq 0 ]; then
  echo "tsan: no unit test matches ${unit_patterns[*]} in tests/unit" >&2
  exit 1
fi
echo "tsan: ${unit[*]} ${slow_tests[*]}"

# The in-process test runs the ctflow binary with the core plugins.
targets=(ctflow ctflow_core "${unit[@]}")
build_ok=1
cmake --build "$build" --target "${targets[@]}" -j "$jobs" -- -k 0 || build_ok=0

reports="$build/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
# halt_on_error: the first race ends the process (exit 66), so a test fails
# where it happened; log_path catches reports from processes whose exit code
# a test does not look at (a step's child that was meant to fail).
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1 history_size=4} log_path=$reports/tsan"

regex="^(unit\\.($(IFS='|'; echo "${unit[*]}"))|slow\\.($(IFS='|'; echo "${slow_tests[*]}")))\$"
tests_ok=1
ctest --test-dir "$build" -R "$regex" --output-on-failure -j "$jobs" || tests_ok=0

reported=("$reports"/tsan*)
if [ -e "${reported[0]}" ]; then
  echo "tsan: ThreadSanitizer reports (also in $reports):" >&2
  cat "${reported[@]}" >&2
  tests_ok=0
fi
if [ "$build_ok" = 0 ]; then echo "tsan: the build failed (see above)" >&2; fi
[ "$build_ok" = 1 ] && [ "$tests_ok" = 1 ]

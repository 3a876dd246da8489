#!/usr/bin/env bash
# The whole test suite: install, build, run the sanitizer builds (ASan+UBSan,
# ThreadSanitizer) and the fuzz smoke run, then every ctest test (unit and slow
# tiers). CI runs this. A test that cannot run here is reported Skipped by
# ctest; with CI=true a program the setup installs must be there.
set -euo pipefail
cd "$(dirname "$0")/.."
# Compiler cache keyed on paths relative to the checkout, so clones share it.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
bash scripts/setup.sh --test
bash scripts/build.sh
if [[ -x scripts/sanitize.sh ]] || [[ -f scripts/sanitize.sh ]]; then
  echo "== ASan+UBSan build: unit tests"
  bash scripts/sanitize.sh
fi
echo "== ThreadSanitizer build: store and scheduler tests, in-process steps"
bash scripts/tsan.sh
if [[ -f scripts/fuzz-smoke.sh ]]; then
  echo "== fuzz smoke run"
  FUZZ_SECONDS="${FUZZ_SECONDS:-15}" bash scripts/fuzz-smoke.sh
fi
echo "== ctest: unit and slow tiers"
cd build
ctest --output-on-failure -j2 --timeout 900

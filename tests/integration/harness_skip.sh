#!/usr/bin/env bash
# The contract of lib_need.sh that ctest relies on: a test that cannot run
# exits 77 (ctest: Skipped), except under CI=true where a program the setup
# installs must be there (exit 1: Failed); the shared folder is found next to
# the source tree or through CTFLOW_SHARED_DIR, never at a fixed path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
NEED="$CTFLOW_SOURCE_DIR/tests/integration/lib_need.sh"

# probe ENV... -- SHELL_CODE: runs SHELL_CODE in a fresh bash with lib_need.sh
# sourced and prints its exit code and what it printed.
probe() {
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  local rc=0 out
  out=$(env -u CI -u CTFLOW_SHARED_DIR "${envs[@]}" bash -c "set -euo pipefail; source '$NEED'; $1; echo reached" 2>&1) || rc=$?
  echo "$rc|$out"
}

r=$(probe -- 'need_tool sh')
assert_eq "0|reached" "$r" "need_tool of a program that is there"
r=$(probe -- 'need_tool ctflow-no-such-program some-package')
assert_eq 77 "${r%%|*}" "need_tool of a missing program"
assert_contains "$r" "SKIP: ctflow-no-such-program is not installed" "the skip message"
assert_contains "$r" "apt-get install some-package" "the skip message"
assert_not_contains "$r" reached "a skipped test"
r=$(probe CI=true -- 'need_tool ctflow-no-such-program')
assert_eq 1 "${r%%|*}" "need_tool of a missing program under CI=true"
assert_contains "$r" "FAIL: ctflow-no-such-program is not installed" "the CI failure"
r=$(probe CI=true -- 'need_tool /no/such/path/busybox busybox-static')
assert_eq 1 "${r%%|*}" "need_tool of a missing absolute path under CI=true"
r=$(probe -- 'need_python_module ctflow_no_such_module python3-nothing')
assert_eq 77 "${r%%|*}" "need_python_module of a missing module"
pass "need_tool: present, skipped, failed under CI=true"

# The shared folder: next to the source tree, or CTFLOW_SHARED_DIR.
mkdir -p "$T/tree/src/tests/integration" "$T/tree/shared/argo/examples" "$T/other/argo"
cp "$NEED" "$T/tree/src/tests/integration/"
r=$(probe CTFLOW_SOURCE_DIR="$T/tree/src" -- 'need_shared argo/examples; echo "at $SHARED"')
assert_eq "0|at $T/tree/shared
reached" "$r" "need_shared next to the source tree"
r=$(probe CTFLOW_SOURCE_DIR="$T/tree/src" -- 'need_shared tools/validate-argo')
assert_eq 77 "${r%%|*}" "need_shared of what the shared folder lacks"
assert_contains "$r" "CTFLOW_SHARED_DIR" "the skip message names the variable"
r=$(probe CTFLOW_SOURCE_DIR="$T/other" CI=true -- 'need_shared argo/examples')
assert_eq 77 "${r%%|*}" "need_shared without a shared folder, even under CI=true"
r=$(probe CTFLOW_SOURCE_DIR="$T/other" CTFLOW_SHARED_DIR="$T/tree/shared" -- 'need_shared argo/examples; echo "at $SHARED"')
assert_eq "0|at $T/tree/shared
reached" "$r" "need_shared through CTFLOW_SHARED_DIR"
r=$(probe CTFLOW_SHARED_DIR="$T/other" -- 'need_shared argo/examples')
assert_eq 1 "${r%%|*}" "CTFLOW_SHARED_DIR without what the test needs"
pass "need_shared: next to the source tree, CTFLOW_SHARED_DIR, skipped without"

# A test that skips through lib.sh leaves no scratch folder behind.
r=0
out=$(env -u CI TMPDIR="$T" bash -c "source '$CTFLOW_SOURCE_DIR/tests/integration/lib.sh'; echo \"\$T\" > '$T/scratch'; skip 'nothing to do'") || r=$?
assert_eq 77 "$r" "exit code of a skip through lib.sh"
[ ! -e "$(cat "$T/scratch")" ] || fail "a skipped test kept its scratch folder $(cat "$T/scratch")"
assert_not_contains "$out" FAILED "a skipped test's output"
pass "a skip through lib.sh exits 77 and cleans up"

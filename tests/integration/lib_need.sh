# shellcheck shell=bash
# What a test needs before it can run, and what happens when it is missing.
# Sourced by lib.sh, and by the tests that do not use lib.sh:
#   source "$(dirname "$0")/lib_need.sh"
#
# A test that cannot run exits with SKIP_RC (77, as automake does); ctest
# reports it as Skipped (SKIP_RETURN_CODE in tests/CMakeLists.txt), never as
# Passed. With CI=true a program that scripts/setup.sh installs must be there:
# its absence is a failure, not a skip.

SKIP_RC=77

# skip REASON...: ends the test as Skipped.
skip() {
  echo "SKIP: $*"
  exit "$SKIP_RC"
}

# missing REASON...: something scripts/setup.sh --test provides is missing:
# a failure under CI=true, a skip otherwise.
missing() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL: $* (with CI=true what scripts/setup.sh --test and scripts/build.sh provide must be there)" >&2
    exit 1
  fi
  skip "$*"
}

# need_tool PROGRAM [DEBIAN_PACKAGE]: PROGRAM (a name on PATH, or an absolute
# path) is installed.
need_tool() {
  local prog="$1" pkg="${2:-$1}"
  if [[ $prog == /* ]]; then
    [ -x "$prog" ] && return 0
  else
    command -v "$prog" > /dev/null 2>&1 && return 0
  fi
  missing "$prog is not installed (scripts/setup.sh --test, or apt-get install $pkg)"
}

# need_python_module MODULE DEBIAN_PACKAGE: /usr/bin/python3 can import MODULE.
need_python_module() {
  /usr/bin/python3 -c "import $1" > /dev/null 2>&1 && return 0
  missing "python3 cannot import $1 (scripts/setup.sh --test, or apt-get install $2)"
}

# need_shared SUBPATH: sets SHARED to the folder that holds the material this
# project is checked against (Argo's examples and schema, the Kubeflow proto)
# and checks that SHARED/SUBPATH exists. It is $CTFLOW_SHARED_DIR when set (then
# it must be there: a failure if not), else ../shared next to the source tree
# when that exists, else the test is Skipped: a clone of the repository alone
# does not have it.
need_shared() {
  local src="${CTFLOW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
  if [ -n "${CTFLOW_SHARED_DIR:-}" ]; then
    SHARED="$CTFLOW_SHARED_DIR"
    if [ ! -e "$SHARED/$1" ]; then
      echo "FAIL: CTFLOW_SHARED_DIR is $SHARED, which has no $1" >&2
      exit 1
    fi
    return 0
  fi
  SHARED="$src/../shared"
  [ -e "$SHARED/$1" ] ||
    skip "needs $1 from the shared folder next to the source tree ($SHARED), which this checkout does not have; set CTFLOW_SHARED_DIR to use another"
  SHARED="$(cd "$SHARED" && pwd)"
}

#!/usr/bin/env bash
# Ctrl-C: exit 130, the run Cancelled, no child left; then `ctflow resume`
# finishes it without running what Succeeded again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf cancel <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: cancel}
steps:
  first:
    shell: echo run >> "$T/first.count"
  wait:
    needs: [first]
    shell: |
      echo run >> "$T/wait.count"
      touch "$T/wait.started"
      sh -c 'sleep 300 # $TAG-child' &
      while [ ! -e "$T/release" ]; do sleep 0.1; done
      echo released
  last:
    needs: [wait]
    run: [echo, "{{steps.wait.outputs.result}}"]
YAML
)
# setsid: a session of its own, as a terminal would give it; SIGINT to the run only.
setsid "$CTFLOW_BIN" run "$f" > "$T/run.out" 2> "$T/run.err" &
pid=$!
_BG_PIDS+=("$pid")
wait_for 30 test -e "$T/wait.started" || fail "the step did not start: $(cat "$T/run.err")"
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 130 "$rc" "exit code after Ctrl-C"
id=$(head -n1 "$T/run.out")
ctflow get "$id" -o json > "$T/c.json"
assert_eq Cancelled "$(json_get "$T/c.json" 'd["status"]')" "run status"
assert_eq Succeeded "$(json_get "$T/c.json" 'step(d, "first")["status"]')" first.status
assert_eq Cancelled "$(json_get "$T/c.json" 'step(d, "wait")["status"]')" wait.status
assert_eq Cancelled "$(json_get "$T/c.json" 'step(d, "last")["status"]')" last.status
wait_for 10 none_left "$TAG-chil[d]" || fail "a child of the cancelled step is still running: $(pgrep -af "$TAG-chil[d]")"
assert_eq "Cancelled" "$(ctflow list -o json | json_get - 'd[0]["status"]')" "ctflow list"
pass "Ctrl-C cancels the run and its processes"

# --- resume: first is kept, wait and last run
touch "$T/release"
ctflow resume "$id" > "$T/resume.out" 2> "$T/resume.err" || fail "resume: $(cat "$T/resume.err")"
assert_eq "$id" "$(head -n1 "$T/resume.out")" "resume prints the run id"
ctflow get "$id" -o json > "$T/r.json"
assert_eq Succeeded "$(json_get "$T/r.json" 'd["status"]')" "status after resume"
assert_eq "released" "$(json_get "$T/r.json" 'step(d, "last")["outputs"]["result"]')" last.result
assert_eq 1 "$(wc -l < "$T/first.count" | tr -d ' ')" "runs of first (Succeeded before: not run again)"
assert_eq 2 "$(wc -l < "$T/wait.count" | tr -d ' ')" "runs of wait"
# a Succeeded run cannot be resumed
run_rc rc resume "$id" > /dev/null 2> "$T/err"
assert_eq 2 "$rc" "resume of a Succeeded run"
assert_eq "ctflow: error: run $id already Succeeded: nothing to resume" "$(cat "$T/err")" "resume message"
pass "resume after Ctrl-C"

# --- resume after a failure: fix the cause, resume
f=$(wf fix <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: fix}
steps:
  a:
    shell: echo run >> "$T/a.count"
  b:
    needs: [a]
    shell: test -e "$T/fixed"
YAML
)
run_rc rc run "$f" > "$T/fix.out" 2>/dev/null
assert_eq 1 "$rc" "exit code of the failing run"
id=$(head -n1 "$T/fix.out")
touch "$T/fixed"
run_rc rc resume "${id%?}" > /dev/null 2>&1
assert_eq 0 "$rc" "exit code of resume (by id prefix)"
assert_eq Succeeded "$(ctflow get @latest -o json | json_get - 'd["status"]')" "status after resume"
assert_eq 1 "$(wc -l < "$T/a.count" | tr -d ' ')" "runs of a"
pass "resume after a failure"

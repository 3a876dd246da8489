#!/usr/bin/env bash
# `kill -9` of the engine alone leaves its steps running (they have process
# groups of their own). `ctflow resume` of that run stops them before it runs
# the steps again, so an orphan never writes next to the new attempt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cat > "$T/wf.yaml" <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: orphans}
steps:
  slow:
    shell: |
      if [ -f "$T/mark" ]; then echo again; else touch "$T/mark"; exec sleep 300 # $TAG-orphan
      fi
YAML
setsid "$CTFLOW_BIN" run "$T/wf.yaml" > "$T/run.out" 2>&1 &
ENGINE=$!
_BG_PIDS+=("$ENGINE")
for _ in $(seq 1 200); do [ -f "$T/mark" ] && break; sleep 0.05; done
[ -f "$T/mark" ] || fail "the step did not start: $(cat "$T/run.out")"
sleep 0.3
kill -KILL "$ENGINE"   # the engine only, not its steps
wait "$ENGINE" 2>/dev/null || true
# step_orphans ID: how many processes carry run ID's environment
step_orphans() {
  local n=0 pid
  for pid in $(pgrep -f "sleep 300" || true); do
    tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -q "^CTFLOW_RUN_ID=$1$" && n=$((n + 1))
  done
  echo "$n"
}
id=$("$CTFLOW_BIN" list -o json | json_get - 'd[0]["id"] if isinstance(d, list) else d["runs"][0]["id"]')
[ "$(step_orphans "$id")" -ge 1 ] || fail "expected the step's process to outlive the engine"
"$CTFLOW_BIN" resume "$id" > "$T/resume.out" 2>&1 || fail "resume: $(cat "$T/resume.out")"
assert_contains "$(cat "$T/resume.out")" "stopped 1 process(es) that the previous engine of run $id left running" "resume's warning"
assert_eq 0 "$(step_orphans "$id")" "orphaned step processes after resume"
"$CTFLOW_BIN" get "$id" -o json > "$T/get.json"
assert_eq Succeeded "$(json_get "$T/get.json" 'd["status"]')" "the resumed run"
assert_eq again "$(json_get "$T/get.json" 'step(d, "slow")["outputs"]["result"]')" "the step's second attempt"
pass "resume stops the steps a killed engine left running"

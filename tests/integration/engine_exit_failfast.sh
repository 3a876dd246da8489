#!/usr/bin/env bash
# on_exit after a failure (workflow.status, workflow.failures), fail_fast on
# and off, and a failure handled by a depends branch.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf exit <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: exit}
steps:
  boom:
    shell: echo "it broke" >&2; exit 3
  slow:
    shell: sleep 1; echo slow done
  after-slow:
    needs: [slow]
    run: [echo, never]
on_exit:
  report:
    run: [echo, "{{workflow.status}}"]
  failures:
    needs: [report]
    run: [echo, "{{workflow.failures}}"]
YAML
)
run_rc rc run "$f" -o json > "$T/exit.json" 2>/dev/null
assert_eq 1 "$rc" "exit code"
assert_eq Failed "$(json_get "$T/exit.json" 'd["status"]')" status
assert_eq "step 'boom' Failed" "$(json_get "$T/exit.json" 'd["message"]')" message
assert_eq "exit code 3" "$(json_get "$T/exit.json" 'step(d, "boom")["message"]')" boom.message
# fail_fast (the default): slow was running and finishes; after-slow never starts
assert_eq Succeeded "$(json_get "$T/exit.json" 'step(d, "slow")["status"]')" slow.status
assert_eq Omitted "$(json_get "$T/exit.json" 'step(d, "after-slow")["status"]')" after-slow.status
assert_eq "not started: fail_fast stopped the run after step 'boom' Failed" \
  "$(json_get "$T/exit.json" 'step(d, "after-slow")["message"]')" after-slow.message
assert_eq Failed "$(json_get "$T/exit.json" 'step(d, "report")["outputs"]["result"]')" "workflow.status in on_exit"
assert_eq '[{"message": "exit code 3", "status": "Failed", "step": "boom"}]' \
  "$(json_get "$T/exit.json" 'json.loads(step(d, "failures")["outputs"]["result"])')" "workflow.failures in on_exit"
pass "on_exit after a failure; fail_fast"

# --- fail_fast: false keeps the independent branch going
sed -i 's/^steps:/fail_fast: false\nsteps:/' "$f"
run_rc rc run "$f" -o json > "$T/noff.json" 2>/dev/null
assert_eq 1 "$rc" "exit code"
assert_eq Succeeded "$(json_get "$T/noff.json" 'step(d, "after-slow")["status"]')" after-slow.status
assert_eq "never" "$(json_get "$T/noff.json" 'step(d, "after-slow")["outputs"]["result"]')" after-slow.result
assert_eq Failed "$(json_get "$T/noff.json" 'd["status"]')" status
pass "fail_fast: false"

# --- on_exit after success; needs after a Failed step: Omitted with the reason
f=$(wf handled <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: handled}
fail_fast: false
steps:
  try:
    shell: exit 1
  after:
    needs: [try]
    run: [echo]
  on-fail:
    depends: try.Failed
    run: [echo, "cleaning up"]
YAML
)
run_rc rc run "$f" -o json > "$T/h.json" 2>/dev/null
assert_eq Omitted "$(json_get "$T/h.json" 'step(d, "after")["status"]')" after.status
assert_eq "not run: needed step 'try' Failed" "$(json_get "$T/h.json" 'step(d, "after")["message"]')" after.message
assert_eq Succeeded "$(json_get "$T/h.json" 'step(d, "on-fail")["status"]')" on-fail.status
# `after` ends Omitted: the path try -> after is not handled, so the run Failed (as in Argo)
assert_eq 1 "$rc" "exit code"
assert_eq Failed "$(json_get "$T/h.json" 'd["status"]')" status
sed -i '/^  after:/,/^    run: \[echo\]$/d' "$f"
run_rc rc run "$f" -o json > "$T/h2.json" 2>/dev/null
assert_eq 0 "$rc" "exit code when the only path from the failure is handled"
assert_eq Succeeded "$(json_get "$T/h2.json" 'd["status"]')" status
assert_eq Failed "$(json_get "$T/h2.json" 'step(d, "try")["status"]')" try.status
pass "a failure handled by depends"

# --- the conditional example: `depends: try.Succeeded` of a failed step is
# Omitted; the run still Succeeds because every path after try ran a step
ctflow run "$EXAMPLES/conditional.yaml" -o json > "$T/cond.json" 2>"$T/err" || fail "conditional: $(cat "$T/err")"
assert_eq Omitted "$(json_get "$T/cond.json" 'step(d, "celebrate")["status"]')" celebrate.status
assert_eq Succeeded "$(json_get "$T/cond.json" 'step(d, "recover")["status"]')" recover.status
assert_eq Succeeded "$(json_get "$T/cond.json" 'step(d, "carry-on")["status"]')" carry-on.status
assert_eq Succeeded "$(json_get "$T/cond.json" 'd["status"]')" status
assert_eq "big=Succeeded small=Skipped" "$(json_get "$T/cond.json" 'step(d, "report")["outputs"]["result"]')" report
pass "conditional example"

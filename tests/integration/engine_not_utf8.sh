#!/usr/bin/env bash
# Issue 12's reproducer: a for_each whose items render to bytes that are not
# UTF-8 made the engine abort (json type_error 316) and left the run Running.
# Now that step ends Errored with a message, the run ends Errored, and the
# engine exits as for any failed run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf not-utf8 <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: not-utf8}
fail_fast: false
steps:
  gen:
    shell: printf 'a\377b'
  fan: {for_each: "{{steps.gen.outputs.result}}", shell: "echo {{item}}", needs: [gen]}
  after: {needs: [fan], shell: "true"}
  other: {needs: [gen], run: [echo, "{{steps.gen.outputs.result}}"]}
YAML
)
run_rc rc run "$f" -o json > "$T/run.json" 2>"$T/err"
assert_eq 1 "$rc" "exit code of a failed run (stderr: $(cat "$T/err"))"
assert_not_contains "$(cat "$T/err")" "terminate called" "stderr"
assert_eq Errored "$(json_get "$T/run.json" 'd["status"]')" "run status"
assert_eq Succeeded "$(json_get "$T/run.json" 'step(d, "gen")["status"]')" gen.status
assert_eq Errored "$(json_get "$T/run.json" 'step(d, "fan")["status"]')" fan.status
assert_contains "$(json_get "$T/run.json" 'step(d, "fan")["message"]')" "for_each must give a JSON list; got" fan.message
assert_eq Omitted "$(json_get "$T/run.json" 'step(d, "after")["status"]')" after.status
assert_eq Succeeded "$(json_get "$T/run.json" 'step(d, "other")["status"]')" other.status
id=$(json_get "$T/run.json" 'd["id"]')
assert_eq Errored "$(ctflow get "$id" -o json | json_get - 'd["status"]')" "stored run status"
pass "bytes that are not UTF-8 in a for_each end that step Errored; the run ends Errored"

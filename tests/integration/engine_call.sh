#!/usr/bin/env bash
# Call steps with the real binary (docs/dag-growth.md): a recursive template
# (a countdown) expanded level by level as the run goes, seen in `ctflow get`;
# recursion past max_depth; resume that re-expands a call and keeps what
# Succeeded inside it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# --- a countdown: each level prints n and calls itself with n-1 until n is 1
f=$(wf countdown <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: countdown}
params: {n: 4}
templates:
  countdown:
    params: {n: {type: int}}
    steps:
      dec:
        shell: echo $(( {{params.n}} - 1 ))
      next:
        needs: [dec]
        when: params.n > 1
        call: countdown
        with: {n: "{{steps.dec.outputs.result}}"}
    outputs: {n: "{{params.n}}", below: "{{steps.dec.outputs.result}}"}
steps:
  go:
    call: countdown
    with: {n: "{{params.n}}"}
  after:
    needs: [go]
    run: [echo, "from {{steps.go.outputs.n}} to {{steps.go.outputs.below}}"]
YAML
)
ctflow lint "$f" > /dev/null 2> "$T/err" || fail "lint: $(cat "$T/err")"
ctflow run "$f" > "$T/run.out" 2> "$T/err" || fail "countdown run: $(cat "$T/err")"
ctflow get @latest -o json > "$T/get.json"
assert_eq Succeeded "$(json_get "$T/get.json" 'd["status"]')" "run status"
level=go
for n in 4 3 2 1; do
  assert_eq Succeeded "$(json_get "$T/get.json" "step(d, '$level')['status']")" "$level status"
  assert_eq "$((n - 1))" "$(json_get "$T/get.json" "step(d, '$level/dec')['outputs']['result']")" "$level/dec result"
  assert_eq "$n" "$(json_get "$T/get.json" "step(d, '$level')['outputs']['n']")" "$level outputs.n"
  level="$level/next"
done
assert_eq Skipped "$(json_get "$T/get.json" "step(d, '$level')['status']")" "the call that ends the recursion"
assert_eq "from 4 to 3" "$(json_get "$T/get.json" 'step(d, "after")["outputs"]["result"]')" "after sees go's outputs"
pass "a recursive template runs to its end"

# --- past max_depth: the deepest call is Errored with the chain, the run with it
f=$(wf deep <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: deep}
max_depth: 3
templates:
  forever:
    steps:
      again: {call: forever}
steps:
  go: {call: forever}
YAML
)
run_rc rc run "$f" > /dev/null 2> "$T/err"
assert_eq 1 "$rc" "exit code of a run past max_depth"
ctflow get @latest -o json > "$T/deep.json"
assert_eq Errored "$(json_get "$T/deep.json" 'd["status"]')" "run status past max_depth"
assert_eq "call depth 4 exceeds max_depth 3: forever -> forever -> forever -> forever" \
  "$(json_get "$T/deep.json" 'step(d, "go/again/again")["message"]')" "the message names the chain"
pass "max_depth"

# --- resume: the call is expanded again; its steps that Succeeded are kept
f=$(wf fix <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: fix}
templates:
  t:
    steps:
      a: {shell: echo run >> "$T/a.count"}
      b: {needs: [a], shell: test -e "$T/fixed"}
steps:
  c: {call: t}
YAML
)
run_rc rc run "$f" > "$T/fix.out" 2>/dev/null
assert_eq 1 "$rc" "exit code of the failing run"
id=$(head -n1 "$T/fix.out")
assert_eq "step 'c/b' Failed: exit code 1" "$(ctflow get "$id" -o json | json_get - 'step(d, "c")["message"]')" "c's message"
touch "$T/fixed"
run_rc rc resume "$id" > /dev/null 2>&1
assert_eq 0 "$rc" "exit code of resume"
ctflow get "$id" -o json > "$T/fix.json"
assert_eq Succeeded "$(json_get "$T/fix.json" 'd["status"]')" "status after resume"
assert_eq Succeeded "$(json_get "$T/fix.json" 'step(d, "c/b")["status"]')" "c/b after resume"
assert_eq 1 "$(wc -l < "$T/a.count" | tr -d ' ')" "runs of c/a"
pass "resume re-expands a call and keeps its steps that Succeeded"

# --- resume after SIGKILL: the run is left Running; resume expands the call
# again, keeps the step that Succeeded and runs the one the kill cut short
f=$(wf killed <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: killed}
templates:
  t:
    params: {i: {type: int}}
    steps:
      a:
        shell: echo "{{params.i}}" >> "$T/k.count"
      b:
        needs: [a]
        shell: touch "$T/b.started.{{params.i}}"; test -e "$T/go" || exec sleep 60; echo done
    outputs: {out: "{{steps.b.outputs.result}}"}
steps:
  c: {for_each: [0, 1], call: t, with: {i: "{{item}}"}}
YAML
)
setsid "$CTFLOW_BIN" run "$f" > "$T/killed.out" 2> "$T/killed.err" &
engine=$!
_BG_PIDS+=("$engine")
wait_for 20 test -e "$T/b.started.0" -a -e "$T/b.started.1" || fail "the b steps did not start: $(cat "$T/killed.err")"
set +e
{
  kill -KILL -- "-$engine"
  pkill -KILL -s "$engine"
  wait "$engine"
} 2> /dev/null
set -e
id=$(ctflow list -o json | json_get - '[r["id"] for r in d if r["workflow"] == "killed"][0]')
assert_eq Running "$(ctflow get "$id" -o json | json_get - 'd["status"]')" "a killed run is left Running"
touch "$T/go"
run_rc rc resume "$id" > /dev/null 2> "$T/err"
assert_eq 0 "$rc" "exit code of resume after SIGKILL: $(cat "$T/err")"
ctflow get "$id" -o json > "$T/killed.json"
assert_eq Succeeded "$(json_get "$T/killed.json" 'd["status"]')" "status after resume"
assert_eq '["done", "done"]' "$(json_get "$T/killed.json" 'step(d, "c")["outputs"]["out"]')" "c's outputs after resume"
assert_eq 2 "$(wc -l < "$T/k.count" | tr -d ' ')" "runs of the a steps (kept across the kill)"
pass "resume after SIGKILL keeps what Succeeded inside a call"

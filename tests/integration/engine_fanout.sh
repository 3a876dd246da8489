#!/usr/bin/env bash
# for_each: outputs as JSON lists, for_each from a ref, the per-step
# parallelism bound and the workflow's parallelism bound.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# max_overlap FILE: the most intervals running at once, from "start T" / "end T" lines.
max_overlap() {
  "$PY" -c '
import sys
ev = []
for line in open(sys.argv[1]):
    kind, t = line.split()[:2]
    ev.append((float(t), 0 if kind == "end" else 1))
ev.sort()
cur = best = 0
for _, k in ev:
    cur += 1 if k else -1
    best = max(best, cur)
print(best)' "$1"
}

f=$(wf fan <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: fan}
params:
  log: {type: path}
steps:
  list:
    shell: |
      echo '[{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}]'
  sq:
    needs: [list]
    for_each: "{{steps.list.outputs.result}}"
    parallelism: 2
    shell: |
      echo "start $(date +%s.%N) $CTFLOW_STEP" >> "$CTFLOW_PARAM_LOG"
      sleep 0.4
      echo $((CTFLOW_PARAM_N * CTFLOW_PARAM_N)) > sq.txt
      echo "end $(date +%s.%N) $CTFLOW_STEP" >> "$CTFLOW_PARAM_LOG"
    with: {n: "{{item.n}}", log: "{{params.log}}"}
    outputs:
      parameters: {sq: {path: sq.txt}}
  total:
    needs: [sq]
    run: [python3, -c, "import json, sys; l = json.loads(sys.argv[1]); print(type(l).__name__, sum(map(int, l)))", "{{steps.sq.outputs.sq}}"]
  literal:
    for_each: [a, "b c", 3]
    run: [echo, "{{item}}"]
  count:
    needs: [literal]
    run: [echo, "{{steps.literal.outputs.result}}"]
YAML
)
ctflow run "$f" -p "log=$T/fan.log" -o json > "$T/fan.json" 2>"$T/err" || fail "fan run: $(cat "$T/err")"
assert_eq Succeeded "$(json_get "$T/fan.json" 'd["status"]')" status
assert_eq '["1", "4", "9", "16", "25"]' "$(json_get "$T/fan.json" 'step(d, "sq")["outputs"]["sq"]')" "sq outputs (a list, in order)"
for i in 0 1 2 3 4; do
  assert_eq Succeeded "$(json_get "$T/fan.json" "step(d, 'sq[$i]')['status']")" "sq[$i].status"
done
assert_eq "list 55" "$(json_get "$T/fan.json" 'step(d, "total")["outputs"]["result"]')" "a downstream step reads the list"
assert_eq '["a", "b c", "3"]' "$(json_get "$T/fan.json" 'step(d, "literal")["outputs"]["result"]')" "literal for_each results"
assert_eq '["a","b c","3"]' "$(json_get "$T/fan.json" 'step(d, "count")["outputs"]["result"]')" "list passed as JSON text"
assert_eq 10 "$(wc -l < "$T/fan.log" | tr -d ' ')" "start/end lines"
assert_eq 2 "$(max_overlap "$T/fan.log")" "instances of sq at once (parallelism: 2)"
pass "fan-out outputs, for_each from a ref, per-step parallelism"

# --- a for_each ref that is not a JSON list: the step Errored with the value in the message
f=$(wf notalist <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: notalist}
steps:
  x: {shell: echo 'not json'}
  y:
    needs: [x]
    for_each: "{{steps.x.outputs.result}}"
    run: [echo, "{{item}}"]
YAML
)
run_rc rc run "$f" -o json > "$T/nl.json" 2>/dev/null
assert_eq 1 "$rc" "exit code"
assert_eq Errored "$(json_get "$T/nl.json" 'step(d, "y")["status"]')" y.status
assert_eq 'for_each must give a JSON list; got "not json"' "$(json_get "$T/nl.json" 'step(d, "y")["message"]')" y.message
pass "for_each of something that is not a list"

# --- the workflow's parallelism bounds steps across the DAG; --parallelism overrides it
f=$(wf par <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: par}
parallelism: 2
params:
  log: {type: path}
defaults:
  timeout: 30s
steps:
  a: {shell: 'echo "start $(date +%s.%N)" >> $CTFLOW_PARAM_LOG; sleep 0.4; echo "end $(date +%s.%N)" >> $CTFLOW_PARAM_LOG', with: {log: "{{params.log}}"}}
  b: {shell: 'echo "start $(date +%s.%N)" >> $CTFLOW_PARAM_LOG; sleep 0.4; echo "end $(date +%s.%N)" >> $CTFLOW_PARAM_LOG', with: {log: "{{params.log}}"}}
  c: {shell: 'echo "start $(date +%s.%N)" >> $CTFLOW_PARAM_LOG; sleep 0.4; echo "end $(date +%s.%N)" >> $CTFLOW_PARAM_LOG', with: {log: "{{params.log}}"}}
  d: {shell: 'echo "start $(date +%s.%N)" >> $CTFLOW_PARAM_LOG; sleep 0.4; echo "end $(date +%s.%N)" >> $CTFLOW_PARAM_LOG', with: {log: "{{params.log}}"}}
  e:
    for_each: [1, 2, 3]
    shell: 'echo "start $(date +%s.%N)" >> $CTFLOW_PARAM_LOG; sleep 0.4; echo "end $(date +%s.%N)" >> $CTFLOW_PARAM_LOG'
    with: {log: "{{params.log}}"}
YAML
)
ctflow run "$f" -p "log=$T/par.log" > /dev/null 2>"$T/err" || fail "par run: $(cat "$T/err")"
assert_eq 14 "$(wc -l < "$T/par.log" | tr -d ' ')" "start/end lines"
assert_eq 2 "$(max_overlap "$T/par.log")" "steps at once (workflow parallelism: 2)"
ctflow run "$f" -p "log=$T/par1.log" --parallelism 1 > /dev/null 2>"$T/err" || fail "par run: $(cat "$T/err")"
assert_eq 1 "$(max_overlap "$T/par1.log")" "steps at once (--parallelism 1)"
pass "workflow parallelism"

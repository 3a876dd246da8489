#!/usr/bin/env bash
# Sweeps with the real binary: shell trials that report a known learning curve
# through $CTFLOW_METRICS while they run; ASHA stops the trials that fall
# behind (their processes end as a timeout ends them) and the winner runs to
# the end; the best parameters reach a later step; resume after SIGKILL keeps
# the finished trials and goes on with the search.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# --- early stopping over live metrics: trial r reaches 1 - 1/(1 + r*step)
f=$(wf asha <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: asha}
steps:
  tune:
    sweep:
      parameters: {r: {values: [5, 9, 1, 7, 3, 8, 2, 6, 4]}}
      method: grid
      parallelism: 9
      objective: {metric: acc, goal: maximize}
      early_stop: {method: asha, min_steps: 1, reduction: 3}
    shell: |
      # Asynchronous ASHA lets the first trial at a rung go on (it has no peers there yet), so the
      # worst trial (r=1) starts late: it meets the others' rung-1 scores and must stop, however
      # loaded the machine is.
      if [ {{trial.r}} = 1 ]; then sleep 1.5; fi
      for s in 1 2 3 4 5 6 7 8 9; do
        python3 -c "print('{\"name\": \"acc\", \"value\": %f, \"step\": %d}' % (1 - 1 / (1 + {{trial.r}} * \$s), \$s))" >> "\$CTFLOW_METRICS"
        sleep 0.4
      done
      echo "{{trial.r}}" >> "$T/finished"
      echo "model-{{trial.r}}"
  use:
    needs: [tune]
    run: [echo, "r={{steps.tune.outputs.best.r}} result={{steps.tune.outputs.result}}"]
YAML
)
ctflow lint "$f" > /dev/null 2> "$T/err" || fail "lint: $(cat "$T/err")"
run_rc rc run "$f" > /dev/null 2> "$T/err"
assert_eq 0 "$rc" "exit code of the sweep: $(cat "$T/err")"
ctflow get @latest -o json > "$T/asha.json"
assert_eq Succeeded "$(json_get "$T/asha.json" 'step(d, "tune")["status"]')" "the sweep"
assert_eq '{"r": 9}' "$(json_get "$T/asha.json" 'step(d, "tune")["outputs"]["best"]')" "best parameters"
assert_eq "r=9 result=model-9" "$(json_get "$T/asha.json" 'step(d, "use")["outputs"]["result"]')" "the step after the sweep"
stopped=$(json_get "$T/asha.json" 'len([s for s in d["steps"] if s["step"] == "tune" and s["status"] == "Stopped"])')
[ "$stopped" -ge 4 ] || fail "ASHA stopped $stopped of 9 trials; at least 4 are behind at a rung"
grep -qx 9 "$T/finished" || fail "the winner (r=9) did not run to its end: $(cat "$T/finished")"
assert_eq "$((9 - stopped))" "$(wc -l < "$T/finished" | tr -d ' ')" "only trials not stopped reached their end"
assert_contains "$(json_get "$T/asha.json" 'step(d, "tune[2]")["message"]')" "stopped early by the asha rule" "a stopped trial's message (r=1)"
assert_eq '{"r": 1}' "$(json_get "$T/asha.json" 'step(d, "tune[2]")["trial"]')" "a trial's parameters in ctflow get"
ctflow metrics @latest 'tune[1]' -o json > "$T/m.json"
assert_eq 9 "$(json_get "$T/m.json" 'len([p for p in d["metrics"] if p["name"] == "acc"])')" "the winner's live points in the store"
ctflow get @latest > "$T/get.txt"
assert_contains "$(cat "$T/get.txt")" "Sweep tune" "ctflow get shows the sweep's trials"
ctflow compare @latest --sweep tune -o json > "$T/cmp.json"
assert_eq 9 "$(json_get "$T/cmp.json" 'len(d)')" "trials in ctflow compare --sweep"
assert_eq '{"r": 9} Succeeded' "$(json_get "$T/cmp.json" 'json.dumps(d[1]["params"]) + " " + d[1]["status"]')" "the winner's column"
assert_eq "$(json_get "$T/asha.json" 'step(d, "tune")["outputs"]["best_value"]')" "$(json_get "$T/cmp.json" 'd[1]["objective"]')" "the winner's objective"
assert_eq Stopped "$(json_get "$T/cmp.json" 'd[2]["status"]')" "a stopped trial's column"
assert_contains "$(ctflow compare @latest --sweep tune)" "param r" "the compare table"
run_rc rc compare @latest --sweep use > /dev/null 2> "$T/err"
assert_eq 2 "$rc" "compare --sweep of a step that is not a sweep"
assert_contains "$(cat "$T/err")" "has no trials of a sweep step 'use'" "its message"
none_left "sleep 0.[4]" || fail "a stopped trial's processes are still running"
pass "ASHA stops the trials behind and the winner's parameters reach the next step"

# --- resume after SIGKILL mid-sweep: finished trials are kept, the search goes on
f=$(wf resumed <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: resumed}
steps:
  tune:
    sweep:
      parameters: {x: {values: [5, 3, 1, 4]}}
      method: grid
      parallelism: 1
      objective: {metric: loss, goal: minimize}
    shell: |
      echo "{{trial.x}}" >> "$T/ran"
      if [ "{{trial.x}}" = 1 ] && [ ! -e "$T/go" ]; then touch "$T/waiting"; exec sleep 60; fi
      echo '{"name": "loss", "value": {{trial.x}}}' >> "\$CTFLOW_METRICS"
YAML
)
setsid "$CTFLOW_BIN" run "$f" > /dev/null 2> "$T/killed.err" &
engine=$!
_BG_PIDS+=("$engine")
wait_for 30 test -e "$T/waiting" || fail "trial x=1 did not start: $(cat "$T/killed.err")"
set +e
{
  kill -KILL -- "-$engine"
  pkill -KILL -s "$engine"
  wait "$engine"
} 2> /dev/null
set -e
id=$(ctflow list -o json | json_get - '[r["id"] for r in d if r["workflow"] == "resumed"][0]')
assert_eq Running "$(ctflow get "$id" -o json | json_get - 'd["status"]')" "a killed run is left Running"
touch "$T/go"
run_rc rc resume "$id" > /dev/null 2> "$T/err"
assert_eq 0 "$rc" "exit code of resume: $(cat "$T/err")"
ctflow get "$id" -o json > "$T/resumed.json"
assert_eq '{"x": 1}' "$(json_get "$T/resumed.json" 'step(d, "tune")["outputs"]["best"]')" "best after resume"
assert_eq "5 3 1 1 4" "$(tr '\n' ' ' < "$T/ran" | sed 's/ $//')" "trials run: the killed one again, the finished ones never"
pass "resume after SIGKILL keeps the finished trials and continues the sweep"

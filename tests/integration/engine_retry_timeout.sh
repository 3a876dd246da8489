#!/usr/bin/env bash
# Injection-proof run: args, retries with exponential backoff, and timeouts
# that take the step's whole process group down.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# --- a param value full of shell syntax stays one argv element and runs nothing
evil1="; touch $T/pwned1"
evil2="\$(touch $T/pwned2) \`touch $T/pwned3\` 'quoted' \"dq\" a  b"
f=$(wf inject <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: inject}
params:
  v: {type: string, default: x}
  w: {type: string, default: y}
steps:
  argv:
    run: [python3, -c, "import json, sys; print(json.dumps(sys.argv[1:]))", "{{params.v}}", "pre {{params.w}} post"]
  env:
    needs: [argv]
    run: [printenv, CTFLOW_PARAM_W]
    with: {w: "{{params.w}}"}
YAML
)
ctflow run "$f" -p "v=$evil1" -p "w=$evil2" -o json > "$T/inject.json" 2>"$T/err" || fail "inject run: $(cat "$T/err")"
expected=$(/usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$evil1" "pre $evil2 post")
assert_eq "$expected" "$(json_get "$T/inject.json" 'step(d, "argv")["outputs"]["result"]')" "argv of the step"
assert_eq "$evil2" "$(json_get "$T/inject.json" 'step(d, "env")["outputs"]["result"]')" "CTFLOW_PARAM_W"
for x in pwned1 pwned2 pwned3; do
  [ ! -e "$T/$x" ] || fail "the param value ran a command: $T/$x exists"
done
pass "run: args are not injectable"

# --- retries: fails twice, then succeeds; delays grow (backoff 1s, factor 2)
f=$(wf retry <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: retry}
steps:
  flaky:
    retry: {limit: 3, backoff: 1s, factor: 2}
    shell: |
      date +%s.%N >> "$CTFLOW_PARAM_STAMPS"
      n=$(wc -l < "$CTFLOW_PARAM_STAMPS")
      echo "attempt $n"
      [ "$n" -ge 3 ]
    with: {stamps: "{{params.stamps}}"}
params:
  stamps: {type: path}
YAML
)
ctflow run "$f" -p "stamps=$T/stamps" -o json > "$T/retry.json" 2>"$T/err" || fail "retry run: $(cat "$T/err")"
assert_eq Succeeded "$(json_get "$T/retry.json" 'step(d, "flaky")["status"]')" flaky.status
assert_eq 3 "$(json_get "$T/retry.json" 'step(d, "flaky")["attempts"]')" flaky.attempts
assert_eq 3 "$(wc -l < "$T/stamps" | tr -d ' ')" "attempts that ran"
gaps=$(/usr/bin/python3 -c '
import sys
t = [float(x) for x in open(sys.argv[1])]
g = [b - a for a, b in zip(t, t[1:])]
ok = 0.9 <= g[0] < 1.9 and 1.9 <= g[1] < 3.5 and g[1] > g[0]
print("ok" if ok else "gaps %s" % g)' "$T/stamps")
assert_eq ok "$gaps" "backoff between attempts (1s, then 2s)"
logs=$(ctflow logs @latest flaky)
assert_contains "$logs" "--- attempt 2 ---" "log of flaky"
assert_contains "$logs" "--- attempt 3 ---" "log of flaky"
assert_contains "$logs" "attempt 3" "log of flaky"
pass "retries with exponential backoff"

# --- retries run out: attempts = limit + 1, the step Failed
f=$(wf retry-out <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: retry-out}
steps:
  never:
    retry: {limit: 1, backoff: 100ms}
    shell: echo x >> "$CTFLOW_PARAM_F"; exit 7
    with: {f: "{{params.f}}"}
params:
  f: {type: path}
YAML
)
run_rc rc run "$f" -p "f=$T/out-count" -o json > "$T/out.json" 2>/dev/null
assert_eq 1 "$rc" "exit code"
assert_eq 2 "$(json_get "$T/out.json" 'step(d, "never")["attempts"]')" never.attempts
assert_eq 2 "$(wc -l < "$T/out-count" | tr -d ' ')" "attempts that ran"
assert_eq "exit code 7" "$(json_get "$T/out.json" 'step(d, "never")["message"]')" never.message
pass "retries run out"

# --- timeout: the step and its background children are gone
f=$(wf timeout <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: timeout}
steps:
  slow:
    timeout: 1s
    shell: |
      sh -c 'sleep 300 # $TAG-child' &
      echo \$! > "$T/child.pid"
      sleep 30
YAML
)
start=$SECONDS
run_rc rc run "$f" -o json > "$T/timeout.json" 2>/dev/null
elapsed=$((SECONDS - start))
assert_eq 1 "$rc" "exit code of a timed-out run"
[ "$elapsed" -lt 20 ] || fail "the run took ${elapsed}s: the timeout did not stop it"
assert_eq Failed "$(json_get "$T/timeout.json" 'step(d, "slow")["status"]')" slow.status
assert_contains "$(json_get "$T/timeout.json" 'step(d, "slow")["message"]')" "timed out" slow.message

wait_for 5 none_left "$TAG-chil[d]" || fail "the step's background child is still running: $(pgrep -af "$TAG-chil[d]")"
child=$(cat "$T/child.pid")
# gone, or a zombie nobody reaped yet (PID 1 in a container may not reap)
state=$(awk '{print $3}' "/proc/$child/stat" 2>/dev/null || echo gone)
[ "$state" = gone ] || [ "$state" = Z ] || fail "child $child is alive (state $state)"
pass "timeouts kill the process group"

# --- a retry that comes due after the run stopped (fail-fast) ends the run
f=$(wf retry-after-stop <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: retry-after-stop}
steps:
  bad:
    run: [sh, -c, "exit 1"]
  flaky:
    retry: {limit: 2, backoff: 1s, on: [failed]}
    run: [sh, -c, "exit 1"]
YAML
)
rc=0
timeout -k 5 60 "$CTFLOW_BIN" run "$f" -o json > "$T/ras.json" 2>/dev/null || rc=$?
assert_eq 1 "$rc" "exit code (124: the run hung on a retry that can never start)"
assert_eq Omitted "$(json_get "$T/ras.json" 'step(d, "flaky")["status"]')" flaky.status
pass "a retry due after fail-fast ends the run"

#!/usr/bin/env bash
# In-process plugin steps (isolation: none) run on the scheduler's worker
# threads. What a user relies on: a long in-process step holds up neither the
# other steps, nor a timeout, nor Ctrl-C; a chain of short ones all run, in
# order, with their outputs passed along; a step's stdout is never lost when
# many steps end at once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# --- a long in-process step on one worker; a chain (with an in-process step)
# runs on the other meanwhile, and an in-process step with a timeout fails on time
f=$(wf threads <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: threads}
steps:
  long: {uses: core.sleep, with: {seconds: 5}, isolation: none, cache: false}
  short-1: {shell: "echo one"}
  short-2: {shell: "echo two-{{steps.short-1.outputs.result}}", needs: [short-1]}
  short-3: {uses: core.echo, with: {message: "three-{{steps.short-2.outputs.result}}"}, isolation: none, needs: [short-2]}
  late:
    uses: core.sleep
    with: {seconds: 30}
    isolation: none
    timeout: 1s
    needs: [short-3]
YAML
)
rc=0
start=$SECONDS
ctflow run "$f" -o json > "$T/threads.json" 2> "$T/err" || rc=$?
took=$((SECONDS - start))
assert_eq 1 "$rc" "exit code (the timed-out step fails the run)"
assert_eq "three-two-one" "$(json_get "$T/threads.json" 'step(d, "short-3")["outputs"]["message"]')" "short-3's message"
for s in long short-1 short-2 short-3; do
  assert_eq Succeeded "$(json_get "$T/threads.json" "step(d, \"$s\")[\"status\"]")" "$s.status"
done
assert_eq Failed "$(json_get "$T/threads.json" 'step(d, "late")["status"]')" late.status
assert_contains "$(json_get "$T/threads.json" 'step(d, "late")["message"]')" "timed out after 1.0s" "late's message"
$PY - "$T/threads.json" <<'PY' || fail "the chain waited for the long in-process step, or the timeout was late (see $T/threads.json)"
import json, sys
from datetime import datetime
d = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in d["steps"]}
t = lambda name, k: datetime.fromisoformat(s[name][k].replace("Z", "+00:00")).timestamp()
# the chain ended, and the timeout fired, while 'long' still ran
assert t("late", "finished_at") < t("long", "finished_at"), "late ended after long"
assert t("late", "finished_at") - t("late", "started_at") <= 2, "the timeout fired late"
PY
# core.sleep polls for cancellation: the timed-out step's thread stops, and
# the run ends with 'long', not 30 s later.
[ "$took" -lt 20 ] || fail "the run took ${took}s"
pass "a long in-process step holds up neither other steps nor a timeout"

# --- in-process steps wait for a free worker (two at once), and a step's
# timeout counts from when it starts, not from when it waited
f=$(wf queue <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: queue}
steps:
  a: {uses: core.sleep, with: {seconds: 3}, isolation: none, cache: false}
  b: {uses: core.sleep, with: {seconds: 3}, isolation: none, cache: false}
  c: {uses: core.sleep, with: {seconds: 1}, isolation: none, cache: false, timeout: 2s}
YAML
)
ctflow run "$f" -o json > "$T/queue.json" 2> "$T/err" || fail "queue: $(cat "$T/err")"
for s in a b c; do
  assert_eq Succeeded "$(json_get "$T/queue.json" "step(d, \"$s\")[\"status\"]")" "$s.status"
done
pass "in-process steps queue for a worker; the timeout counts from the start"

# --- Ctrl-C while two in-process steps run: the run is Cancelled, exit 130
f=$(wf cancel <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: cancel}
steps:
  a: {uses: core.sleep, with: {seconds: 60}, isolation: none, cache: false}
  b: {uses: core.sleep, with: {seconds: 60}, isolation: none, cache: false}
  c: {uses: core.sleep, with: {seconds: 60}, isolation: none, cache: false}
YAML
)
# setsid: a session of its own, as a terminal would give it; SIGINT to the run only.
setsid "$CTFLOW_BIN" run "$f" > "$T/cancel.out" 2> "$T/cancel.err" &
pid=$!
wait_for 10 grep -q "Running *[ab]" "$T/cancel.err" || fail "the steps did not start: $(cat "$T/cancel.err")"
sleep 0.5
kill -INT "$pid"
rc=0
start=$SECONDS
wait "$pid" || rc=$?
assert_eq 130 "$rc" "exit code after Ctrl-C"
[ $((SECONDS - start)) -lt 15 ] || fail "Ctrl-C took $((SECONDS - start))s"
doc=$(ctflow get @latest -o json)
assert_eq Cancelled "$(json_get - 'd["status"]' <<< "$doc")" "run status"
assert_eq Cancelled "$(json_get - 'step(d, "c")["status"]' <<< "$doc")" "c, queued behind the two workers"
pass "Ctrl-C stops a run of in-process steps"

# --- many shell steps end at once: each one's stdout is its result
f=$(wf many <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: many}
steps:
  fan:
    for_each: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    shell: "seq 1 2000 | sed 's/^/line {{item}} /'; echo last-{{item}}"
YAML
)
ctflow run "$f" -o json > "$T/many.json" 2> "$T/err" || fail "many: $(cat "$T/err")"
$PY - "$T/many.json" <<'PY' || fail "a step's stdout was lost (see $T/many.json)"
import json, sys
d = json.load(open(sys.argv[1]))
res = {x["name"]: x["outputs"].get("result", "") for x in d["steps"]}
for i in range(20):
    r = res["fan[%d]" % i]
    lines = r.split("\n")
    assert len(lines) == 2001 and lines[-1] == "last-%d" % i and lines[0] == "line %d 1" % i, (i, len(lines), lines[-1:])
PY
pass "every step's whole stdout is its result"

# --- a timed-out in-process attempt is retried while its plugin call still
# returns: that late result ends neither the retry nor the run
f=$(wf retry-timeout <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: retry-timeout}
steps:
  t:
    uses: core.sleep
    with: {seconds: 5}
    isolation: none
    cache: false
    timeout: 1s
    retry: {limit: 2, backoff: 0s, on: [timeout, failed]}
YAML
)
rc=0
start=$SECONDS
timeout -k 5 60 "$CTFLOW_BIN" run "$f" -o json > "$T/rt.json" 2>/dev/null || rc=$?
assert_eq 1 "$rc" "exit code (124: the run hung)"
[ $((SECONDS - start)) -lt 15 ] || fail "the run took $((SECONDS - start))s"
assert_eq 3 "$(json_get "$T/rt.json" 'step(d, "t")["attempts"]')" t.attempts
logs=$(ctflow logs @latest t)
# each attempt timed out; none was ended by the attempt before it ("cancelled")
assert_eq 3 "$(grep -c 'ctflow: timed out' <<< "$logs")" "timed-out attempts in the log of t: $logs"
pass "a retry of a timed-out in-process step keeps its own result"

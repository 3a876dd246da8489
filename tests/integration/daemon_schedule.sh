#!/usr/bin/env bash
# ctflow daemon, schedules: `@every 1s` with a step longer than that under
# `concurrency: forbid` never has two runs at once and records the firings it
# skipped; a daemon killed with SIGKILL and started again neither repeats nor
# loses a slot (every second between the first and the last has one firing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf "$TAG-sched" <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: tick}
triggers:
  often: {schedule: "@every 1s", concurrency: forbid}
steps:
  work:
    shell: |
      echo "start \$(date +%s.%N)" >> "$T/spans"
      sleep 1.6
      echo "end \$(date +%s.%N)" >> "$T/spans"
YAML
)

start_daemon() {
  setsid "$CTFLOW_BIN" daemon "$f" --addr 127.0.0.1:0 > "$T/daemon$1.out" 2> "$T/daemon$1.err" &
  _BG_PIDS+=("$!")
  DAEMON=$!
  wait_for 10 grep -q "webhooks and /metrics" "$T/daemon$1.out" || fail "daemon $1 did not start: $(cat "$T/daemon$1.err")"
}

start_daemon 1
sleep 3.5
kill -KILL "$DAEMON"          # the daemon only: the run it started goes on
wait "$DAEMON" 2>/dev/null || true
sleep 2.2
start_daemon 2
sleep 3
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\)\/.*/\1/p' "$T/daemon2.out")
curl -sf "http://127.0.0.1:$port/metrics" > "$T/metrics" || fail "no /metrics on the daemon"
kill -TERM "$DAEMON"
wait "$DAEMON" || fail "the daemon did not stop cleanly on SIGTERM: $(cat "$T/daemon2.err")"
assert_contains "$(cat "$T/daemon2.err")" "stopping" "the daemon's log"
# The runs it started finish on their own.
settled() {  # no run going on and no firing whose run is still starting
  none_running &&
    [ "$("$CTFLOW_BIN" triggers "$f" -o json --limit 1000 | json_get - 'sum(h["outcome"] == "pending" for h in d[0]["history"])')" = 0 ]
}
wait_for 15 settled || fail "a run never finished"

"$CTFLOW_BIN" triggers "$f" -o json --limit 1000 > "$T/triggers.json"
"$CTFLOW_BIN" list -o json > "$T/runs.json"
"$PY" - "$T/triggers.json" "$T/runs.json" "$T/spans" <<'PY' || fail "the firings are not what the policies say (see above)"
import json, sys, datetime
rows = json.load(open(sys.argv[1]))
hist = [h for r in rows if r["trigger"] == "often" for h in r["history"]]
slots = sorted(datetime.datetime.fromisoformat(h["slot"].replace("Z", "+00:00")).timestamp() for h in hist)
assert len(slots) >= 6, "too few firings: %d" % len(slots)
assert len(set(slots)) == len(slots), "a slot fired twice"
gaps = [b - a for a, b in zip(slots, slots[1:]) if b - a != 1]
assert not gaps, "slots were lost between firings: gaps %s" % gaps
outcomes = [h["outcome"] for h in hist]
assert "skipped" in outcomes, outcomes
assert any("forbid" in h["reason"] for h in hist if h["outcome"] == "skipped")
started = [h for h in hist if h["outcome"] == "started"]
assert len(started) >= 2, outcomes
runs = json.load(open(sys.argv[2]))
runs = runs.get("runs", runs) if isinstance(runs, dict) else runs
ids = [h["run_id"] for h in started]
assert len(set(ids)) == len(ids) and all(ids), ids
assert len(runs) == len(started), "runs %d, started firings %d" % (len(runs), len(started))
spans = [l.split() for l in open(sys.argv[3])]
for i, (kind, _) in enumerate(spans):
    assert kind == ("start" if i % 2 == 0 else "end"), "two runs at once: %s" % spans
print("firings", len(hist), "started", len(started), "outcomes", sorted(set(outcomes)))
PY
run=$(json_get "$T/triggers.json" '[h for r in d for h in r["history"] if h["outcome"]=="started"][0]["run_id"]')
"$CTFLOW_BIN" get "$run" -o json > "$T/run.json"
assert_eq "often" "$(json_get "$T/run.json" 'd["trigger"]["trigger"]')" "the trigger named by the run"
for m in ctflow_runs_total ctflow_step_duration_seconds_bucket ctflow_trigger_firings_total \
         ctflow_workflow_last_success_timestamp_seconds; do
  assert_contains "$(cat "$T/metrics")" "$m{workflow=\"tick\"" "/metrics"
done
pass "forbid never ran two at once, skipped firings recorded, no slot lost or repeated across a SIGKILL"

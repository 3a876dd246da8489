#!/usr/bin/env bash
# ctflow daemon runs an Argo CronWorkflow on its schedule: the frontend reads
# spec.schedule, concurrencyPolicy and the rest as the schedule trigger "cron";
# `@every 1s` under Forbid with a step longer than that starts runs one at a
# time and records the slots it skipped. `ctflow run` of the same file runs the
# workflowSpec once; `suspend: true` leaves nothing to schedule.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf "$TAG-cron" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: tick-argo}
spec:
  schedule: "@every 1s"
  concurrencyPolicy: Forbid
  workflowSpec:
    entrypoint: work
    templates:
    - name: work
      script:
        image: busybox
        command: [sh]
        source: |
          echo "start \$(date +%s.%N)" >> "$T/spans"
          sleep 1.5
          echo "end \$(date +%s.%N)" >> "$T/spans"
YAML
)

"$CTFLOW_BIN" triggers "$f" -o json > "$T/before.json"
assert_eq '["cron", "schedule", ["@every 1s"], "UTC"]' \
  "$(json_get "$T/before.json" '[d[0]["trigger"], d[0]["type"], d[0]["schedule"], d[0]["timezone"]]')" \
  "ctflow triggers reads the CronWorkflow's schedule"

setsid "$CTFLOW_BIN" daemon "$f" --addr 127.0.0.1:0 > "$T/daemon.out" 2> "$T/daemon.err" &
_BG_PIDS+=("$!")
daemon=$!
wait_for 10 grep -qs "webhooks and /metrics" "$T/daemon.out" || fail "the daemon did not start: $(cat "$T/daemon.err")"
two_done() { [ "$("$CTFLOW_BIN" list --status Succeeded -o json | grep -c '"id"' || true)" -ge 2 ]; }
wait_for 15 two_done || fail "the CronWorkflow did not run twice on its schedule: $(cat "$T/daemon.err")"
kill -TERM "$daemon"
wait "$daemon" || fail "the daemon did not stop cleanly: $(cat "$T/daemon.err")"
wait_for 15 none_running || fail "a run never finished"

"$CTFLOW_BIN" triggers "$f" -o json --limit 1000 > "$T/triggers.json"
"$PY" - "$T/triggers.json" "$T/spans" <<'PY' || fail "the CronWorkflow's firings are not what Forbid says (see above)"
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["trigger"] for r in rows] == ["cron"], rows
hist = rows[0]["history"]
started = [h for h in hist if h["outcome"] == "started"]
skipped = [h for h in hist if h["outcome"] == "skipped"]
assert len(started) >= 2, hist
assert skipped and all("forbid" in h["reason"] for h in skipped), hist
spans = [l.split()[0] for l in open(sys.argv[2])]
assert spans == ["start", "end"] * (len(spans) // 2), "two runs at once under Forbid: %s" % spans
print("started", len(started), "skipped", len(skipped))
PY
run=$(json_get "$T/triggers.json" '[h for h in d[0]["history"] if h["outcome"]=="started"][0]["run_id"]')
"$CTFLOW_BIN" get "$run" -o json > "$T/run.json"
assert_eq "cron" "$(json_get "$T/run.json" 'd["trigger"]["trigger"]')" "the trigger named by the run"
assert_eq "Succeeded" "$(json_get "$T/run.json" 'd["status"]')" "the scheduled run"
pass "the daemon ran the Argo CronWorkflow on its schedule, one at a time under Forbid"

sed 's/^  concurrencyPolicy: Forbid$/  concurrencyPolicy: Forbid\n  suspend: true/' "$f" > "$T/suspended.yaml"
"$CTFLOW_BIN" daemon "$T/suspended.yaml" --addr 127.0.0.1:0 > "$T/suspended.out" 2> "$T/suspended.err" &
sp=$!
_BG_PIDS+=("$sp")
wait_for 10 grep -qs "has no triggers" "$T/suspended.err" || fail "a suspended CronWorkflow: $(cat "$T/suspended.err")"
kill -TERM "$sp" 2>/dev/null || true
wait "$sp" 2>/dev/null || true
pass "a suspended CronWorkflow has nothing to schedule"

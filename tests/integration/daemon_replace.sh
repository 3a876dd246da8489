#!/usr/bin/env bash
# ctflow daemon, concurrency: replace cancels the run still going (it ends
# Cancelled) and starts the new one; allow caps the runs at once at max_active
# and records the firings it held back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf "$TAG-replace" <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: long}
triggers:
  often: {schedule: "@every 1s", concurrency: replace}
steps:
  work: {shell: "sleep 30"}
YAML
)
g=$(wf "$TAG-allow" <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: capped}
triggers:
  often: {schedule: "@every 1s", max_active: 2}
steps:
  work: {shell: "sleep 30"}
YAML
)
setsid "$CTFLOW_BIN" daemon "$f" "$g" --addr 127.0.0.1:0 > "$T/daemon.out" 2> "$T/daemon.err" &
_BG_PIDS+=("$!")
daemon=$!
wait_for 10 grep -q "webhooks and /metrics" "$T/daemon.out" || fail "the daemon did not start: $(cat "$T/daemon.err")"
cancelled() { "$CTFLOW_BIN" list --workflow long --status Cancelled -o json | grep -q '"id"'; }
wait_for 15 cancelled || fail "replace cancelled no run: $("$CTFLOW_BIN" list)"
sleep 1.5
kill -TERM "$daemon"
wait "$daemon" || fail "the daemon did not stop cleanly"
"$CTFLOW_BIN" triggers "$f" "$g" -o json > "$T/triggers.json"
assert_contains "$(json_get "$T/triggers.json" '[h["reason"] for h in d[0]["history"]]')" "concurrency replace: cancelled r-"
assert_eq 2 "$(json_get "$T/triggers.json" 'len([h for h in d[1]["history"] if h["outcome"]=="started"])')" \
  "capped: runs started (max_active 2)"
assert_contains "$(json_get "$T/triggers.json" '[h["reason"] for h in d[1]["history"] if h["outcome"]=="skipped"]')" \
  "max_active 2 reached"
# The runs go on after the daemon; lib.sh ends them (their files carry $TAG).
pass "replace cancelled the run going on; allow held firings back at max_active"

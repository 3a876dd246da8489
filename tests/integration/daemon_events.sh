#!/usr/bin/env bash
# ctflow daemon, events: a file dropped into a watched folder starts a run
# with its path (once it has settled); a webhook with token_env answers 401
# without the token, 400 for a bad body, 404 for a bad name, and starts a run
# with the body's value when the token is right.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tool curl curl

mkdir -p "$T/inbox"
f=$(wf "$TAG-events" <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: ingest}
params:
  data: {type: string, default: none}
triggers:
  new-data: {watch: inbox, settle: 300ms, params: {data: "{{event.path}}"}}
  hook: {webhook: {token_env: IT_HOOK_TOKEN}, params: {data: "{{event.body.data}}"}}
steps:
  show:
    run: [echo, "data={{params.data}}"]
YAML
)
echo old > "$T/inbox/before.txt"   # there before the trigger was first watched: not new
IT_HOOK_TOKEN=s3cret setsid "$CTFLOW_BIN" daemon "$f" --addr 127.0.0.1:0 > "$T/daemon.out" 2> "$T/daemon.err" &
_BG_PIDS+=("$!")
daemon=$!
wait_for 10 grep -q "webhooks and /metrics" "$T/daemon.out" || fail "the daemon did not start: $(cat "$T/daemon.err")"
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\)\/.*/\1/p' "$T/daemon.out")
url="http://127.0.0.1:$port/hooks/ingest/hook"

# A folder written in two goes: one firing, after it settled.
mkdir "$T/stage" && echo a > "$T/stage/1.csv"
mv "$T/stage" "$T/inbox/batch-1"
sleep 0.1
echo b > "$T/inbox/batch-1/2.csv"

code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
assert_eq 401 "$(code -X POST "$url" -d '{"data":"x"}')" "webhook without a token"
assert_contains "$(cat "$T/body")" "IT_HOOK_TOKEN"
assert_eq 401 "$(code -X POST "$url" -H 'Authorization: Bearer wrong' -d '{"data":"x"}')" "webhook with a wrong token"
assert_eq 400 "$(code -X POST "$url" -H 'Authorization: Bearer s3cret' -d 'not json')" "webhook with a bad body"
assert_eq 400 "$(code -X POST "$url" -H 'Authorization: Bearer s3cret' -d '{"other":1}')" "webhook without the field"
assert_contains "$(cat "$T/body")" "body.data"
assert_eq 404 "$(code -X POST "http://127.0.0.1:$port/hooks/ingest/nope" -H 'Authorization: Bearer s3cret')" "unknown trigger"
assert_eq 404 "$(code -X POST "http://127.0.0.1:$port/hooks/other/hook")" "unknown workflow"
assert_eq 202 "$(code -X POST "$url" -H 'Authorization: Bearer s3cret' -d '{"data":"/srv/new"}')" "webhook with the token"

done_runs() { [ "$("$CTFLOW_BIN" list --status Succeeded -o json | grep -o '"id"' | wc -l)" -ge 2 ]; }
wait_for 15 done_runs || fail "two runs did not succeed: $("$CTFLOW_BIN" list)"
sleep 1  # a second firing for the folder would come now
kill -TERM "$daemon"
wait "$daemon" || fail "the daemon did not stop cleanly"

"$CTFLOW_BIN" triggers "$f" -o json > "$T/triggers.json"
assert_eq 1 "$(json_get "$T/triggers.json" 'len([h for r in d if r["trigger"]=="new-data" for h in r["history"]])')" \
  "firings of the watched folder"
assert_eq "$T/inbox/batch-1" "$(json_get "$T/triggers.json" '[r for r in d if r["trigger"]=="new-data"][0]["history"][0]["event"]["path"]')"
wrun=$(json_get "$T/triggers.json" '[r for r in d if r["trigger"]=="new-data"][0]["history"][0]["run_id"]')
hrun=$(json_get "$T/triggers.json" '[r for r in d if r["trigger"]=="hook"][0]["history"][0]["run_id"]')
"$CTFLOW_BIN" get "$wrun" -o json > "$T/w.json"
assert_eq "$T/inbox/batch-1" "$(json_get "$T/w.json" 'd["params"]["data"]')" "the watched run's param"
assert_eq "watch" "$(json_get "$T/w.json" 'd["trigger"]["type"]')"
"$CTFLOW_BIN" get "$hrun" -o json > "$T/h.json"
assert_eq "/srv/new" "$(json_get "$T/h.json" 'd["params"]["data"]')" "the webhook run's param"
assert_contains "$("$CTFLOW_BIN" get "$hrun")" "Trigger:   hook (webhook"
# The dashboard serves the same engine metrics.
setsid "$CTFLOW_BIN" ui --addr 127.0.0.1:0 > "$T/ui.out" 2> "$T/ui.err" &
_BG_PIDS+=("$!")
wait_for 10 grep -q "serving the store" "$T/ui.out" || fail "ctflow ui did not start: $(cat "$T/ui.err")"
ui=$(sed -n 's/.* on \(http:[^ ]*\)$/\1/p' "$T/ui.out" | head -1)
curl -sf "${ui}metrics" > "$T/ui.metrics" || fail "no /metrics on ctflow ui"
assert_contains "$(cat "$T/ui.metrics")" 'ctflow_runs_total{workflow="ingest",status="Succeeded"} 2' "ui /metrics"
assert_contains "$(cat "$T/ui.metrics")" 'ctflow_trigger_firings_total{workflow="ingest",trigger="new-data",outcome="started"} 1'
assert_contains "$(cat "$T/ui.metrics")" 'ctflow_workflow_last_success_timestamp_seconds{workflow="ingest"}'
curl -sf "${ui}api/v1/triggers" > "$T/ui.triggers" || fail "no /api/v1/triggers on ctflow ui"
assert_eq '["hook", "new-data"]' "$(json_get "$T/ui.triggers" 'sorted(t["trigger"] for t in d)')" "the dashboard's triggers"
assert_contains "$(curl -sf "${ui}")" '#/triggers' "the dashboard's navigation"
pass "watch fired once with the path; webhook 401/400/404 and 202 with the token"

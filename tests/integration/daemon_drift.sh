#!/usr/bin/env bash
# ctflow daemon, drift: polls GET {server}/models/{model}/drift and fires when
# the score is above `above`, at most once per cooldown (the polls inside the
# cooldown leave one `skipped` record, not one per poll); the run gets the
# score. The server here is Python's http.server on loopback answering the
# JSON that `ctflow serve` gives at that path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/www/models/digits"
echo '{"model": "digits", "version": 3, "window": 512, "score": 0.05, "drifted": false, "signals": {}}' \
  > "$T/www/models/digits/drift"
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$T/www" && exec "$PY" -m http.server "$port" --bind 127.0.0.1 > "$T/http.log" 2>&1) &
_BG_PIDS+=("$!")
wait_for 10 "$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/models/digits/drift')" ||
  fail "the test's HTTP server did not start"

f=$(wf "$TAG-drift" <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: retrain}
params:
  score: {type: float, default: 0}
triggers:
  drifted:
    drift: {server: "http://127.0.0.1:$port", model: digits, above: 0.2, every: 200ms}
    cooldown: 1h
    params: {score: "{{event.score}}"}
steps:
  train:
    run: [echo, "score={{params.score}}"]
YAML
)
setsid "$CTFLOW_BIN" daemon "$f" --addr 127.0.0.1:0 > "$T/daemon.out" 2> "$T/daemon.err" &
_BG_PIDS+=("$!")
daemon=$!
wait_for 10 grep -q "webhooks and /metrics" "$T/daemon.out" || fail "the daemon did not start: $(cat "$T/daemon.err")"
sleep 0.8
assert_eq 0 "$("$CTFLOW_BIN" list -o json | grep -c '"id"' || true)" "runs while the score is low"
echo '{"model": "digits", "version": 3, "window": 512, "score": 0.27, "drifted": true, "signals": {"psi": 0.27}}' \
  > "$T/www/models/digits/drift"
started() { "$CTFLOW_BIN" list --status Succeeded -o json | grep -q '"id"'; }
wait_for 10 started || fail "no run after the score went up: $(cat "$T/daemon.err")"
sleep 1  # five more polls above the threshold, inside the cooldown
kill -TERM "$daemon"
wait "$daemon" || fail "the daemon did not stop cleanly"

"$CTFLOW_BIN" triggers "$f" -o json > "$T/triggers.json"
assert_eq '["skipped", "started"]' "$(json_get "$T/triggers.json" 'sorted(h["outcome"] for h in d[0]["history"])')" \
  "firings: one started, one cooldown record"
assert_contains "$(json_get "$T/triggers.json" '[h for h in d[0]["history"] if h["outcome"]=="skipped"][0]["reason"]')" "cooldown"
run=$(json_get "$T/triggers.json" '[h for h in d[0]["history"] if h["outcome"]=="started"][0]["run_id"]')
"$CTFLOW_BIN" get "$run" -o json > "$T/run.json"
assert_eq 0.27 "$(json_get "$T/run.json" 'd["params"]["score"]')" "the run's score param"
assert_eq 0.27 "$(json_get "$T/run.json" 'd["trigger"]["score"]')" "the event named by the run"
pass "drift fired once above the threshold, then held by the cooldown"

#!/usr/bin/env bash
# ctflow daemon, drift, against a real `ctflow serve` of a real model (the MNIST
# workflow's v1, trained on digits): the daemon polls
# GET {server}/models/{model}/drift; before the serve has seen enough inputs it
# says why there is no score yet and starts nothing; held-out digits score
# below `above` and start nothing; images that are not digits push the score
# over it and the daemon fires once, at most once per cooldown (the polls
# inside the cooldown leave one `skipped` record, not one per poll). The run
# gets the event's score as a param, and names the event.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

serve_v1

f=$(wf "$TAG-drift" <<YAML
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: retrain}
params:
  score: {type: float, default: 0}
triggers:
  drifted:
    drift: {server: "$URL", model: mnist-embedder, above: 0.2, every: 200ms}
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
wait_for 10 grep -qs "webhooks and /metrics" "$T/daemon.out" || fail "the daemon did not start: $(cat "$T/daemon.err")"
retrains() { ctflow list --workflow retrain -o json | json_get - 'len(d)'; }

# --- no inputs yet: no score, and the daemon's log says why (once)
wait_for 10 grep -qs "no drift score of mnist-embedder yet" "$T/daemon.err" ||
  fail "the daemon's log before any input: $(cat "$T/daemon.err")"
assert_contains "$(cat "$T/daemon.err")" "a score needs at least 100" "why there is no score yet"
sleep 0.6
assert_eq 1 "$(grep -c "no drift score" "$T/daemon.err")" "the 'no score yet' line (once, not once a poll)"
pass "no inputs yet: the daemon says why there is no drift score"

# --- held-out digits: below the threshold, nothing starts. One request of
# 200: in requests of 50, a poll between them scores only the first 100, a
# sample small enough to cross the threshold by chance on a slow machine.
send_images digits 0 200
low=$(curl -fsS "$URL/models/mnist-embedder/drift" | json_get - 'd["score"]')
"$PY" -c 'import sys; assert float(sys.argv[1]) <= 0.2, sys.argv[1]' "$low" || fail "held-out digits drift: $low"
sleep 1  # five polls below the threshold
assert_eq 0 "$(retrains)" "runs while the inputs are digits"
pass "held-out digits: drift $low, no run started"

# --- noise: above the threshold, one run, then the cooldown holds
send_images noise
high=$(curl -fsS "$URL/models/mnist-embedder/drift" | json_get - 'd["score"]')
started() { [ "$(ctflow list --workflow retrain --status Succeeded -o json | json_get - 'len(d)')" -ge 1 ]; }
wait_for 10 started || fail "no run after the score went up to $high: $(cat "$T/daemon.err")"
sleep 1  # five more polls above the threshold, inside the cooldown
kill -TERM "$daemon"
wait "$daemon" || fail "the daemon did not stop cleanly: $(cat "$T/daemon.err")"
assert_eq 1 "$(retrains)" "runs the drift started"

ctflow triggers "$f" -o json > "$T/triggers.json"
assert_eq '["skipped", "started"]' "$(json_get "$T/triggers.json" 'sorted(h["outcome"] for h in d[0]["history"])')" \
  "firings: one started, one cooldown record"
assert_contains "$(json_get "$T/triggers.json" '[h for h in d[0]["history"] if h["outcome"]=="skipped"][0]["reason"]')" "cooldown"
run=$(json_get "$T/triggers.json" '[h for h in d[0]["history"] if h["outcome"]=="started"][0]["run_id"]')
ctflow get "$run" -o json > "$T/run.json"
"$PY" - "$T/run.json" "$high" <<'PY' || fail "the run's score: $(json_get "$T/run.json" '[d["params"], d["trigger"]]')"
import json, sys
d, high = json.load(open(sys.argv[1])), float(sys.argv[2])
event = d["trigger"]
assert event["type"] == "drift" and event["model"] == "mnist-embedder" and event["version"] == 1, event
# what the serve said at the poll that fired (a poll may come between two requests of the noise)
assert 0.2 < event["score"] <= high, (event["score"], high)
assert d["params"]["score"] == event["score"], (d["params"], event["score"])
assert set(event["signals"]) == {"intensity", "class_balance", "neighbor_distance"}, event["signals"]
PY
score=$(json_get "$T/run.json" 'd["trigger"]["score"]')
assert_eq "score=$score" "$(json_get "$T/run.json" 'step(d, "train")["outputs"]["result"]')" "the step's echo of the score"
pass "drift fired once above the threshold (at $score), then held by the cooldown"

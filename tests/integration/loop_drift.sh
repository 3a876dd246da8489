#!/usr/bin/env bash
# The continuous-training loop, end to end, with real processes only: the MNIST
# workflow trains v1 on digits; a real `ctflow serve` answers with it; a
# `ctflow daemon` watches the served model's drift (a `drift` trigger polling
# GET /models/mnist-embedder/drift). Held-out digits leave the score low and
# start nothing; images that are not digits (noise, inverted digits) push it
# over the threshold, the daemon starts the workflow once (the cooldown holds
# the later polls), the run trains v2 on more images and rolls it out to the
# running serve, and the run and v2's lineage name the drift event.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# --- v1, trained on digits, with its reference profile, served
serve_v1
assert_contains "$(cat "$T/serve.out")" "loaded mnist-embedder v1" "the serve's start-up banner"

# --- the same workflow with a drift trigger on the running serve; the
# retrain takes more images (a new dataset, so a new model)
cp "$WF" "$T/loop.yaml"
cat >> "$T/loop.yaml" <<YAML
triggers:
  drifted:
    drift: {server: "$URL", model: mnist-embedder, above: 0.4, every: 200ms}
    cooldown: 1h
    params: {data: "$DATA", limit: "2500", epochs: "1", threshold: "0", server: "$URL"}
YAML
setsid "$CTFLOW_BIN" daemon "$T/loop.yaml" --addr 127.0.0.1:0 > "$T/daemon.out" 2> "$T/daemon.err" &
_BG_PIDS+=("$!")
daemon=$!
wait_for 10 grep -qs "webhooks and /metrics" "$T/daemon.out" || fail "the daemon did not start: $(cat "$T/daemon.err")"

drift() { curl -fsS "$URL/models/mnist-embedder/drift"; }

send_images digits 0 200  # one request: no poll scores a part of them (see daemon_drift.sh)
drift > "$T/drift_low.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"] == 200 and d["score"] is not None and d["score"] < 0.4, d' \
  "$T/drift_low.json" || fail "held-out digits: $(cat "$T/drift_low.json")"
sleep 1  # five polls below the threshold
assert_eq 1 "$(ctflow list -o json | grep -c '"id"' || true)" "runs while the inputs are digits"
pass "held-out digits: drift $(json_get "$T/drift_low.json" 'd["score"]'), no run started"

# half a second apart, so that the daemon's polls (every 200 ms) read the
# score on its way up: the Drift page's chart
send_images noise 0.5
send_images inverted 0.5
drift > "$T/drift_high.json"
assert_eq true "$(json_get "$T/drift_high.json" 'd["drifted"]')" "drift after noise and inverted digits"

fired() { [ "$(ctflow triggers "$T/loop.yaml" -o json | json_get - 'sum(h["outcome"] == "started" for h in d[0]["history"])')" -ge 1 ]; }
wait_for 30 fired || fail "the daemon did not fire on drift: $(cat "$T/daemon.err")"
ctflow triggers "$T/loop.yaml" -o json > "$T/triggers.json"
run=$(json_get "$T/triggers.json" '[h for h in d[0]["history"] if h["outcome"]=="started"][0]["run_id"]')
wait_for 600 run_settled "$run" || fail "the retrain run $run did not finish"
ctflow get "$run" -o json > "$T/run2.json"
assert_eq Succeeded "$(json_get "$T/run2.json" 'd["status"]')" "the retrain run ($(ctflow logs "$run" 2>&1 | tail -5))"
assert_eq drifted "$(json_get "$T/run2.json" 'd["trigger"]["trigger"]')" "the trigger named by the run"
"$PY" -c 'import json,sys; e=json.load(open(sys.argv[1]))["trigger"]; assert e["score"] >= 0.4 and e["version"] == 1, e' \
  "$T/run2.json" || fail "the drift event of the run: $(json_get "$T/run2.json" 'd["trigger"]')"
assert_eq 2 "$(json_get "$T/run2.json" 'step(d, "deploy")["outputs"]["version"]')" "v2 registered"
assert_eq 2 "$(json_get "$T/run2.json" 'step(d, "deploy")["outputs"]["served"]')" "v2 rolled out by the run"
pass "the drift started the workflow ($run), which registered v2"

# --- the running serve answers with v2, and its drift window starts again
v=$(curl -fsS -o /dev/null -D - -H 'Content-Type: application/json' -d "{\"data\": [$(printf '0,%.0s' $(seq 783))0]}" \
      "$URL/predictions/mnist-embedder" | tr -d '\r' | sed -n 's/^[Xx]-[Mm]odel-[Vv]ersion: //p')
assert_eq 2 "$v" "the version the running serve answers with"
drift > "$T/drift_v2.json"
assert_eq 2 "$(json_get "$T/drift_v2.json" 'd["version"]')" "the drift window's version"
assert_eq 1 "$(json_get "$T/drift_v2.json" 'd["count"]')" "v2's window (one image since the rollout)"
pass "the running serve rolled out v2 and scores its inputs afresh"

# --- lineage names the drift event; the cooldown held the later polls
ctflow lineage mnist-embedder:2 -o json > "$T/lineage.json"
assert_eq drifted "$(json_get "$T/lineage.json" 'd["trigger"]["trigger"]')" "v2's lineage: the trigger"
assert_eq drift "$(json_get "$T/lineage.json" 'd["trigger"]["type"]')" "v2's lineage: the event type"
assert_eq "$run" "$(json_get "$T/lineage.json" 'd["run"]')" "v2's lineage: the run"
kill -TERM "$daemon"
wait "$daemon" || fail "the daemon did not stop cleanly: $(cat "$T/daemon.err")"
ctflow triggers "$T/loop.yaml" -o json > "$T/triggers.json"
assert_eq 1 "$(json_get "$T/triggers.json" 'sum(h["outcome"]=="started" for h in d[0]["history"])')" "runs the drift started"
assert_eq 2 "$(ctflow list -o json | grep -c '"id"' || true)" "runs in all (v1 by hand, v2 by the drift)"
pass "v2's lineage names the drift event; one run for one drift"

# --- the dashboard over this store: the scores the daemon read, over time,
# and the firing with its run; LOOP_SCREENSHOTS=DIR takes the README's
# screenshots of the Drift and Triggers pages in Debian's chromium
mkdir -p "$T/wfs" && cp "$T/loop.yaml" "$T/wfs/"
"$CTFLOW_BIN" ui --addr 127.0.0.1:0 --workflows "$T/wfs" > "$T/ui.out" 2> "$T/ui.err" &
_BG_PIDS+=("$!")
wait_for 10 grep -qs "serving the store" "$T/ui.out" || fail "ctflow ui did not start: $(cat "$T/ui.err")"
ui=$(sed -n 's/.* on \(http:[^ ]*\)$/\1/p' "$T/ui.out" | head -1)
curl -fsS "${ui}api/v1/drift" > "$T/drift_api.json"
"$PY" - "$T/drift_api.json" <<'PY' || fail "the dashboard's drift scores: $(head -c 600 "$T/drift_api.json")"
import json, sys
models = json.load(open(sys.argv[1]))
m = [x for x in models if x["model"] == "mnist-embedder"][0]
scores = [s["score"] for s in m["samples"]]
assert m["above"] == 0.4 and m["trigger"] == "drifted", m
assert min(scores) < 0.4 <= max(scores), scores          # the digits, then the drift
assert len(scores) >= 4, scores                           # and the score on its way up
assert set(m["signals"]) == {"intensity", "class_balance", "neighbor_distance"}, m["signals"]
assert {s["version"] for s in m["samples"]} >= {1}, m["samples"]
print("drift samples", len(scores), "from", min(scores), "to", max(scores))
PY
pass "the dashboard has the drift scores the daemon read, below and above the threshold"
if [ -n "${LOOP_SCREENSHOTS:-}" ]; then
  BASE_URL="$ui" SCREENSHOTS="$LOOP_SCREENSHOTS" node "$CTFLOW_SOURCE_DIR/tests/browser/loop_shots.mjs" ||
    fail "the screenshots of the dashboard"
fi

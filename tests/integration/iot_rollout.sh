#!/usr/bin/env bash
# iot.deploy's rollout to a running `ctflow serve` (-p server=, the code path
# mnist.deploy uses: base/serve_rollout.h), on loopback with real processes: a
# better model becomes Production and the server answers with it, under load,
# without losing a request; a worse one is registered as Staging and not
# rolled out; deploy alone rolls the registry's Production version out (here
# after a rollback in the registry).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

use_iot
P=(-p rows=2000 -p chunk_rows=1000 -p trials=0 -p threshold=0)

# deploy_run NAME ARGS...: a run of the workflow, its document in $T/NAME.json.
deploy_run() {
  local name="$1" id
  shift
  id=$(ctflow run "$WF" "${P[@]}" "$@" 2>"$T/$name.err") || { touch "$T/load.stop"; fail "$name: $(cat "$T/$name.err")"; }
  ctflow get "$id" -o json >"$T/$name.json"
  echo "$id" >"$T/$name.id"
}
deployed() { json_get "$T/$1.json" "step(d, \"deploy\")[\"outputs\"][\"$2\"]"; }
f1_of() { json_get "$T/$1.json" 'step(d, "train")["outputs"]["f1"]'; }
# served_version: the version that answers a prediction, from X-Model-Version.
served_version() {
  "$PY" - "$URL" <<'PY'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
row = {"type": "L", "air_temp_k": 300.1, "process_temp_k": 310.2, "rpm": 1500, "torque_nm": 40.0, "tool_wear_min": 100}
c.request("POST", "/predictions/iot-maintenance", json.dumps(row), {"Content-Type": "application/json"})
r = c.getresponse()
r.read()
assert r.status == 200, r.status
print(r.getheader("X-Model-Version"))
PY
}

# --- v1: a weak model (2 boosting rounds), Production; the server takes it
deploy_run v1 -p rounds=2
assert_eq 1 "$(deployed v1 version)" "v1 registered"
start_serve serve --max-delay 1000
assert_contains "$(cat "$T/serve.out")" "loaded iot-maintenance v1 (xgboost" "start-up banner"
assert_eq 1 "$(served_version)" "the version answering at start"
pass "v1 (F1 $(f1_of v1)) is Production and served at $URL"

# --- v2: a better model (100 rounds), rolled out while clients keep asking
start_load iot-maintenance "$("$PY" -c 'import json; print(json.dumps({"instances": [{"type": t, "air_temp_k": 300.0 + i / 10,
  "process_temp_k": 310.0 + i / 10, "rpm": 1400 + i, "torque_nm": 30.0 + i, "tool_wear_min": 10 * i} for i, t in enumerate("LMHLMH")]}))')"
sleep 1
deploy_run v2 -p rounds=100 -p server="$URL"
sleep 1
touch "$T/load.stop"
wait "$LOAD_PID"
"$PY" -c "import sys; sys.exit(0 if float('$(f1_of v2)') > float('$(f1_of v1)') else 1)" ||
  fail "v2's F1 $(f1_of v2) is not above v1's $(f1_of v1): the test needs a better model"
assert_eq Production "$(deployed v2 stage)" "v2 promoted"
assert_eq 2 "$(deployed v2 served)" "v2 rolled out"
assert_contains "$(ctflow logs "$(cat "$T/v2.id")" deploy)" "registered iot-maintenance v2 as Production" "deploy's log"
assert_eq 2 "$(served_version)" "the version answering after the rollout"
check_load 1 2
pass "v2 (F1 $(f1_of v2)) rolled out under load: $(json_get "$T/load.json" 'd["ok"]') requests answered, none lost"

# --- v3: a worse model (1 round) is registered as Staging and not rolled out
deploy_run v3 -p rounds=1 -p server="$URL"
assert_eq Staging "$(deployed v3 stage)" "v3 not promoted"
assert_eq null "$(deployed v3 served)" "v3 not rolled out"
assert_contains "$(ctflow logs "$(cat "$T/v3.id")" deploy)" "not rolled out: the server at $URL keeps its version" "deploy's log"
assert_eq 2 "$(served_version)" "the version answering after a worse model"
pass "v3 (F1 $(f1_of v3)) stays in Staging; the server keeps v2"

# --- deploy alone: roll the registry's Production version out (after a rollback to v1 there)
ctflow models promote iot-maintenance:1 Production >/dev/null
deploy_run alone -p stages=deploy -p server="$URL"
assert_eq Skipped "$(json_get "$T/alone.json" 'step(d, "train")["status"]')" "train with stages=deploy"
assert_eq 1 "$(deployed alone served)" "deploy alone rolls out the Production version"
assert_eq 3 "$(ctflow models list iot-maintenance -o json | json_get - 'len(d)')" "versions: deploy alone registers none"
assert_eq 1 "$(served_version)" "the version answering after deploy alone"
pass "deploy alone rolled the registry's Production v1 out to the server"

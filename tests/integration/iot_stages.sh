#!/usr/bin/env bash
# One stage of workflows/iot-maintenance.yaml alone (-p stages=X), as the
# original pipeline ran them, with the real plugins, processes and store. On a
# fresh store a stage alone fails with a message naming the stage to run
# first. After a full run every stage alone succeeds: the steps of the other
# stages are Skipped, and the stage reads what the stage before it made last,
# the newest data versions (core.data) or the registry's Production model,
# saying which one; lineage links what it made to the full run's data.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

use_iot
P=(-p rows=2000 -p chunk_rows=600 -p rounds=50 -p trials=2)

# stage_run NAME ARGS...: `ctflow run` of the workflow; the run document in
# $T/NAME.json, stderr in $T/NAME.err; returns the run's exit status.
stage_run() {
  local name="$1" id rc=0
  shift
  id=$(ctflow run "$WF" "${P[@]}" "$@" 2>"$T/$name.err") || rc=$?
  [ -n "$id" ] || id=$(ctflow list -o json | json_get - 'd[0]["id"]')
  ctflow get "$id" -o json >"$T/$name.json"
  echo "$id" >"$T/$name.id"
  return "$rc"
}
status_of() { json_get "$T/$1.json" "step(d, \"$2\")[\"status\"]"; }
output_of() { json_get "$T/$1.json" "step(d, \"$2\")[\"outputs\"][\"$3\"]"; }

# --- a fresh store: a stage alone names the stage to run first
if stage_run fresh_train -p stages=train; then fail "train alone on a fresh store succeeded"; fi
assert_eq Failed "$(status_of fresh_train data)" "the data step on a fresh store"
assert_contains "$(json_get "$T/fresh_train.json" 'step(d, "data")["message"]')" \
  "no data version iot-maintenance-data yet: run with -p stages=merge (or all) first" "the data step's message"
assert_contains "$(cat "$T/fresh_train.err")" "run with -p stages=merge (or all) first" "ctflow run's error"
assert_eq Skipped "$(status_of fresh_train merge)" "merge with stages=train"
assert_eq Omitted "$(status_of fresh_train train)" "train after the failed data step"
if stage_run fresh_validate -p stages=validate; then fail "validate alone on a fresh store succeeded"; fi
assert_contains "$(json_get "$T/fresh_validate.json" 'step(d, "source")["message"]')" \
  "no data version iot-maintenance-raw yet: run with -p stages=simulate (or all) first" "the source step's message"
pass "on a fresh store, train and validate alone fail naming the stage to run first"

# --- a full run: every producer versions what it made
stage_run all || fail "the full run failed: $(cat "$T/all.err")"
full=$(cat "$T/all.id")
assert_eq Succeeded "$(json_get "$T/all.json" 'd["status"]')" "the full run"
data_version=$(output_of all data version)
assert_eq "$(output_of all merge version)" "$data_version" "the data step passes merge's version on"
assert_eq "$(ctflow data get "$data_version" | cut -f1)" "$(ctflow data get iot-maintenance-data@latest | cut -f1)" "data @latest"
raw_version=$(output_of all source version)
assert_contains "$raw_version" "iot-maintenance-raw@" "the raw data version"
assert_eq "$(output_of all chunks files)" "$(output_of all extract parts)" "the chunks' files are extract's parts"
assert_eq 1 "$(output_of all deploy version)" "the full run deploys v1"
# The same run again: the same model (train from the cache) is not registered twice.
stage_run again || fail "the second full run failed: $(cat "$T/again.err")"
assert_eq 1 "$(output_of again deploy version)" "the second full run deploys v1 again"
assert_contains "$(ctflow logs "$(cat "$T/again.id")" deploy)" "this model is Production already" "deploy's log"
pass "full run: $raw_version, $(output_of all chunks version), $data_version; iot-maintenance v1 in Production"

# --- each stage alone after it
for stage in simulate extract preprocess merge validate tune train test deploy; do
  stage_run "$stage" -p stages="$stage" || fail "stages=$stage after a full run failed: $(cat "$T/$stage.err")"
  assert_eq Succeeded "$(json_get "$T/$stage.json" 'd["status"]')" "stages=$stage"
  # The stage's own step ran; every other stage's step was Skipped.
  "$PY" - "$T/$stage.json" "$stage" <<'PY' || fail "stages=$stage ran other stages, or not its own"
import json, sys
d, stage = json.load(open(sys.argv[1])), sys.argv[2]
stages = ["simulate", "extract", "preprocess", "merge", "validate", "tune", "train", "test", "deploy"]
status = {s["name"]: s["status"] for s in d["steps"]}
assert status[stage] == "Succeeded", (stage, status[stage])
for other in stages:
    if other != stage:
        assert status[other] == "Skipped", (other, status[other])
PY
done
pass "each stage alone after the full run Succeeds, and only it runs"

# What each one read, and that it says so.
logs() { ctflow logs "$(cat "$T/$1.id")" "$2"; }
for stage in train tune; do
  assert_eq "$data_version" "$(output_of "$stage" data version)" "the data set of $stage alone"
  assert_eq "$full" "$(output_of "$stage" data made_by)" "the run that made $stage's data set"
done
assert_contains "$(logs train data)" "iot-maintenance-data@latest" "the data step's log"
assert_contains "$(logs train data)" "made by run $full step merge; its producer did not run in this run" "the data step's log"
# train alone trains with the sweep's defaults (tune did not run).
model=$(json_get "$T/train.json" 'step(d, "train")["artifacts"]["model"]["path"]')
assert_eq 6 "$(json_get "$model/metrics.json" 'd["params"]["max_depth"]')" "train alone's max_depth (the sweep default)"
digest=$(json_get "$T/train.json" 'step(d, "train")["artifacts"]["model"]["digest"]')
ctflow lineage "$digest" -o json >"$T/lineage.json"
# Its input is the data set the full run's merge made (merge alone made the same one since).
"$PY" - "$T/lineage.json" "$(ctflow data get "$data_version" | cut -f1)" <<'PY' || fail "the lineage of train alone's model does not reach merge's data set"
import json, sys
d, data = json.load(open(sys.argv[1])), sys.argv[2]
assert any(i["digest"] == data and i["produced_by"]["step"] == "merge" for i in d["inputs"]), d["inputs"]
PY
pass "train and tune alone read $data_version (made by the full run's merge); lineage says so"

for stage in validate test extract; do
  assert_eq "$raw_version" "$(output_of "$stage" source version)" "the SQL source of $stage alone"
done
assert_eq true "$(output_of validate validate ok)" "validate alone"
[ "$(output_of validate validate drift)" != null ] || fail "validate alone made no drift check against the Production v1"
assert_eq 1 "$(output_of test test production_version)" "test alone scores Production v1"
assert_eq 2000 "$(output_of test test rows)" "test alone's rows"
assert_contains "$(logs test test)" "train did not run in this run" "test alone's log"
assert_contains "$(logs test test)" "iot-maintenance v1 (Production" "test alone's log"
pass "validate and test alone read $raw_version and the Production model v1"

assert_eq 1 "$(output_of deploy deploy version)" "deploy alone's version"
assert_eq false "$(output_of deploy deploy promoted)" "deploy alone promotes nothing"
assert_eq null "$(output_of deploy deploy served)" "deploy alone without a server"
assert_contains "$(logs deploy deploy)" "nothing new is registered: iot-maintenance v1 (Production" "deploy alone's log"
assert_eq 1 "$(ctflow models list iot-maintenance -o json | json_get - 'len(d)')" "registered versions"
pass "deploy alone deploys the Production v1 and registers nothing"

# The data stages alone: each reads the newest output of the one before.
assert_eq "$raw_version" "$(output_of simulate source version)" "simulate alone versions the same rows (same seed)"
assert_eq 2000 "$(output_of extract extract rows)" "extract alone"
assert_eq "$(output_of all chunks version)" "$(output_of preprocess chunks version)" "the chunks preprocess alone read"
assert_eq "$(json_get "$T/all.json" 'len(step(d, "extract")["outputs"]["parts"])')" \
  "$(json_get "$T/preprocess.json" 'len([s for s in d["steps"] if s["name"].startswith("preprocess[")])')" \
  "preprocess alone's instances"
assert_eq "$data_version" "$(output_of merge merge version)" "merge alone merges the same features"
assert_contains "$(logs merge merge)" "preprocess did not run in this run" "merge alone's log"
pass "simulate, extract, preprocess and merge alone each read the newest output of the stage before"

# --- a subset of stages: train and test run, test scores the model train made
stage_run subset -p stages=train,test || fail "stages=train,test failed: $(cat "$T/subset.err")"
for s in train test; do assert_eq Succeeded "$(status_of subset "$s")" "$s with stages=train,test"; done
for s in simulate extract preprocess merge validate tune deploy; do
  assert_eq Skipped "$(status_of subset "$s")" "$s with stages=train,test"
done
assert_eq "$data_version" "$(output_of subset data version)" "the data set of train,test"
assert_contains "$(logs subset test)" "the trained model on 2000 recent rows" "test's log with train in the subset"
[ "$(output_of subset test f1)" != null ] || fail "test in train,test gave no F1 of the trained model"
pass "stages=train,test trains, and tests the model it trained next to Production v1"

# --- a name that is no stage: the run fails before any stage runs, saying what to give
if stage_run typo -p stages=train,tset; then fail "stages=train,tset succeeded"; fi
assert_eq Failed "$(status_of typo stages_check)" "the stages check"
assert_contains "$(json_get "$T/typo.json" 'step(d, "stages_check")["message"]')" \
  "-p stages=train,tset: give all, or stages separated by commas" "the stages check's message"
for s in simulate train; do assert_eq Omitted "$(status_of typo "$s")" "$s after a bad stages list"; done
pass "stages=train,tset fails naming the stages to give; nothing runs"

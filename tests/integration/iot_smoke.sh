#!/usr/bin/env bash
# CI smoke profile of workflows/iot-maintenance.yaml: 2,000 generated AI4I
# readings through `ctflow run` with the real plugins (extract in chunks, the
# preprocess fan-out, merge tagged as a data version); then the interop of the
# trained model: Python's xgboost loads model.json and predicts the held-out
# rows (read with numpy) to the same probabilities within 1e-6; registration
# in the model registry; then one stage
# alone, and a clear error for bad SQL. Timing is printed, never asserted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

use_iot
need_python_module xgboost python3-xgboost
need_python_module numpy python3-numpy

start=$SECONDS
id=$(ctflow run "$WF" -p rows=2000 -p chunk_rows=600 -p rounds=50 -p trials=2 2>"$T/err") || fail "the smoke run failed: $(cat "$T/err")"
echo "smoke run took $((SECONDS - start)) s"
ctflow get "$id" -o json > "$T/run.json"
assert_eq Succeeded "$(json_get "$T/run.json" 'd["status"]')" "run status"
f1=$(json_get "$T/run.json" 'step(d, "train")["outputs"]["f1"]')
echo "held-out F1 on 2,000 rows: $f1"
"$PY" -c "import sys; sys.exit(0 if float('$f1') >= 0.4 else 1)" || fail "F1 $f1 is below the floor 0.4"
pass "smoke profile: F1 $f1 >= 0.4"

# extract wrote 2,000 rows in chunks; preprocess ran once per chunk; merge made
# them one data set of 2,000 rows, tagged as a data version (and @latest).
assert_eq 2000 "$(json_get "$T/run.json" 'step(d, "extract")["outputs"]["rows"]')" "rows extracted"
parts=$(json_get "$T/run.json" 'len(step(d, "extract")["outputs"]["parts"])')
assert_eq "$parts" "$(json_get "$T/run.json" 'len([s for s in d["steps"] if s["name"].startswith("preprocess[")])')" "preprocess instances"
assert_eq 2000 "$(json_get "$T/run.json" 'step(d, "merge")["outputs"]["rows"]')" "rows merged"
version=$(json_get "$T/run.json" 'step(d, "merge")["outputs"]["version"]')
assert_contains "$version" "iot-maintenance-data@" "data version"
assert_eq "$(ctflow data get "$version" | cut -f1)" "$(ctflow data get iot-maintenance-data@latest | cut -f1)" "@latest"
pass "extract, a preprocess fan-out of $parts chunks and merge: 2,000 rows tagged $version"

# tune: 2 trials of the sweep; train took the best trial's parameters.
assert_eq 2 "$(json_get "$T/run.json" 'len([s for s in d["steps"] if s["name"].startswith("tune[")])')" "tuning trials"
best=$(json_get "$T/run.json" 'step(d, "tune")["outputs"]["best"]["max_depth"]')
model_depth=$(json_get "$T/run.json" 'json.load(open(step(d, "train")["artifacts"]["model"]["path"] + "/metrics.json"))["params"]["max_depth"]')
assert_eq "$best" "$model_depth" "train's max_depth is the best trial's"
pass "tune ran 2 trials; train used the best max_depth ($best)"

# Kubeflow's output viewers from train: the confusion matrix agrees with the
# recorded F1, and the ROC curve runs from (0, 0) to (1, 1).
"$PY" - "$(json_get "$T/run.json" 'step(d, "train")["artifacts"]["mlpipeline-ui-metadata"]["path"]')" "$f1" <<'PYEOF' ||
import json, sys
outs = {o["type"]: o for o in json.load(open(sys.argv[1]))["outputs"]}
rows = [l.split(",") for l in outs["confusion_matrix"]["source"].strip().split("\n")]
cm = {(t, p): int(n) for t, p, n in rows}
tp, fp, fn = cm[("failure", "failure")], cm[("ok", "failure")], cm[("failure", "ok")]
f1 = 2 * tp / (2 * tp + fp + fn)
assert abs(f1 - float(sys.argv[2])) < 1e-9, (f1, sys.argv[2])
roc = [[float(x) for x in l.split(",")] for l in outs["roc"]["source"].strip().split("\n")]
assert roc[0][:2] == [0, 0] and roc[-1][:2] == [1, 1], (roc[0], roc[-1])
assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(roc, roc[1:])), "the ROC curve is not monotone"
assert "markdown" in outs and "table" in outs, sorted(outs)
PYEOF
  fail "train's mlpipeline-ui-metadata does not match its F1 or has no ROC curve"
pass "mlpipeline-ui-metadata: confusion matrix with the recorded F1, a ROC curve from (0,0) to (1,1)"

# validate passed the generated rows; with no Production model, no drift check yet.
assert_eq true "$(json_get "$T/run.json" 'step(d, "validate")["outputs"]["ok"]')" "validate ok"
assert_eq null "$(json_get "$T/run.json" 'step(d, "validate")["outputs"]["drift"]')" "drift before any deploy"

# test scores the trained model on the most recent rows; no Production model yet.
assert_eq Succeeded "$(json_get "$T/run.json" 'step(d, "test")["status"]')" "test status"
assert_eq 2000 "$(json_get "$T/run.json" 'step(d, "test")["outputs"]["rows"]')" "rows tested (the query's LIMIT 2000)"
assert_eq null "$(json_get "$T/run.json" 'step(d, "test")["outputs"]["production_f1"]')" "Production F1 before any deploy"
pass "test scored the trained model on the 2,000 most recent rows"

assert_eq Succeeded "$(json_get "$T/run.json" 'step(d, "deploy")["status"]')" "deploy status"
assert_eq 1 "$(json_get "$T/run.json" 'step(d, "deploy")["outputs"]["version"]')" "deployed version"
assert_contains "$(ctflow models list iot-maintenance)" "Production" "model registry"
pass "deploy registered iot-maintenance v1 in Production"

model=$(json_get "$T/run.json" 'step(d, "train")["artifacts"]["model"]["path"]')
[ -f "$model/model.json" ] || fail "no model.json in the model artifact $model"
"$PY" - "$model" <<'PYEOF' || fail "Python's xgboost does not reproduce the probabilities"
import sys, numpy as np, xgboost as xgb
d = sys.argv[1]
rows = np.genfromtxt(d + "/holdout.csv", delimiter=",", names=True)
names = list(rows.dtype.names)
x = np.column_stack([rows[n] for n in names[:-2]]).astype(np.float32)
b = xgb.Booster()
b.load_model(d + "/model.json")
p = b.predict(xgb.DMatrix(x, feature_names=names[:-2]))
diff = float(np.max(np.abs(p - rows["probability"])))
print(f"interop: {len(p)} held-out rows, max |p_python - p_ctflow| = {diff:.2e}")
sys.exit(0 if diff <= 1e-6 else 1)
PYEOF
pass "Python's xgboost loads model.json and predicts the held-out rows within 1e-6"

# ctflow serve with the xgboost handler: rows of named readings in, the failure
# probability Python's xgboost gives the same features out, batched; a bad row
# is a 400 that names the field.
start_serve serve --max-delay 1000
assert_contains "$(cat "$T/serve.out")" "loaded iot-maintenance v1 (xgboost" "start-up banner"
db=$(json_get "$T/run.json" 'step(d, "simulate")["artifacts"]["database"]["path"]')
"$PY" - "$URL" "$db" "$model" <<'PYEOF' || fail "the xgboost handler's answers are wrong"
import http.client, json, math, sqlite3, sys, urllib.parse
import numpy as np, xgboost as xgb
url, db, model = sys.argv[1], sys.argv[2], sys.argv[3]
u = urllib.parse.urlparse(url)
cols = ["type", "air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min"]
rows = [dict(zip(cols, r)) for r in sqlite3.connect(db).execute(
    "SELECT " + ", ".join(cols) + " FROM readings ORDER BY machine_failure DESC, udi LIMIT 40")]
def post(body):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", "/predictions/iot-maintenance", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read())
status, got = post({"instances": rows})
assert status == 200, (status, got)
preds = got["predictions"]
limit = {"L": 11000.0, "M": 12000.0, "H": 13000.0}
x = np.array([[r["air_temp_k"], r["process_temp_k"], r["rpm"], r["torque_nm"], r["tool_wear_min"],
               r["torque_nm"] * r["rpm"] * 2 * math.pi / 60, r["process_temp_k"] - r["air_temp_k"],
               r["tool_wear_min"] * r["torque_nm"], r["tool_wear_min"] * r["torque_nm"] / limit[r["type"]],
               r["type"] == "L", r["type"] == "M", r["type"] == "H"] for r in rows], dtype=np.float32)
b = xgb.Booster()
b.load_model(model + "/model.json")
want = b.predict(xgb.DMatrix(x, feature_names=b.feature_names))
diff = max(abs(p["failure_probability"] - w) for p, w in zip(preds, want))
assert diff <= 1e-5, diff
assert all(p["label"] == ("failure" if p["failure_probability"] >= p["threshold"] else "ok") for p in preds)
assert any(p["label"] == "failure" for p in preds), "no failure among the 40 rows that failed first"
status, one = post(rows[0])
assert status == 200 and abs(one["failure_probability"] - preds[0]["failure_probability"]) < 1e-7, (status, one)
for bad, field in [({k: v for k, v in rows[0].items() if k != "rpm"}, "'rpm' is missing"),
                   (dict(rows[0], torque_nm="high"), "'torque_nm' must be a number"),
                   (dict(rows[0], type="X"), "'type' is \"X\"")]:
    status, err = post({"instances": [rows[1], bad]})
    assert status == 400 and field in err["message"] and '"instances"[1]' in err["message"], (status, err)
print(f"serve: 40 rows batched within {diff:.1e} of Python's xgboost; bad rows are 400 naming the field")
PYEOF
pass "ctflow serve (xgboost handler): batched rows match Python's xgboost; bad rows get 400 with the field named"
kill "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true

# One stage alone: train is Skipped, simulate runs.
id2=$(ctflow run "$WF" -p rows=2000 -p stages=simulate 2>"$T/err2") || fail "stages=simulate failed: $(cat "$T/err2")"
ctflow get "$id2" -o json > "$T/run2.json"
assert_eq Skipped "$(json_get "$T/run2.json" 'step(d, "train")["status"]')" "train with stages=simulate"
assert_eq Skipped "$(json_get "$T/run2.json" 'step(d, "test")["status"]')" "test with stages=simulate"
assert_eq Skipped "$(json_get "$T/run2.json" 'step(d, "deploy")["status"]')" "deploy with stages=simulate"

# Bad SQL is a clear error naming the query.
if ctflow run "$WF" -p rows=500 -p query="SELEC nonsense" > "$T/err3" 2>&1; then fail "bad SQL succeeded"; fi
assert_contains "$(cat "$T/err3")" "is not valid SQL" "bad SQL message"
pass "bad SQL is a clear error naming the query"

#!/usr/bin/env bash
# CI smoke profile of workflows/iot-maintenance.yaml: 2,000 generated AI4I
# readings through `ctflow run` with the real plugins; then the interop of the
# trained model: Python's xgboost loads model.json and predicts the held-out
# rows (read with numpy) to the same probabilities within 1e-6; registration
# in the model registry; then one stage
# alone, and a clear error for bad SQL. Timing is printed, never asserted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[ -f "$CTFLOW_BUILD_DIR/plugins/libctflow_iot.so" ] ||
  missing "the iot plugins are not built: libxgboost is not installed (scripts/setup.sh, or apt-get install libxgboost-dev)"
need_python_module xgboost python3-xgboost
need_python_module numpy python3-numpy
WF="$CTFLOW_SOURCE_DIR/workflows/iot-maintenance.yaml"
export CTFLOW_PLUGIN_PATH="$CTFLOW_BUILD_DIR/plugins${CTFLOW_PLUGIN_PATH:+:$CTFLOW_PLUGIN_PATH}"

start=$SECONDS
id=$(ctflow run "$WF" -p rows=2000 -p rounds=50 2>"$T/err") || fail "the smoke run failed: $(cat "$T/err")"
echo "smoke run took $((SECONDS - start)) s"
ctflow get "$id" -o json > "$T/run.json"
assert_eq Succeeded "$(json_get "$T/run.json" 'd["status"]')" "run status"
f1=$(json_get "$T/run.json" 'step(d, "train")["outputs"]["f1"]')
echo "held-out F1 on 2,000 rows: $f1"
"$PY" -c "import sys; sys.exit(0 if float('$f1') >= 0.4 else 1)" || fail "F1 $f1 is below the floor 0.4"
pass "smoke profile: F1 $f1 >= 0.4"

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

# One stage alone: train is Skipped, simulate runs.
id2=$(ctflow run "$WF" -p rows=2000 -p stages=simulate 2>"$T/err2") || fail "stages=simulate failed: $(cat "$T/err2")"
ctflow get "$id2" -o json > "$T/run2.json"
assert_eq Skipped "$(json_get "$T/run2.json" 'step(d, "train")["status"]')" "train with stages=simulate"
assert_eq Skipped "$(json_get "$T/run2.json" 'step(d, "deploy")["status"]')" "deploy with stages=simulate"

# Bad SQL is a clear error naming the query.
if ctflow run "$WF" -p rows=500 -p query="SELEC nonsense" > "$T/err3" 2>&1; then fail "bad SQL succeeded"; fi
assert_contains "$(cat "$T/err3")" "is not valid SQL" "bad SQL message"
pass "bad SQL is a clear error naming the query"

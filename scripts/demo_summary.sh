#!/usr/bin/env bash
# What a run of workflows/mnist-ct.yaml did, read from the store: its status,
# the kNN accuracy, the model version it registered (and whether it became
# Production), and the commands to try next. Used by scripts/demo.sh:
#   scripts/demo_summary.sh CTFLOW RUN_ID
set -euo pipefail
CTFLOW=${1:?usage: demo_summary.sh CTFLOW RUN_ID}
RUN=${2:?usage: demo_summary.sh CTFLOW RUN_ID}
run_json=$("$CTFLOW" get "$RUN" -o json)
models_json=$("$CTFLOW" models list -o json)
python3 - "$CTFLOW" "$RUN" "$run_json" "$models_json" <<'PY'
import json, sys

ctflow, run_id, run, models = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
steps = {s["name"]: s for s in run.get("steps", [])}

def outputs(name):
    return (steps.get(name) or {}).get("outputs") or {}

print()
print(f"run {run_id}: {run.get('status')}")
acc = outputs("analyze").get("accuracy")
if acc is not None:
    print(f"  kNN accuracy on the test set: {float(acc):.4f}")
train_acc = outputs("train").get("val_accuracy")
if train_acc is not None:
    print(f"  validation accuracy while training: {float(train_acc):.4f}")
mine = [m for m in models if m.get("run_id") == run_id]
deploy = steps.get("deploy") or {}
if mine:
    m = max(mine, key=lambda m: m["version"])
    print(f"  registered {m['name']} version {m['version']}, stage {m['stage']}")
elif deploy.get("status") == "Skipped" or deploy.get("status") == "Omitted":
    print(f"  no model registered: deploy did not run ({deploy.get('message') or 'the accuracy is below the threshold'})")
else:
    print("  no model registered by this run")
prod = [m for m in models if m.get("stage") == "Production"]
if run.get("status") != "Succeeded":
    print()
    print("what went wrong:")
    print(f"  {ctflow} get {run_id}          the steps and their messages")
    print(f"  {ctflow} logs {run_id} STEP    a step's log")
    print(f"  {ctflow} resume {run_id}       run the rest once fixed")
    sys.exit(0)
print()
print("next:")
def cmd(line, *about):
    print(f"  {ctflow} {line}")
    for a in about:
        print(f"      {a}")
if prod:
    name, version = prod[0]["name"], prod[0]["version"]
    cmd("serve", f"answers predictions with {name} v{version} on http://127.0.0.1:8081:",
        f"curl --data-binary @digit.png -H 'Content-Type: image/png' localhost:8081/predictions/{name}")
cmd("ui", "the dashboard on http://127.0.0.1:8080: runs, their graphs and logs, metrics, models")
cmd("export argo workflows/mnist-ct.yaml --out mnist-ct.argo.yaml", "the same workflow for an Argo or Kubeflow cluster")
if prod:
    cmd(f"lineage {name}:{version}", "which data, code and parameters made the model")
PY

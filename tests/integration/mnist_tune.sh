#!/usr/bin/env bash
# A tiny tuned run of workflows/mnist-ct.yaml (-p trials=3): the `tune` sweep
# (TPE, mnist.train trials on a subset, ASHA over the per-epoch val_accuracy
# that mnist.train reports live through CTFLOW_METRICS) feeds `train`, which
# must train with the best trial's lr, ArcFace margin and embedding dim (read
# back from the model's own meta.json and from its lineage), and the model is
# deployed. Without trials the defaults are used (the quickstart's values).
# Timing is printed, never asserted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

use_mnist
small=(-p data="$DATA" -p limit=1000 -p epochs=1 -p threshold=0 -p tune_limit=600 -p tune_epochs=2)

# --- trials=3: tune, train with the best parameters, deploy
start=$SECONDS
id=$(ctflow run "$WF" "${small[@]}" -p trials=3 2>"$T/err") || fail "the tuned run failed: $(cat "$T/err")"
echo "tuned run (3 trials of 2 epochs on 600 images, then 1 epoch on 1000) took $((SECONDS - start)) s"
ctflow get "$id" -o json > "$T/run.json"
assert_eq Succeeded "$(json_get "$T/run.json" 'd["status"]')" "run status"
assert_eq Succeeded "$(json_get "$T/run.json" 'step(d, "tune")["status"]')" "tune status"
assert_eq 3 "$(json_get "$T/run.json" 'len([s for s in d["steps"] if s["name"].startswith("tune[")])')" "trials run"
assert_eq '[]' "$(json_get "$T/run.json" '[s["name"] for s in d["steps"] if s["name"].startswith("tune[") and s["status"] not in ("Succeeded", "Stopped")]')" "trials that neither Succeeded nor were Stopped"
best=$(json_get "$T/run.json" 'step(d, "tune")["outputs"]["best"]')
best_trial=$(json_get "$T/run.json" 'step(d, "tune")["outputs"]["best_trial"]')
assert_eq "$best" "$(json_get "$T/run.json" "step(d, \"tune[$best_trial]\")[\"trial\"]")" "best is the parameters of trial best_trial"
# the best trial's objective is the highest of the trials' val_accuracy
assert_eq true "$(json_get "$T/run.json" 'step(d, "tune")["outputs"]["best_value"] == max(s["outputs"]["objective"] for s in d["steps"] if s["name"].startswith("tune[") and s["status"] == "Succeeded" and s["outputs"].get("objective") is not None)')" "best_value is the highest objective of the trials that finished (a Stopped trial's last value is from an earlier epoch)"
# the objective came from mnist.train's per-epoch val_accuracy series, recorded per trial
ctflow metrics "$id" "tune[$best_trial]" -o json > "$T/metrics.json"
assert_eq true "$(json_get "$T/metrics.json" 'len([m for m in d["metrics"] if m["name"] == "val_accuracy" and m["kind"] == "series"]) >= 1')" "the best trial's val_accuracy points"
pass "tune ran 3 trials and picked the best: $best"

model=$(json_get "$T/run.json" 'step(d, "train")["artifacts"]["model"]["path"]')
used=$("$PY" -c 'import json, sys; p = json.load(open(sys.argv[1] + "/meta.json"))["params"]; print(json.dumps({"dim": p["embedding_dim"], "lr": p["lr"], "margin": p["arcface_margin"]}, sort_keys=True))' "$model")
assert_eq "$("$PY" -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$best")" "$used" "the parameters train used (its model's meta.json)"
assert_eq Succeeded "$(json_get "$T/run.json" 'step(d, "deploy")["status"]')" "deploy status"
ctflow lineage mnist-embedder:1 -o json > "$T/lineage.json"
assert_eq "$(json_get - 'd["dim"]' <<< "$best")" "$(json_get "$T/lineage.json" 'd["artifacts"]["model"]["produced_by"]["inputs"]["with"]["embedding_dim"]')" "lineage: the deployed model's embedding_dim"
pass "train used the best trial's parameters and the model was deployed"

# --- an unchanged re-run: every trial is a cache hit, those ASHA stopped too
# (they end Stopped again, under the same rule), and train with them
all=$(json_get "$T/run.json" '[s["name"] for s in d["steps"] if s["name"].startswith("tune[")]')
ctflow run "$WF" "${small[@]}" -p trials=3 > /dev/null 2>"$T/err2" || fail "the re-run failed: $(cat "$T/err2")"
ctflow get @latest -o json > "$T/run2.json"
assert_eq "$all" "$(json_get "$T/run2.json" '[s["name"] for s in d["steps"] if s["name"].startswith("tune[") and s.get("cached")]')" "trials served from the cache"
assert_eq "$(json_get "$T/run.json" '[s["status"] for s in d["steps"] if s["name"].startswith("tune[")]')" \
  "$(json_get "$T/run2.json" '[s["status"] for s in d["steps"] if s["name"].startswith("tune[")]')" "the trials' statuses on the re-run"
assert_eq "$best" "$(json_get "$T/run2.json" 'step(d, "tune")["outputs"]["best"]')" "the re-run's best"
pass "an unchanged re-run of the sweep reuses its trials"

# --- trials=0 (the default): no tuning, train gets the defaults
id0=$(ctflow run "$WF" "${small[@]}" 2>"$T/err0") || fail "the untuned run failed: $(cat "$T/err0")"
ctflow get "$id0" -o json > "$T/run0.json"
assert_eq "Skipped Skipped" "$(json_get "$T/run0.json" 'step(d, "tune_data")["status"] + " " + step(d, "tune")["status"]')" "tune_data and tune without trials"
model0=$(json_get "$T/run0.json" 'step(d, "train")["artifacts"]["model"]["path"]')
assert_eq '{"dim": 64, "lr": 0.003, "margin": 0.3}' "$("$PY" -c 'import json, sys; p = json.load(open(sys.argv[1] + "/meta.json"))["params"]; print(json.dumps({"dim": p["embedding_dim"], "lr": p["lr"], "margin": p["arcface_margin"]}, sort_keys=True))' "$model0")" "the parameters train used without tuning"
pass "trials=0 skips tuning and trains with the defaults"

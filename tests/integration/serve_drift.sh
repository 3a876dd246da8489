#!/usr/bin/env bash
# Drift, end to end on real MNIST digits: the workflow registers a reference
# profile with the model (mnist.analyze -> mnist.deploy); `ctflow serve` keeps a
# window of what it answers and scores it against that profile. Digits from the
# held-out test split score low; images that are not digits (noise, inverted
# digits) push the score over the threshold and "drifted" flips, on
# GET /models/{model}/drift and on /metrics. A model without a profile says so;
# an unknown model is a 404. mnist.validate compares a new dataset with the
# Production profile: the same digits do not drift, inverted ones do.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

use_mnist
need_tool curl

# --- v1 of mnist-embedder, with its profile; "plain" registered without one
id1=$(ctflow run "$WF" -p data="$DATA" -p limit=800 -p epochs=1 -p threshold=0 2>"$T/err1") || fail "run 1: $(cat "$T/err1")"
ctflow get "$id1" -o json > "$T/run1.json"
assert_eq null "$(json_get "$T/run1.json" 'step(d, "validate")["outputs"]["drift"]')" "no Production model yet: no drift score"
assert_eq false "$(json_get "$T/run1.json" 'step(d, "validate")["outputs"]["drifted"]')" "no Production model yet: not drifted"
sed -e '/profile: "{{steps.analyze.artifacts.profile}}"/d' \
    -e 's|      server: "{{params.server}}"|      server: "{{params.server}}"\n      model_name: plain|' "$WF" > "$T/plain.yaml"
id2=$(ctflow run "$T/plain.yaml" -p data="$DATA" -p limit=800 -p epochs=1 -p threshold=0 2>"$T/err2") || fail "run 2: $(cat "$T/err2")"
ctflow get "$id2" -o json > "$T/run2.json"
# run 2's validate compared the same digits with mnist-embedder v1's profile
assert_eq false "$(json_get "$T/run2.json" 'step(d, "validate")["outputs"]["drifted"]')" "the same digits do not drift"
"$PY" -c 'import json,sys; d=float(sys.argv[1]); assert 0 <= d < 0.5, d' \
  "$(json_get "$T/run2.json" 'step(d, "validate")["outputs"]["drift"]')" || fail "validate: drift of the same digits"
sigs=$("$PY" -c 'import json,sys; print(sorted(json.load(open(sys.argv[1]))["profile_drift"]["signals"]))' \
  "$(json_get "$T/run2.json" 'step(d, "validate")["artifacts"]["report"]["path"]')")
assert_eq "['class_balance', 'intensity', 'neighbor_distance']" "$sigs" "validate compares all three signals"
pass "the profile is registered; validate scores the same digits as no drift"

start_serve serve --drift-window 200
curl -fsS "$URL/metrics" | grep -q '^ctflow_serve_drift_window_inputs{model="mnist-embedder"} 0$' || fail "no empty drift window on /metrics"

"$PY" - "$URL" "$(json_get "$T/run1.json" 'step(d, "ingest")["artifacts"]["dataset"]["path"]')" <<'PY'
import http.client, json, pathlib, sys, urllib.parse
import numpy as np
url, dataset = sys.argv[1], pathlib.Path(sys.argv[2])
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
def call(method, path, body=None):
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read())
def send(images):  # uint8 N x 28 x 28, 50 at a time
    for i in range(0, len(images), 50):
        s, b = call("POST", "/predictions/mnist-embedder",
                    json.dumps({"instances": [im.reshape(-1).tolist() for im in images[i:i + 50]]}))
        assert s == 200, (s, b)
def drift():
    s, d = call("GET", "/models/mnist-embedder/drift")
    assert s == 200, (s, d)
    return d

s, d = call("GET", "/models/nosuch/drift")
assert s == 404 and "nosuch" in d["message"], (s, d)
s, d = call("GET", "/models/plain/drift")
assert s == 200 and d["score"] is None and "without a reference profile" in d["reason"], d
d = drift()
assert d["score"] is None and d["count"] == 0 and "needs at least 100" in d["reason"], d

man = json.loads((dataset / "manifest.json").read_text())
test = np.concatenate([np.load(dataset / c["images"]) for c in man["splits"]["test"]["chunks"]])
send(test[:200])
d = drift()
assert set(d) >= {"model", "version", "window", "score", "drifted", "signals"}, d
assert d["model"] == "mnist-embedder" and d["version"] == 1 and d["window"] == 200 and d["count"] == 200, d
assert set(d["signals"]) == {"intensity", "class_balance", "neighbor_distance"}, d["signals"]
assert d["signals"]["intensity"]["method"] == "psi" and d["signals"]["neighbor_distance"]["method"] == "ks", d
assert d["drifted"] is False and d["score"] < 0.5, d
assert not d["signals"]["intensity"]["drifted"] and d["signals"]["intensity"]["score"] < 0.1, d
print("ok: 200 held-out digits: drift %.3f %s" % (d["score"], {k: round(v["score"], 4) for k, v in d["signals"].items()}))

rng = np.random.default_rng(7)
send(rng.integers(0, 256, size=(100, 28, 28), dtype=np.uint8))  # noise
send(255 - test[200:300])                                        # inverted digits
d = drift()
assert d["drifted"] is True and d["score"] >= 0.5, d
assert d["signals"]["intensity"]["drifted"] and d["signals"]["intensity"]["score"] >= 0.1, d
print("ok: noise and inverted digits: drift %.3f %s" % (d["score"], {k: round(v["score"], 4) for k, v in d["signals"].items()}))
PY
pass "the drift score crosses the threshold when the inputs stop being digits"

m=$(curl -fsS "$URL/metrics")
assert_contains "$m" 'ctflow_serve_drift_overall{model="mnist-embedder"}' "overall drift on /metrics"
assert_contains "$m" 'ctflow_serve_drift_detected{model="mnist-embedder"} 1' "drift detected on /metrics"
for sig in intensity class_balance neighbor_distance; do
  assert_contains "$m" "ctflow_serve_drift_score{model=\"mnist-embedder\",signal=\"$sig\"}" "$sig score on /metrics"
done
assert_not_contains "$m" 'ctflow_serve_drift_overall{model="plain"}' "no score without a profile"
pass "/metrics has the drift series"

# --- validate on inverted digits against the Production profile: drifted
"$PY" - "$DATA" "$T/inverted" <<'PY'
import gzip, pathlib, shutil, sys
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
out.mkdir()
for f in src.iterdir():
    if "images" in f.name:
        raw = bytearray((gzip.open if f.suffix == ".gz" else open)(f, "rb").read())
        raw[16:] = bytes(255 - b for b in raw[16:])  # IDX: a 16-byte header, then the pixels
        (gzip.open if f.suffix == ".gz" else open)(out / f.name, "wb").write(bytes(raw))
    elif "labels" in f.name:
        shutil.copy(f, out / f.name)
PY
id3=$(ctflow run "$WF" -p data="$T/inverted" -p limit=800 -p epochs=1 -p threshold=2 2>"$T/err3") || fail "run 3: $(cat "$T/err3")"
ctflow get "$id3" -o json > "$T/run3.json"
assert_eq true "$(json_get "$T/run3.json" 'step(d, "validate")["outputs"]["drifted"]')" "inverted digits drift"
"$PY" -c 'import json,sys; d=float(sys.argv[1]); assert d >= 0.5, d' \
  "$(json_get "$T/run3.json" 'step(d, "validate")["outputs"]["drift"]')" || fail "validate: drift of inverted digits"
drifting=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["profile_drift"]["signals"]; print(sorted(k for k in s if s[k]["drifted"]))' \
  "$(json_get "$T/run3.json" 'step(d, "validate")["artifacts"]["report"]["path"]')")
assert_contains "$drifting" "'intensity'" "validate: the intensity of inverted digits drifts"
pass "validate: inverted digits drift against the Production profile ($drifting)"

#!/usr/bin/env bash
# `ctflow serve` end to end on real MNIST digits: a real server process on
# loopback and real HTTP clients. Checks that predictions (JSON, PNG, batches)
# equal the analyze step's kNN answers for the same test images, the errors
# for bad requests, the token on the management API, and that a rollout by the
# MNIST workflow (`-p server=...`) under concurrent load loses no request.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

use_mnist
need_tool curl

# --- v1: a weak model (few images), registered as Production
train_v1

# --- the server, with a management token
TOKEN="tok-$RANDOM$RANDOM"
start_serve serve --token "$TOKEN" --max-body 2000000 --max-delay 1000
assert_contains "$(cat "$T/serve.out")" "loaded mnist-embedder v1" "start-up banner"
pass "ctflow serve is up at $URL with v1"

art() { json_get "$1" "step(d, \"$2\")[\"artifacts\"][\"$3\"][\"path\"]"; }
"$PY" - "$URL" "$TOKEN" "$(art "$T/run1.json" ingest dataset)" "$(art "$T/run1.json" analyze report)" <<'PY'
import http.client, json, pathlib, socket, struct, sys, urllib.parse, zlib
import numpy as np
url, token, dataset, report = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), pathlib.Path(sys.argv[4])
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
def call(method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, data, r
def png(img):  # an 8-bit grayscale PNG, written by hand (zlib + CRC)
    raw = b"".join(b"\0" + bytes(row) for row in img)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    h, w = img.shape
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

s, b, _ = call("GET", "/ping")
assert s == 200 and json.loads(b)["status"] == "Healthy", (s, b)

man = json.loads((dataset / "manifest.json").read_text())
c = man["splits"]["test"]["chunks"][0]
images = np.load(dataset / c["images"])  # uint8 N x 28 x 28, in the order analyze saw them
want = json.loads(report.read_text())["predictions"]
N = 40
agree = 0
for i in range(N):
    s, b, r = call("POST", "/predictions/mnist-embedder", json.dumps({"data": images[i].reshape(-1).tolist()}),
                   {"Content-Type": "application/json"})
    assert s == 200, (s, b)
    d = json.loads(b)
    assert set(d) == {"pred", "dist", "neighbors"} and len(d["neighbors"]) == 10, d
    assert r.getheader("X-Model-Version") == "1"
    agree += d["pred"] == want[i]
    s, b, _ = call("POST", "/predictions/mnist-embedder/1", png(images[i]), {"Content-Type": "image/png"})
    assert s == 200 and json.loads(b)["pred"] == d["pred"], (i, s, b, d)
assert agree == N, "JSON/PNG predictions agree with analyze on %d of %d images" % (agree, N)
# a batch, in [0, 1] floats, and a PNG of another size (resized)
s, b, _ = call("POST", "/predictions/mnist-embedder", json.dumps({"instances": [(images[i] / 255.0).tolist() for i in range(N)]}))
assert s == 200, (s, b)
preds = [p["pred"] for p in json.loads(b)["predictions"]]
assert preds == want[:N], (preds, want[:N])
big = np.kron(images[0], np.ones((2, 2), dtype=np.uint8))  # 56 x 56: averages back to the same 28 x 28
s, b, _ = call("POST", "/predictions/mnist-embedder", png(big), {"Content-Type": "image/png"})
assert s == 200 and json.loads(b)["pred"] == want[0], b
print("ok: %d JSON, %d PNG and a batch of %d agree with the analyze step" % (N, N, N))

# bad requests: a status and a message that says what to send
def bad(status, needle, body, ctype="application/json", path="/predictions/mnist-embedder", method="POST", headers=None):
    h = {"Content-Type": ctype}
    h.update(headers or {})
    s, b, _ = call(method, path, body, h)
    assert s == status, (status, s, b)
    msg = json.loads(b)["message"]
    assert needle in msg, (needle, msg)
bad(400, "the model takes 784", json.dumps({"data": [0] * 783}))
bad(400, "neither a PNG nor JSON", b"\x00garbage")
bad(400, "neither \"data\" nor \"instances\"", json.dumps({"pixels": [0] * 784}))
bad(400, "pixel values are in [0, 1] or [0, 255]", json.dumps({"data": [300] * 784}))
bad(400, "the PNG is damaged", png(images[0])[:60] + b"\0" * 20, "image/png")
bad(415, "not a PNG", b"GIF89a....", "image/gif")
bad(404, "Model not found: nosuch", json.dumps({"data": [0] * 784}), path="/predictions/nosuch")
bad(404, "Model version not found", json.dumps({"data": [0] * 784}), path="/predictions/mnist-embedder/7")
bad(401, "Authorization: Bearer", None, path="/models/mnist-embedder/1/set-default", method="PUT")
bad(401, "Authorization: Bearer", None, path="/models/mnist-embedder/1", method="DELETE", headers={"Authorization": "Bearer wrong"})
conn.close()
# too big: refused from the headers alone, before the body is read
sk = socket.create_connection((u.hostname, u.port))
sk.sendall(b"POST /predictions/mnist-embedder HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 3000000\r\n\r\n")
sk.settimeout(10)
head = sk.recv(4096)
sk.close()
assert head.startswith(b"HTTP/1.1 413") and b"over the limit" in head, head
# malformed HTTP: answered 400 or closed, and the server goes on
for junk in (b"GARBAGE\r\n\r\n", b"POST /predictions/x HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"\xff" * 5000 + b"\r\n\r\n"):
    sk = socket.create_connection((u.hostname, u.port))
    sk.sendall(junk)
    sk.settimeout(5)
    try:
        first = sk.recv(100)
    except socket.timeout:
        first = b""
    sk.close()
    assert first == b"" or first.startswith(b"HTTP/1.1 400"), first
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
s, b, _ = call("GET", "/ping")
assert s == 200, s
s, b, _ = call("GET", "/models")
m = json.loads(b)["models"]
assert m[0]["modelName"] == "mnist-embedder" and m[0]["defaultVersion"] == 1, m
print("ok: bad requests get 400/401/404/413/415 with a message; malformed HTTP leaves the server up")
PY
pass "predictions match analyze; bad input is refused clearly"

# --- rollout under load: the workflow trains v2 on more images and rolls it out
start_load mnist-embedder "$("$PY" -c 'import json; print(json.dumps({"data": [0] * 300 + [255] * 184 + [0] * 300}))')"
sleep 1
id2=$(CTFLOW_SERVE_TOKEN="$TOKEN" ctflow run "$WF" -p data="$DATA" -p limit=2500 -p epochs=1 -p threshold=0 \
        -p server="$URL" 2>"$T/err2") || { touch "$T/load.stop"; fail "run 2: $(cat "$T/err2")"; }
sleep 1
touch "$T/load.stop"
wait "$LOAD_PID"
ctflow get "$id2" -o json > "$T/run2.json"
assert_eq Production "$(json_get "$T/run2.json" 'step(d, "deploy")["outputs"]["stage"]')" "v2 promoted"
assert_eq 2 "$(json_get "$T/run2.json" 'step(d, "deploy")["outputs"]["served"]')" "v2 rolled out"
check_load 1 2
echo "requests during the rollout: $(json_get "$T/load.json" 'd["ok"]') answered, none lost"
pass "the MNIST workflow with -p server= rolled v2 out under load, no request lost"

# --- rollback, metrics, and a clean stop
curl -fsS -X PUT -H "Authorization: Bearer $TOKEN" "$URL/models/mnist-embedder/1/set-default" >/dev/null || fail "rollback"
v=$(curl -sS -D - -o /dev/null -H 'Content-Type: application/json' --data "{\"data\": [$(printf '0,%.0s' $(seq 1 783))0]}" \
      "$URL/predictions/mnist-embedder" | tr -d '\r' | sed -n 's/^X-Model-Version: //Ip')
assert_eq 1 "$v" "version after set-default back (rollback)"
code=$(curl -s -o "$T/del.json" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOKEN" "$URL/models/mnist-embedder/1")
assert_eq 409 "$code" "unloading the default version while another is loaded"
metrics=$(curl -fsS "$URL/metrics")
assert_contains "$metrics" 'ctflow_serve_model_default_version{model="mnist-embedder"} 1' "metrics: served version"
assert_contains "$metrics" 'ctflow_serve_requests_total{code="200"}' "metrics: requests"
assert_contains "$metrics" 'ctflow_serve_batch_size_bucket{le="+Inf"}' "metrics: batch sizes"
assert_contains "$metrics" 'ctflow_serve_input_intensity_mean ' "metrics: input statistics"
assert_contains "$metrics" 'ctflow_serve_predictions_total{model="mnist-embedder",version="2"' "metrics: predictions by class"
kill -TERM "$SERVE_PID"
for _ in $(seq 1 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE_PID" 2>/dev/null && fail "ctflow serve did not stop on SIGTERM"
wait "$SERVE_PID" || fail "ctflow serve exited with $? on SIGTERM"
pass "rollback by set-default, Prometheus metrics, clean stop on SIGTERM"

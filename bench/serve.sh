#!/usr/bin/env bash
# Serving benchmark (issue: serving). Trains two small MNIST versions into a
# scratch store, then measures in one run:
#   bare      the model alone: handler predict (embedder + faiss) in a loop, no HTTP
#   batch1    `ctflow serve --max-batch 1` under wrk (8 connections)
#   adaptive  `ctflow serve` with adaptive batching under wrk (32 connections)
#   light     100 requests/s, open loop, one connection: p50/p99 against the
#             bare model called at the same pace (100 single images a second)
#   rollout   ten rollouts (load from the registry, warm, switch, unload the
#             old version) during a 30 s wrk run: non-2xx responses must be 0
# Prints one JSON object. Usage: bench/serve.sh   (CTFLOW_BIN: default build/ctflow)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "${CTFLOW_BIN:-$SRC/build/ctflow}")
BUILD=$(dirname "$BIN")
export CTFLOW_PLUGIN_PATH="$BUILD/plugins"
WORK=$(mktemp -d /tmp/ctflow-serve-bench-XXXXXX)
SERVE_PID=""
trap '[[ -n $SERVE_PID ]] && kill $SERVE_PID 2>/dev/null; wait 2>/dev/null; chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
STORE=$WORK/.ctflow
DATA="$SRC/data/mnist-digits"
[[ -f $DATA/t10k-labels-idx1-ubyte.gz ]] || "$SRC/scripts/setup-mnist-digits.sh" "$DATA" >&2
for limit in 1000 3000; do
  "$BIN" --store "$STORE" run "$SRC/workflows/mnist-ct.yaml" -p data="$DATA" -p limit=$limit -p epochs=1 -p threshold=0 \
    >/dev/null 2>"$WORK/run.err" || { cat "$WORK/run.err" >&2; exit 1; }
done
MODEL=mnist-embedder
"$BUILD/bench/serve" bare "$STORE" "$MODEL" 3000 > "$WORK/bare.json"

python3 - "$WORK/body.json" <<'PY'
import json, sys
json.dump({"data": [(i * 37) % 256 for i in range(784)]}, open(sys.argv[1], "w"))
PY
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$WORK/body.json", "rb"); wrk.body = f:read("*a"); f:close()
LUA
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"

start_server() {
  "$BIN" --store "$STORE" serve --addr "127.0.0.1:$PORT" --model "$MODEL:2" "$@" >"$WORK/serve.out" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 1 600); do curl -fs "$URL/ping" >/dev/null 2>&1 && return; sleep 0.1; done
  cat "$WORK/serve.out" >&2; exit 1
}
stop_server() { kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true; SERVE_PID=""; }
# wrk's output as JSON: requests/s, latency percentiles (ms), non-2xx and socket errors.
wrk_json() {
  python3 - "$1" <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
def ms(s):
    v, u = re.match(r"([\d.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
pc = {p: ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", t, re.M)}
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
print(json.dumps({"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)),
                  "requests": int(re.search(r"(\d+) requests in", t).group(1)),
                  "p50_ms": pc.get("50"), "p99_ms": pc.get("99"),
                  "non_2xx": int(non2xx.group(1)) if non2xx else 0,
                  "socket_errors": sum(map(int, err.groups())) if err else 0}))
PY
}

start_server --max-batch 1
wrk -t1 -c8 -d10s --latency -s "$WORK/post.lua" "$URL/predictions/$MODEL" > "$WORK/wrk1.txt"
stop_server
start_server --max-batch 32 --max-delay 2000
wrk -t1 -c32 -d10s --latency -s "$WORK/post.lua" "$URL/predictions/$MODEL" > "$WORK/wrk32.txt"
"$BUILD/bench/serve" rate "$URL/predictions/$MODEL" "$WORK/body.json" 100 10 > "$WORK/light.json"
curl -fsS "$URL/metrics" | grep -E '^ctflow_serve_batch_size_(sum|count)' > "$WORK/batch.txt"

# Ten rollouts under load: alternate v1 and v2, each loaded from the registry and warmed.
wrk -t1 -c16 -d30s --latency -s "$WORK/post.lua" "$URL/predictions/$MODEL" > "$WORK/wrk_roll.txt" &
WRK_PID=$!
sleep 2
cur=2
rolled=0
for i in $(seq 1 10); do
  next=$((3 - cur))
  curl -fsS -X POST "$URL/models/$MODEL/$next" >/dev/null &&
    curl -fsS -X PUT "$URL/models/$MODEL/$next/set-default" >/dev/null &&
    curl -fsS -X DELETE "$URL/models/$MODEL/$cur" >/dev/null && rolled=$((rolled + 1))
  cur=$next
  sleep 1.5
done
wait "$WRK_PID"
stop_server

python3 - "$WORK" "$rolled" "$(wrk_json "$WORK/wrk1.txt")" "$(wrk_json "$WORK/wrk32.txt")" "$(wrk_json "$WORK/wrk_roll.txt")" <<'PY'
import json, os, re, sys
work, rolled = sys.argv[1], int(sys.argv[2])
b1, b32, roll = (json.loads(x) for x in sys.argv[3:6])
bare = json.load(open(os.path.join(work, "bare.json")))
light = json.load(open(os.path.join(work, "light.json")))
bt = dict(re.findall(r"^ctflow_serve_batch_size_(sum|count) (\S+)", open(os.path.join(work, "batch.txt")).read(), re.M))
mean_batch = float(bt["sum"]) / max(1.0, float(bt["count"]))
print(json.dumps({
    "machine": "%d cores, load %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[0]),
    "bare": bare,
    "server_batch1": b1,
    "server_adaptive": dict(b32, mean_batch=round(mean_batch, 2)),
    "light_100rps": light,
    "ratios": {"batch1_vs_bare_batch1": round(b1["requests_per_s"] / bare["batch1_per_s"], 3),
               "adaptive_vs_bare_batch32": round(b32["requests_per_s"] / bare["batch32_per_s"], 3),
               "light_p50_overhead_us": round(light["p50_us"] - bare["single_100rps_p50_us"], 1),
               "light_p99_overhead_us": round(light["p99_us"] - bare["single_100rps_p99_us"], 1)},
    "rollouts": {"done": rolled, "wrk": roll},
    "targets": {"throughput_ge_80pct_of_bare": b32["requests_per_s"] >= 0.8 * bare["batch32_per_s"],
                "light_p50_within_300us": light["p50_us"] - bare["single_100rps_p50_us"] <= 300,
                "light_p99_within_2ms": light["p99_us"] - bare["single_100rps_p99_us"] <= 2000,
                "rollouts_zero_non_2xx": rolled == 10 and roll["non_2xx"] == 0 and roll["socket_errors"] == 0},
}, indent=2))
PY

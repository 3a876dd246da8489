#!/usr/bin/env bash
# The dashboard in a real browser: makes a store with a finished run, a run with
# metrics and a confusion matrix (recorded by bench/ui, as a training plugin
# would), a finished sweep of shell trials and a registered model; starts `ctflow ui`; runs
# tests/browser/dashboard.test.mjs in the Debian chromium via playwright-core.
# Screenshots go to tests/out/screenshots/.
# Skipped when chromium, node or playwright-core is missing (failed under CI=true).
set -euo pipefail

SRC=${CTFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$SRC/tests/integration/lib_need.sh"
need_tool /usr/bin/chromium chromium
need_tool node nodejs
BIN=${CTFLOW_BIN:-$SRC/build/ctflow}
BIN=$(realpath "$BIN")
[[ -x $BIN ]] || { echo "ui_browser: no ctflow binary at $BIN (set CTFLOW_BIN)" >&2; exit 1; }
BUILD=${CTFLOW_BUILD_DIR:-$(dirname "$BIN")}
SEED=$BUILD/bench/ui
[[ -x $SEED ]] || { echo "ui_browser: no $SEED (build the bench_ui target)" >&2; exit 1; }

BROWSER_DIR=$SRC/tests/browser
if [[ ! -d $BROWSER_DIR/node_modules/playwright-core ]]; then
  need_tool npm
  (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund) ||
    missing "playwright-core: 'npm ci' in $BROWSER_DIR failed (it needs the npm registry once)"
fi

WORK=$(mktemp -d /tmp/ctflow-ui-XXXXXX)
UI_PID=""
cleanup() {
  if [[ -n $UI_PID ]]; then kill "$UI_PID" 2>/dev/null || true; wait "$UI_PID" 2>/dev/null || true; fi
  # Runs the test left going (a cancelled run is resumed by nobody).
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

STORE=$WORK/.ctflow
mkdir -p "$WORK/workflows"
cp "$BROWSER_DIR"/fixtures/*.yaml "$WORK/workflows/"
cd "$WORK"

run_id() { "$BIN" --store "$STORE" run "$@" -o json | sed -n 's/^  "id": "\(r-[^"]*\)".*/\1/p'; }
HELLO_RUN=$(run_id workflows/hello.yaml -p who=browser)
METRICS_RUN=$(run_id workflows/train.yaml)
SWEEP_RUN=$(run_id workflows/sweep.yaml)
[[ -n $HELLO_RUN && -n $METRICS_RUN && -n $SWEEP_RUN ]] || { echo "ui_browser: could not make the runs" >&2; exit 1; }

# Metrics, a confusion matrix and a model, recorded through RunStore as a
# training plugin would (bench/ui.cc).
"$SEED" metrics "$STORE" "$METRICS_RUN" >/dev/null
# Drift scores and drift firings, as a daemon's drift trigger records them.
"$SEED" drift "$STORE" "$HELLO_RUN" >/dev/null

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();})')
"$BIN" --store "$STORE" ui --addr "127.0.0.1:$PORT" --workflows "$WORK/workflows" > "$WORK/ui.log" 2>&1 &
UI_PID=$!
for _ in $(seq 1 100); do
  if node -e "fetch('http://127.0.0.1:$PORT/api/v1/runs').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then break; fi
  sleep 0.1
done

SHOTS=${SCREENSHOTS:-$SRC/tests/out/screenshots}
BASE_URL="http://127.0.0.1:$PORT" HELLO_RUN=$HELLO_RUN METRICS_RUN=$METRICS_RUN SWEEP_RUN=$SWEEP_RUN SCREENSHOTS=$SHOTS \
  node "$BROWSER_DIR/dashboard.test.mjs" || { echo "--- ctflow ui log:"; cat "$WORK/ui.log"; exit 1; }

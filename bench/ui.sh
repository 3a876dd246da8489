#!/usr/bin/env bash
# Dashboard benchmark: a store with 1,000 runs (one real run, the rest made by
# bench/ui.cc through RunStore), `ctflow ui` over it, then bench/ui.mjs measures API latency (p50/p99
# per endpoint, sequential keep-alive requests) and the runs page's render time
# in headless chromium. Prints JSON. Targets: p99 < 20 ms, render < 1 s.
# Usage: bench/ui.sh [RUNS]   (CTFLOW_BIN: the binary, default build/ctflow)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "${CTFLOW_BIN:-$SRC/build/ctflow}")
RUNS=${1:-1000}
SEEDER=$(dirname "$BIN")/bench/ui   # bench/ui.cc: fills the store through RunStore
[[ -d $SRC/tests/browser/node_modules/playwright-core ]] || (cd "$SRC/tests/browser" && npm ci --no-audit --no-fund >&2)

WORK=$(mktemp -d /tmp/ctflow-ui-bench-XXXXXX)
UI_PID=""
trap '[[ -n $UI_PID ]] && kill $UI_PID 2>/dev/null; wait 2>/dev/null; chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
STORE=$WORK/.ctflow
mkdir -p "$WORK/workflows"
cp "$SRC"/tests/browser/fixtures/*.yaml "$WORK/workflows/"
cd "$WORK"
SEED=$("$BIN" --store "$STORE" run workflows/hello.yaml -o json | sed -n 's/^  "id": "\(r-[^"]*\)".*/\1/p')
"$SEEDER" runs "$STORE" $((RUNS - 1)) workflows/hello.yaml >&2

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();})')
"$BIN" --store "$STORE" ui --addr "127.0.0.1:$PORT" --workflows "$WORK/workflows" >/dev/null 2>&1 &
UI_PID=$!
for _ in $(seq 1 100); do
  node -e "fetch('http://127.0.0.1:$PORT/api/v1/runs?limit=1').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" && break
  sleep 0.1
done
BASE_URL="http://127.0.0.1:$PORT" RUN_ID=$SEED RUNS=$RUNS node "$SRC/bench/ui.mjs"

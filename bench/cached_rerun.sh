#!/usr/bin/env bash
# Re-running an unchanged MNIST workflow whose steps all hit the step cache
# (issue: store; like a no-op `dvc repro`). Runs workflows/mnist-ct.yaml once on
# 2,000 digits, then times 5 unchanged re-runs of the whole `ctflow run`
# command (process start, validation, plugin discovery, cache lookups,
# recording). Prints JSON. Target: under 1 s.
# Usage: bench/cached_rerun.sh   (CTFLOW_BIN: default build/ctflow)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "${CTFLOW_BIN:-$SRC/build/ctflow}")
export CTFLOW_PLUGIN_PATH="$(dirname "$BIN")/plugins"
WORK=$(mktemp -d /tmp/ctflow-rerun-bench-XXXXXX)
trap 'chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
DATA="$SRC/data/mnist-digits"
[[ -f $DATA/t10k-labels-idx1-ubyte.gz ]] || "$SRC/scripts/setup-mnist-digits.sh" "$DATA" >&2
args=(--store "$WORK/.ctflow" run "$SRC/workflows/mnist-ct.yaml" -p data="$DATA" -p limit=2000 -p epochs=1 -p threshold=0.5)
# secs OUT CMD...: runs CMD with stdout to OUT, prints the seconds it took.
secs() { local out=$1 a b; shift; a=$(date +%s.%N); "$@" > "$out" 2>/dev/null; b=$(date +%s.%N); python3 -c "print(round($b - $a, 3))"; }
first=$(secs /dev/null "$BIN" "${args[@]}")
times=()
for _ in 1 2 3 4 5; do times+=("$(secs "$WORK/run.json" "$BIN" "${args[@]}" -o json)"); done
python3 - "$WORK/run.json" "$first" "${times[@]}" <<'PY'
import json, os, statistics, sys
run = json.load(open(sys.argv[1]))
first, t = float(sys.argv[2]), [float(x) for x in sys.argv[3:]]
print(json.dumps({"machine": "%d cores, load %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[0]),
                  "first_run_s": first, "cached_rerun_s": t, "median_s": statistics.median(t),
                  # production (core.production) always runs: it reads which version is Production
                  "all_cached": all(s.get("cached") for s in run["steps"] if s["name"] != "production"),
                  "target_under_1s": statistics.median(t) < 1.0}, indent=2))
PY

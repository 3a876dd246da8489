#!/usr/bin/env bash
# Lineage, data tags and compare over real runs: an artifact names the step
# that made it, what it ran with, and the artifacts it read, recursively.
set -euo pipefail
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export CTFLOW_STORE="$T/store"
cat > "$T/lin.yaml" <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: lin}
params: {n: 3}
steps:
  make:
    shell: 'seq {{params.n}} > data.txt'
    outputs: {artifacts: {data: {path: data.txt}}}
  use:
    needs: [make]
    run: [sh, -c, 'wc -l < "$0" > count.txt', "{{steps.make.artifacts.data}}"]
    outputs: {artifacts: {count: {path: count.txt}}}
YAML
py() { /usr/bin/python3 -c "$@"; }
"$CTFLOW_BIN" run "$T/lin.yaml" -p n=5 >/dev/null 2>&1
"$CTFLOW_BIN" run "$T/lin.yaml" -p n=7 >/dev/null 2>&1
doc=$("$CTFLOW_BIN" get @latest -o json)
count=$(py 'import json,sys; d=json.load(sys.stdin); print([s for s in d["steps"] if s["name"]=="use"][0]["artifacts"]["count"]["digest"])' <<<"$doc")
data=$(py 'import json,sys; d=json.load(sys.stdin); print([s for s in d["steps"] if s["name"]=="make"][0]["artifacts"]["data"]["digest"])' <<<"$doc")
lin=$("$CTFLOW_BIN" lineage "$count" -o json)
py '
import json, sys
l = json.loads(sys.argv[1])
assert l["produced_by"]["step"] == "use", l
assert l["produced_by"]["run_params"] == {"n": 7}, l["produced_by"]
assert len(l["inputs"]) == 1, l["inputs"]
src = l["inputs"][0]
assert src["digest"] == sys.argv[2], (src["digest"], sys.argv[2])
assert src["produced_by"]["step"] == "make"
assert src["produced_by"]["inputs"]["argv"] == ["/bin/sh", "-c", "seq 7 > data.txt"], src["produced_by"]["inputs"]
' "$lin" "$data"
# Data tags name a digest.
"$CTFLOW_BIN" data tag "$data" seq-data@v1 >/dev/null
got=$("$CTFLOW_BIN" data get seq-data@v1 | cut -f1)
[[ "$got" == "$data" ]] || { echo "data get gave '$got', want '$data'"; exit 1; }
# compare: params side by side.
ids=$("$CTFLOW_BIN" list -o json | py 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin)))')
cmp=$("$CTFLOW_BIN" compare $ids -o json)
py '
import json, sys
c = json.loads(sys.argv[1])
assert sorted(r["params"]["n"] for r in c) == [5, 7], c
' "$cmp"
# An unknown digest is a clear error.
if "$CTFLOW_BIN" lineage sha256:0000000000000000000000000000000000000000000000000000000000000000 2>"$T/err"; then
  echo "lineage of an unknown digest succeeded"; exit 1
fi
grep -q "no artifact sha256:0000" "$T/err"
echo "store_lineage: ok"

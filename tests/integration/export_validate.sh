#!/usr/bin/env bash
# Every Argo export must pass Argo's JSON schema (shared/tools/validate-argo):
# the golden files of the unit tests always, and `ctflow export argo` of every
# workflows/*.yaml once the CLI has the verb. Also reads the goldens back with
# PyYAML (Argo and Kubeflow read YAML 1.1 the way PyYAML does) and checks that
# tricky strings survive.
set -euo pipefail
src=${CTFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
validate=${CTFLOW_VALIDATE_ARGO:-$src/../shared/tools/validate-argo}
[ -x "$validate" ] || validate=/work/shared/tools/validate-argo
py=/usr/bin/python3
if ! $py -c 'import jsonschema, yaml' 2>/dev/null; then
  echo "SKIP: needs python3-jsonschema and python3-yaml for $py"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

$py "$validate" "$src"/tests/golden/argo/*.yaml

$py - "$src" <<'PY'
import sys, yaml, glob
src = sys.argv[1]
doc = yaml.safe_load(open(src + "/tests/golden/argo/edge-cases.yaml"))
params = {p["name"]: p.get("value") for p in doc["spec"]["arguments"]["parameters"]}
assert params["greeting"] == 'it\'s: "quoted"\nand two lines', params["greeting"]
assert params["mode"] == "yes" and params["required"] is None, params
for f in glob.glob(src + "/tests/golden/kfp/*.yaml"):
    spec = yaml.safe_load(open(f))
    assert spec["schemaVersion"] == "2.1.0", f
    for name, ex in spec["deploymentSpec"]["executors"].items():
        assert all(isinstance(a, str) for a in ex["container"]["command"]), (f, name)
print("OK   goldens read back with PyYAML")
PY

bin=${CTFLOW_BIN:-}
if [ -z "$bin" ] || ! "$bin" export --help >/dev/null 2>&1; then
  echo "SKIP: $bin has no 'export' verb yet; checked the golden files only"; exit 0
fi
n=0
for wf in "$src"/workflows/*.yaml "$src"/workflows/examples/*.yaml; do
  [ -f "$wf" ] || continue
  out="$tmp/$(basename "$wf" .yaml).argo.yaml"
  if ! "$bin" export argo "$wf" --out "$out" 2>"$tmp/err"; then
    # Workflows that use what Argo cannot express must say so with a position.
    grep -Eq ':[0-9]+:[0-9]+: error: ' "$tmp/err" || { cat "$tmp/err"; echo "FAIL $wf: export failed without a position"; exit 1; }
    echo "note $wf: $(head -1 "$tmp/err")"; continue
  fi
  $py "$validate" "$out"
  "$bin" export argo "$wf" --artifacts s3 --out "$tmp/s3.yaml" && $py "$validate" "$tmp/s3.yaml"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "FAIL: no workflow exported"; exit 1; }
echo "OK   $n workflows exported and valid"

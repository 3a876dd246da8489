#!/usr/bin/env bash
# Reads the golden Argo and Kubeflow files of the unit tests back with PyYAML
# (Argo and Kubeflow read YAML 1.1 the way PyYAML does) and checks that tricky
# strings survive; then every Argo export must pass Argo's JSON schema (the
# validate-argo tool of the shared folder, or $CTFLOW_VALIDATE_ARGO): the golden
# files, and `ctflow export argo` of every workflows/*.yaml, with the volume and
# with --artifacts s3 (the reference workflows/*.yaml must export; an example
# may say with a position what Argo cannot express). Skipped without the shared
# folder (see lib_need.sh).
set -euo pipefail
src=${CTFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$src/tests/integration/lib_need.sh"
py=/usr/bin/python3
need_python_module yaml python3-yaml
need_python_module jsonschema python3-jsonschema
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

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

if [ -n "${CTFLOW_VALIDATE_ARGO:-}" ]; then
  validate=$CTFLOW_VALIDATE_ARGO
  [ -f "$validate" ] || { echo "FAIL: CTFLOW_VALIDATE_ARGO is $validate, which does not exist"; exit 1; }
else
  need_shared tools/validate-argo
  validate=$SHARED/tools/validate-argo
fi
$py "$validate" "$src"/tests/golden/argo/*.yaml

bin=${CTFLOW_BIN:?CTFLOW_BIN must name the ctflow binary}
n=0
for wf in "$src"/workflows/*.yaml "$src"/workflows/examples/*.yaml; do
  [ -f "$wf" ] || continue
  out="$tmp/$(basename "$wf" .yaml).argo.yaml"
  if ! "$bin" export argo "$wf" --out "$out" 2>"$tmp/err"; then
    # Workflows that use what Argo cannot express must say so with a position.
    grep -Eq ':[0-9]+:[0-9]+: error: ' "$tmp/err" || { cat "$tmp/err"; echo "FAIL $wf: export failed without a position"; exit 1; }
    # The reference workflows (MNIST, IoT) must export, unless their plugins are not built here.
    if [ "$(dirname "$wf")" = "$src/workflows" ] && ! grep -q "error: unknown plugin" "$tmp/err"; then
      cat "$tmp/err"; echo "FAIL $wf: a reference workflow does not export to Argo"; exit 1
    fi
    echo "note $wf: $(head -1 "$tmp/err")"; continue
  fi
  $py "$validate" "$out"
  # The same workflow with Argo's artifact repository must export too.
  "$bin" export argo "$wf" --artifacts s3 --out "$tmp/s3.yaml" 2> "$tmp/err" ||
    { cat "$tmp/err"; echo "FAIL $wf: exports with the volume but not with --artifacts s3"; exit 1; }
  $py "$validate" "$tmp/s3.yaml"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "FAIL: no workflow exported"; exit 1; }
echo "OK   $n workflows exported and valid"

#!/usr/bin/env bash
# Kubeflow exports the KFP API server accepts: the golden files and
# `ctflow export kfp` of every workflow in the repository parse strictly (unknown
# fields are errors) as ml_pipelines.PipelineSpec under the proto3 JSON mapping,
# with the proto from ../shared/kfp/proto compiled by protoc (tests/kfp_proto_check.py).
# A workflow that uses what Kubeflow v2 cannot express must fail with a position;
# the reference workflows/*.yaml (MNIST, IoT) must export.
# Skipped (77) without ../shared (CTFLOW_SHARED_DIR or CTFLOW_KFP_PROTO names another folder) or without protoc/python3-protobuf, except that
# a missing tool fails under CI=true (scripts/setup.sh --test installs them).
set -euo pipefail
src="${CTFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
# The shared folder as need_shared (lib_need.sh) finds it: CTFLOW_SHARED_DIR when set (then it must hold the proto).
proto="${CTFLOW_KFP_PROTO:-${CTFLOW_SHARED_DIR:-$src/../shared}/kfp/proto}"
if [ ! -f "$proto/pipeline_spec.proto" ]; then
  if [ -n "${CTFLOW_SHARED_DIR:-}${CTFLOW_KFP_PROTO:-}" ]; then
    echo "FAIL: no KFP proto at $proto (from CTFLOW_SHARED_DIR or CTFLOW_KFP_PROTO)" >&2
    exit 1
  fi
  echo "skipped: no KFP proto at $proto"
  exit 77
fi
if ! command -v protoc > /dev/null || ! /usr/bin/python3 -c 'import google.protobuf, yaml' 2> /dev/null; then
  msg="needs protoc, python3-protobuf and python3-yaml (scripts/setup.sh --test installs them)"
  [ "${CI:-}" = true ] && { echo "FAIL: $msg" >&2; exit 1; }
  echo "skipped: $msg"
  exit 77
fi
source "$(dirname "$0")/lib.sh"
check() { "$PY" "$CTFLOW_SOURCE_DIR/tests/kfp_proto_check.py" --proto "$proto" "$@"; }
export CTFLOW_PLUGIN_PATH="${CTFLOW_BUILD_DIR:-$(dirname "$CTFLOW_BIN")}/plugins"

# The checker itself: a Go-style duration and an unknown field are rejected.
sed 's/backoffDuration: 0.5s/backoffDuration: 500ms/' "$CTFLOW_SOURCE_DIR/tests/golden/kfp/edge-cases.yaml" > "$T/ms.yaml"
grep -q 'backoffDuration: 500ms' "$T/ms.yaml" || fail "edge-cases golden has no backoffDuration 0.5s to break"
{ cat "$CTFLOW_SOURCE_DIR/tests/golden/kfp/mnist-ct.yaml"; echo "unknownField: 1"; } > "$T/unknown.yaml"
for bad in ms unknown; do
  set +e
  out=$(check "$T/$bad.yaml" 2>&1)
  rc=$?
  set -e
  assert_eq 1 "$rc" "checker exit code on $bad.yaml ($out)"
done
assert_contains "$out" "unknownField" "checker message"
pass "the checker rejects 500ms and unknown fields"

check "$CTFLOW_SOURCE_DIR"/tests/golden/kfp/*.yaml
pass "golden files parse"

# Every workflow in the repository.
mkdir -p "$T/kfp"
exported=()
for wf in "$CTFLOW_SOURCE_DIR"/workflows/*.yaml "$CTFLOW_SOURCE_DIR"/workflows/examples/*.yaml \
          "$CTFLOW_SOURCE_DIR"/tests/integration/fixtures/*.yaml "$CTFLOW_SOURCE_DIR"/tests/browser/fixtures/*.yaml \
          "$CTFLOW_SOURCE_DIR"/tests/fuzz/corpus/fuzz_yaml/*.yaml; do
  [ -f "$wf" ] || continue
  rel=${wf#"$CTFLOW_SOURCE_DIR"/}
  out="$T/kfp/$(echo "$rel" | tr / _)"
  if ctflow export kfp "$wf" --image registry.example/ctflow:1 --out "$out" 2> "$T/err"; then
    exported+=("$out")
    continue
  fi
  # Not exportable: lint errors (bad on purpose), plugins not built, or what
  # Kubeflow v2 cannot express; each must say where.
  grep -Eq ':[0-9]+:[0-9]+: error: ' "$T/err" || { cat "$T/err"; fail "$rel: export failed without a position"; }
  # The reference workflows (MNIST, IoT) must export, unless their plugins are not built here.
  [ "$(dirname "$rel")" != workflows ] || grep -q "error: unknown plugin" "$T/err" ||
    fail "$rel: a reference workflow does not export to Kubeflow: $(cat "$T/err")"
  echo "note $rel: $(head -1 "$T/err")"
done
every="$T/kfp/tests_integration_fixtures_kfp-every-field.yaml"
[ -f "$every" ] || fail "kfp-every-field.yaml did not export"
# A plugin's declared outputs are published even when no step reads them
# (the KFP UI shows a step's outputs; mlpipeline-metrics is one).
"$PY" - "$every" <<'PY'
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
outs = spec["components"]["comp-greet"].get("outputDefinitions", {}).get("parameters", {})
assert "message" in outs, "core.echo's output 'message' is not declared: %r" % outs
cmd = spec["deploymentSpec"]["executors"]["exec-greet"]["container"]["command"]
assert "--publish-param" in cmd, cmd
PY
[ "${#exported[@]}" -ge 6 ] || fail "only ${#exported[@]} workflows exported"
check "${exported[@]}"
pass "${#exported[@]} exports parse under the KFP v2 proto"

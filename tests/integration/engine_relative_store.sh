#!/usr/bin/env bash
# A relative store path (--store DIR or CTFLOW_STORE=DIR) works for plugin steps,
# which run as child processes in their own working folders.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export CTFLOW_PLUGIN_PATH="${CTFLOW_BUILD_DIR:-$(dirname "$CTFLOW_BIN")}/plugins"
cat > "$T/wf.yaml" <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: relative-store}
steps:
  say:
    uses: core.echo
    with: {message: hi}
  after:
    needs: [say]
    uses: core.echo
    with: {message: "{{steps.say.outputs.message}} again"}
YAML
cd "$T"
unset CTFLOW_STORE
"$CTFLOW_BIN" --store rel-store run wf.yaml -o json > a.json 2>a.err || fail "--store rel-store: $(cat a.err)"
assert_eq Succeeded "$(json_get a.json 'd["status"]')" "run with --store rel-store"
assert_eq "hi again" "$(json_get a.json 'step(d, "after")["outputs"]["message"]')" "output through a relative store"
CTFLOW_STORE=env-store "$CTFLOW_BIN" run wf.yaml -o json > b.json 2>b.err || fail "CTFLOW_STORE=env-store: $(cat b.err)"
assert_eq Succeeded "$(json_get b.json 'd["status"]')" "run with CTFLOW_STORE=env-store"
pass "relative store paths work for plugin steps"

#!/usr/bin/env bash
# A store given as a relative path (--store .ctflow, the default): steps run in
# their own working folders, so the paths the engine hands them (an isolated
# plugin's params and store, an artifact's path) must be absolute. And
# in-process steps that write nothing leave no folder or log behind, while
# one that logs has its log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf relative <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: relative}
steps:
  isolated:
    uses: core.noop
  echo:
    uses: core.echo
    with: {message: isolated}
  quiet:
    uses: core.noop
    isolation: none
  talk:
    uses: core.echo
    isolation: none
    with: {message: "in process"}
  make:
    shell: "mkdir -p d && echo payload > d/file"
    outputs:
      artifacts:
        d: {path: d}
  use:
    needs: [make]
    run: [cat, "{{steps.make.artifacts.d}}/file"]
YAML
)
cd "$T/work"
unset CTFLOW_STORE
"$CTFLOW_BIN" --store rel-store run "$f" -o json > "$T/r.json" 2> "$T/r.err" || { cat "$T/r.err" >&2; fail "the run failed"; }
assert_eq Succeeded "$(json_get "$T/r.json" 'd["status"]')" status
assert_eq isolated "$(json_get "$T/r.json" 'step(d, "echo")["outputs"]["message"]')" echo.message
assert_eq payload "$(json_get "$T/r.json" 'step(d, "use")["outputs"]["result"]')" use.result
pass "a relative --store works for isolated plugins and artifacts"

id=$(json_get "$T/r.json" 'd["id"]')
[ ! -e "rel-store/work/$id/quiet" ] || fail "an in-process step that wrote nothing left a working folder"
[ ! -e "rel-store/logs/$id/quiet.log" ] || fail "an in-process step that logged nothing left a log file"
assert_eq "[info] in process" "$("$CTFLOW_BIN" --store rel-store logs "$id" talk)" "the in-process step's log"
assert_eq "" "$("$CTFLOW_BIN" --store rel-store logs "$id" quiet)" "the quiet step's log"
pass "in-process steps make a folder or a log only when they use one"

#!/usr/bin/env bash
# Plugin steps: isolation (a crash or abort fails only that step), in-process
# steps, the step cache and --no-cache.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf plugins <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: plugins}
fail_fast: false
steps:
  crash:
    uses: core.fail
    with: {mode: crash}
  abort:
    uses: core.fail
    with: {mode: abort}
  error:
    uses: core.fail
    with: {mode: error}
  exit:
    uses: core.fail
    with: {mode: exit, code: 5}
  echo:
    uses: core.echo
    isolation: none
    with: {message: {text: "in process", n: 2}}
  after:
    needs: [echo]
    run: [echo, "{{steps.echo.outputs.message}}"]
YAML
)
run_rc rc run "$f" -o json > "$T/p.json" 2>/dev/null
assert_eq 1 "$rc" "exit code"
assert_eq Failed "$(json_get "$T/p.json" 'd["status"]')" status
for s in crash abort error exit; do
  assert_eq Failed "$(json_get "$T/p.json" "step(d, '$s')['status']")" "$s.status"
done
msg=$(json_get "$T/p.json" 'step(d, "crash")["message"]')
assert_contains "$msg" "the plugin process crashed" crash.message
assert_contains "$msg" "killed by signal 11 (Segmentation fault)" crash.message
msg=$(json_get "$T/p.json" 'step(d, "abort")["message"]')
assert_contains "$msg" "the plugin process crashed" abort.message
assert_contains "$msg" "killed by signal 6 (Aborted)" abort.message
assert_eq "core.fail asked to fail with an error" "$(json_get "$T/p.json" 'step(d, "error")["message"]')" error.message
assert_contains "$(json_get "$T/p.json" 'step(d, "exit")["message"]')" "exit code 5" exit.message
assert_eq Succeeded "$(json_get "$T/p.json" 'step(d, "echo")["status"]')" echo.status
assert_eq '{"message": {"n": 2, "text": "in process"}}' "$(json_get "$T/p.json" 'step(d, "echo")["outputs"]')" echo.outputs
assert_eq '{"n":2,"text":"in process"}' "$(json_get "$T/p.json" 'step(d, "after")["outputs"]["result"]')" after.result
pass "plugin isolation: crash and abort fail only their step"

# --- the step cache: a plugin step run twice is a cache hit the second time
f=$(wf cache <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: cache}
params:
  m: {type: string, default: hello}
steps:
  echo:
    uses: core.echo
    with: {message: "{{params.m}}"}
  shell:
    needs: [echo]
    run: [echo, "{{steps.echo.outputs.message}}"]
YAML
)
ctflow run "$f" -o json > "$T/c1.json" 2>/dev/null
id1=$(json_get "$T/c1.json" 'd["id"]')
assert_eq false "$(json_get "$T/c1.json" 'step(d, "echo")["cached"]')" "first run: echo.cached"
ctflow run "$f" -o json > "$T/c2.json" 2>/dev/null
assert_eq true "$(json_get "$T/c2.json" 'step(d, "echo")["cached"]')" "second run: echo.cached"
assert_eq Succeeded "$(json_get "$T/c2.json" 'step(d, "echo")["status"]')" "second run: echo.status"
assert_eq hello "$(json_get "$T/c2.json" 'step(d, "echo")["outputs"]["message"]')" "cached outputs"
assert_contains "$(json_get "$T/c2.json" 'step(d, "echo")["message"]')" "cache hit: outputs of run $id1" "cache message"
# run steps are not cached by default
assert_eq false "$(json_get "$T/c2.json" 'step(d, "shell")["cached"]')" "second run: shell.cached"
assert_eq hello "$(json_get "$T/c2.json" 'step(d, "shell")["outputs"]["result"]')" "downstream of a cache hit"
# another value is another key
ctflow run "$f" -p m=other -o json > "$T/c3.json" 2>/dev/null
assert_eq false "$(json_get "$T/c3.json" 'step(d, "echo")["cached"]')" "other params: echo.cached"
# --no-cache
ctflow run "$f" --no-cache -o json > "$T/c4.json" 2>/dev/null
assert_eq false "$(json_get "$T/c4.json" 'step(d, "echo")["cached"]')" "--no-cache: echo.cached"
assert_eq Succeeded "$(json_get "$T/c4.json" 'step(d, "echo")["status"]')" "--no-cache: echo.status"
pass "step cache and --no-cache"

# --- timeouts of plugin steps: in process (the attempt ends, the thread is
# told to stop) and in a child that ignores SIGTERM (SIGKILL after the grace)
f=$(wf ptimeout <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: ptimeout}
fail_fast: false
steps:
  inproc:
    uses: core.sleep
    isolation: none
    timeout: 1s
    with: {seconds: 30}
  hang:
    uses: core.fail
    timeout: 1s
    with: {mode: hang}
YAML
)
start=$SECONDS
run_rc rc run "$f" -o json > "$T/pt.json" 2>/dev/null
[ $((SECONDS - start)) -lt 20 ] || fail "plugin timeouts took $((SECONDS - start))s"
assert_eq 1 "$rc" "exit code"
assert_eq "timed out after 1.0s" "$(json_get "$T/pt.json" 'step(d, "inproc")["message"]')" inproc.message
assert_eq "timed out after 1.0s (attempt 1)" "$(json_get "$T/pt.json" 'step(d, "hang")["message"]')" hang.message
pass "plugin step timeouts"

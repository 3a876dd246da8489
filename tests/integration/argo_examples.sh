#!/usr/bin/env bash
# Argo's own examples (argo/examples of the shared folder next to the source
# tree, or $ARGO_EXAMPLES; Skipped without them) through the Argo frontend:
# every supported one runs on the host and gives its documented result (final
# phase, key outputs); every other one fails at lint with "not supported
# locally" and a position, never a crash or a wrong run. Every example file
# must be in one of the two lists, so a new example is noticed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ -n "${ARGO_EXAMPLES:-}" ]; then
  EX=$ARGO_EXAMPLES
  [ -d "$EX" ] || fail "ARGO_EXAMPLES is $EX, which is not a folder"
else
  need_shared argo/examples
  EX="$SHARED/argo/examples"
fi

SUPPORTED=(
  arguments-parameters artifact-passing-subpath artifact-path-placeholders coinflip conditionals-complex continue-on-fail
  cron-workflow exit-code-output-variable expression-destructure-json-complex expression-reusing-verbose-snippets
  dag-conditional-parameters dag-custom-metrics dag-diamond dag-enhanced-depends dag-multiroot dag-targets default-pdb-support
  exit-handler-step-level exit-handler-with-param gc-ttl global-parameters image-pull-secrets loops-dag
  loops-sequence memoize-simple node-selector parallelism-limit parallelism-nested-workflow
  parallelism-template-limit parameter-aggregation-script pod-gc-strategy-with-label-selector pod-metadata-wf-field pod-resources resubmit
  retry-conditional retry-container retry-script scripts-bash scripts-python status-reference template-defaults timeouts-step
)
# In the image (--executor podman; name:flags): a container without `command`
# runs the image's entrypoint and cmd. On the host their lint says why not.
IN_IMAGE=(
  "dag-inline-workflow:" "steps-inline-workflow:" "github-path-filter-workflowtemplate:"
  "intermediate-parameters:--resume-suspended" "expression-fallback:"
)
# name: why (the lint message must contain it)
UNSUPPORTED=(
  "conditional-artifacts:fromExpression"
  "dag-coinflip:recursive template"
  "fibonacci-seq-conditional-param:memoize on a steps/dag template"
  "suspend-template-outputs:suspend templates"
  "withsequence-nested-result:withSequence bounds known only at run time"
)

# Every file is listed once.
listed=" ${SUPPORTED[*]} "
for u in "${UNSUPPORTED[@]}" "${IN_IMAGE[@]}"; do listed+=" ${u%%:*} "; done
total=0
while IFS= read -r f; do
  n=$(basename "$f" .yaml)
  total=$((total + 1))
  assert_contains "$listed" " $n " "the lists of supported and unsupported examples"
done < <(find "$EX" -name '*.yaml' | sort)
assert_eq "$total" "$(( ${#SUPPORTED[@]} + ${#IN_IMAGE[@]} + ${#UNSUPPORTED[@]} ))" "examples listed"
path_of() { find "$EX" -name "$1.yaml" | head -1; }

# Unsupported: lint says why, with a position, and exits 2.
for u in "${UNSUPPORTED[@]}"; do
  n=${u%%:*} why=${u#*:}
  f=$(path_of "$n")
  run_rc rc lint "$f" 2> "$T/$n.lint" || true
  assert_eq 2 "$rc" "lint exit code of $n"
  out=$(cat "$T/$n.lint")
  assert_contains "$out" "$f:" "lint of $n"
  assert_contains "$out" ": error: not supported locally: " "lint of $n"
  assert_contains "$out" "$why" "lint of $n"
done
pass "${#UNSUPPORTED[@]} unsupported examples fail at lint with 'not supported locally'"
for u in "${IN_IMAGE[@]}"; do
  n=${u%%:*}
  run_rc rc lint "$(path_of "$n")" 2> "$T/$n.lint" || true
  assert_eq 2 "$rc" "lint exit code of $n on the host"
  assert_contains "$(cat "$T/$n.lint")" ": error: not supported locally: " "lint of $n on the host"
done

# Supported: all run at once (the long ones mostly sleep), each in its own store.
declare -A PIDS
for n in "${SUPPORTED[@]}"; do
  ( rc=0
    cd "$T/work" && CTFLOW_STORE="$T/s-$n" timeout 300 "$CTFLOW_BIN" run "$(path_of "$n")" -o json \
      > "$T/$n.json" 2> "$T/$n.err" || rc=$?
    echo "$rc" > "$T/$n.rc"
    date +%s > "$T/$n.end" ) &
  PIDS[$n]=$!
done
START=$(date +%s)
for n in "${SUPPORTED[@]}"; do wait "${PIDS[$n]}" || true; done

# check NAME PYTHON: asserts over the run document d; step(name) gives a step.
check() {
  local n="$1" code="$2"
  [ -s "$T/$n.json" ] || fail "$n: no run document (rc $(cat "$T/$n.rc")): $(tail -5 "$T/$n.err")"
  "$PY" - "$T/$n.json" "$n" "$code" <<'PY' || fail "$n (see $T/$n.json, $T/$n.err)"
import json, sys
d = json.load(open(sys.argv[1]))
steps = {s["name"]: s for s in d["steps"]}
def step(name):
    if name not in steps:
        raise SystemExit("%s: no step %r; steps: %s" % (sys.argv[2], name, sorted(steps)))
    return steps[name]
def status(name): return step(name)["status"]
def out(name, key="result"): return step(name)["outputs"].get(key)
try:
    exec(sys.argv[3])
except AssertionError as e:
    raise SystemExit("%s: %s; run: %s %s; steps: %s" % (sys.argv[2], e, d["status"], d.get("message", ""),
                     {k: (v["status"], v["outputs"]) for k, v in steps.items()}))
PY
}
ok() { check "$1" "assert d['status'] == 'Succeeded', 'phase'
$2"; }

ok arguments-parameters "assert out('print-message') == 'hello world'"
ok artifact-passing-subpath "assert out('list-artifact') == 'hello_world.txt'
assert out('consume-artifact') == 'hello world'
assert 'hello-art' in step('generate-artifact')['artifacts']"
ok artifact-path-placeholders "assert out('head-lines', 'actual-lines-count').strip() == '3'
assert 'text' in step('head-lines')['artifacts']"
ok coinflip "side = out('flip-coin'); assert side in ('heads', 'tails'), side
other = 'tails' if side == 'heads' else 'heads'
assert status(side) == 'Succeeded' and status(other) == 'Skipped'
assert out(side) == 'it was ' + side"
ok conditionals-complex "a, b = out('flip-coin'), out('flip-again'); assert {a, b} <= {'heads', 'tails'}
assert status('heads') == ('Succeeded' if a == 'heads' else 'Skipped') and status('tails') == ('Succeeded' if a == 'tails' else 'Skipped')
assert status('heads-regex') == ('Succeeded' if b == 'heads' else 'Skipped') and status('tails-regex') == ('Succeeded' if b == 'tails' else 'Skipped')
assert status('complex-condition') == ('Succeeded' if b == 'tails' else 'Skipped'), (a, b)"
# A CronWorkflow runs its workflowSpec once; {{workflow.scheduledTime}} is when it started.
ok cron-workflow "import re; assert re.fullmatch(r'.* hello world\\. Scheduled on: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ', out('hello-world-with-time')), out('hello-world-with-time')"
ok exit-code-output-variable "assert status('failing-container') == 'Failed'
assert out('echo-container') == 'Exit code was: 123'"
# {{=jsonpath(...)}} over a workflow parameter, evaluated when the file is read; a list or object as JSON.
ok expression-destructure-json-complex "assert out('main') == '[43][43][{\"age\":43,\"name\":\"Baris\"}][\"Baris\",\"Mo\",\"Jai\"]', out('main')"
# expr-lang's map with a closure over #, an object literal, / and sprig's b64dec, add, min and max.
ok expression-reusing-verbose-snippets "assert out('main') == \"The week's average temperature was 35.8 with a minimum of 15 and a maximum of 57.\", out('main')"
ok continue-on-fail "assert status('C') == 'Failed' and status('D') == 'Succeeded' and status('B') == 'Succeeded'"
ok dag-custom-metrics "assert out('TEST-ONE[0]') == 'console output-->TEST-ONE-A'
assert out('TEST-TWO[1]') == 'console output-->TEST-TWO-B'"
# valueFrom.expression on the dag's outputs: the output of a step named as the template, chosen at run time.
ok dag-conditional-parameters "side = out('flip-coin'); assert side in ('heads', 'tails'), side
assert status(side) == 'Succeeded' and status('tails' if side == 'heads' else 'heads') == 'Skipped'
assert out('main', 'stepresult') == side"
ok dag-diamond "assert [out(x) for x in 'ABCD'] == list('ABCD')"
ok dag-enhanced-depends "assert status('C') == 'Failed' and status('should-not-execute') == 'Omitted'
assert all(status('should-execute-%d' % i) == 'Succeeded' for i in (1, 2, 3))"
ok dag-multiroot "assert [out(x) for x in 'ABCD'] == list('ABCD')"
# target E (a workflow parameter): E and what it depends on, C and A; B and D are not in the run.
ok dag-targets "assert sorted(steps) == ['A', 'C', 'E'], sorted(steps)
assert [out(x) for x in 'ACE'] == list('ACE')"
ok default-pdb-support "assert status('pdbcreate') == 'Succeeded'"
ok exit-handler-step-level "assert [out(x) for x in ('hello1', 'hello2a', 'hello2b')] == ['hello1', 'hello2a', 'hello2b']
assert all(out(x + '-onexit') == 'step cleanup' for x in ('hello1', 'hello2a', 'hello2b'))"
ok exit-handler-with-param "assert out('step-1', 'result-parameter') == 'hello world'
assert out('step-1-onexit') == 'hello world'"
for n in gc-ttl image-pull-secrets pod-resources; do ok "$n" "assert out('hello-world') == 'hello world'"; done
ok global-parameters "assert out('print-message') == 'hello world'"
ok loops-dag "assert out('B') == ['foo', 'bar', 'baz'] and out('A') == 'A' and out('C') == 'C'"
ok loops-sequence "assert out('sequence-count') == ['0', '1', '2', '3', '4']
assert out('sequence-start-end') == [str(i) for i in range(100, 106)]
assert out('sequence-param') == ['200', '201', '202']
assert out('sequence-negative') == ['5', '4', '3', '2', '1', '0']
assert out('sequence-format') == ['testuser%02X' % i for i in range(5)]"
ok memoize-simple "assert out('world-to-file', 'hello') == 'world'"
ok node-selector "assert out('print-arch').startswith('Linux')"
for n in parallelism-limit parallelism-template-limit; do
  ok "$n" "assert len(out('sleep')) == 10"
  took=$(( $(cat "$T/$n.end") - START ))
  [ "$took" -ge 45 ] || fail "$n ran in ${took}s: 10 sleeps of 10s, 2 at a time, take at least 50s"
done
check pod-gc-strategy-with-label-selector "assert d['status'] == 'Failed'
assert status('fail') == 'Failed' and status('succeed-deleted') == 'Succeeded' and status('succeed-not-deleted') == 'Succeeded'"
# when read per item: divide-by-2 runs for the even numbers only; a JSON object printed by a step is an item with keys.
ok parameter-aggregation-script "assert out('odd-or-even') == ['{\"num\": %d, \"evenness\": \"%s\"}' % (i, 'odd' if i % 2 else 'even') for i in (1, 2, 3, 4)]
assert [status('divide-by-2[%d]' % i) for i in range(4)] == ['Skipped', 'Succeeded', 'Skipped', 'Succeeded']
assert out('divide-by-2') == [None, '1', None, '2']"
ok pod-metadata-wf-field "assert out('hello1') == 'hello1'"
check resubmit "assert d['status'] in ('Succeeded', 'Failed')
ran = [s for s in steps.values() if s['status'] in ('Succeeded', 'Failed')]
assert all(s['outputs'].get('result', 'exiting with code').startswith('exiting with code') for s in ran if s['name'] != 'B')
assert (d['status'] == 'Succeeded') == all(s['status'] == 'Succeeded' for s in steps.values())"
# retryStrategy.expression: retried while the exit code is 2, so it ends Failed on an exit code 1
# (or after its 10 retries).
check retry-conditional "s = step('retry'); assert d['status'] == 'Failed' and s['status'] == 'Failed'
assert s['message'] == 'exit code 1' or s['attempts'] == 11, (s['attempts'], s['message'])
assert out('safe-to-retry') == 'true'"
for n in retry-container retry-script; do
  check "$n" "s = step('$n')
assert (d['status'], s['status']) in (('Succeeded', 'Succeeded'), ('Failed', 'Failed')), d['status']
assert s['status'] == 'Succeeded' or s['attempts'] == 11, s['attempts']"
done
check template-defaults "s = step('retry-backoff')
assert d['status'] in ('Succeeded', 'Failed')
assert s['status'] == 'Succeeded' or s['attempts'] == 3, s['attempts']
assert d['status'] == 'Failed' or out('hello-world') == 'hello world'"
for n in scripts-bash scripts-python; do
  ok "$n" "i = int(out('generate')); assert 1 <= i <= 101, i
assert out('print') == 'result was: %d' % i"
done
ok status-reference "assert status('flakey-container') == 'Failed' and status('succeeded') == 'Skipped'
assert out('failed') == 'the flakey container failed'"
check timeouts-step "assert d['status'] == 'Failed' and status('sleep') == 'Failed', status('sleep')
assert 'tim' in step('sleep')['message'], step('sleep')['message']"
took=$(( $(cat "$T/timeouts-step.end") - START ))
[ "$took" -lt 60 ] || fail "timeouts-step took ${took}s: activeDeadlineSeconds is 10"
# parallelism 1 on A: its four copies of B one after another, each running its two 30s jobs at once.
ok parallelism-nested-workflow "assert [out('seq-step-%d_jobs' % i) for i in range(4)] == [[c, c] for c in 'abcd']"
took=$(( $(cat "$T/parallelism-nested-workflow.end") - START ))
[ "$took" -ge 115 ] || fail "parallelism-nested-workflow ran in ${took}s: 4 copies of B, one at a time, take 120s"
[ "$took" -lt 200 ] || fail "parallelism-nested-workflow took ${took}s: the 2 jobs of a copy run at once (8 in a row: 240s)"
pass "${#SUPPORTED[@]} supported examples ran with their documented results"

# In the image: argoproj/argosay:v2 is a stand-in built offline from busybox
# (argosay's echo, sleep and exit as a script, its ENTRYPOINT /argosay) in a
# podman store of this test's own, so nothing is pulled and no other store is touched.
if command -v podman > /dev/null 2>&1 && [ -x /bin/busybox ] && [ -x /usr/libexec/podman/catatonit ]; then
  export CONTAINERS_CONF="$CTFLOW_SOURCE_DIR/tests/containers.conf" CONTAINERS_STORAGE_CONF="$T/storage.conf"
  printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' "$T/podman/graph" "$T/podman/run" > "$T/storage.conf"
  mkdir -p "$T/argosay/bin" "$T/argosay/tmp"
  cp /bin/busybox "$T/argosay/bin/"
  for a in sh echo mkdir cp chmod printf cat dirname tr sed ln true env test [ wc sleep; do ln -s busybox "$T/argosay/bin/$a"; done
  cat > "$T/argosay/argosay" <<'SH'
#!/bin/sh
[ $# -eq 0 ] && set -- echo
case "$1" in
  echo) if [ $# -ge 3 ]; then mkdir -p "$(dirname "$3")" && printf '%s\n' "$2" > "$3"; else printf '%s\n' "${2-hello argo}"; fi ;;
  sleep) sleep "${2%s}" ;;
  exit) exit "${2:-0}" ;;
  *) echo "usage: argosay [echo [string] [file]|sleep duration|exit [code]]" >&2; exit 1 ;;
esac
SH
  chmod +x "$T/argosay/argosay"
  tar -C "$T/argosay" -c . | podman import --change 'ENTRYPOINT ["/argosay"]' - argoproj/argosay:v2 > /dev/null 2>&1 \
    || fail "podman import of the argosay stand-in"
  for u in "${IN_IMAGE[@]}"; do
    n=${u%%:*} flags=${u#*:}
    # shellcheck disable=SC2086  # flags: words
    ( cd "$T/work" && CTFLOW_STORE="$T/s-$n" timeout 300 "$CTFLOW_BIN" run "$(path_of "$n")" --executor podman $flags \
        -o json > "$T/$n.json" 2> "$T/$n.err" ) || true
  done
  for n in dag-inline-workflow steps-inline-workflow; do ok "$n" "assert out('a') == 'hello argo'"; done
  ok github-path-filter-workflowtemplate "assert out('a') == 'Files affected by commit: []'"
  # ?? falls back where the output of a step that did not run is absent (an output 'result' is 'result-parameter').
  ok expression-fallback "assert status('producer') == 'Skipped' and out('main', 'result-parameter') == 'expr-fallback'"
  ok intermediate-parameters "assert out('approval', 'approve') == 'NO' and status('deploy-prod') == 'Skipped'
assert out('deploy-pre-prod') == 'deploying'"
  pass "${#IN_IMAGE[@]} examples ran in their image (--executor podman), a container without 'command' as its entrypoint"
elif [ "${CI:-}" = true ]; then
  fail "podman, /bin/busybox or catatonit is missing: the ${#IN_IMAGE[@]} examples that run in their image were not run"
else
  echo "note: podman, /bin/busybox or catatonit is missing: the ${#IN_IMAGE[@]} examples that run in their image were not run"
fi

# suspend: an error at lint (above) unless --resume-suspended; then one without
# a duration continues at once (its supplied output from its input's default),
# one with a duration waits it out, each saying so in its output.
FX="$(dirname "$0")/fixtures/argo/suspend-approval.yaml"
run_rc rc lint "$FX" 2> "$T/susp.lint" || true
assert_eq 2 "$rc" "lint of a suspend template without --resume-suspended"
assert_contains "$(cat "$T/susp.lint")" "pass --resume-suspended" "lint of a suspend template"
t0=$(date +%s)
( cd "$T/work" && CTFLOW_STORE="$T/s-susp" "$CTFLOW_BIN" run --resume-suspended "$FX" -o json ) > "$T/susp.json" 2> "$T/susp.err" \
  || fail "run --resume-suspended: $(tail -5 "$T/susp.err")"
[ $(( $(date +%s) - t0 )) -ge 2 ] || fail "a suspend of 2s was not waited out"
"$PY" - "$T/susp.json" <<'PY' || fail "run --resume-suspended (see $T/susp.json)"
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in d["steps"]}
assert d["status"] == "Succeeded", d["status"]
assert s["approval"]["outputs"] == {"approve": "NO", "result": "suspend: resumed at once (--resume-suspended)"}, s["approval"]
assert s["pause"]["outputs"]["result"] == "suspend: waited out its duration 2s (--resume-suspended)", s["pause"]
assert s["deploy-prod"]["status"] == "Skipped" and s["deploy-pre-prod"]["outputs"]["result"] == "deploying"
PY
pass "suspend under --resume-suspended: waited out, or continued at once, and recorded"

# memoize: a second run reuses the step.
( cd "$T/work" && CTFLOW_STORE="$T/s-memoize-simple" "$CTFLOW_BIN" run "$(path_of memoize-simple)" -o json > "$T/m2.json" 2>/dev/null )
assert_eq true "$(json_get "$T/m2.json" 'step(d, "world-to-file")["cached"]')" "memoized step on the second run"
pass "memoize reuses the step cache"

# A -p value for a parameter that shapes the workflow when it is read (here
# dag.target) reshapes the run, as in Argo: targets B and E run B, E and what
# they depend on (A, C), not D. A resume reads the workflow with the run's
# value again.
( cd "$T/work" && CTFLOW_STORE="$T/s-target" "$CTFLOW_BIN" run "$(path_of dag-targets)" -p target="B E" -o json ) \
  > "$T/dag-targets-BE.json" 2> "$T/dag-targets-BE.err" || fail "dag-targets -p target='B E': $(tail -5 "$T/dag-targets-BE.err")"
assert_eq "A,B,C,E" "$(json_get "$T/dag-targets-BE.json" '",".join(sorted(s["name"] for s in d["steps"]))')" "steps of dag-targets -p target='B E'"
rc=0
( cd "$T/work" && "$CTFLOW_BIN" run "$(path_of dag-targets)" -p target="B F" ) > /dev/null 2> "$T/dag-targets-BF.err" || rc=$?
assert_eq 2 "$rc" "exit code of dag-targets -p target='B F'"
assert_contains "$(cat "$T/dag-targets-BF.err")" "dag.target names 'F' (from '{{workflow.parameters.target}}'), which is not a task of template 'dag-target': its tasks are A, B, C, D, E" "lint of target 'B F'"
pass "-p reshapes a workflow whose dag.target is a parameter; an unknown target is an error"

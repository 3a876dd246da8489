#!/usr/bin/env bash
# ctflow run/get/logs/lint: the run id, the run document, exit codes 0/1/2,
# lint messages, and typed `when` comparisons.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# --- a run prints its id first and exits 0
f=$(wf hello <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: basics}
params:
  who: {type: string, default: world}
  n: {type: int, default: 3}
steps:
  greet:
    run: [echo, "hello {{params.who}}"]
  count:
    needs: [greet]
    shell: echo "$CTFLOW_PARAM_N" > n.txt; echo counted
    with: {n: "{{params.n}}"}
    outputs:
      parameters: {n: {path: n.txt}}
  never:
    needs: [count]
    when: steps.count.outputs.n > 5
    run: [echo, never]
YAML
)
out=$(ctflow run "$f" -p who=ctflow 2>"$T/err")
[[ "$out" =~ ^r-[0-9]{8}-[0-9a-f]+$ ]] || fail "run printed [$out], not a run id"
id=$out
assert_contains "$(cat "$T/err")" "run $id Succeeded" "progress on stderr"
pass "run prints the run id and exits 0"

# --- the run document
ctflow get "$id" -o json > "$T/get.json"
assert_eq "$id" "$(json_get "$T/get.json" 'd["id"]')" id
assert_eq basics "$(json_get "$T/get.json" 'd["workflow"]')" workflow
assert_eq Succeeded "$(json_get "$T/get.json" 'd["status"]')" status
assert_eq '{"n": 3, "who": "ctflow"}' "$(json_get "$T/get.json" 'd["params"]')" params
for k in started_at finished_at; do
  v=$(json_get "$T/get.json" "d['$k']")
  [[ "$v" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$ ]] || fail "$k is [$v]"
done
assert_eq '["count", "greet", "never"]' "$(json_get "$T/get.json" 'sorted(s["name"] for s in d["steps"])')" "step names"
for k in name status attempts cached outputs artifacts message started_at finished_at; do
  assert_eq true "$(json_get "$T/get.json" "all('$k' in s for s in d['steps'])")" "every step has '$k'"
done
assert_eq Succeeded "$(json_get "$T/get.json" 'step(d, "greet")["status"]')" greet.status
assert_eq 1 "$(json_get "$T/get.json" 'step(d, "greet")["attempts"]')" greet.attempts
assert_eq false "$(json_get "$T/get.json" 'step(d, "greet")["cached"]')" greet.cached
assert_eq "hello ctflow" "$(json_get "$T/get.json" 'step(d, "greet")["outputs"]["result"]')" greet.outputs.result
assert_eq '{"n": "3", "result": "counted"}' "$(json_get "$T/get.json" 'step(d, "count")["outputs"]')" count.outputs
# "3" > 5 compares as numbers: false, so never is Skipped, with the reason
assert_eq Skipped "$(json_get "$T/get.json" 'step(d, "never")["status"]')" never.status
assert_eq "skipped: when 'steps.count.outputs.n > 5' is false" \
  "$(json_get "$T/get.json" 'step(d, "never")["message"]')" never.message
# -o json on run prints only the document, the same one
ctflow run "$f" -o json > "$T/run.json" 2>"$T/err"
assert_eq Succeeded "$(json_get "$T/run.json" 'd["status"]')" "run -o json status"
assert_eq '{"n": 3, "who": "world"}' "$(json_get "$T/run.json" 'd["params"]')" "default params"
assert_eq "" "$(cat "$T/err")" "stderr of run -o json"
pass "run document fields"

# --- ctflow logs RUN STEP, and all steps prefixed
assert_eq "hello ctflow" "$(ctflow logs "$id" greet)" "logs RUN greet"
all=$(ctflow logs "$id")
assert_contains "$all" "greet: hello ctflow" "logs RUN"
assert_contains "$all" "count: counted" "logs RUN"
pass "ctflow logs"

# --- typed comparisons in when
f=$(wf typed <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: typed}
params:
  limit: 9
  word: {type: string, default: "b c"}
steps:
  ten:
    shell: echo 10
  num:
    needs: [ten]
    when: steps.ten.outputs.result > params.limit     # "10" > 9 as numbers (as text "10" < "9")
    run: [echo, yes]
  numstr:
    needs: [ten]
    when: steps.ten.outputs.result == 10.0 && steps.ten.outputs.result != '10.0'  # string "10" vs number; two strings compare as text
    run: [echo, yes]
  str:
    needs: [ten]
    when: params.word > 'a z' && params.word == "b c"   # strings compare as strings
    run: [echo, yes]
  strfalse:
    needs: [ten]
    when: params.word < 'b'
    run: [echo, yes]
  inlist:
    needs: [ten]
    when: steps.ten.outputs.result in [1, 10, 100]
    run: [echo, yes]
YAML
)
ctflow run "$f" -o json > "$T/typed.json" 2>"$T/err" || fail "typed run failed: $(cat "$T/err")"
for s in num numstr str inlist; do
  assert_eq Succeeded "$(json_get "$T/typed.json" "step(d, '$s')['status']")" "$s.status"
done
assert_eq Skipped "$(json_get "$T/typed.json" 'step(d, "strfalse")["status"]')" strfalse.status
pass "typed comparisons in when"

# --- a mixed comparison is an error that names both operands: the step Errored, run exit 1
f=$(wf mixed <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: mixed}
steps:
  word:
    shell: echo abc
  cmp:
    needs: [word]
    when: steps.word.outputs.result > 3
    run: [echo, no]
YAML
)
run_rc rc run "$f" -o json > "$T/mixed.json" 2>/dev/null
assert_eq 1 "$rc" "exit code of a run that ends Errored"
assert_eq Errored "$(json_get "$T/mixed.json" 'd["status"]')" "mixed run status"
assert_eq Errored "$(json_get "$T/mixed.json" 'step(d, "cmp")["status"]')" cmp.status
msg=$(json_get "$T/mixed.json" 'step(d, "cmp")["message"]')
assert_contains "$msg" '"abc" (string)' cmp.message
assert_contains "$msg" '3 (int)' cmp.message
pass "mixed comparison errors"

# --- exit codes: 1 for a failed run, 2 for lint errors and bad params, nothing started
f=$(wf failing <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: failing}
params:
  n: {type: int, default: 1}
steps:
  boom:
    shell: exit 4
YAML
)
run_rc rc run "$f" > /dev/null 2>"$T/err"
assert_eq 1 "$rc" "exit code of a Failed run"
assert_contains "$(cat "$T/err")" "Failed" "stderr"
run_rc rc run "$f" -p n=abc > "$T/out" 2>"$T/err"
assert_eq 2 "$rc" "exit code of -p n=abc"
assert_eq "ctflow: error: -p n=abc: param 'n' is int and must be an integer; got 'abc'" "$(cat "$T/err")" "-p error"
assert_eq "" "$(cat "$T/out")" "stdout of a run that did not start"
run_rc rc run "$f" -p m=1 > /dev/null 2>"$T/err"
assert_eq 2 "$rc" "exit code of an unknown param"
assert_eq "ctflow: error: -p m=1: workflow 'failing' has no param 'm' (did you mean 'n'?)" "$(cat "$T/err")" "-p unknown"

bad=$(wf bad <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: bad}
params:
  need_me: {type: string}
steps:
  a:
    run: [echo]
    neds: [b]
YAML
)
run_rc rc lint "$bad" 2>"$T/err"
assert_eq 2 "$rc" "lint exit code"
assert_eq "$bad:9:5: error: unknown key 'neds' in step 'a' (did you mean 'needs'?)
      neds: [b]
      ^" "$(cat "$T/err")" "lint output"
n_before=$(ctflow list -o json | json_get - 'len(d)')
run_rc rc run "$bad" > /dev/null 2>"$T/err"
assert_eq 2 "$rc" "run of an invalid workflow"
assert_eq "$n_before" "$(ctflow list -o json | json_get - 'len(d)')" "runs recorded after an invalid workflow"
sed -i '/neds/d' "$bad"
run_rc rc lint "$bad" 2>"$T/err"
assert_eq 0 "$rc" "lint of a valid workflow"
run_rc rc run "$bad" > /dev/null 2>"$T/err"
assert_eq 2 "$rc" "run without a required param"
assert_eq "ctflow: error: param 'need_me' is required: pass -p need_me=VALUE" "$(cat "$T/err")" "required param"
run_rc rc run /nonexistent.yaml > /dev/null 2>"$T/err"
assert_eq 2 "$rc" "run of a missing file"
run_rc rc frobnicate > /dev/null 2>&1
assert_eq 2 "$rc" "unknown verb"
run_rc rc lint --gpus 0 "$CTFLOW_SOURCE_DIR/workflows/examples/hello.yaml" 2>/dev/null
assert_eq 0 "$rc" "lint --gpus 0"
pass "exit codes 0/1/2 and lint messages"

# --- outputs of a Skipped step: the declared default, else an error at that point
f=$(wf defaults <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: defaults}
fail_fast: false
steps:
  a:
    when: "1 > 2"
    shell: echo 5 > x
    outputs: {parameters: {x: {path: x, default: fallback}, y: {path: y}}}
  b:
    needs: [a]
    run: [echo, "{{steps.a.outputs.x}}"]
  c:
    needs: [a]
    run: [echo, "{{steps.a.outputs.y}}"]
YAML
)
run_rc rc run "$f" -o json > "$T/def.json" 2>/dev/null
assert_eq 1 "$rc" "exit code"
assert_eq fallback "$(json_get "$T/def.json" 'step(d, "b")["outputs"]["result"]')" "b: the default"
assert_eq Errored "$(json_get "$T/def.json" 'step(d, "c")["status"]')" c.status
assert_eq "steps.a.outputs.y: step 'a' Skipped and the output has no default" \
  "$(json_get "$T/def.json" 'step(d, "c")["message"]')" c.message
pass "outputs of a Skipped step"

# --- a step's stdout that is not UTF-8 is kept (invalid bytes become U+FFFD),
# not a crash of the engine
f=$(wf binary <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: binary}
steps:
  raw: {shell: "printf 'a\\377\\376b'"}
  next: {shell: "echo got-{{steps.raw.outputs.result}}", needs: [raw]}
YAML
)
ctflow run "$f" -o json > "$T/binary.json" 2> "$T/err" || fail "binary stdout: $(cat "$T/err")"
assert_eq "a��b" "$(json_get "$T/binary.json" 'step(d, "raw")["outputs"]["result"]')" "raw's result"
assert_eq Succeeded "$(json_get "$T/binary.json" 'step(d, "next")["status"]')" "next.status"
pass "stdout that is not UTF-8 is kept, with U+FFFD for the bad bytes"

# --- a relative path given to a `path` param with -p names it from where
# `ctflow run` runs, not from the step's own fresh folder; a string param is
# left as written
f=$(wf relpath <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: relpath}
params:
  data: {type: path}
  label: {type: string, default: x}
steps:
  look: {shell: "cat '{{params.data}}/in.txt'"}
YAML
)
mkdir -p "$T/here/sub" && echo found-it > "$T/here/sub/in.txt"
(cd "$T/here" && ctflow run "$f" -p data=sub -p label=sub/x -o json > "$T/relpath.json" 2> "$T/err") ||
  fail "a relative path param: $(cat "$T/err")"
assert_eq "$T/here/sub" "$(json_get "$T/relpath.json" 'd["params"]["data"]')" "the path param, bound absolute"
assert_eq "sub/x" "$(json_get "$T/relpath.json" 'd["params"]["label"]')" "the string param"
assert_eq found-it "$(json_get "$T/relpath.json" 'step(d, "look")["outputs"]["result"]')" "what the step read"
pass "a relative -p path is taken from where ctflow run runs"

# --- a resource read from a param ("{{params.gpus}}"): -p decides what the
# step holds, and so which devices it sees; lint names the -p that fixes a
# request the host cannot meet; resume reads the run's own params again
f=$(wf gpuparam <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: gpuparam}
params:
  gpus: {type: int, default: 0}
  stop: {type: string, default: ""}
steps:
  train:
    resources: {gpu: "{{params.gpus}}"}
    shell: echo "devices=${CUDA_VISIBLE_DEVICES-none}"; test -z "$CTFLOW_PARAM_STOP" || test ! -e "$CTFLOW_PARAM_STOP"
    with: {stop: "{{params.stop}}"}
YAML
)
ctflow run "$f" -o json > "$T/g0.json" 2>"$T/err" || fail "gpus=0: $(cat "$T/err")"
assert_eq devices=none "$(json_get "$T/g0.json" 'step(d, "train")["outputs"]["result"]')" "the default: no GPU"
ctflow run "$f" --gpus 2 -p gpus=2 -o json > "$T/g2.json" 2>"$T/err" || fail "gpus=2: $(cat "$T/err")"
assert_eq devices=0,1 "$(json_get "$T/g2.json" 'step(d, "train")["outputs"]["result"]')" "-p gpus=2 holds two"
run_rc rc lint --gpus 1 -p gpus=2 "$f" 2>"$T/err"
assert_eq 2 "$rc" "lint of a request the host cannot meet"
assert_contains "$(cat "$T/err")" "step 'train' asks for 2 gpu but this host has 1: pass -p gpus=1 (resources.gpu is params.gpus)" "lint message"
run_rc rc run "$f" --gpus 1 -p gpus=one 2>"$T/err"
assert_eq 2 "$rc" "a bad value for a resource param"
assert_contains "$(cat "$T/err")" "'resources.gpu' must be a non-negative integer; got 'one' (from params.gpus)" "its message"
touch "$T/stop"
run_rc rc run "$f" --gpus 2 -p gpus=1 -p stop="$T/stop" > "$T/g1.out" 2>"$T/err"
assert_eq 1 "$rc" "the stopped run fails"
rm "$T/stop"
CTFLOW_GPUS=2 ctflow resume "$(head -n1 "$T/g1.out")" -o json > "$T/g1.json" 2>"$T/err" || fail "resume: $(cat "$T/err")"
assert_eq devices=0 "$(json_get "$T/g1.json" 'step(d, "train")["outputs"]["result"]')" "resume holds the run's one GPU"
pass "resources from params: -p, lint, resume"

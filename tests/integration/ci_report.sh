#!/usr/bin/env bash
# ctflow in CI: `run --junit` (parsed with xml.etree: counts, failure text with
# the log tail, skipped steps, written also when the run fails), `run
# --params-file` (YAML and JSON, -p wins, bad files are errors with a position
# and exit 2, nothing runs), and `lint --strict` (warnings fail it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# --- JUnit: a succeeding, a failing, a skipped and an omitted step, a fan-out
f=$(wf ci <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: ci-demo}
params:
  gate: {type: int, default: 1}
steps:
  good:
    shell: echo fine
  fan:
    for_each: [a, b]
    run: [echo, "{{item}}"]
  bad:
    needs: [good]
    shell: 'for i in $(seq 1 60); do echo "noise $i"; done; echo "the <real> & final reason"; exit 3'
  maybe:
    needs: [good]
    when: params.gate > 5
    run: [echo, never]
  after:
    depends: bad.Succeeded
    run: [echo, never]
YAML
)
run_rc rc run "$f" --junit "$T/reports/junit.xml" 2> "$T/err" > /dev/null
assert_eq 1 "$rc" "exit code of the failing run"
[ -f "$T/reports/junit.xml" ] || fail "no JUnit file after a failed run: $(cat "$T/err")"
ls -A "$T/reports" | grep -v '^junit.xml$' && fail "a temporary file was left beside the report"
"$PY" - "$T/reports/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
assert suite is not None, "no <testsuite>"
cases = {c.get("name"): c for c in suite.findall("testcase")}
assert set(cases) == {"good", "fan[0]", "fan[1]", "bad", "maybe", "after"}, sorted(cases)
for name, c in cases.items():
    assert c.get("classname") == "ci-demo", (name, c.get("classname"))
    assert float(c.get("time")) >= 0, (name, c.get("time"))
got = {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")}
assert got == {"tests": "6", "failures": "1", "errors": "0", "skipped": "2"}, got
assert float(suite.get("time")) > 0, suite.get("time")
for ok in ("good", "fan[0]", "fan[1]"):
    assert len(cases[ok]) == 0, (ok, [e.tag for e in cases[ok]])
fail = cases["bad"].find("failure")
assert fail is not None, "bad has no <failure>"
assert fail.get("message").startswith("Failed"), fail.get("message")
assert "3" in fail.get("message"), fail.get("message")
text = fail.text or ""
assert "the <real> & final reason" in text, text
assert "noise 60" in text and "noise 1\n" not in text, "not the tail of the log: " + text
assert cases["bad"].find("skipped") is None
for s in ("maybe", "after"):
    sk = cases[s].find("skipped")
    assert sk is not None, s + " is not <skipped>"
assert "when" in cases["maybe"].find("skipped").get("message"), cases["maybe"].find("skipped").get("message")
print("junit ok")
PY
pass "--junit: counts, failure with the log tail, skipped, written when the run fails"

# A succeeding run: every case passes.
ok=$(wf ok <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: ok}
steps:
  one: {run: [echo, one]}
YAML
)
ctflow run "$ok" --junit "$T/ok.xml" 2> /dev/null > /dev/null
"$PY" -c '
import sys, xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot().find("testsuite")
assert (s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped")) == ("1", "0", "0", "0"), s.attrib
' "$T/ok.xml"
pass "--junit of a succeeding run"

# A report that cannot be written is bad usage, found before anything runs.
touch "$T/not-a-folder"
run_rc rc run "$ok" --junit "$T/not-a-folder/junit.xml" 2> "$T/err" > /dev/null
assert_eq 2 "$rc" "exit code for an unwritable --junit path"
assert_contains "$(cat "$T/err")" "--junit $T/not-a-folder/junit.xml" "unwritable --junit message"
assert_not_contains "$(cat "$T/err")" "Running" "progress of a run that should not have started"
pass "--junit to a path that cannot be written: exit 2, nothing runs"

# --- params file: YAML and JSON, -p wins, defaults for the rest
pw=$(wf params <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: params-demo}
params:
  who: {type: string, default: world}
  n: {type: int, default: 1}
  layers: {type: json, default: []}
  tag: {type: string, default: none}
steps:
  show:
    run: [echo, "who={{params.who}} n={{params.n}} layers={{params.layers}} tag={{params.tag}}"]
YAML
)
printf 'who: "007"\nn: 2\nlayers: [64, 32]\n' > "$T/p.yaml"
id=$(ctflow run "$pw" --params-file "$T/p.yaml" -p n=5 2> /dev/null)
ctflow get "$id" -o json > "$T/get.json"
assert_eq "who=007 n=5 layers=[64,32] tag=none" "$(json_get "$T/get.json" 'step(d, "show")["outputs"]["result"]')" "params from the file, -p wins"
printf '{"who": "json", "n": 3}' > "$T/p.json"
id=$(ctflow run "$pw" -f "$T/p.json" 2> /dev/null)
ctflow get "$id" -o json > "$T/get.json"
assert_eq "who=json n=3 layers=[] tag=none" "$(json_get "$T/get.json" 'step(d, "show")["outputs"]["result"]')" "a JSON params file"
pass "--params-file: YAML and JSON, -p wins"

# --- bad params files: a clear error with the position, exit 2, no run
runs_before=$(ctflow list -o json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
bad_file() {  # bad_file NAME TEXT EXPECTED...
  local name=$1 text=$2
  shift 2
  printf '%s' "$text" > "$T/$name"
  run_rc rc run "$pw" -f "$T/$name" 2> "$T/err" > /dev/null
  assert_eq 2 "$rc" "exit code for $name"
  for want in "$@"; do assert_contains "$(cat "$T/err")" "$want" "error for $name"; done
}
bad_file unknown.yaml $'who: x\nnn: 3\n' "$T/unknown.yaml:2:1: error: workflow 'params-demo' has no param 'nn' (did you mean 'n'?)" "  nn: 3"
bad_file list.yaml $'- who\n- n\n' "$T/list.yaml:1:1: error: a params file is a mapping of param name to value" "got a list"
bad_file syntax.json $'{"who": "x",\n "n": [1, }\n' "$T/syntax.json:2:" "syntax"
bad_file type.yaml $'n: many\n' "$T/type.yaml:1:4: error: param 'n' is int and must be an integer; got 'many'"
run_rc rc run "$pw" -f "$T/missing.yaml" 2> "$T/err"
assert_eq 2 "$rc" "exit code for a missing params file"
assert_contains "$(cat "$T/err")" "$T/missing.yaml: error: cannot read the params file" "missing file"
runs_after=$(ctflow list -o json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
assert_eq "$runs_before" "$runs_after" "runs started by bad params files"
pass "bad params files: position, exit 2, nothing runs"

# --- lint --strict
warn=$(wf warn <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: warn}
params:
  unused: {type: string, default: x}
steps:
  a: {run: [echo, a]}
YAML
)
run_rc rc lint "$warn" 2> "$T/err"
assert_eq 0 "$rc" "lint exit code with only warnings"
assert_contains "$(cat "$T/err")" "$warn:5:3: warning: param 'unused' is declared but no step reads it" "lint warning"
run_rc rc lint --strict "$warn" 2> "$T/err"
assert_eq 2 "$rc" "lint --strict exit code with a warning"
assert_contains "$(cat "$T/err")" "warning: param 'unused'" "lint --strict message"
run_rc rc lint --strict "$ok" 2> "$T/err"
assert_eq 0 "$rc" "lint --strict of a clean workflow"
# The repository's own examples are what users copy: no warnings there.
run_rc rc lint --strict "$EXAMPLES"/*.yaml 2> "$T/err"
assert_eq 0 "$rc" "lint --strict of workflows/examples ($(cat "$T/err"))"
pass "lint --strict: warnings are errors"

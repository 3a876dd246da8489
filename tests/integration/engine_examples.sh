#!/usr/bin/env bash
# workflows/examples/*.yaml are documentation: each lints clean and runs to
# Succeeded; a few outputs are checked so that the comments stay true.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

n=0
for f in "$EXAMPLES"/*.yaml; do
  run_rc rc lint "$f" 2> "$T/err"
  assert_eq 0 "$rc" "lint $(basename "$f"): $(cat "$T/err")"
  n=$((n + 1))
done
[ "$n" -ge 6 ] || fail "expected at least 6 examples, found $n"
pass "$n examples lint clean"

run_example() {  # run_example NAME [ARGS...]: runs it, leaves the document in $T/NAME.json
  local name=$1
  shift
  ctflow run "$EXAMPLES/$name.yaml" "$@" -o json > "$T/$name.json" 2> "$T/err" || fail "run $name: $(cat "$T/err")"
  assert_eq Succeeded "$(json_get "$T/$name.json" 'd["status"]')" "$name status"
}

run_example hello -p who="ctflow user"
assert_eq "HELLO CTFLOW USER" "$(json_get "$T/hello.json" 'step(d, "shout")["outputs"]["result"]')" "hello: shout"

run_example diamond
assert_eq "left=22 right=42" "$(json_get "$T/diamond.json" 'step(d, "join")["outputs"]["result"]')" "diamond: join"

run_example fan-out
assert_eq 'squares: ["1","4","9","16"]' "$(json_get "$T/fan-out.json" 'step(d, "collect")["outputs"]["result"]')" "fan-out: collect"
assert_eq '["en: ada", "fr: grace"]' "$(json_get "$T/fan-out.json" 'step(d, "greet")["outputs"]["result"]')" "fan-out: greet"

run_example retry
assert_eq 3 "$(json_get "$T/retry.json" 'step(d, "flaky")["attempts"]')" "retry: attempts"

run_example conditional
assert_eq Skipped "$(json_get "$T/conditional.json" 'step(d, "small")["status"]')" "conditional: small"
assert_eq Succeeded "$(json_get "$T/conditional.json" 'step(d, "vanilla-only")["status"]')" "conditional: vanilla-only"
run_example conditional -p threshold=10 -p flavour=chocolate
assert_eq Skipped "$(json_get "$T/conditional.json" 'step(d, "big")["status"]')" "conditional: big with threshold=10"
assert_eq Skipped "$(json_get "$T/conditional.json" 'step(d, "vanilla-only")["status"]')" "conditional: vanilla-only"

run_example exit-handler
id=$(json_get "$T/exit-handler.json" 'd["id"]')
assert_eq "run $id of exit-handler ended Succeeded" \
  "$(json_get "$T/exit-handler.json" 'step(d, "notify")["outputs"]["result"]')" "exit-handler: notify"
run_rc rc run "$EXAMPLES/exit-handler.yaml" -p fail=yes -o json > "$T/eh.json" 2>/dev/null
assert_eq 1 "$rc" "exit-handler -p fail=yes"
assert_contains "$(json_get "$T/eh.json" 'step(d, "notify")["outputs"]["result"]')" "ended Failed" "notify after a failure"
assert_contains "$(json_get "$T/eh.json" 'step(d, "failures")["outputs"]["result"]')" '"step":"work"' "failures"
pass "examples run"

#!/usr/bin/env bash
# Progress a person can watch: a command step appends progress lines to its
# CTFLOW_METRICS file; `ctflow run` off a terminal prints them as progress
# lines (the first at once, then at most every 5 s a step) with the time left
# from the rate since the first report, and the store keeps the latest in the
# step's row (`ctflow get -o json`). mnist_cuda.sh checks the plugins' own.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

f=$(wf progress <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: progress}
steps:
  work:
    shell: >-
      p() { echo "{\"progress\": {\"done\": $1, \"total\": 4, \"message\": \"$2\"}}" >> "$CTFLOW_METRICS"; };
      p 1 first; sleep 0.5; p 2 second; sleep 5.5; p 3 third; sleep 1; echo done
YAML
)
id=$(ctflow run "$f" 2>"$T/err") || fail "the run failed: $(cat "$T/err")"
cat "$T/err"
assert_contains "$(cat "$T/err")" "Progress   work 25% first" "the first report, at once"
assert_not_contains "$(cat "$T/err")" "work 50% second" "a report within 5 s of the last line is not printed"
grep -Eq "Progress   work 75% third, [0-9]+ s left" "$T/err" || fail "the third report with the time left: $(cat "$T/err")"
pass "progress lines off a terminal, with the time left"

ctflow get "$id" -o json > "$T/run.json"
assert_eq "3 third" "$(json_get "$T/run.json" '"%d %s" % (step(d, "work")["progress"]["done"], step(d, "work")["progress"]["message"])')" "the latest progress in the store"
pass "the store keeps the step's latest progress"

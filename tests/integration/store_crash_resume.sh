#!/usr/bin/env bash
# kill -9 at random moments: a workflow of 28 sleeping steps (one a fan-out)
# that write file and folder artifacts, some of them cached. `ctflow run` is
# killed with SIGKILL, with its step processes, at 20 random moments, and
# `ctflow resume` is run after each kill (a new run is started once one
# Succeeds, so later kills land on cache hits too). Then it checks:
#   - every run ends Succeeded;
#   - no step recorded Succeeded ran again (each step appends a line to a side
#     log outside the store when it starts);
#   - every artifact's content matches its digest (recomputed here, with
#     sha256sum and the manifest format, not by the store), the final digests
#     equal those of one uninterrupted run, and every blob in the store hashes
#     to its name: no half-written blob is ever visible;
#   - `PRAGMA integrity_check` is ok after every kill.
# CTFLOW_CRASH_KILLS (default 20) and CTFLOW_CRASH_SEED change the kills.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KILLS="${CTFLOW_CRASH_KILLS:-20}"
SEED="${CTFLOW_CRASH_SEED:-$RANDOM}"
RANDOM=$SEED
echo "seed $SEED (CTFLOW_CRASH_SEED=$SEED reruns these kill moments)"

# --- the workflow: s01..s24 in a DAG, a fan-out of 4, a collector
gen_step() {  # NAME NEEDS(space-separated) KIND(file|dir|big) CACHE
  local name=$1 needs=$2 kind=$3 cache=$4 inputs="" n
  echo "  $name:"
  if [ -n "$needs" ]; then
    echo "    needs: [${needs// /, }]"
    for n in $needs; do inputs+=" \"{{steps.$n.artifacts.out}}\""; done
  fi
  [ "$cache" = 1 ] && echo "    cache: true"
  echo "    shell: |"
  echo "      echo \"{{workflow.run_id}} $name\" >> \"$T/side.log\""
  echo "      sleep 0.$((RANDOM % 3 + 1))"
  # Content is a function of the step's name and its inputs only, so that an
  # uninterrupted run gives the same digests.
  echo "      for f in$inputs; do find \"\$f\" -type f | sort | xargs cat | wc -c; done > inputs.txt"
  case "$kind" in
    file) echo "      { echo $name; cat inputs.txt; seq 1 $((RANDOM % 5000 + 10)); } > out" ;;
    big) echo "      yes $name | head -c $(((RANDOM % 4 + 2) * 1000000)) > out" ;;
    dir)
      echo "      mkdir -p out/sub/deeper && cp inputs.txt out/inputs.txt"
      echo "      for i in 1 2 3 4 5; do yes \"$name \$i\" | head -c \$((i * 150000)) > out/part-\$i; done"
      echo "      printf '#!/bin/sh\necho $name\n' > out/sub/run.sh && chmod +x out/sub/run.sh"
      echo "      echo $name > out/sub/deeper/name.txt"
      ;;
  esac
  echo "    outputs: {artifacts: {out: {path: out}}}"
}
kinds=(file dir big)
{
  echo "apiVersion: ctflow/v1"
  echo "kind: Workflow"
  echo "metadata: {name: crash}"
  echo "parallelism: 3"
  echo "steps:"
  for i in $(seq 1 24); do
    name=$(printf 's%02d' "$i")
    needs=""
    if [ "$i" -gt 3 ]; then
      a=$((RANDOM % (i - 1) + 1))
      b=$((RANDOM % (i - 1) + 1))
      needs=$(printf 's%02d' "$a")
      [ "$b" != "$a" ] && needs+=" $(printf 's%02d' "$b")"
    fi
    gen_step "$name" "$needs" "${kinds[$((i % 3))]}" $((i % 4 == 0 ? 1 : 0))
  done
  cat <<YAML
  fan:
    needs: [s05]
    for_each: [0, 1, 2, 3, 4, 5]
    parallelism: 1
    shell: |
      echo "{{workflow.run_id}} fan[{{item}}]" >> "$T/side.log"
      sleep 0.$((RANDOM % 3 + 1))
      yes "fan {{item}}" | head -c 300000 > out
    outputs: {artifacts: {out: {path: out}}}
  collect:
    needs: [fan, s24]
    shell: |
      echo "{{workflow.run_id}} collect" >> "$T/side.log"
      cat "{{steps.s24.artifacts.out}}" > /dev/null
      echo done > out
    outputs: {artifacts: {out: {path: out}}}
YAML
} > "$T/crash.yaml"
ctflow lint "$T/crash.yaml" > /dev/null 2> "$T/lint.err" || fail "lint: $(cat "$T/lint.err")"
nsteps=$(( $(grep -c '^  [a-z0-9]*:$' "$T/crash.yaml") + 6 ))  # with fan[0]..fan[5]

check() { "$PY" "$(dirname "$0")/store_check.py" "$@"; }
integrity() {
  local r
  r=$(sqlite3 "$CTFLOW_STORE/ctflow.db" 'PRAGMA integrity_check' 2>&1) || true
  assert_eq ok "$r" "PRAGMA integrity_check ($1)"
}

# --- the reference: one uninterrupted run in a store of its own
ref_start=$(date +%s%N)
CTFLOW_STORE="$T/ref-store" ctflow run "$T/crash.yaml" > "$T/ref.out" 2> "$T/ref.err" || fail "reference run: $(tail -5 "$T/ref.err")"
ref_ms=$((($(date +%s%N) - ref_start) / 1000000))
ref_id=$(head -n1 "$T/ref.out")
CTFLOW_STORE="$T/ref-store" check digests "$CTFLOW_BIN" "$ref_id" | sort > "$T/ref.digests"
mv "$T/side.log" "$T/ref-side.log"
pass "reference run: $nsteps steps, $(wc -l < "$T/ref.digests") artifacts in ${ref_ms} ms"
# Kill moments are spread over a quarter of an uninterrupted run (at least 1 s)
# so that, on a slow or loaded machine too, 20 kills cover about two runs.
window_ms=$((ref_ms / 4 > 1000 ? ref_ms / 4 : 1000))

# --- kill, resume, kill...
# start_engine CMD...: the engine in a session of its own, so that it and
# every step process it started (each in a process group of its own, but all
# in its session) can be killed together, as a crash of the machine would.
start_engine() {
  setsid "$CTFLOW_BIN" "$@" > "$T/engine.out" 2> "$T/engine.err" &
  engine=$!
  _BG_PIDS+=("$engine")
}
# kill_engine: SIGKILL to the engine's process group and to every process in
# its session; sets engine_rc to the engine's exit status (137: killed).
kill_engine() {
  set +e
  {  # stderr off: no "Killed" notice from the shell
    kill -KILL -- "-$engine"
    pkill -KILL -s "$engine"
    wait "$engine"
    engine_rc=$?
  } 2> /dev/null
  set -e
  wait_for 10 none_left_in_session "$engine" || fail "processes of session $engine outlived SIGKILL"
}
none_left_in_session() { ! pgrep -s "$1" > /dev/null; }
runs=()       # every run this test started, in order
current=""    # the run being driven to Succeeded
kills=0
snap=0
while [ "$kills" -lt "$KILLS" ]; do
  if [ -z "$current" ]; then
    start_engine run "$T/crash.yaml"
  else
    start_engine resume "$current"
  fi
  # Anywhere from before the run exists, through step starts, artifact
  # commits and store writes, to the end of a run.
  ms=$((((RANDOM << 15) | RANDOM) % window_ms))
  delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  sleep "$delay"
  kill_engine
  if [ "$engine_rc" = 137 ]; then
    kills=$((kills + 1))
    what="killed after ${delay}s"
  else
    assert_eq 0 "$engine_rc" "exit code of the engine that was not killed ($(tail -5 "$T/engine.err"))"
    what="finished before the kill"
  fi
  if [ -z "$current" ]; then
    current=$(head -n1 "$T/engine.out")
    if [ -z "$current" ]; then
      # Killed before it printed the id: the run may exist all the same.
      current=$(ctflow list -o json | json_get - '[r["id"] for r in d if r["workflow"] == "crash" and r["status"] != "Succeeded"][0] if any(r["workflow"] == "crash" and r["status"] != "Succeeded" for r in d) else ""')
    fi
    [ -n "$current" ] && runs+=("$current")
  fi
  integrity "$what"
  if [ -n "$current" ]; then
    # What the store says Succeeded now, and how often each of those ran.
    snap=$((snap + 1))
    check succeeded "$CTFLOW_BIN" "$current" | while read -r s; do
      echo "$current $s $(grep -cxF "$current $s" "$T/side.log" || true)"
    done > "$T/snap.$snap"
    status=$(ctflow get "$current" -o json | json_get - 'd["status"]')
    echo "kill $kills: $what; run $current $status, $(wc -l < "$T/snap.$snap") of $nsteps steps Succeeded"
    [ "$status" = Succeeded ] && current=""
  else
    echo "kill $kills: $what; no run yet"
  fi
done
# Finish the last run.
if [ -n "$current" ]; then
  ctflow resume "$current" > /dev/null 2> "$T/resume.err" || fail "last resume: $(tail -5 "$T/resume.err")"
fi
integrity "at the end"
[ "$kills" -ge "$KILLS" ] || fail "only $kills kills"
pass "$kills kills at random moments, ${#runs[@]} runs"

# --- every run Succeeded, with the reference's artifacts
for id in "${runs[@]}"; do
  assert_eq Succeeded "$(ctflow get "$id" -o json | json_get - 'd["status"]')" "status of run $id"
  check digests "$CTFLOW_BIN" "$id" | sort > "$T/digests.$id"
  diff -u "$T/ref.digests" "$T/digests.$id" > "$T/diff" || fail "run $id: artifacts differ from the uninterrupted run: $(cat "$T/diff")"
  ctflow artifacts "$id" s01 out -o "$T/got.$id" 2> /dev/null || fail "ctflow artifacts $id s01 out"
  [ -x "$T/got.$id/sub/run.sh" ] || fail "ctflow artifacts: the folder of s01 lacks its executable sub/run.sh"
done
pass "every run Succeeded; each artifact's content matches its digest and the uninterrupted run's"
nblobs=$(check blobs "$CTFLOW_STORE/blobs") || fail "a blob in the store does not match its name: $nblobs"
pass "all $nblobs blobs in the store hash to their names"
echo "temporaries left in blobs/tmp by the kills: $(ls "$CTFLOW_STORE/blobs/tmp" | wc -l)"

# --- no step recorded Succeeded ran again
for f in "$T"/snap.*; do
  while read -r id s n; do
    now=$(grep -cxF "$id $s" "$T/side.log" || true)
    [ "$now" = "$n" ] || fail "step $s of run $id was Succeeded (after $n starts) at ${f##*/}, and started again: $now starts"
  done < "$f"
done
# ... and every step ran (or was a cache hit) in every run.
for id in "${runs[@]}"; do
  ran=$(grep -c "^$id " "$T/side.log" || true)
  [ "$ran" -gt 0 ] || fail "no step of run $id ran"
done
pass "no step recorded Succeeded ran again ($snap snapshots)"

#!/usr/bin/env bash
# Four `ctflow run` processes on one store at once, twice: workflows of
# cached steps that write file and folder artifacts, some of them the same in
# all four (the same cache key and the same blobs, stored at the same moment),
# plus a fan-out each. Every run Succeeds, no process says "database is
# locked" (or warns about the store at all), the second round takes its
# cached steps from the cache, and afterwards the store is consistent: the
# runs are listed, every artifact's content matches its digest, every blob
# hashes to its name, `PRAGMA integrity_check` is ok.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
check() { "$PY" "$(dirname "$0")/store_check.py" "$@"; }

# workflow W: steps shared by all four (same script: same cache key, same
# content) and steps of W's own.
for w in 1 2 3 4; do
  {
    echo "apiVersion: ctflow/v1"
    echo "kind: Workflow"
    echo "metadata: {name: par$w}"
    echo "defaults: {cache: true}"
    echo "steps:"
    for i in 1 2 3 4 5 6; do
      cat <<YAML
  shared$i:
    shell: |
      echo "shared$i" >> "$T/ran.$w"
      mkdir -p out/sub
      for j in 1 2 3 4 5 6 7 8; do yes "shared $i \$j" | head -c \$((j * 20000)) > out/sub/f\$j; done
      seq 1 $((i * 1000)) > out/seq.txt
    outputs: {artifacts: {out: {path: out}}}
  own$i:
    needs: [shared$i]
    shell: |
      echo "own$i" >> "$T/ran.$w"
      { cat "{{steps.shared$i.artifacts.out}}/seq.txt"; echo par$w; } > out
    outputs: {artifacts: {out: {path: out}}}
YAML
    done
    cat <<YAML
  fan:
    needs: [own1, own2]
    for_each: [1, 2, 3, 4, 5, 6, 7, 8]
    cache: false
    shell: yes "par$w {{item}}" | head -c 50000 > out
    outputs: {artifacts: {out: {path: out}}}
  last:
    needs: [fan, own3, own4, own5, own6]
    cache: false
    run: [cat, "{{steps.own6.artifacts.out}}"]
YAML
  } > "$T/par$w.yaml"
done

# round R: the four workflows at once; each one's run id in $T/id.R.W.
round() {
  local r=$1 w pids=() rc
  for w in 1 2 3 4; do
    "$CTFLOW_BIN" run "$T/par$w.yaml" > "$T/out.$r.$w" 2> "$T/err.$r.$w" &
    pids+=($!)
    _BG_PIDS+=($!)
  done
  for w in 1 2 3 4; do
    set +e
    wait "${pids[$((w - 1))]}"
    rc=$?
    set -e
    assert_eq 0 "$rc" "exit code of run $w of round $r ($(tail -3 "$T/err.$r.$w"))"
    head -n1 "$T/out.$r.$w" > "$T/id.$r.$w"
  done
  for w in 1 2 3 4; do
    for bad in "locked" "busy" "store:"; do
      assert_not_contains "$(cat "$T/err.$r.$w")" "$bad" "stderr of run $w of round $r"
    done
  done
}
round 1
pass "round 1: four runs at once on an empty store all Succeeded, no 'database is locked'"
round 2
pass "round 2: four runs at once on the cache of round 1 all Succeeded"

# Round 2 took every cached step from the cache: nothing but the fan-outs ran.
for w in 1 2 3 4; do
  id=$(cat "$T/id.2.$w")
  cached=$(ctflow get "$id" -o json | json_get - 'sorted(s["name"] for s in d["steps"] if s["cached"])')
  assert_eq '["own1", "own2", "own3", "own4", "own5", "own6", "shared1", "shared2", "shared3", "shared4", "shared5", "shared6"]' \
    "$cached" "cache hits of par$w in round 2"
done
# In round 1 a shared step may run in several workflows at once (all miss the
# cache); the steps of a workflow's own ran once each, in round 1 only.
for w in 1 2 3 4; do
  assert_eq 6 "$(grep -c '^own' "$T/ran.$w")" "own steps of par$w that ran"
done
pass "round 2 hit the cache for every cached step"

# The store afterwards.
assert_eq 8 "$(ctflow list -o json | json_get - 'len([r for r in d if r["status"] == "Succeeded"])')" "Succeeded runs listed"
declare -A digest_of
for r in 1 2; do
  for w in 1 2 3 4; do
    id=$(cat "$T/id.$r.$w")
    assert_eq Succeeded "$(ctflow get "$id" -o json | json_get - 'd["status"]')" "status of $id"
    check digests "$CTFLOW_BIN" "$id" > "$T/digests.$r.$w" || fail "run $id: $(cat "$T/digests.$r.$w")"
    # The shared steps made the same artifact in every run.
    while read -r step digest; do
      case "$step" in shared*) ;; *) continue ;; esac
      [ -z "${digest_of[$step]:-}" ] && digest_of[$step]=$digest
      assert_eq "${digest_of[$step]}" "$digest" "digest of $step in run $id"
    done < "$T/digests.$r.$w"
    ctflow artifacts "$id" shared3 out -o "$T/got.$r.$w" 2> /dev/null || fail "ctflow artifacts $id shared3 out"
    assert_eq 3000 "$(wc -l < "$T/got.$r.$w/seq.txt" | tr -d ' ')" "lines of shared3's seq.txt in run $id"
  done
done
nblobs=$(check blobs "$CTFLOW_STORE/blobs") || fail "a blob in the store does not match its name: $nblobs"
assert_eq ok "$(sqlite3 "$CTFLOW_STORE/ctflow.db" 'PRAGMA integrity_check')" "PRAGMA integrity_check"
pass "the store is consistent: 8 runs listed, every artifact matches its digest, $nblobs blobs, integrity ok"

#!/usr/bin/env bash
# Proof that a change to the frontends, validation or the exporters changes no
# output: every workflow file is exported (argo, argo --artifacts s3, kfp) and
# linted with two ctflow binaries, and the results are diffed byte for byte.
#   scripts/export_diff.sh OLD_CTFLOW NEW_CTFLOW [FILE...]
# Without FILEs: every *.yaml under workflows/ and tests/, the workflows the
# integration tests write (their here-documents) and, with ARGO_EXAMPLES set to
# a folder of Argo Workflows, those (through the Argo frontend). Both binaries
# read the plugins of CTFLOW_PLUGIN_PATH. Exit 0 when nothing differs; the
# differences are in $OUT (default a temporary folder), diff.txt.
set -uo pipefail
declare -A bin=([old]=$1 [new]=$2)
shift 2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out/old" "$out/new" "$out/heredocs"
if [ $# -eq 0 ]; then
  mapfile -t files < <(find "$root/workflows" "$root/tests" -name '*.yaml' | sort)
  # The workflows the integration tests write with here-documents (<<'EOF', <<'YAML').
  heredocs=$(cat <<'AWK'
    !inside && match($0, /<<-?'?[A-Za-z_]+'?$/) {
      word = substr($0, RSTART, RLENGTH); gsub(/[<'-]/, "", word)
      inside = 1; n++; file = dir "/" base "_" n ".yaml"; next
    }
    inside && $0 == word { inside = 0; close(file); next }
    inside { print > file }
AWK
)
  for sh in "$root"/tests/integration/*.sh; do
    awk -v dir="$out/heredocs" -v base="$(basename "$sh" .sh)" "$heredocs" "$sh"
  done
  for f in "$out"/heredocs/*.yaml; do grep -q '^apiVersion' "$f" && files+=("$f"); done
  [ -n "${ARGO_EXAMPLES:-}" ] && files+=("$ARGO_EXAMPLES"/*.yaml)
  set -- "${files[@]}"
fi
# The Argo frontend writes the path of the binary into the steps it makes.
export CTFLOW_BINARY=/usr/bin/ctflow CTFLOW_ARGO_EXECUTOR=host
for f in "$@"; do
  key=$(printf '%s' "${f#"$root"/}" | tr '/' '_')
  for side in old new; do
    {
      for mode in "argo" "argo --artifacts s3" "kfp"; do
        echo "== export $mode"
        # shellcheck disable=SC2086  # MODE is words
        "${bin[$side]}" export $mode "$f" 2>&1
        echo "rc=$?"
      done
      echo "== lint"
      "${bin[$side]}" lint "$f" 2>&1
      echo "rc=$?"
    } > "$out/$side/$key.txt"
  done
done
diff -r "$out/old" "$out/new" > "$out/diff.txt"
rc=$?
echo "export_diff: $# files, $(grep -c '^diff ' "$out/diff.txt") differ (details: $out/diff.txt)"
exit $rc

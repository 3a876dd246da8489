#!/usr/bin/env bash
# The plugin description cache ($XDG_CACHE_HOME/ctflow/plugins-v1.json): what a
# library declares is read from it while the library is unchanged (so lint and
# run never load libtorch just to check params), a changed library is read
# again, and a plugin described from the cache still runs in process.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BUILD="${CTFLOW_BUILD_DIR:-$(dirname "$CTFLOW_BIN")}"
mkdir -p "$T/plugins"
cp "$BUILD/plugins/libctflow_core.so" "$T/plugins/"
export CTFLOW_PLUGIN_PATH="$T/plugins" XDG_CACHE_HOME="$T/cache"
CACHE="$T/cache/ctflow/plugins-v1.json"
first=$("$CTFLOW_BIN" plugins core.echo)
[ -f "$CACHE" ] || fail "no cache file at $CACHE"
assert_contains "$(cat "$CACHE")" '"core.echo"' "the cache"
# Proof that the cache is what answers: change a description in it.
"$PY" - "$CACHE" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for e in c.values():
    for p in e["plugins"]:
        if p["name"] == "core.echo":
            p["description"] = "DESCRIBED FROM THE CACHE"
json.dump(c, open(sys.argv[1], "w"))
PY
assert_contains "$("$CTFLOW_BIN" plugins core.echo)" "DESCRIBED FROM THE CACHE" "description while the library is unchanged"
# A plugin described from the cache runs in process (the library loads then).
cat > "$T/wf.yaml" <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: cached-description}
steps:
  say:
    uses: core.echo
    isolation: none
    with: {message: from the cache}
YAML
"$CTFLOW_BIN" run "$T/wf.yaml" -o json > "$T/run.json" 2>"$T/err" || fail "run: $(cat "$T/err")"
assert_eq "from the cache" "$(json_get "$T/run.json" 'step(d, "say")["outputs"]["message"]')" "in-process run"
# A changed library (new mtime) is described again from the library itself.
sleep 0.01
touch "$T/plugins/libctflow_core.so"
assert_eq "$first" "$("$CTFLOW_BIN" plugins core.echo)" "description after the library changed"
CTFLOW_PLUGIN_CACHE=off "$CTFLOW_BIN" plugins core.echo >/dev/null
pass "plugin descriptions come from the cache while a library is unchanged"

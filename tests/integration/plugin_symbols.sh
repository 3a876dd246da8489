#!/usr/bin/env bash
# No plugin library carries or binds to the store: the model registry is reached
# through host functions (ctflow/plugin.h), so a plugin never exports RunStore,
# ArtifactStore or SQLite symbols (an ODR hazard the moment the plugin's and the
# host's builds differ, and a plugin built against a newer store would migrate
# the database). Checks every library in the build's plugins/ folder.
set -euo pipefail

: "${CTFLOW_BUILD_DIR:?CTFLOW_BUILD_DIR must name the build folder}"
command -v nm >/dev/null || { echo "FAIL: nm (binutils) is needed to read the plugins' symbols" >&2; exit 1; }

STORE_SYMBOLS='ctflow::(RunStore|ArtifactStore|StatementCache|Statement)\b|\bsqlite3_'
shopt -s nullglob
libs=("$CTFLOW_BUILD_DIR"/plugins/*.so)
[ "${#libs[@]}" -gt 0 ] || { echo "FAIL: no plugin library in $CTFLOW_BUILD_DIR/plugins; build the plugins first" >&2; exit 1; }

bad=0
# libctflow_iot reads a user's SQLite file as its data source (iot.simulate,
# iot.train's `query`): it may bind to the system's shared libsqlite3 (the same
# one the host loads), but never carries a copy of it nor a store symbol.
DATA_SQLITE_LIBS='libctflow_iot.so'
for lib in "${libs[@]}"; do
  defined=$(nm -D --defined-only -C "$lib" | grep -E "$STORE_SYMBOLS" || true)
  undefined=$(nm -D --undefined-only -C "$lib" | grep -E "$STORE_SYMBOLS" || true)
  if [[ " $DATA_SQLITE_LIBS " == *" $(basename "$lib") "* ]]; then
    undefined=$(printf '%s\n' "$undefined" | grep -Ev '^ +U sqlite3_' || true)
  fi
  if [ -n "$defined$undefined" ]; then
    echo "FAIL: $lib carries or needs store symbols (link the registry through the host functions instead):" >&2
    printf '%s\n' "$defined" "$undefined" | sed '/^$/d' | head -20 >&2
    bad=1
  else
    echo "ok: $(basename "$lib"): no store symbols ($(nm -D --defined-only "$lib" | wc -l) exported)"
  fi
done
exit "$bad"

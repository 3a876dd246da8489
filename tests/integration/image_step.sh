#!/usr/bin/env bash
# Builds the ctflow image (scripts/build-image.sh, FROM scratch, offline) and runs
# an exported plugin step inside it the way an Argo pod does: the argv of
# `ctflow export argo` for a core.echo step, with /ctflow/out on a volume and no
# network. Skipped when podman is missing (failed under CI=true).
set -euo pipefail
src=${CTFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${CTFLOW_BUILD_DIR:-$src/build}
export CONTAINERS_CONF=$src/tests/containers.conf
source "$src/tests/integration/lib_need.sh"
need_tool podman
[ -x "$build/ctflow" ] || { echo "FAIL: $build/ctflow not built"; exit 1; }

tag=localhost/ctflow-test:$$
tmp=$(mktemp -d)
cleanup() { podman rmi -f "$tag" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
"$src/scripts/build-image.sh" "$build" "$tag" >/dev/null

run() { podman run --rm --network none -v "$tmp:/ctflow/out" "$tag" "$@"; }

run ctflow --help | grep -q "step" || { echo "FAIL: ctflow --help in the image"; exit 1; }
run ctflow plugins | grep -q "core.echo" || { echo "FAIL: core.echo not found in the image"; exit 1; }

# What the Argo exporter emits for `uses: core.echo, with: {message: ...}`.
run ctflow step --plugin core.echo --out /ctflow/out/hello --params-json '{"message":"hello: \"pod\""}'
got=$(cat "$tmp/hello/outputs/message")
case $got in
  *'hello: \"pod\"'*|*'hello: "pod"'*) ;;
  *) echo "FAIL: output parameter 'message' is '$got'"; exit 1 ;;
esac

# Shell steps run with the image's busybox sh when the build host has a static
# busybox (scripts/setup.sh --test installs busybox-static).
if [ -x /bin/busybox ] && ! ldd /bin/busybox > /dev/null 2>&1; then
  got=$(run sh -c 'echo $((1+2))') || { echo "FAIL: sh in the image: exit $?"; exit 1; }
  [ "$got" = 3 ] || { echo "FAIL: sh in the image printed '$got', not 3"; exit 1; }
  echo "OK   sh in the image"
else
  echo "note: no static /bin/busybox here, so the image has no shell; not checked"
fi
echo "OK   image $tag ran ctflow step for core.echo"

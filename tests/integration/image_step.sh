#!/usr/bin/env bash
# Builds the ctflow image (scripts/build-image.sh, FROM scratch, offline) and runs
# an exported plugin step inside it the way an Argo pod does: the argv of
# `ctflow export argo` for a core.echo step, with /ctflow/out on a volume and no
# network. Skips when podman is missing.
set -euo pipefail
src=${CTFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${CTFLOW_BUILD_DIR:-$src/build}
export CONTAINERS_CONF=$src/tests/containers.conf
command -v podman >/dev/null || { echo "SKIP: podman is not installed (apt-get install -y podman runc)"; exit 0; }
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

# Shell steps run with the image's busybox sh when the build host had one.
if run sh -c 'echo $((1+2))' 2>/dev/null | grep -qx 3; then echo "OK   sh in the image"; fi
echo "OK   image $tag ran ctflow step for core.echo"

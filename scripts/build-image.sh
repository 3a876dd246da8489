#!/usr/bin/env bash
# Builds the ctflow image (Containerfile at the repository root) with podman,
# offline: stages build/ctflow, build/plugins/*.so and every shared library they
# need (resolved with ldd) into a root filesystem, then `podman build`s a FROM
# scratch image from it.
#   scripts/build-image.sh [BUILD_DIR] [TAG]
# Environment: CONTAINERS_CONF (default: tests/containers.conf, which makes podman
# use runc and cgroupfs as the sandbox needs), PODMAN (default: podman).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
tag=${2:-localhost/ctflow:latest}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$src/tests/containers.conf}
podman=${PODMAN:-podman}

[ -x "$build/ctflow" ] || { echo "build-image: $build/ctflow not found: build it first" >&2; exit 2; }
ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/ctflow/plugins" "$root/ctflow/out" "$root/tmp" "$root/bin"
chmod 1777 "$root/tmp"
cp -L "$build/ctflow" "$root/usr/local/bin/ctflow"
shopt -s nullglob
objects=("$build/ctflow")
for so in "$build"/plugins/*.so; do
  cp -L "$so" "$root/usr/local/lib/ctflow/plugins/"
  objects+=("$so")
done

# Every library ldd resolves (and the dynamic loader), at the same absolute path.
copy_lib() {
  local lib=$1
  [ -e "$root$lib" ] && return 0
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
}
for obj in "${objects[@]}"; do
  ldd "$obj" | while read -r line; do
    case $line in
      *"not found"*) echo "build-image: $obj: $line" >&2; exit 1 ;;
      *"=> /"*) copy_lib "$(echo "$line" | sed -E 's/.*=> ([^ ]+).*/\1/')" ;;
      /*) copy_lib "$(echo "$line" | awk '{print $1}')" ;;
    esac
  done
done
# A shell for shell steps, when the host has a static busybox.
if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
  cp /bin/busybox "$root/bin/busybox"
  for tool in sh cat cp mkdir dirname echo ls env; do ln -sf busybox "$root/bin/$tool"; done
fi
cp "$src/Containerfile" "$ctx/Containerfile"
"$podman" build --network none -t "$tag" -f "$ctx/Containerfile" "$ctx" >&2
echo "$tag"

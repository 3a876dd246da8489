#!/usr/bin/env bash
# The Argo frontend with `--executor podman`: container and script templates run
# in their (local) image, with parameters and an artifact passed between steps;
# an image that is not local is a lint error, never a pull. Builds a tiny
# busybox image offline. Skipped when podman or busybox is missing (failed under CI=true).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tool podman
need_tool /bin/busybox busybox-static          # the test image is built from it
need_tool /usr/libexec/podman/catatonit catatonit  # container steps use podman run --init
export CONTAINERS_CONF="$CTFLOW_SOURCE_DIR/tests/containers.conf"

tag="localhost/ctflow-argo-busybox:$$"
mkdir -p "$T/rootfs/bin" "$T/rootfs/tmp"
cp /bin/busybox "$T/rootfs/bin/"
for a in sh echo mkdir cp chmod printf cat dirname tr sed ln true env test [ wc; do ln -s busybox "$T/rootfs/bin/$a"; done
tar -C "$T/rootfs" -c . | podman import - "$tag" > /dev/null 2>&1
trap 'rc=$?; podman rmi -f "$tag" > /dev/null 2>&1 || true; (exit $rc); _cleanup' EXIT

f=$(wf podman <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: in-podman-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: make
        template: make
    - - name: use
        template: use
        arguments:
          parameters: [{name: n, value: "{{steps.make.outputs.parameters.n}}"}]
          artifacts: [{name: data, from: "{{steps.make.outputs.artifacts.data}}"}]
  - name: make
    container:
      image: $tag
      command: [sh, -c, 'echo 21 > /tmp/n.txt; mkdir -p /tmp/d; echo in-a-container > /tmp/d/x']
    outputs:
      parameters: [{name: n, valueFrom: {path: /tmp/n.txt}}]
      artifacts: [{name: data, path: /tmp/d}]
  - name: use
    inputs:
      parameters: [{name: n}]
      artifacts: [{name: data, path: /in/data}]
    script:
      image: $tag
      command: [sh]
      source: |
        echo "\$(cat /in/data/x) \$(({{inputs.parameters.n}} * 2))"
EOF
)
cd "$T/work"
run_rc rc run "$f" --executor podman -o json > "$T/run.json" 2> "$T/run.err"
[ "$rc" = 0 ] || fail "run with podman (rc $rc): $(cat "$T/run.json" "$T/run.err" | tail -c 1500)"
assert_eq Succeeded "$(json_get "$T/run.json" 'd["status"]')" "run status"
assert_eq 21 "$(json_get "$T/run.json" 'step(d, "make")["outputs"]["n"]')" "output parameter from the container"
assert_eq "in-a-container 42" "$(json_get "$T/run.json" 'step(d, "use")["outputs"]["result"]')" "script result"
pass "container and script templates ran in podman with a parameter and an artifact between them"

sed "s#image: $tag#image: localhost/not-here:1#" "$f" > "$T/missing.yaml"
run_rc rc run "$T/missing.yaml" --executor podman 2> "$T/missing.err"
assert_eq 2 "$rc" "exit code for an image that is not local"
assert_contains "$(cat "$T/missing.err")" "not supported locally: image 'localhost/not-here:1' is not in the local podman store" "lint"
pass "an image that is not local is a lint error, not a pull"

#!/usr/bin/env bash
# Round trip: each workflow is exported with `ctflow export argo`, and that Argo
# YAML is run locally through the Argo frontend; it must give the same steps,
# statuses and output parameters as the native run. The exported steps run
# `ctflow step ...` / commands in the ctflow image; on the host the frontend runs
# them with this ctflow binary and a per-run folder for the shared volume.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# Quick workflows beyond workflows/examples (no MNIST): plugin steps, a failure
# handled by depends, output parameters with defaults, an artifact between steps.
wf plugins > /dev/null <<'EOF'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: plugins}
params:
  msg: {type: string, default: "hi there"}
steps:
  say:
    uses: core.echo
    with: {message: "{{params.msg}}"}
  nap:
    uses: core.sleep
    needs: [say]
    with: {seconds: 0}
  last:
    needs: [nap]
    run: [echo, "said {{steps.say.outputs.message}}"]
EOF
wf outputs > /dev/null <<'EOF'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: outputs}
steps:
  make:
    shell: 'mkdir -p d && echo data > d/x.txt && echo 7 > n.txt'
    outputs:
      parameters: {n: {path: n.txt}, missing: {path: none.txt, default: dflt}}
      artifacts: {dir: {path: d}}
  read:
    needs: [make]
    shell: 'cat "$CTFLOW_PARAM_DIR/x.txt"; echo "n=$CTFLOW_PARAM_N m=$CTFLOW_PARAM_M"'
    with: {dir: "{{steps.make.artifacts.dir}}", n: "{{steps.make.outputs.n}}", m: "{{steps.make.outputs.missing}}"}
  broken:
    shell: 'exit 4'
  fixed:
    depends: broken.Failed
    run: [echo, fixed]
EOF

FILES=("$EXAMPLES"/*.yaml "$T/plugins.yaml" "$T/outputs.yaml")
cd "$T/work"
for f in "${FILES[@]}"; do
  n=$(basename "$f" .yaml)
  ctflow export argo "$f" > "$T/$n.argo.yaml" || fail "export argo $n"
  # A workflow with schedules exports as a CronWorkflow: run the Workflow it submits.
  "$PY" - "$T/$n.argo.yaml" <<'PY'
import sys, yaml
path = sys.argv[1]
d = yaml.safe_load(open(path))
if d.get("kind") == "CronWorkflow":
    meta = d["metadata"]
    meta["generateName"] = meta.pop("name") + "-"
    yaml.safe_dump({"apiVersion": d["apiVersion"], "kind": "Workflow", "metadata": meta,
                    "spec": d["spec"]["workflowSpec"]}, open(path, "w"), sort_keys=False)
PY
  run_rc rc_native run "$f" -o json > "$T/$n.native.json" 2> "$T/$n.native.err"
  run_rc rc_argo run "$T/$n.argo.yaml" -o json > "$T/$n.argo.json" 2> "$T/$n.argo.err"
  assert_eq "$rc_native" "$rc_argo" "exit code of the Argo run of $n (see $T/$n.argo.err)"
  "$PY" - "$T/$n.native.json" "$T/$n.argo.json" "$n" <<'PY' || fail "$n: the Argo round trip differs (see $T/$n.argo.yaml)"
import json, re, sys
native, argo, name = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
def norm(v):
    # Run ids differ between the two runs; everything else must not.
    return json.loads(re.sub(r"r-[0-9]{8}-[0-9a-f]{8}", "RUN", json.dumps(v)))
def steps(d):
    return {s["name"]: (s["status"], norm(s["outputs"])) for s in d["steps"]}
a, b = steps(native), steps(argo)
# A plugin step has no stdout result natively; its exported container has one.
for k, (st, outs) in b.items():
    if k in a and "result" not in a[k][1]:
        outs.pop("result", None)
bad = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
if native["status"] != argo["status"] or bad:
    print("%s: run %s natively, %s from Argo" % (name, native["status"], argo["status"]), file=sys.stderr)
    for k, x, y in bad:
        print("  %s: native %s, Argo %s" % (k, x, y), file=sys.stderr)
    sys.exit(1)
print("ok: %s: %d steps, %s" % (name, len(a), native["status"]))
PY
done
pass "${#FILES[@]} workflows give the same steps, statuses and outputs through export argo and back"

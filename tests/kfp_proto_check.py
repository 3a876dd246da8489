#!/usr/bin/env python3
"""Checks Kubeflow Pipelines v2 specs (IR YAML) the way the KFP API server reads
an upload: the first YAML document, as JSON, must parse strictly (unknown fields
are errors) as ml_pipelines.PipelineSpec under the proto3 JSON mapping.

    kfp_proto_check.py --proto DIR FILE...

DIR holds pipeline_spec.proto (kubeflow/pipelines api/v2alpha1). The proto is
compiled with protoc into a temporary folder. Exit 0 when every file parses,
1 when one does not (each failure named with its file and the field path),
77 when protoc or the Python modules are missing (skipped), 2 on bad usage.
"""
import argparse
import datetime
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

# google/rpc/status.proto is imported by pipeline_spec.proto but is not one of the
# well-known types protoc ships; this is its message as googleapis defines it.
RPC_STATUS = """syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
message Status {
  int32 code = 1;
  string message = 2;
  repeated google.protobuf.Any details = 3;
}
"""


def well_known_include():
    for d in ("/usr/include", "/usr/local/include"):
        if os.path.isfile(os.path.join(d, "google/protobuf/duration.proto")):
            return d
    return None


def compile_proto(proto_dir, out):
    protoc = shutil.which("protoc")
    wk = well_known_include()
    if not protoc or not wk:
        print("skipped: needs protoc and the well-known protos (Debian: protobuf-compiler)")
        sys.exit(SKIP)
    stub = os.path.join(out, "include")
    os.makedirs(os.path.join(stub, "google/rpc"))
    with open(os.path.join(stub, "google/rpc/status.proto"), "w") as f:
        f.write(RPC_STATUS)
    py = os.path.join(out, "py")
    os.makedirs(py)
    for proto, inc in (("google/rpc/status.proto", stub), ("pipeline_spec.proto", proto_dir)):
        cmd = [protoc, "-I", inc, "-I", stub, "-I", wk, "--python_out=" + py, proto]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("protoc failed on %s:\n%s" % (proto, r.stderr))
    sys.path.insert(0, py)
    return importlib.import_module("pipeline_spec_pb2")


def not_json(value, path="$"):
    """The first value PyYAML read as something JSON has no type for (a date, bytes)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return "%s: key %r is a %s, not a string" % (path, k, type(k).__name__)
            bad = not_json(v, path + "." + k)
            if bad:
                return bad
    elif isinstance(value, list):
        for i, v in enumerate(value):
            bad = not_json(v, "%s[%d]" % (path, i))
            if bad:
                return bad
    elif isinstance(value, (datetime.date, datetime.datetime, bytes)):
        return "%s: %r reads as a %s; quote it" % (path, value, type(value).__name__)
    elif isinstance(value, float) and value != value:
        return "%s: NaN is not JSON" % path
    return None


def check(path, pb2, yaml, json_format):
    try:
        with open(path) as f:
            docs = list(yaml.safe_load_all(f))
    except (OSError, yaml.YAMLError) as e:
        return "%s: cannot read: %s" % (path, e)
    if not docs or not isinstance(docs[0], dict):
        return "%s: the first YAML document is not a mapping" % path
    bad = not_json(docs[0])
    if bad:
        return "%s: %s" % (path, bad)
    try:
        # Through JSON text, as the server sees it after its YAML-to-JSON step.
        json_format.Parse(json.dumps(docs[0]), pb2.PipelineSpec())
    except json_format.ParseError as e:
        return "%s: %s" % (path, e)
    for i, doc in enumerate(docs[1:], start=2):
        if doc is not None and not isinstance(doc, dict):
            return "%s: YAML document %d is not a mapping" % (path, i)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proto", required=True, help="folder with pipeline_spec.proto")
    ap.add_argument("files", nargs="+", help="KFP v2 IR YAML files")
    args = ap.parse_args()
    if not os.path.isfile(os.path.join(args.proto, "pipeline_spec.proto")):
        print("skipped: no pipeline_spec.proto in %s" % args.proto)
        sys.exit(SKIP)
    try:
        import yaml
        from google.protobuf import json_format
    except ImportError as e:
        print("skipped: %s (Debian: python3-protobuf, python3-yaml)" % e)
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory() as tmp:
        pb2 = compile_proto(os.path.abspath(args.proto), tmp)
        failures = [f for f in (check(p, pb2, yaml, json_format) for p in args.files) if f]
    for f in failures:
        print("FAIL " + f)
    print("%d of %d Kubeflow specs parse under the KFP v2 proto" % (len(args.files) - len(failures), len(args.files)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

# Checks of a store against what is on disk, for the store_*.sh tests. The
# digests are recomputed here (hashlib and the manifest format of
# store/artifact_store.h), never taken from the store.
#   store_check.py succeeded CTFLOW_BIN RUN   names of the steps recorded Succeeded
#   store_check.py digests CTFLOW_BIN RUN     "STEP DIGEST" per output artifact, each checked
#   store_check.py blobs BLOBS_DIR            every blob hashes to its name; prints the count
import hashlib, json, os, subprocess, sys

def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

def tree_digest(root):
    # The manifest format of store/artifact_store.h, rebuilt from the files.
    lines = []
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)
            esc = rel.replace("\\", "\\\\").replace("\n", "\\n")
            x = "x" if os.stat(p).st_mode & 0o100 else "-"
            lines.append((rel.encode(), "%s %d %s %s\n" % (sha(p), os.path.getsize(p), x, esc)))
    text = "ctflow-tree-v1\n" + "".join(l for _, l in sorted(lines))
    return hashlib.sha256(text.encode()).hexdigest()

def run_doc(bin_, rid):
    return json.loads(subprocess.check_output([bin_, "get", rid, "-o", "json"]))

def cmd_succeeded(bin_, rid):
    # The steps (and fan-out instances) recorded Succeeded.
    try:
        d = run_doc(bin_, rid)
    except subprocess.CalledProcessError:
        return
    for s in d["steps"]:
        if s["status"] == "Succeeded":
            print(s["name"])

def cmd_digests(bin_, rid):
    # Checks each output artifact of run RID against its content; prints
    # "STEP DIGEST" lines.
    d = run_doc(bin_, rid)
    for s in d["steps"]:
        for name, a in s["artifacts"].items():
            hexd = a["digest"].split(":", 1)[1]
            got = tree_digest(a["path"]) if a["kind"] == "dir" else sha(a["path"])
            if got != hexd:
                sys.exit("run %s step %s artifact %s: digest %s but content hashes to %s"
                         % (rid, s["name"], name, a["digest"], got))
            print(s["name"], a["digest"])

def cmd_blobs(blobs):
    # Every file blob hashes to its name; every tree to its manifest's name.
    n = 0
    top = os.path.join(blobs, "sha256")
    for d in sorted(os.listdir(top)):
        for f in os.listdir(os.path.join(top, d)):
            want = d + f.rstrip("x")
            got = sha(os.path.join(top, d, f))
            if got != want:
                sys.exit("blob %s/%s hashes to %s" % (d, f, got))
            n += 1
    trees = os.path.join(blobs, "trees")
    for t in os.listdir(trees) if os.path.isdir(trees) else []:
        got = tree_digest(os.path.join(trees, t))
        if got != t:
            sys.exit("tree %s hashes to %s" % (t, got))
        n += 1
    print(n)

globals()["cmd_" + sys.argv[1]](*sys.argv[2:])

#!/usr/bin/env bash
# The user's reference keeps up with the code and stands alone: every key the
# ctflow/v1 frontend accepts is in docs/workflow-format.md, every verb and
# flag of the command line is in docs/cli.md, and nothing a user reads
# (README.md, docs/) points at ../shared, which a clone does not have.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CTFLOW_SOURCE_DIR"

"$PY" - <<'PY' || fail "the reference in docs/ is out of step with the code (see above)"
import pathlib, re, sys

root = pathlib.Path(".")
def sources(marker):
    found = [p for d in ("engine", "cli", "web") if (root / d).is_dir()
             for p in sorted((root / d).rglob("*.cc")) if marker in p.read_text(errors="replace")]
    if not found:
        sys.exit("no source file holds %r: this test must learn where the code moved" % marker)
    return found

bad = []
fmt = (root / "docs/workflow-format.md").read_text()
keys = set()
for src in sources("kStepKeys"):
    for m in re.finditer(r"const std::vector<std::string> k(\w+)Keys\s*=\s*\{([^}]*)\}", src.read_text()):
        keys.update(re.findall(r'"([^"]+)"', m.group(2)))
for k in sorted(keys):
    if not re.search(r"`%s`|\b%s:" % (re.escape(k), re.escape(k)), fmt):
        bad.append("docs/workflow-format.md does not describe the key '%s'" % k)

cli = (root / "docs/cli.md").read_text()
verbs, flags = set(), set()
for src in sources("add_subcommand("):
    text = src.read_text()
    verbs.update(re.findall(r'add_subcommand\("([a-z-]+)"', text))
    for names in re.findall(r'add_(?:option|flag)\("([^"]+)"', text):
        flags.update(n for n in names.split(",") if n.startswith("--"))
for v in sorted(verbs):
    if "ctflow %s" % v not in cli:
        bad.append("docs/cli.md does not describe the verb '%s'" % v)
for f in sorted(flags):
    if not re.search(r"%s\b" % re.escape(f), cli):
        bad.append("docs/cli.md does not describe the flag '%s'" % f)

for doc in [root / "README.md"] + sorted((root / "docs").glob("*.md")):
    for n, line in enumerate(doc.read_text().splitlines(), 1):
        if "../shared" in line or "/work/shared" in line:
            bad.append("%s:%d points at the shared folder, which a clone does not have: %s" % (doc, n, line.strip()))

for b in bad:
    print(b)
print("checked %d keys, %d verbs, %d flags" % (len(keys), len(verbs), len(flags)))
sys.exit(1 if bad else 0)
PY
pass "docs/ describes every key, verb and flag, and nothing points at ../shared"

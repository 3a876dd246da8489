#!/usr/bin/env bash
# The installed plugin SDK: `cmake --install` the build into a fresh prefix,
# build a plugin out of tree against that prefix alone (find_package +
# ctflow_add_plugin), and run a workflow that uses it through
# CTFLOW_PLUGIN_PATH, isolated and in process. Fails when the installed
# headers, the CMake package or the installed binary are broken.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${CTFLOW_BUILD_DIR:?CTFLOW_BUILD_DIR must name the build folder}"
prefix="$T/prefix"
cmake --install "$CTFLOW_BUILD_DIR" --prefix "$prefix" > "$T/install.log" 2>&1 ||
  { cat "$T/install.log" >&2; fail "cmake --install"; }
for f in bin/ctflow include/ctflow/plugin.h include/ctflow/plugin.hpp \
  lib/cmake/ctflow_plugin_sdk/ctflow_plugin_sdkConfig.cmake \
  lib/cmake/ctflow_plugin_sdk/ctflow_plugin_sdkConfigVersion.cmake \
  lib/ctflow/plugins/libctflow_core.so; do
  [ -e "$prefix/$f" ] || fail "cmake --install did not install $f"
done
pass "cmake --install puts the binary, the core plugins and the SDK under the prefix"

# A plugin project of its own: nothing of the ctflow source or build tree in sight.
src="$T/greet-src"
mkdir -p "$src"
cat > "$src/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(greet_plugin CXX)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
find_package(ctflow_plugin_sdk REQUIRED)
ctflow_add_plugin(greet greet.cc)
target_compile_options(greet PRIVATE -Wall -Wextra -Werror)
CMAKE
cat > "$src/greet.cc" <<'CPP'
// An out-of-tree plugin: greet.hello (C++ layer) and greet.count (C++ layer,
// artifact output).
#include <fstream>
#include <string>

#include <ctflow/plugin.hpp>

namespace {

void hello(const ctflow::sdk::Context& c) {
  const std::string who = c.str("who");
  const int64_t times = c.integer("times");
  std::string text;
  for (int64_t i = 0; i < times; ++i) text += (i ? " " : "") + std::string("hello ") + who;
  c.info("greeting " + who);
  c.output("greeting", text);
}

void count(const ctflow::sdk::Context& c) {
  std::ofstream(c.artifact_path("numbers")) << "1\n2\n3\n";
  c.output("n", 3);
}

const ctflow_param_decl kHelloParams[] = {{"who", "string", nullptr, "whom to greet"},
                                          {"times", "int", "1", "how many times"}};
const ctflow_output_decl kHelloOutputs[] = {{"greeting", "parameter", "the greeting"}};
const ctflow_output_decl kCountOutputs[] = {{"n", "parameter", "how many numbers"},
                                            {"numbers", "artifact", "one number a line"}};
const ctflow_plugin_desc kHello = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "greet.hello", "0.3.0",
                                   "greets someone", kHelloParams, 2, kHelloOutputs, 1,
                                   ctflow::sdk::run_adapter<hello>};
const ctflow_plugin_desc kCount = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "greet.count", "0.3.0",
                                   "writes three numbers", nullptr, 0, kCountOutputs, 2,
                                   ctflow::sdk::run_adapter<count>};

}  // namespace

CTFLOW_EXPORT_PLUGINS(&kHello, &kCount)
CPP

gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
bld="$T/greet-build"
cmake -S "$src" -B "$bld" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$T/configure.log" 2>&1 ||
  { cat "$T/configure.log" >&2; fail "configuring the plugin against the installed SDK"; }
sdk_dir=$(sed -n 's/^ctflow_plugin_sdk_DIR:PATH=//p' "$bld/CMakeCache.txt")
assert_eq "$prefix/lib/cmake/ctflow_plugin_sdk" "$sdk_dir" "the SDK package found"
cmake --build "$bld" -j2 > "$T/build.log" 2>&1 || { cat "$T/build.log" >&2; fail "building the plugin"; }
[ -f "$bld/libctflow_greet.so" ] || fail "ctflow_add_plugin did not make libctflow_greet.so: $(ls "$bld")"
# It was compiled against the installed headers, not the source tree's.
assert_not_contains "$(cat "$bld"/CMakeFiles/greet.dir/flags.make 2>/dev/null; cat "$bld"/build.ninja 2>/dev/null)" \
  "$CTFLOW_SOURCE_DIR/plugins/sdk" "the plugin's include flags"
pass "an out-of-tree plugin builds against the installed SDK"

installed="$prefix/bin/ctflow"
export CTFLOW_PLUGIN_PATH="$bld"
out=$("$installed" plugins greet.hello)
assert_contains "$out" "greet.hello" "ctflow plugins greet.hello"
assert_contains "$out" "who" "ctflow plugins greet.hello"

f=$(wf greet <<'YAML'
apiVersion: ctflow/v1
kind: Workflow
metadata: {name: greet}
params:
  who: {type: string, default: "out of tree"}
steps:
  isolated:
    uses: greet.hello
    with: {who: "{{params.who}}", times: 2}
  inproc:
    uses: greet.hello
    isolation: none
    with: {who: "in process"}
  numbers:
    uses: greet.count
  after:
    needs: [isolated, numbers]
    run: [cat, "{{steps.numbers.artifacts.numbers}}"]
  core:
    uses: core.noop
YAML
)
"$installed" run "$f" -o json > "$T/run.json" 2> "$T/run.err" || { cat "$T/run.err" >&2; fail "the workflow failed"; }
assert_eq Succeeded "$(json_get "$T/run.json" 'd["status"]')" status
assert_eq "hello out of tree hello out of tree" "$(json_get "$T/run.json" 'step(d, "isolated")["outputs"]["greeting"]')" isolated.greeting
assert_eq "hello in process" "$(json_get "$T/run.json" 'step(d, "inproc")["outputs"]["greeting"]')" inproc.greeting
assert_eq 3 "$(json_get "$T/run.json" 'step(d, "numbers")["outputs"]["n"]')" numbers.n
assert_eq "1
2
3" "$(json_get "$T/run.json" 'step(d, "after")["outputs"]["result"]')" after.result
assert_eq Succeeded "$(json_get "$T/run.json" 'step(d, "core")["status"]')" "core.noop from the installed plugin folder"
id=$(json_get "$T/run.json" 'd["id"]')
assert_contains "$("$installed" logs "$id" isolated)" "greeting out of tree" "the plugin's log"
pass "the installed ctflow runs the out-of-tree plugin via CTFLOW_PLUGIN_PATH, isolated and in process"

# Without the plugin path the plugin is unknown: the workflow is refused before anything starts.
unset CTFLOW_PLUGIN_PATH
rc=0
"$installed" lint "$f" > /dev/null 2> "$T/lint.err" || rc=$?
assert_eq 2 "$rc" "lint without CTFLOW_PLUGIN_PATH"
assert_contains "$(cat "$T/lint.err")" "greet.hello" "lint error"
pass "without CTFLOW_PLUGIN_PATH the plugin is not found"

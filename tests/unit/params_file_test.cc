// `ctflow run --params-file`: reading the file, typing its values by the
// workflow's declarations, -p winning, and errors that name the file's line.
#include "engine/params_file.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/frontend_v1.h"

using namespace ctflow;
namespace fs = std::filesystem;

namespace {

const char* kWorkflow = R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: pf}
params:
  who: {type: string, default: world}
  epochs: {type: int, default: 1}
  rate: {type: float, default: 0.1}
  fast: {type: bool, default: false}
  layers: {type: json, default: [1]}
  need: {type: string}
steps:
  a:
    run: [echo, "{{params.who}} {{params.epochs}} {{params.rate}} {{params.fast}} {{params.layers}} {{params.need}}"]
)";

Workflow workflow() {
  LoadResult r = parse_workflow_text(kWorkflow, "pf.yaml");
  REQUIRE_MESSAGE(r.ok(), r.diags.render());
  return *r.workflow;
}

// Writes TEXT to a fresh file named NAME; returns its path.
std::string file_with(const std::string& name, const std::string& text) {
  fs::path dir = fs::temp_directory_path() / ("ctflow-pf-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path p = dir / name;
  std::ofstream(p) << text;
  return p.string();
}

}  // namespace

TEST_CASE("ParamsFile.YamlValuesAreTypedByTheDeclarationsAndPWins") {
  const std::string path = file_with("p.yaml", "who: '007'\nepochs: 3\nrate: 1e-3\nfast: true\nlayers: [64, 32]\nneed: x\n");
  Diagnostics d;
  auto f = read_params_file(path, d);
  REQUIRE_MESSAGE(f, d.render());
  auto v = bind_params(workflow(), *f, {"epochs=5"}, d);
  const std::string why = v.message() + "\n" + d.render();
  REQUIRE_MESSAGE(v.ok(), why);
  CHECK((*v)["who"] == "007");
  CHECK((*v)["epochs"] == 5);  // -p wins over the file
  CHECK((*v)["rate"] == doctest::Approx(0.001));
  CHECK((*v)["fast"] == true);
  CHECK((*v)["layers"] == Value::parse("[64, 32]"));
  CHECK((*v)["need"] == "x");
}

TEST_CASE("ParamsFile.JsonFileAndDefaultsForWhatItLeavesOut") {
  const std::string path = file_with("p.json", R"({"need": "y", "layers": {"a": 1}, "epochs": 2})");
  Diagnostics d;
  auto f = read_params_file(path, d);
  REQUIRE_MESSAGE(f, d.render());
  CHECK(f->assignments() == std::vector<std::string>{"need=y", "layers={\"a\":1}", "epochs=2"});
  auto v = bind_params(workflow(), *f, {}, d);
  const std::string why = v.message() + "\n" + d.render();
  REQUIRE_MESSAGE(v.ok(), why);
  CHECK((*v)["who"] == "world");
  CHECK((*v)["epochs"] == 2);
  CHECK((*v)["layers"] == Value::parse(R"({"a": 1})"));
}

TEST_CASE("ParamsFile.UnknownParamAndBadValueNameTheLine") {
  const std::string path = file_with("bad.yaml", "need: x\nepoch: 3\nfast: maybe\n");
  Diagnostics d;
  auto f = read_params_file(path, d);
  REQUIRE(f);
  auto v = bind_params(workflow(), *f, {}, d);
  CHECK_FALSE(v.ok());
  const std::string text = d.render();
  CHECK(text.find(path + ":2:1: error: workflow 'pf' has no param 'epoch' (did you mean 'epochs'?)") != std::string::npos);
  CHECK(text.find(path + ":3:7: error: param 'fast' is bool and must be true or false; got 'maybe'") != std::string::npos);
}

TEST_CASE("ParamsFile.NotAMappingSyntaxErrorAndMissingFile") {
  Diagnostics d1;
  CHECK_FALSE(read_params_file(file_with("list.yaml", "- a\n- b\n"), d1));
  CHECK(d1.render().find("list.yaml:1:1: error: a params file is a mapping of param name to value") != std::string::npos);
  CHECK(d1.render().find("got a list") != std::string::npos);

  Diagnostics d2;
  CHECK_FALSE(read_params_file(file_with("syntax.json", "{\"a\": 1,\n \"b\": [1, 2}\n"), d2));
  CHECK(d2.render().find("syntax.json:2:") != std::string::npos);
  CHECK(d2.render().find("YAML/JSON syntax") != std::string::npos);

  Diagnostics d3;
  CHECK_FALSE(read_params_file("/nonexistent/params.yaml", d3));
  CHECK(d3.render() == "/nonexistent/params.yaml: error: cannot read the params file: no such file or not readable\n");

  Diagnostics d4;
  CHECK_FALSE(read_params_file(file_with("twice.yaml", "a: 1\na: 2\n"), d4));
  CHECK(d4.render().find("twice.yaml:2:1: error: param 'a' is given twice in the params file") != std::string::npos);
}

TEST_CASE("ParamsFile.RequiredParamStillRequired") {
  Diagnostics d;
  auto f = read_params_file(file_with("empty-map.yaml", "{}\n"), d);
  REQUIRE(f);
  auto v = bind_params(workflow(), *f, {}, d);
  REQUIRE_FALSE(v.ok());
  CHECK(v.message().find("param 'need' is required") != std::string::npos);
}

TEST_CASE("ParamsFile.ArgoParameterTakesAListAsItsJsonText") {
  LoadResult r = parse_workflow_text(R"(apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: pf-}
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: items
      value: "[]"
  templates:
  - name: main
    container:
      image: alpine
      command: [echo, "{{workflow.parameters.items}}"]
)", "argo.yaml");
  REQUIRE_MESSAGE(r.ok(), r.diags.render());
  Diagnostics d;
  auto f = read_params_file(file_with("argo.yaml", "items: [1, two]\n"), d);
  REQUIRE(f);
  auto v = bind_params(*r.workflow, *f, {}, d);
  const std::string why = v.message() + "\n" + d.render();
  REQUIRE_MESSAGE(v.ok(), why);
  CHECK((*v)["items"] == "[1,\"two\"]");
}

// The Argo exporter and the YAML emitter under it, pinned by golden files in
// tests/golden/argo/ (CTFLOW_UPDATE_GOLDEN=1 rewrites them; the integration test
// export_validate.sh checks each against Argo's schema with validate-argo).
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include "engine/export/argo.h"
#include "engine/export/yaml_emit.h"
#include "golden/export_fixtures.h"

using namespace ctflow;
using ctflow::export_fixtures::check_golden;

namespace {

std::string must(const Result<std::string>& r) {
  REQUIRE_MESSAGE(r.ok(), r.message());
  return r.value();
}

YAML::Node find_named(const YAML::Node& seq, const std::string& name) {
  for (const auto& n : seq)
    if (n["name"].as<std::string>() == name) return n;
  FAIL("no entry named " << name);
  return {};
}

}  // namespace

TEST_CASE("YamlEmit.StringsReadBackUnchanged") {
  const std::vector<std::string> tricky = {
      "plain", "", " ", "yes", "No", "on", "null", "~", "true", "1", "0x1F", "1e3", "1:20", "2026-11-23",
      ".inf", "-", "- a", "---", "a: b", "a #b", "#c", "it's", "say \"hi\"", "{{workflow.name}}",
      "[1, 2]", "{a: 1}", "&anchor", "*alias", "!tag", "|", ">", "@at", "`tick`", "%pct", "=",
      "line1\nline2", "trailing\n", "two trailing\n\n", "\nleading newline", "  indented\nlines",
      "tab\there", "cr\rlf", "bell\x07", "trailing space ", "unicode: é ✓", "$(VAR)", "back\\slash",
      "multi\n  indented second\n", "x\n\n\ny", "a:b", "a:", "-c", "-1", "http://x:80/y", "1:20:30", "image:tag", "a :b"};
  for (const auto& s : tricky) {
    yaml_emit::Doc doc{{"k", s}, {"list", yaml_emit::Doc::array({s})}};
    const std::string text = yaml_emit::to_yaml(doc);
    YAML::Node n = YAML::Load(text);
    CHECK_MESSAGE(n["k"].as<std::string>() == s, "emitted:\n" << text);
    CHECK_MESSAGE(n["list"][0].as<std::string>() == s, "emitted:\n" << text);
  }
}

TEST_CASE("YamlEmit.ScalarsAndLayout") {
  yaml_emit::Doc doc{{"b", true},
                     {"i", 3},
                     {"f", 0.5},
                     {"big", 1e20},
                     {"empty_map", yaml_emit::Doc::object()},
                     {"empty_list", yaml_emit::Doc::array()},
                     {"seq", {{{"name", "x"}, {"value", "1"}}, {{"name", "y"}}}},
                     {"nested", {{"deep", {1, 2}}}}};
  CHECK(yaml_emit::to_yaml(doc) ==
        "b: true\n"
        "i: 3\n"
        "f: 0.5\n"
        "big: 1.0e+20\n"
        "empty_map: {}\n"
        "empty_list: []\n"
        "seq:\n"
        "  - name: x\n"
        "    value: '1'\n"
        "  - name: 'y'\n"
        "nested:\n"
        "  deep:\n"
        "    - 1\n"
        "    - 2\n");
}

TEST_CASE("ArgoExport.MnistCtWithPvcMatchesGolden") {
  ArgoExportOptions opt;
  opt.plugins["mnist.analyze"] = PluginOutputs{{"accuracy"}, {"mlpipeline-metrics", "mlpipeline-ui-metadata", "report"}};
  check_golden("argo/mnist-ct.pvc.yaml", must(export_argo(export_fixtures::mnist_ct(), Value{{"epochs", 3}}, opt)));
}

TEST_CASE("ArgoExport.MnistCtWithS3ArtifactsMatchesGolden") {
  ArgoExportOptions opt;
  opt.artifacts = ArtifactPassing::S3;
  opt.image = "registry.example.com/ctflow:0.1.0";
  check_golden("argo/mnist-ct.s3.yaml", must(export_argo(export_fixtures::mnist_ct(), Value::object(), opt)));
}

TEST_CASE("ArgoExport.EdgeCasesMatchGolden") {
  ArgoExportOptions opt;
  opt.existing_claim = "shared-data";
  opt.service_account = "pipeline-runner";
  check_golden("argo/edge-cases.yaml", must(export_argo(export_fixtures::edge_cases(), Value::object(), opt)));
}

TEST_CASE("ArgoExport.EdgeCasesReadBackExactly") {
  const std::string text = must(export_argo(export_fixtures::edge_cases(), Value::object(), {}));
  YAML::Node doc = YAML::Load(text);
  auto params = doc["spec"]["arguments"]["parameters"];
  CHECK(find_named(params, "greeting")["value"].as<std::string>() == "it's: \"quoted\"\nand two lines");
  CHECK(find_named(params, "mode")["value"].as<std::string>() == "yes");
  CHECK(find_named(params, "items")["value"].as<std::string>() == "[\"a\",\"b\"]");
  CHECK_FALSE(find_named(params, "required")["value"].IsDefined());
  auto templates = doc["spec"]["templates"];
  auto dag = find_named(templates, "edge-cases")["dag"];
  CHECK(dag["failFast"].as<bool>() == false);
  auto cond = find_named(dag["tasks"], "s-2nd-cond");
  CHECK(cond["depends"].as<std::string>() == "gen && each");
  CHECK(cond["when"].as<std::string>() ==
        "'{{workflow.parameters.mode}}' == 'yes' && ('{{tasks.gen.outputs.result}}' != 'it\\'s' || "
        "'{{workflow.parameters.mode}}' IN ('a', 'b'))");
  auto each = find_named(dag["tasks"], "each");
  CHECK(each["depends"].as<std::string>() == "gen.Succeeded || gen.Failed");
  CHECK(each["withParam"].as<std::string>() == "{{tasks.gen.outputs.parameters.list}}");
  auto each_t = find_named(templates, "each");
  auto cmd = each_t["container"]["command"];
  std::vector<std::string> argv;
  for (const auto& a : cmd) argv.push_back(a.as<std::string>());
  CHECK(argv == std::vector<std::string>{"ctflow", "step", "--plugin", "core.echo", "--out",
                                         "/ctflow/out/each/{{pod.name}}", "--params-json",
                                         "{\"literal\":\"a: b # c\"}", "--param",
                                         "message=item {{inputs.parameters.item}}: {{workflow.parameters.greeting}}"});
  auto cond_t = find_named(templates, "s-2nd-cond");
  CHECK(cond_t["container"]["args"][0].as<std::string>() == "  leading spaces\ttab and trailing  ");
  CHECK(cond_t["container"]["image"].as<std::string>() == "localhost/ctflow:latest");
}

TEST_CASE("ArgoExport.DollarsSurviveKubernetesExpansion") {
  const std::string text = must(export_argo(export_fixtures::mnist_ct(), Value::object(), {}));
  YAML::Node doc = YAML::Load(text);
  auto shards = find_named(doc["spec"]["templates"], "shards");
  CHECK(shards["container"]["command"][2].as<std::string>() ==
        "echo shard {{inputs.parameters.item-id}} of $$(nproc) at $HOME");
}

TEST_CASE("ArgoExport.PluginStepWithoutImageNamesItsPosition") {
  ArgoExportOptions opt;
  opt.image = "";
  auto r = export_argo(export_fixtures::mnist_ct(), Value::object(), opt);
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() ==
        "mnist-ct.yaml:15:3: error: step 'data': plugin 'mnist.ingest' needs an image that holds ctflow: "
        "set `image:` on the step or pass --image");
}

TEST_CASE("ArgoExport.UnknownReferenceIsAnError") {
  Workflow wf = export_fixtures::mnist_ct();
  wf.steps[1].with["epochs"] = "{{params.nope}}";
  auto r = export_argo(wf, Value::object(), {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == "mnist-ct.yaml:18:3: error: step 'train': reference 'params.nope': there is no param 'nope'");
}

TEST_CASE("ArgoExport.IsDeterministic") {
  const Workflow wf = export_fixtures::mnist_ct();
  CHECK(must(export_argo(wf, Value::object(), {})) == must(export_argo(wf, Value::object(), {})));
}

#include <filesystem>

#include "engine/export/kfp.h"
#include "engine/frontend_v1.h"

TEST_CASE("Export.EveryRepositoryWorkflowExportsOrSaysWhereNot") {
  const char* src = std::getenv("CTFLOW_SOURCE_DIR");
  REQUIRE(src != nullptr);
  int exported = 0;
  for (const char* dir : {"/workflows", "/workflows/examples"}) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(std::string(src) + dir, ec)) {
      if (e.path().extension() != ".yaml") continue;
      auto loaded = load_workflow_file(e.path().string());
      if (!loaded.ok()) continue;  // negative examples are the frontend's business
      auto argo = export_argo(*loaded.workflow, Value::object(), {});
      CHECK_MESSAGE((argo.ok() || argo.message().find(": error: ") != std::string::npos), e.path() << ": " << argo.message());
      auto kfp = export_kfp(*loaded.workflow, Value::object(), {});
      CHECK_MESSAGE((kfp.ok() || kfp.message().find(": error: ") != std::string::npos), e.path() << ": " << kfp.message());
      if (argo.ok()) ++exported;
      // CTFLOW_EXPORT_DUMP_DIR=DIR keeps the exports, for validate-argo by hand.
      if (const char* dump = std::getenv("CTFLOW_EXPORT_DUMP_DIR"); dump && argo.ok())
        std::ofstream(std::string(dump) + "/" + e.path().stem().string() + ".argo.yaml") << *argo;
      else MESSAGE(e.path() << ": " << argo.message());
    }
  }
  CHECK(exported > 0);
}

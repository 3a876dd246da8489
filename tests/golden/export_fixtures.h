// Workflows built in code for the exporters' golden tests (export_argo_test,
// export_kfp_test), and the golden-file comparison they share.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "engine/ir.h"

namespace ctflow::export_fixtures {

inline SourcePos at(int line, int col = 3) { return SourcePos{"mnist-ct.yaml", line, col}; }

// The example of workflow-format.md, with a run step, a fan-out and retries added.
inline Workflow mnist_ct() {
  Workflow wf;
  wf.file = "mnist-ct.yaml";
  wf.name = "mnist-ct";
  wf.description = "Continuous training of an embedding model with a faiss kNN head.";
  wf.params.push_back({"data", ParamType::Path, Value("/usr/share/datasets/fashion-mnist"), "", at(6)});
  wf.params.push_back({"epochs", ParamType::Int, Value(1), "training epochs", at(7)});
  wf.params.push_back({"threshold", ParamType::Float, Value(0.85), "", at(8)});
  wf.parallelism = 4;

  Step data;
  data.name = "data";
  data.pos = at(15);
  data.kind = StepKind::Plugin;
  data.uses = "mnist.ingest";
  data.with = {{"source", "{{params.data}}"}, {"val_fraction", 0.1}};
  data.retry.limit = 1;
  data.retry.backoff_s = 2;
  data.retry.factor = 2;
  data.retry.max_backoff_s = 60;
  data.timeout_s = 3600;
  wf.steps.push_back(data);

  Step train;
  train.name = "train";
  train.pos = at(18);
  train.kind = StepKind::Plugin;
  train.uses = "mnist.train";
  train.needs = {"data"};
  train.resources.cpu = 2;
  train.resources.gpu = 1;
  train.resources.memory = int64_t{4} << 30;
  train.with = {{"dataset", "{{steps.data.artifacts.dataset}}"}, {"epochs", "{{params.epochs}}"}};
  wf.steps.push_back(train);

  Step analyze;
  analyze.name = "analyze";
  analyze.pos = at(25);
  analyze.kind = StepKind::Plugin;
  analyze.uses = "mnist.analyze";
  analyze.needs = {"train"};
  analyze.with = {{"model", "{{steps.train.artifacts.model}}"}, {"dataset", "{{steps.data.artifacts.dataset}}"}};
  wf.steps.push_back(analyze);

  Step deploy;
  deploy.name = "deploy";
  deploy.pos = at(29);
  deploy.kind = StepKind::Plugin;
  deploy.uses = "mnist.deploy";
  deploy.needs = {"analyze"};
  deploy.when = "steps.analyze.outputs.accuracy >= params.threshold";
  deploy.when_pos = at(32, 11);
  deploy.with = {{"model", "{{steps.train.artifacts.model}}"}};
  wf.steps.push_back(deploy);

  Step report;
  report.name = "report_card";
  report.pos = at(34);
  report.kind = StepKind::Shell;
  report.image = "python:3.11-slim";
  report.needs = {"analyze"};
  report.shell = "echo \"accuracy: $1\" > report.md\necho '{\"metrics\": []}' > metrics.json\n";
  report.with = {{"accuracy", "{{steps.analyze.outputs.accuracy}}"}};
  report.output_params["summary"] = OutputParamDecl{"report.md", Value("none")};
  report.output_artifacts["report"] = OutputArtifactDecl{"report.md"};
  report.output_artifacts["mlpipeline-metrics"] = OutputArtifactDecl{"metrics.json"};
  wf.steps.push_back(report);

  Step shards;
  shards.name = "shards";
  shards.pos = at(42);
  shards.kind = StepKind::Run;
  shards.run = {"sh", "-c", "echo shard {{item.id}} of $(nproc) at $HOME", "{{item}}"};
  shards.needs = {"data"};
  shards.for_each = Value::array({Value{{"id", 1}}, Value{{"id", 2}}});
  shards.parallelism = 1;
  wf.steps.push_back(shards);

  Step notify;
  notify.name = "notify";
  notify.pos = at(50);
  notify.kind = StepKind::Run;
  notify.run = {"sh", "-c", "echo \"run {{workflow.run_id}} ended {{workflow.status}}: {{steps.report_card.outputs.summary}}\""};
  wf.on_exit.push_back(notify);
  return wf;
}

// Strings that need escaping, depends expressions, withParam and a when on a string.
inline Workflow edge_cases() {
  Workflow wf;
  wf.file = "edge.yaml";
  wf.name = "edge-cases";
  wf.description = "Quotes ' \" , colons: and\nnewlines # not a comment";
  wf.params.push_back({"greeting", ParamType::String, Value("it's: \"quoted\"\nand two lines"), "", {}});
  wf.params.push_back({"mode", ParamType::String, Value("yes"), "", {}});
  wf.params.push_back({"items", ParamType::Json, Value::array({"a", "b"}), "", {}});
  wf.params.push_back({"required", ParamType::String, std::nullopt, "no default", {}});
  wf.fail_fast = false;

  Step gen;
  gen.name = "gen";
  gen.kind = StepKind::Run;
  gen.image = "busybox:1.36";
  gen.run = {"sh", "-c", "echo '[1, 2, 3]' > list.json; printf '%s' \"$0\"", "{{params.greeting}}"};
  gen.output_params["list"] = OutputParamDecl{"list.json", std::nullopt};
  gen.retry.limit = 2;
  gen.retry.on_error = false;
  gen.retry.backoff_s = 0.5;
  gen.retry.factor = 1.5;
  wf.steps.push_back(gen);

  Step each;
  each.name = "each";
  each.kind = StepKind::Plugin;
  each.uses = "core.echo";
  each.depends = "gen.Succeeded || gen.Failed";
  each.for_each = Value("{{steps.gen.outputs.list}}");
  each.with = {{"message", "item {{item}}: {{params.greeting}}"}, {"literal", "a: b # c"}};
  wf.steps.push_back(each);

  Step cond;
  cond.name = "2nd_cond";
  cond.kind = StepKind::Shell;
  cond.needs = {"gen", "each"};
  cond.when = "{{params.mode}} == 'yes' && (steps.gen.outputs.result != \"it's\" || params.mode in ['a', 'b'])";
  cond.shell = "  leading spaces\ttab and trailing  ";
  cond.with = {{"count", 3}, {"flag", true}};
  cond.cache = true;
  wf.steps.push_back(cond);
  return wf;
}

// Compares `actual` with tests/golden/<rel>; CTFLOW_UPDATE_GOLDEN=1 rewrites the file.
inline void check_golden(const std::string& rel, const std::string& actual) {
  const char* src = std::getenv("CTFLOW_SOURCE_DIR");
  REQUIRE_MESSAGE(src != nullptr, "CTFLOW_SOURCE_DIR is not set (run through ctest)");
  const std::string path = std::string(src) + "/tests/golden/" + rel;
  if (const char* upd = std::getenv("CTFLOW_UPDATE_GOLDEN"); upd && std::string(upd) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    MESSAGE("updated " << path);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path << " (run with CTFLOW_UPDATE_GOLDEN=1)");
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK_MESSAGE(ss.str() == actual, "golden file differs: " << path << " (CTFLOW_UPDATE_GOLDEN=1 to accept)\n" << actual);
}

}  // namespace ctflow::export_fixtures

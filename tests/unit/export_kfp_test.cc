// The Kubeflow Pipelines v2 exporter, pinned by golden files in tests/golden/kfp/
// (CTFLOW_UPDATE_GOLDEN=1 rewrites them).
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include "engine/export/common.h"
#include "engine/export/kfp.h"
#include "engine/frontend_v1.h"
#include "golden/export_fixtures.h"

using namespace ctflow;
using ctflow::export_fixtures::check_golden;

namespace {

std::string must(const Result<std::string>& r) {
  REQUIRE_MESSAGE(r.ok(), r.message());
  return r.value();
}

// Kubeflow v2 has no workflow.status, nor outputs of other steps in exit handlers.
Workflow mnist_ct_for_kfp() {
  Workflow wf = export_fixtures::mnist_ct();
  wf.on_exit[0].run = {"echo", "run {{workflow.run_id}} ended"};
  return wf;
}

}  // namespace

TEST_CASE("KfpExport.MnistCtMatchesGolden") {
  KfpExportOptions opt;
  opt.plugins["mnist.analyze"] = PluginOutputs{{"accuracy"}, {"mlpipeline-metrics"}};
  check_golden("kfp/mnist-ct.yaml", must(export_kfp(mnist_ct_for_kfp(), Value{{"epochs", 3}}, opt)));
}

TEST_CASE("KfpExport.EdgeCasesMatchGolden") {
  check_golden("kfp/edge-cases.yaml", must(export_kfp(export_fixtures::edge_cases(), Value::object(), {})));
}

TEST_CASE("KfpExport.ShapeOfTasks") {
  YAML::Node doc = YAML::Load(must(export_kfp(mnist_ct_for_kfp(), Value::object(), {})));
  CHECK(doc["schemaVersion"].as<std::string>() == "2.1.0");
  CHECK(doc["pipelineInfo"]["name"].as<std::string>() == "mnist-ct");
  auto outer = doc["root"]["dag"]["tasks"];
  CHECK(outer["exit-handler-1"]["componentRef"]["name"].as<std::string>() == "comp-exit-handler-1");
  CHECK(outer["notify"]["dependentTasks"][0].as<std::string>() == "exit-handler-1");
  CHECK(outer["notify"]["triggerPolicy"]["strategy"].as<std::string>() == "ALL_UPSTREAM_TASKS_COMPLETED");
  auto tasks = doc["components"]["comp-exit-handler-1"]["dag"]["tasks"];
  CHECK(tasks["deploy"]["triggerPolicy"]["condition"].as<std::string>() ==
        "double(inputs.parameter_values['pipelinechannel--analyze-accuracy']) >= "
        "double(inputs.parameter_values['pipelinechannel--threshold'])");
  CHECK(tasks["train"]["dependentTasks"][0].as<std::string>() == "data");
  CHECK(tasks["train"]["inputs"]["artifacts"]["data-dataset"]["taskOutputArtifact"]["producerTask"].as<std::string>() ==
        "data");
  CHECK(tasks["for-loop-shards"]["iteratorPolicy"]["parallelismLimit"].as<int>() == 1);
  CHECK(doc["root"]["inputDefinitions"]["parameters"]["epochs"]["parameterType"].as<std::string>() == "NUMBER_INTEGER");
}

TEST_CASE("KfpExport.WorkflowStatusIsAnErrorWithPosition") {
  auto r = export_kfp(export_fixtures::mnist_ct(), Value::object(), {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() ==
        "mnist-ct.yaml:50:3: error: step 'notify': reference 'workflow.status' has no equivalent in a Kubeflow v2 export");
}

TEST_CASE("KfpExport.IsDeterministic") {
  CHECK(must(export_kfp(mnist_ct_for_kfp(), Value::object(), {})) ==
        must(export_kfp(mnist_ct_for_kfp(), Value::object(), {})));
}

TEST_CASE("KfpExport.DurationsInProtoJson") {
  // google.protobuf.Duration as protojson reads it: seconds and an "s", never "ms".
  CHECK(export_detail::proto_duration(0.5) == "0.5s");
  CHECK(export_detail::proto_duration(2) == "2s");
  CHECK(export_detail::proto_duration(0) == "0s");
  CHECK(export_detail::proto_duration(90.25) == "90.25s");
  CHECK(export_detail::proto_duration(0.001) == "0.001s");
  CHECK(export_detail::proto_duration(1e-9) == "0.000000001s");
  CHECK(export_detail::proto_duration(-1.5) == "-1.5s");
  YAML::Node doc = YAML::Load(must(export_kfp(export_fixtures::edge_cases(), Value::object(), {})));
  CHECK(doc["root"]["dag"]["tasks"]["gen"]["retryPolicy"]["backoffDuration"].as<std::string>() == "0.5s");
}

TEST_CASE("KfpExport.ForEachOutputsAreCollectedIntoAList") {
  // As KFP's dsl.Collected: the for-loop's DAG outputs each iteration's value as a LIST.
  LoadResult r = parse_workflow_text(R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: fan}
steps:
  shard:
    for_each: [1, 2, 3]
    shell: "echo {{item}} > n"
    outputs: {parameters: {n: {path: n}}}
  sum:
    needs: [shard]
    when: "steps.shard.outputs.n != ''"
    run: [echo, "{{steps.shard.outputs.n}}"]
)", "fan.yaml");
  REQUIRE_MESSAGE(r.ok(), r.diags.render());
  YAML::Node doc = YAML::Load(must(export_kfp(*r.workflow, Value::object(), {})));
  auto loop = doc["components"]["comp-for-loop-shard"];
  auto out = loop["dag"]["outputs"]["parameters"]["pipelinechannel--shard-n"]["valueFromParameter"];
  CHECK(out["producerSubtask"].as<std::string>() == "shard");
  CHECK(out["outputParameterKey"].as<std::string>() == "n");
  CHECK(loop["outputDefinitions"]["parameters"]["pipelinechannel--shard-n"]["parameterType"].as<std::string>() == "LIST");
  auto sum = doc["root"]["dag"]["tasks"]["sum"];
  CHECK(sum["dependentTasks"][0].as<std::string>() == "for-loop-shard");
  auto in = sum["inputs"]["parameters"]["shard-n"]["taskOutputParameter"];
  CHECK(in["producerTask"].as<std::string>() == "for-loop-shard");
  CHECK(in["outputParameterKey"].as<std::string>() == "pipelinechannel--shard-n");
  CHECK(doc["components"]["comp-sum"]["inputDefinitions"]["parameters"]["shard-n"]["parameterType"].as<std::string>() ==
        "LIST");
  // A fan-out's artifacts still have no Kubeflow form.
  LoadResult a = parse_workflow_text(R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: fan}
steps:
  shard:
    for_each: [1, 2]
    shell: "echo {{item}} > f"
    outputs: {artifacts: {f: {path: f}}}
  use:
    needs: [shard]
    run: [cat, "{{steps.shard.artifacts.f}}"]
)", "fan.yaml");
  REQUIRE_MESSAGE(a.ok(), a.diags.render());
  auto refused = export_kfp(*a.workflow, Value::object(), {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().find("artifacts of a for_each step cannot be read in a Kubeflow v2 export") !=
        std::string::npos);
}

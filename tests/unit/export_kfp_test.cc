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

TEST_CASE("KfpExport.FanOutOutputsAreCollectedAsAList") {
  // A step reading a for_each step's output gets the instances' values as one
  // LIST, an output of the for-loop DAG (what KFP's dsl.Collected compiles to).
  LoadResult r = parse_workflow_text(R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: t}
steps:
  parts:
    shell: echo '[1, 2]'
  square:
    needs: [parts]
    for_each: "{{steps.parts.outputs.result}}"
    shell: echo $(( {{item}} * {{item}} ))
  sum:
    needs: [square]
    run: [echo, "{{steps.square.outputs.result}}"]
)", "t.yaml");
  REQUIRE_MESSAGE(r.ok(), r.diags.size());
  YAML::Node doc = YAML::Load(must(export_kfp(*r.workflow, Value::object(), {})));
  auto loop = doc["components"]["comp-for-loop-square"];
  CHECK(loop["outputDefinitions"]["parameters"]["pipelinechannel--square-result"]["parameterType"].as<std::string>() ==
        "LIST");
  auto from = loop["dag"]["outputs"]["parameters"]["pipelinechannel--square-result"]["valueFromParameter"];
  CHECK(from["producerSubtask"].as<std::string>() == "square");
  CHECK(from["outputParameterKey"].as<std::string>() == "result");
  CHECK(doc["components"]["comp-square"]["outputDefinitions"]["parameters"]["result"]);
  auto sum = doc["root"]["dag"]["tasks"]["sum"];
  CHECK(sum["dependentTasks"][0].as<std::string>() == "for-loop-square");
  auto in = sum["inputs"]["parameters"]["square-result"]["taskOutputParameter"];
  CHECK(in["producerTask"].as<std::string>() == "for-loop-square");
  CHECK(in["outputParameterKey"].as<std::string>() == "pipelinechannel--square-result");
  CHECK(doc["components"]["comp-sum"]["inputDefinitions"]["parameters"]["square-result"]["parameterType"].as<std::string>() ==
        "LIST");
  // An artifact of a fan-out has no such form.
  LoadResult a = parse_workflow_text(R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: t}
steps:
  square:
    for_each: [1, 2]
    shell: echo {{item}} > out.txt
    outputs: {artifacts: {out: {path: out.txt}}}
  sum:
    needs: [square]
    run: [cat, "{{steps.square.artifacts.out}}"]
)", "t.yaml");
  REQUIRE(a.ok());
  auto e = export_kfp(*a.workflow, Value::object(), {});
  REQUIRE_FALSE(e.ok());
  CHECK(e.message().find("artifacts of a for_each step cannot be read in a Kubeflow v2 export") != std::string::npos);
}

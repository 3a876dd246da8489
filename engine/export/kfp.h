// Compiles a workflow (IR) to a Kubeflow Pipelines v2 pipeline spec (the "IR YAML"
// that `kfp.compiler` writes, schemaVersion 2.1.0), shaped like the examples in
// shared/kfp/v2. A pure function, tested with golden files (tests/golden/kfp/).
//
// Mapping:
//   step            -> component comp-<task> + executor exec-<task> + a task in root.dag
//   {{ref}}         -> a component input: {{$.inputs.parameters['NAME']}} fed by
//                      componentInputParameter (params), taskOutputParameter (step
//                      outputs); artifacts -> {{$.inputs.artifacts['NAME'].path}} fed
//                      by taskOutputArtifact
//   needs           -> dependentTasks
//   depends         -> dependentTasks; an expression that accepts a failed upstream
//                      (Failed, Errored, Omitted, AllFailed, '!') also gets
//                      triggerPolicy.strategy ALL_UPSTREAM_TASKS_COMPLETED
//   when            -> triggerPolicy.condition (CEL over inputs.parameter_values)
//   for_each        -> a DAG component comp-for-loop-<task> run by a task with a
//                      parameterIterator (raw JSON list or an input parameter);
//                      parallelism -> iteratorPolicy.parallelismLimit
//   retry           -> retryPolicy (maxRetryCount, backoffDuration, backoffFactor,
//                      backoffMaxDuration)
//   resources       -> executor container resources (cpu, memory, accelerator)
//   on_exit         -> the main tasks move into comp-exit-handler-1; each on_exit step
//                      is a root task depending on it with triggerPolicy.strategy
//                      ALL_UPSTREAM_TASKS_COMPLETED (as kfp's dsl.ExitHandler)
//   params          -> root.inputDefinitions.parameters (defaults: resolved values)
//   cache           -> cachingOptions.enableCache
// Not expressible in KFP v2 (an error with the step's position): a step's status,
// workflow.status/failures, outputs of a for_each step, and on_exit steps that read
// other steps' outputs. `timeout` has no field in the v2 spec and is left out.
//
// Outputs. Plugin steps run `ctflow step` (see argo.h) with, in addition:
//   --publish-param NAME=FILE      after success, copy output parameter NAME's text to FILE
//   --publish-artifact NAME=PATH   after success, copy artifact NAME (file or dir) to PATH
// where FILE and PATH are Kubeflow placeholders ({{$.outputs.parameters['NAME'].output_file}},
// {{$.outputs.artifacts['NAME'].path}}). run/shell steps with outputs run inside a small
// `sh -ec` wrapper that cds to /ctflow/out/<task>, runs the argv and copies the
// declared files there; the image must have sh (the ctflow image carries busybox).
#pragma once

#include <string>

#include "engine/export/argo.h"
#include "engine/ir.h"
#include "base/status.h"

namespace ctflow {

struct KfpExportOptions {
  std::string image = "localhost/ctflow:latest";  // plugin steps and steps without image:
  std::string sdk_version = "ctflow-0.1.0";       // pipeline spec's sdkVersion
  std::map<std::string, PluginOutputs> plugins;   // by plugin name; optional
};

Result<std::string> export_kfp(const Workflow& wf, const Value& resolved_params,
                               const KfpExportOptions& options = {});

}  // namespace ctflow

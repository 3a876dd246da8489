// The Argo Workflows frontend: an argoproj.io/v1alpha1 Workflow -> Workflow IR,
// so that `ctflow run argo.yaml` runs it locally, without a cluster.
//
// Templates are expanded statically into the flat IR: a task or step that calls
// a container or script template becomes one IR step (named like the task; the
// tasks of a nested steps/dag template are named CALLER_TASK, and the call
// itself becomes a join step CALLER that ends when they have); `{{...}}`
// references are rewritten into ctflow references (`{{steps.X.outputs.result}}`
// -> `{{steps.X.outputs.result}}`, `{{tasks.X.outputs.parameters.p}}` ->
// `{{steps.X.outputs.p}}`, `{{workflow.parameters.p}}` -> `{{params.p}}`,
// inputs substituted). Each step runs through a small /bin/sh prologue that
// stages input artifacts, the script source and output folders in the step's
// working directory; absolute paths the template declares (`/tmp/out.txt`) are
// rewritten to paths under that directory (`tmp/out.txt`).
//
// Executors: on the host by default; with `executor` "podman" or "docker" in
// that runtime, in the template's image, which must be local (no pulls here).
// A container command `ctflow` runs `ctflow_binary` on the host (the binary
// reading the workflow), so that a workflow exported with `ctflow export argo`
// runs as is.
//
// A dag with `target` keeps only the target tasks and what they depend on; the
// others are left out of the IR, as Argo leaves them out of the run.
//
// What cannot run locally (suspend, resource templates, external artifact
// stores, sidecars, expressions `{{=...}}`, ...) is reported as
// `FILE:LINE:COL: error: not supported locally: FEATURE`, never run differently.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/diag.h"
#include "engine/ir.h"

namespace ctflow {

// What a local image runs when a container template gives no `command`
// (or no `args`): its ENTRYPOINT and CMD, as the runtime's image inspect reads them.
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
};

struct ArgoOptions {
  std::string executor;       // "" or "host": the host; "podman" or "docker": that container runtime
  std::string ctflow_binary;  // what a container command `ctflow` runs on the host
  // The run's -p NAME=VALUE, by name, where the caller has them. A few things
  // shape the translated workflow itself and so are read from workflow
  // parameters when the file is translated: dag.target, withSequence bounds,
  // withParam over a steps/dag template. They take a parameter's value from
  // here, else from spec.arguments; every step of such a workflow then checks
  // that the run's value is that one, and fails with a message if not, so a
  // value the translation did not see never runs a differently shaped workflow.
  std::map<std::string, std::string> params;
  // A suspend template is an error ("not supported locally") unless this is
  // set (ctflow run --resume-suspended): then it waits out its duration, or
  // continues at once without one, and says so in its output; its
  // valueFrom.supplied outputs take their valueFrom.default, else the value of
  // the template's input parameter of the same name.
  bool resume_suspended = false;
  // Reads IMAGE from the local store of EXECUTOR (podman or docker): its
  // config, or nothing when the image is not local (nothing is pulled). Unset:
  // `EXECUTOR image inspect IMAGE`. Tests give their own.
  std::function<std::optional<ImageConfig>(const std::string& executor, const std::string& image)> inspect_image;
  // CTFLOW_ARGO_EXECUTOR, CTFLOW_ARGO_RESUME_SUSPENDED and CTFLOW_BINARY, else the host and /proc/self/exe.
  static ArgoOptions from_env();
};

// True when ROOT is an Argo document (apiVersion argoproj.io/...).
bool is_argo_document(const YAML::Node& root);

// Translates ROOT (an Argo Workflow read from FILE) into the IR; every problem
// goes to DIAGS with its position. Returns nothing when ROOT is not a map.
std::optional<Workflow> parse_argo_workflow(const YAML::Node& root, const std::string& file, Diagnostics& diags,
                                            const ArgoOptions& options);

}  // namespace ctflow

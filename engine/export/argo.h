// Compiles a workflow (IR) to an Argo Workflow (argoproj.io/v1alpha1) that Kubeflow
// Pipelines v1 also accepts. A pure function: no I/O, no clock; the same input
// gives byte-identical YAML (keys in a fixed order), so it is tested with golden
// files (tests/golden/argo/).
//
// The mapping, step by step:
//   step                 -> a DAG task of the entry template, running a container
//                           template of the same name (names made Kubernetes-safe:
//                           '_' becomes '-', a leading digit gets "s-")
//   uses: P (plugin)     -> the ctflow image running `ctflow step` (the contract below)
//   run: [argv]          -> container command = argv (no shell)
//   shell: TEXT          -> container command [sh, -c], args [TEXT]
//   image:               -> the container image; steps without one get options.image
//   needs: [a, b]        -> depends: "a && b" (Argo's bare name: Succeeded, Skipped
//                           or Daemoned, which is ctflow's rule for needs)
//   depends: EXPR        -> depends: EXPR (step names mapped)
//   when: EXPR           -> when: govaluate text; refs become {{tasks.X.outputs.parameters.Y}}
//                           or {{workflow.parameters.Z}}, quoted '...' when compared as strings
//   for_each: [..]       -> withItems; for_each: "{{ref}}" -> withParam
//   parallelism (fan-out)-> a wrapper DAG template "<step>-loop" with that parallelism
//   retry                -> retryStrategy {limit: "N", retryPolicy, backoff {duration,
//                           factor, cap}}; cap is ctflow's max_backoff (Argo's
//                           maxDuration is a total, not a cap, so it is not used)
//   timeout              -> activeDeadlineSeconds: "N" (per attempt: each retry is a pod)
//   resources            -> container requests and limits (cpu, memory, nvidia.com/gpu)
//   with (run/shell)     -> env CTFLOW_PARAM_<NAME> (NAME upper-cased, non-alnum -> '_')
//   params               -> spec.arguments.parameters (values: resolved_params, else defaults)
//   parallelism          -> spec.parallelism; fail_fast: false -> failFast: false
//   on_exit              -> spec.onExit: a DAG template "exit-handler" of the on_exit steps
//   cache                -> label pipelines.kubeflow.org/enable_caching on the pod
//
// Data between steps. Every step runs with working directory /ctflow/out/<step>
// (fan-out instances: /ctflow/out/<step>/{{pod.name}}), on a volume mounted at
// /ctflow/out:
//   * ArtifactPassing::Pvc (default): one PersistentVolumeClaim per workflow
//     (spec.volumeClaimTemplates, named options.pvc_template_name) or an existing
//     claim (options.existing_claim), mounted with subPath {{workflow.name}}. A
//     reference {{steps.S.artifacts.A}} becomes the path on that volume.
//   * ArtifactPassing::S3: an emptyDir; artifacts travel through Argo's artifact
//     repository (outputs.artifacts, and inputs.artifacts with `from`), placed at
//     /ctflow/in/<producer>/<artifact>, which is what the reference becomes.
// Output parameters always travel as Argo output parameters (valueFrom.path), so
// `when` and withParam can read them. Artifacts named mlpipeline-metrics and
// mlpipeline-ui-metadata are always Argo output artifacts (Kubeflow reads them
// from its artifact repository).
//
// The `ctflow step` contract (what a plugin step's container runs):
//   ctflow step --plugin NAME --out DIR [--params-json JSON] [--param KEY=TEXT]...
//   * JSON: the step's `with` values that hold no {{ref}}, as a JSON object.
//   * --param KEY=TEXT: one per top-level `with` value that holds a {{ref}}; TEXT is
//     the value after Argo substitution, as raw text (no JSON escaping is needed,
//     Argo pastes it into its own argv element). `ctflow step` converts TEXT to
//     the plugin's declared type for KEY (int, float, bool, json: parsed; string
//     and path: as is), the way `ctflow run -p` does. A ref nested deeper in a
//     `with` value stays inside JSON and is pasted there by Argo as text.
//   * It runs the plugin once and writes, under DIR (created if missing):
//       DIR/outputs/<name>          each output parameter: a string as its raw
//                                   text, any other value as compact JSON
//       DIR/artifacts/<name>        each output artifact (a file or a directory)
//       DIR/mlpipeline-metrics.json, DIR/mlpipeline-ui-metadata.json
//                                   the step's metrics in Kubeflow's formats
//   * Exit status 0 when the plugin succeeded, non-zero otherwise; logs on stderr.
//   * The image has `ctflow` on PATH and finds its plugins through
//     CTFLOW_PLUGIN_PATH (the Containerfile sets both).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/ir.h"
#include "base/status.h"

namespace ctflow {

enum class ArtifactPassing { Pvc, S3 };

// What a plugin declares about its outputs (from the plugin registry). The IR does
// not carry it; without it, the exporters declare the outputs that other steps
// reference, which is enough for Argo to pass them.
struct PluginOutputs {
  std::vector<std::string> parameters;
  std::vector<std::string> artifacts;
};

struct ArgoExportOptions {
  std::string image = "localhost/ctflow:latest";  // for plugin steps and steps without image:
  ArtifactPassing artifacts = ArtifactPassing::Pvc;
  std::string existing_claim;                     // Pvc: use this claim instead of a template
  std::string pvc_template_name = "ctflow-data";  // Pvc: the volumeClaimTemplate's name
  std::string pvc_size = "10Gi";
  std::string pvc_access_mode = "ReadWriteMany";  // steps may run on different nodes
  std::string pvc_storage_class;                  // empty: the cluster's default
  std::string service_account;                    // empty: not set (Kubeflow sets pipeline-runner)
  std::string image_pull_policy = "IfNotPresent";
  std::map<std::string, PluginOutputs> plugins;   // by plugin name; optional
  // Schedule triggers make a CronWorkflow (engine/export/argo_cron.h); other
  // triggers are an error unless this leaves them out.
  bool skip_triggers = false;
};

// The Argo Workflow as YAML. `resolved_params` is an object of param name to value
// (the -p overrides merged over the defaults); a param with neither is exported
// without a value, for the submitter to supply. Errors name the step's position:
// "FILE:LINE:COL: error: ..." when the IR has one.
Result<std::string> export_argo(const Workflow& wf, const Value& resolved_params,
                                const ArgoExportOptions& options = {});

}  // namespace ctflow

// The Argo exporter's inside (engine/export/argo.h is its interface): the
// compiler that turns each ctflow step into an Argo template and DAG task.
//   argo.cc       compiling steps: references, depends, for_each, when, the container
//   argo_emit.cc  emitting the Workflow document from the compiled steps
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/export/argo.h"
#include "engine/export/common.h"
#include "engine/export/refs.h"
#include "engine/export/yaml_emit.h"
#include "engine/reference.h"

namespace ctflow::export_detail {

using Doc = yaml_emit::Doc;

inline constexpr const char* kOutRoot = "/ctflow/out";
inline constexpr const char* kInRoot = "/ctflow/in";
inline constexpr const char* kVolume = "ctflow-data";

inline bool is_metrics_artifact(const std::string& name) {
  return name == "mlpipeline-metrics" || name == "mlpipeline-ui-metadata";
}

// Kubernetes expands $(VAR) in command, args and env values, and reduces $$ to $.
// Doubling each '$' that precedes '$' or '(' keeps the text exactly as written.
inline std::string escape_k8s_vars(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if (s[i] == '$' && i + 1 < s.size() && (s[i + 1] == '$' || s[i + 1] == '(')) out += '$';
  }
  return out;
}

inline std::string join_path(const std::string& dir, const std::string& rel) {
  if (!rel.empty() && rel[0] == '/') return rel;
  std::string r = rel;
  while (r.rfind("./", 0) == 0) r = r.substr(2);
  return r.empty() || r == "." ? dir : dir + "/" + r;
}

// A value a step's template reads from its task (an Argo input parameter).
struct Binding {
  std::string name;   // input parameter name in the step's template
  std::string value;  // what the task passes: {{tasks...}}, {{item}}, ...
  bool item = false;  // {{item...}}: only valid on the task that fans out
};

// An artifact a step reads through the artifact repository (S3 mode).
struct InputArtifact {
  std::string name;
  std::string path;
  std::string from;
};

struct CompiledStep {
  const Step* step = nullptr;
  bool exit_handler = false;  // an on_exit step
  std::string task;           // Argo task and template name
  std::string dir;            // working directory and --out
  std::vector<Binding> bindings;
  std::vector<InputArtifact> input_artifacts;
  Doc container;
  std::string depends;
  std::string when;
  Doc with_items;             // array, or null
  std::string with_param;     // or empty
  std::string loop_template;  // wrapper DAG name when a fan-out has parallelism
};

class ArgoCompiler {
 public:
  ArgoCompiler(const Workflow& wf, const Value& params, const ArgoExportOptions& opt)
      : wf_(wf), params_(export_detail::param_values(wf, params)), opt_(opt) {}
  Result<std::string> compile();

 private:
  void add_step(const Step& s, bool exit_handler);
  const CompiledStep* producer(const std::string& name) const;
  Status fail(const CompiledStep& c, const SourcePos& pos, const std::string& message) const;

  // Where a producer step leaves artifact `name`.
  Result<std::string> artifact_path(const CompiledStep& p, const std::string& name) const;

  // Finds or adds the binding for `value` and returns its input name.
  static std::string bind(CompiledStep& c, const std::string& wanted, const std::string& value, bool item);

  // The Argo text of a producer's output parameter, seen from a DAG task.
  std::string task_output(const CompiledStep& p, const std::string& output);
  Result<const CompiledStep*> upstream(const CompiledStep& c, const Reference& r) const;

  // A {{ref}} inside the step's own template (command, args, env, image).
  Result<std::string> render_in_template(CompiledStep& c, const Reference& r);
  Result<std::string> workflow_ref(const CompiledStep& c, const Reference& r) const;

  // A {{ref}} in the step's DAG task (when, withParam): Argo's DAG scope.
  Result<std::string> render_in_dag(const CompiledStep& c, const Reference& r);
  Result<std::string> template_string(CompiledStep& c, const std::string& s);

  // ---- depends ----------------------------------------------------------------

  // Maps the step names in an enhanced-depends expression to task names; the
  // rest of the text (operators, blanks, .Succeeded...) is copied as written.
  Result<std::string> map_depends(const CompiledStep& c, const std::string& text) const;

  // ---- one step -----------------------------------------------------------------
  Status compile_step(CompiledStep& c);

  // depends / needs, as the task's depends.
  Status compile_dependencies(CompiledStep& c);

  // for_each, as withParam or withItems.
  Status compile_for_each(CompiledStep& c);

  // when, in govaluate.
  Status compile_when(CompiledStep& c);

  // `ctflow step --plugin ...` with the step's `with` values.
  Status plugin_command(CompiledStep& c, Doc& command);

  // A run or shell step's command, args and the env of its `with` values.
  Status process_command(CompiledStep& c, Doc& command, Doc& args, std::map<std::string, std::string>& env_values);

  // The step's container: image, command, env, resources, the volume.
  Status compile_container(CompiledStep& c);
  Doc volume_mount() const;
  std::string volume_name() const;

  // ---- emission -------------------------------------------------------------------
  const PluginOutputs* plugin_outputs(const Step& s) const;
  Doc outputs_of(const CompiledStep& c) const;
  Doc retry_strategy(const RetryPolicy& r) const;
  Doc pod_metadata(const Step& s) const;
  Doc step_template(const CompiledStep& c) const;

  // Task arguments from the bindings; `inner` tasks read their wrapper's inputs.
  Doc task_arguments(const CompiledStep& c, bool inner) const;
  Doc dag_task(const CompiledStep& c) const;

  // The DAG that runs one fan-out step with a parallelism of its own.
  Doc loop_template(const CompiledStep& c) const;
  Doc dag_template(const std::string& name, bool exit_handler) const;
  Doc document() const;
  static const char* kfp_v1_type(ParamType t);
  const Workflow& wf_;
  std::map<std::string, Value> params_;
  const ArgoExportOptions& opt_;
  export_detail::NameAllocator names_;
  std::vector<CompiledStep> steps_;
  std::map<std::string, size_t> index_;
  std::string entry_;
  std::string exit_;
  std::map<std::string, std::set<std::string>> used_outputs_;      // producer -> output params read
  std::map<std::string, std::set<std::string>> used_artifacts_;    // producer -> artifacts read
  std::map<std::string, std::set<std::string>> global_outputs_;    // read from on_exit steps
  std::map<std::string, std::set<std::string>> global_artifacts_;
};

}  // namespace ctflow::export_detail

// The Argo Workflow document from the compiled steps: the DAGs, one template
// per step (inputs, outputs, retries, the container), fan-out wrappers, the
// volume, and the metadata Kubeflow Pipelines v1 reads.
#include <cmath>

#include "engine/export/argo_compiler.h"

namespace ctflow::export_detail {

const PluginOutputs* ArgoCompiler::plugin_outputs(const Step& s) const {
  if (s.kind != StepKind::Plugin) return nullptr;
  auto it = opt_.plugins.find(s.uses);
  return it == opt_.plugins.end() ? nullptr : &it->second;
}

Doc ArgoCompiler::outputs_of(const CompiledStep& c) const {
  const Step& s = *c.step;
  Doc params = Doc::array();
  Doc artifacts = Doc::array();
  auto globals = [&](const std::map<std::string, std::set<std::string>>& m, const std::string& n) {
    auto it = m.find(s.name);
    return it != m.end() && it->second.count(n);
  };
  std::set<std::string> names;
  if (s.kind == StepKind::Plugin) {
    if (const auto* po = plugin_outputs(s)) names.insert(po->parameters.begin(), po->parameters.end());
  } else {
    for (const auto& [n, d] : s.output_params) names.insert(n);
  }
  if (auto it = used_outputs_.find(s.name); it != used_outputs_.end()) names.insert(it->second.begin(), it->second.end());
  for (const auto& n : names) {
    Doc p{{"name", n}};
    Doc vf = Doc::object();
    auto decl = s.output_params.find(n);
    vf["path"] = s.kind != StepKind::Plugin && decl != s.output_params.end() ? join_path(c.dir, decl->second.path)
                                                                              : c.dir + "/outputs/" + n;
    if (decl != s.output_params.end() && decl->second.default_value)
      vf["default"] = export_detail::value_text(*decl->second.default_value);
    p["valueFrom"] = vf;
    if (globals(global_outputs_, n)) p["globalName"] = c.task + "-" + n;
    params.push_back(p);
  }
  // Artifacts: the metrics always; the rest only through the artifact repository.
  std::map<std::string, std::string> arts;  // name -> path
  if (s.kind == StepKind::Plugin) {
    std::set<std::string> an;
    if (const auto* po = plugin_outputs(s)) an.insert(po->artifacts.begin(), po->artifacts.end());
    if (auto it = used_artifacts_.find(s.name); it != used_artifacts_.end()) an.insert(it->second.begin(), it->second.end());
    for (const auto& n : an)
      arts[n] = is_metrics_artifact(n) ? c.dir + "/" + n + ".json" : c.dir + "/artifacts/" + n;
  } else {
    for (const auto& [n, d] : s.output_artifacts) arts[n] = join_path(c.dir, d.path);
  }
  for (const auto& [n, path] : arts) {
    if (opt_.artifacts == ArtifactPassing::Pvc && !is_metrics_artifact(n)) continue;
    Doc a{{"name", n}, {"path", path}};
    if (s.kind == StepKind::Plugin && is_metrics_artifact(n)) a["optional"] = true;
    if (globals(global_artifacts_, n)) a["globalName"] = c.task + "-" + n;
    artifacts.push_back(a);
  }
  Doc out = Doc::object();
  if (!params.empty()) out["parameters"] = params;
  if (!artifacts.empty()) out["artifacts"] = artifacts;
  return out;
}

Doc ArgoCompiler::retry_strategy(const RetryPolicy& r) const {
  if (r.limit <= 0 || !(r.on_failed || r.on_error || r.on_timeout)) return Doc();
  Doc rs{{"limit", std::to_string(r.limit)}};
  // Argo: OnFailure = the main container failed (timeouts are failures there too);
  // OnError = Argo could not run it; Always = both.
  const bool failures = r.on_failed || r.on_timeout;
  rs["retryPolicy"] = failures && r.on_error ? "Always" : failures ? "OnFailure" : "OnError";
  Doc b{{"duration", export_detail::go_duration(r.backoff_s)},
        {"factor", export_detail::number_text(r.factor)}};
  if (r.max_backoff_s > 0) b["cap"] = export_detail::go_duration(r.max_backoff_s);
  rs["backoff"] = b;
  return rs;
}

Doc ArgoCompiler::pod_metadata(const Step& s) const {
  return Doc{{"labels",
              {{"pipelines.kubeflow.org/pipeline-sdk-type", "ctflow"},
               {"pipelines.kubeflow.org/enable_caching", s.cache_enabled() ? "true" : "false"}}},
             {"annotations", {{"ctflow.dev/step", s.name}}}};
}

Doc ArgoCompiler::step_template(const CompiledStep& c) const {
  const Step& s = *c.step;
  Doc t{{"name", c.task}};
  Doc inputs = Doc::object();
  if (!c.bindings.empty()) {
    Doc ps = Doc::array();
    for (const auto& b : c.bindings) ps.push_back(Doc{{"name", b.name}});
    inputs["parameters"] = ps;
  }
  if (!c.input_artifacts.empty()) {
    Doc as = Doc::array();
    for (const auto& a : c.input_artifacts) as.push_back(Doc{{"name", a.name}, {"path", a.path}});
    inputs["artifacts"] = as;
  }
  if (!inputs.empty()) t["inputs"] = inputs;
  Doc outputs = outputs_of(c);
  if (!outputs.empty()) t["outputs"] = outputs;
  t["metadata"] = pod_metadata(s);
  Doc rs = retry_strategy(s.retry);
  if (!rs.is_null()) t["retryStrategy"] = rs;
  if (s.timeout_s > 0)
    t["activeDeadlineSeconds"] = std::to_string(static_cast<long long>(std::ceil(s.timeout_s)));
  t["container"] = c.container;
  return t;
}

// Task arguments from the bindings; `inner` tasks read their wrapper's inputs.
Doc ArgoCompiler::task_arguments(const CompiledStep& c, bool inner) const {
  Doc args = Doc::object();
  Doc ps = Doc::array();
  for (const auto& b : c.bindings) {
    std::string v = b.value;
    if (inner && !b.item) v = "{{inputs.parameters." + b.name + "}}";
    ps.push_back(Doc{{"name", b.name}, {"value", v}});
  }
  if (!ps.empty()) args["parameters"] = ps;
  Doc as = Doc::array();
  for (const auto& a : c.input_artifacts)
    as.push_back(Doc{{"name", a.name}, {"from", inner ? "{{inputs.artifacts." + a.name + "}}" : a.from}});
  if (!as.empty()) args["artifacts"] = as;
  return args;
}

Doc ArgoCompiler::dag_task(const CompiledStep& c) const {
  const bool wrapped = !c.loop_template.empty();
  Doc t{{"name", c.task}, {"template", wrapped ? c.loop_template : c.task}};
  if (!c.depends.empty()) t["depends"] = c.depends;
  if (!c.when.empty()) t["when"] = c.when;
  if (wrapped) {
    Doc args = Doc::object();
    Doc ps = Doc::array();
    for (const auto& b : c.bindings)
      if (!b.item) ps.push_back(Doc{{"name", b.name}, {"value", b.value}});
    if (!c.with_param.empty()) ps.push_back(Doc{{"name", "loop-items"}, {"value", c.with_param}});
    if (!ps.empty()) args["parameters"] = ps;
    Doc as = Doc::array();
    for (const auto& a : c.input_artifacts) as.push_back(Doc{{"name", a.name}, {"from", a.from}});
    if (!as.empty()) args["artifacts"] = as;
    if (!args.empty()) t["arguments"] = args;
    return t;
  }
  Doc args = task_arguments(c, false);
  if (!args.empty()) t["arguments"] = args;
  if (!c.with_items.is_null()) t["withItems"] = c.with_items;
  if (!c.with_param.empty()) t["withParam"] = c.with_param;
  return t;
}

// The DAG that runs one fan-out step with a parallelism of its own.
Doc ArgoCompiler::loop_template(const CompiledStep& c) const {
  Doc t{{"name", c.loop_template}};
  Doc inputs = Doc::object();
  Doc ps = Doc::array();
  for (const auto& b : c.bindings)
    if (!b.item) ps.push_back(Doc{{"name", b.name}});
  if (!c.with_param.empty()) ps.push_back(Doc{{"name", "loop-items"}});
  if (!ps.empty()) inputs["parameters"] = ps;
  Doc as = Doc::array();
  for (const auto& a : c.input_artifacts) as.push_back(Doc{{"name", a.name}});
  if (!as.empty()) inputs["artifacts"] = as;
  if (!inputs.empty()) t["inputs"] = inputs;
  // Re-export what the fanned-out task produced (Argo aggregates it into a JSON list).
  Doc inner_outputs = outputs_of(c);
  if (inner_outputs.contains("parameters")) {
    Doc ops = Doc::array();
    for (const auto& p : inner_outputs["parameters"]) {
      const std::string n = p["name"].get<std::string>();
      Doc op{{"name", n}, {"valueFrom", {{"parameter", "{{tasks." + c.task + ".outputs.parameters." + n + "}}"}}}};
      if (p.contains("globalName")) op["globalName"] = p["globalName"];
      ops.push_back(op);
    }
    t["outputs"] = Doc{{"parameters", ops}};
  }
  t["parallelism"] = c.step->parallelism;
  Doc inner{{"name", c.task}, {"template", c.task}};
  Doc args = task_arguments(c, true);
  if (!args.empty()) inner["arguments"] = args;
  if (!c.with_items.is_null()) inner["withItems"] = c.with_items;
  if (!c.with_param.empty()) inner["withParam"] = "{{inputs.parameters.loop-items}}";
  t["dag"] = Doc{{"tasks", Doc::array({inner})}};
  return t;
}

Doc ArgoCompiler::dag_template(const std::string& name, bool exit_handler) const {
  Doc tasks = Doc::array();
  for (const auto& c : steps_)
    if (c.exit_handler == exit_handler) tasks.push_back(dag_task(c));
  Doc t{{"name", name}};
  Doc dag = Doc::object();
  if (!wf_.fail_fast) dag["failFast"] = false;
  dag["tasks"] = tasks;
  t["dag"] = dag;
  return t;
}

Doc ArgoCompiler::document() const {
  Doc d;
  d["apiVersion"] = "argoproj.io/v1alpha1";
  d["kind"] = "Workflow";
  Doc meta;
  meta["generateName"] = (wf_.name.empty() ? std::string("ctflow") : wf_.name) + "-";
  // Kubeflow Pipelines v1 reads the pipeline's name, description and inputs here.
  nlohmann::json spec_json = nlohmann::json::object();
  if (!wf_.description.empty()) spec_json["description"] = wf_.description;
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& p : wf_.params) {
    nlohmann::json in{{"name", p.name}, {"type", kfp_v1_type(p.type)}};
    if (auto it = params_.find(p.name); it != params_.end()) in["default"] = export_detail::value_text(it->second);
    if (!p.description.empty()) in["description"] = p.description;
    inputs.push_back(in);
  }
  if (!inputs.empty()) spec_json["inputs"] = inputs;
  spec_json["name"] = wf_.name;
  Doc annotations{{"pipelines.kubeflow.org/pipeline_spec", spec_json.dump()}};
  if (!wf_.description.empty()) annotations["workflows.argoproj.io/description"] = wf_.description;
  meta["annotations"] = annotations;
  meta["labels"] = Doc{{"pipelines.kubeflow.org/pipeline-sdk-type", "ctflow"}};
  d["metadata"] = meta;

  Doc spec;
  spec["entrypoint"] = entry_;
  Doc params = Doc::array();
  for (const auto& p : wf_.params) {
    Doc e{{"name", p.name}};
    if (auto it = params_.find(p.name); it != params_.end()) e["value"] = export_detail::value_text(it->second);
    if (!p.description.empty()) e["description"] = p.description;
    params.push_back(e);
  }
  spec["arguments"] = Doc{{"parameters", params}};
  if (wf_.parallelism > 0) spec["parallelism"] = wf_.parallelism;
  if (!exit_.empty()) spec["onExit"] = exit_;
  if (!opt_.service_account.empty()) spec["serviceAccountName"] = opt_.service_account;
  if (opt_.artifacts == ArtifactPassing::Pvc && opt_.existing_claim.empty()) {
    Doc pvc_spec{{"accessModes", Doc::array({opt_.pvc_access_mode})},
                 {"resources", {{"requests", {{"storage", opt_.pvc_size}}}}}};
    if (!opt_.pvc_storage_class.empty()) pvc_spec["storageClassName"] = opt_.pvc_storage_class;
    spec["volumeClaimTemplates"] = Doc::array({Doc{{"metadata", {{"name", opt_.pvc_template_name}}}, {"spec", pvc_spec}}});
  } else if (opt_.artifacts == ArtifactPassing::Pvc) {
    spec["volumes"] = Doc::array({Doc{{"name", kVolume}, {"persistentVolumeClaim", {{"claimName", opt_.existing_claim}}}}});
  } else {
    spec["volumes"] = Doc::array({Doc{{"name", kVolume}, {"emptyDir", Doc::object()}}});
  }
  Doc templates = Doc::array();
  templates.push_back(dag_template(entry_, false));
  if (!exit_.empty()) templates.push_back(dag_template(exit_, true));
  for (const auto& c : steps_) {
    if (!c.loop_template.empty()) templates.push_back(loop_template(c));
    templates.push_back(step_template(c));
  }
  spec["templates"] = templates;
  d["spec"] = spec;
  return d;
}

const char* ArgoCompiler::kfp_v1_type(ParamType t) {
  switch (t) {
    case ParamType::Int: return "Integer";
    case ParamType::Float: return "Float";
    case ParamType::Bool: return "Bool";
    case ParamType::Json: return "JsonObject";
    default: return "String";
  }
}

}  // namespace ctflow::export_detail

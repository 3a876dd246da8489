// export argo | kfp: compile a workflow for a cluster.
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "engine/export/argo.h"
#include "engine/export/kfp.h"
#include "engine/export/sweep_fold.h"
#include "engine/frontend_v1.h"
#include "engine/plugin_registry.h"

namespace ctflow::cli {

int cmd_export(const ExportArgs& a) {
  LoadResult r = load_workflow_file(a.file, shape_params(a.params));
  PluginRegistry plugins;
  if (r.workflow) {
    ValidateOptions opt;
    opt.plugins = &plugins;
    opt.host.cpus = 1e9;  // a cluster, not this host, will grant resources
    opt.host.gpus = 1 << 20;
    opt.host.memory = 0;
    validate_workflow(*r.workflow, opt, r.diags);
  }
  if (!r.diags.empty()) {
    std::cerr << r.diags.render();
    return kExitUsage;
  }
  // Params: defaults and -p; a required param without a value is left for the submitter.
  Value params = Value::object();
  for (const auto& p : r.workflow->params)
    if (p.default_value) params[p.name] = *p.default_value;
  if (!a.params.empty()) {
    Workflow relaxed = *r.workflow;
    for (auto& p : relaxed.params)
      if (!p.default_value) p.default_value = Value();
    auto bound = bind_params(relaxed, a.params);
    if (!bound) {
      print_error(bound.message());
      return kExitUsage;
    }
    for (auto it = bound->begin(); it != bound->end(); ++it)
      if (!it.value().is_null()) params[it.key()] = it.value();
  }
  // A sweep whose trials param is 0 runs no trial: left out, its `best` the defaults.
  std::vector<std::string> left_out;
  const Workflow folded = without_untried_sweeps(*r.workflow, params, &left_out);
  for (const auto& name : left_out)
    std::cerr << "note: step '" << name << "' is left out: its sweep has no trials with these params, so "
              << "steps." << name << ".outputs.best is its parameters' defaults (-p to give trials)\n";
  // The other sweeps: a fan-out over trials sampled now, and a step picking the best.
  std::vector<std::string> notes;
  auto expanded = sweeps_as_fanout(folded, params, {a.sweep_as_fanout, &notes});
  if (!expanded) {
    std::cerr << expanded.message() << "\n";
    return kExitUsage;
  }
  for (const auto& n : notes) std::cerr << "note: " << n << "\n";
  const Workflow& wf = *expanded;
  std::map<std::string, PluginOutputs> outs;
  for (const auto& s : wf.steps)
    if (s.kind == StepKind::Plugin)
      if (const PluginInfo* p = plugins.find(s.uses)) {
        PluginOutputs& o = outs[p->name];
        o.parameters.clear();
        o.artifacts.clear();
        for (const auto& x : p->outputs) (x.artifact ? o.artifacts : o.parameters).push_back(x.name);
      }
  Result<std::string> text = Status::Error("unknown export target");
  if (a.target == "argo") {
    ArgoExportOptions opt;
    if (!a.image.empty()) opt.image = a.image;
    opt.artifacts = a.artifacts == "s3" ? ArtifactPassing::S3 : ArtifactPassing::Pvc;
    opt.existing_claim = a.pvc;
    opt.plugins = outs;
    opt.skip_triggers = a.skip_triggers;
    text = export_argo(wf, params, opt);
  } else if (!wf.triggers.empty() && !a.skip_triggers) {
    const Trigger& t = wf.triggers.front();
    text = Status::InvalidArgument(t.pos.file + ":" + std::to_string(t.pos.line) + ":" + std::to_string(t.pos.col) +
                                   ": error: trigger '" + t.name + "': a Kubeflow pipeline spec has no triggers "
                                   "(Kubeflow's recurring runs are made apart from it); export with --skip-triggers");
  } else {
    KfpExportOptions opt;
    if (!a.image.empty()) opt.image = a.image;
    opt.plugins = outs;  // every declared output, also those no step reads (mlpipeline-metrics for the KFP UI)
    text = export_kfp(wf, params, opt);
  }
  if (!text) {
    std::cerr << text.message() << (text.message().back() == '\n' ? "" : "\n");
    return kExitUsage;
  }
  if (a.out.empty()) {
    std::cout << *text;
    return kExitOk;
  }
  std::string tmp = a.out + ".tmp";
  {
    std::ofstream f(tmp);
    f << *text;
    if (!f) {
      print_error("cannot write " + a.out);
      return kExitUsage;
    }
  }
  std::rename(tmp.c_str(), a.out.c_str());
  return kExitOk;
}

}  // namespace ctflow::cli

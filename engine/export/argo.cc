#include "engine/export/argo.h"

#include <cmath>
#include <set>

#include "engine/export/argo_compiler.h"
#include "engine/export/argo_cron.h"
#include "engine/export/condition.h"

namespace ctflow {
namespace export_detail {

Result<std::string> ArgoCompiler::compile() {
  if (wf_.steps.empty()) return export_detail::error_at({}, wf_.file, "the workflow has no steps");
  if (auto st = export_detail::no_calls(wf_, "Argo"); !st.ok()) return st;
  for (const auto& s : wf_.steps) add_step(s, false);
  for (const auto& s : wf_.on_exit) add_step(s, true);
  entry_ = names_.allocate(wf_.name.empty() ? "main" : wf_.name);
  if (!wf_.on_exit.empty()) exit_ = names_.allocate("exit-handler");
  for (auto& c : steps_)
    if (c.step->for_each && c.step->parallelism > 0) c.loop_template = names_.allocate(c.task + "-loop");
  for (auto& c : steps_)
    if (auto s = compile_step(c); !s.ok()) return s;
  auto doc = cron_workflow(wf_, document(), opt_.skip_triggers);
  if (!doc) return doc.status();
  return yaml_emit::to_yaml(*doc);
}

void ArgoCompiler::add_step(const Step& s, bool exit_handler) {
  CompiledStep c;
  c.step = &s;
  c.exit_handler = exit_handler;
  c.task = names_.allocate(s.name);
  c.dir = std::string(kOutRoot) + "/" + c.task;
  if (s.for_each) c.dir += "/{{pod.name}}";
  index_[s.name] = steps_.size();
  steps_.push_back(std::move(c));
}

const CompiledStep* ArgoCompiler::producer(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &steps_[it->second];
}

Status ArgoCompiler::fail(const CompiledStep& c, const SourcePos& pos, const std::string& message) const {
  return export_detail::error_at(pos.line > 0 ? pos : c.step->pos, wf_.file,
                                 "step '" + c.step->name + "': " + message);
}

// Where a producer step leaves artifact `name`.
Result<std::string> ArgoCompiler::artifact_path(const CompiledStep& p, const std::string& name) const {
  if (p.step->kind == StepKind::Plugin) return p.dir + "/artifacts/" + name;
  auto it = p.step->output_artifacts.find(name);
  if (it == p.step->output_artifacts.end())
    return Status::Error("step '" + p.step->name + "' declares no artifact '" + name + "'");
  return join_path(p.dir, it->second.path);
}

// Finds or adds the binding for `value` and returns its input name.
std::string ArgoCompiler::bind(CompiledStep& c, const std::string& wanted, const std::string& value, bool item) {
  for (const auto& b : c.bindings)
    if (b.value == value) return b.name;
  std::string name = wanted;
  for (int n = 2;; ++n) {
    bool clash = false;
    for (const auto& b : c.bindings) clash = clash || b.name == name;
    if (!clash) break;
    name = wanted + "-" + std::to_string(n);
  }
  c.bindings.push_back({name, value, item});
  return name;
}

// The Argo text of a producer's output parameter, seen from a DAG task.
std::string ArgoCompiler::task_output(const CompiledStep& p, const std::string& output) {
  if (output == "result" && p.step->kind != StepKind::Plugin && !p.step->output_params.count("result"))
    return "{{tasks." + p.task + ".outputs.result}}";
  used_outputs_[p.step->name].insert(output);
  return "{{tasks." + p.task + ".outputs.parameters." + output + "}}";
}

Result<const CompiledStep*> ArgoCompiler::upstream(const CompiledStep& c, const Reference& r) const {
  const CompiledStep* p = producer(r.name);
  if (!p) return Status::Error("reference '" + r.text + "': there is no step '" + r.name + "'");
  if (p == &c) return Status::Error("reference '" + r.text + "': a step cannot read its own outputs");
  if (p->exit_handler && !c.exit_handler)
    return Status::Error("reference '" + r.text + "': an on_exit step runs after this one");
  return p;
}

// A {{ref}} inside the step's own template (command, args, env, image).
Result<std::string> ArgoCompiler::render_in_template(CompiledStep& c, const Reference& r) {
  switch (r.kind) {
    case Reference::Kind::Param:
      if (!wf_.find_param(r.name)) return Status::Error("reference '" + r.text + "': there is no param '" + r.name + "'");
      return "{{workflow.parameters." + r.name + "}}";
    case Reference::Kind::Workflow:
      return workflow_ref(c, r);
    case Reference::Kind::Trial:  // no_calls refused the sweep before
      return Status::Error("reference '" + r.text + "' of a sweep: sweeps are not exported");
    case Reference::Kind::Item: {
      if (!c.step->for_each) return Status::Error("reference '" + r.text + "' outside a for_each step");
      const std::string value = r.field.empty() ? "{{item}}" : "{{item." + r.field + "}}";
      return "{{inputs.parameters." + bind(c, r.field.empty() ? "item" : "item-" + r.field, value, true) + "}}";
    }
    case Reference::Kind::StepOutput: {
      if (!r.path.empty()) return Status::Error("reference '" + r.text + "': a key of an object output is not exported");
      auto p = upstream(c, r);
      if (!p) return p.status();
      if (c.exit_handler && !(*p)->exit_handler) {
        const std::string global = (*p)->task + "-" + r.field;
        global_outputs_[r.name].insert(r.field);
        used_outputs_[r.name].insert(r.field);
        return "{{workflow.outputs.parameters." + global + "}}";
      }
      const std::string in = bind(c, (*p)->task + "-" + r.field, task_output(**p, r.field), false);
      return "{{inputs.parameters." + in + "}}";
    }
    case Reference::Kind::StepStatus: {
      auto p = upstream(c, r);
      if (!p) return p.status();
      if (c.exit_handler && !(*p)->exit_handler)
        return Status::Error("reference '" + r.text + "': on_exit steps cannot read a step's status in Argo; use workflow.status or workflow.failures");
      return "{{inputs.parameters." + bind(c, (*p)->task + "-status", "{{tasks." + (*p)->task + ".status}}", false) + "}}";
    }
    case Reference::Kind::StepExitCode: {
      auto p = upstream(c, r);
      if (!p) return p.status();
      if (c.exit_handler && !(*p)->exit_handler)
        return Status::Error("reference '" + r.text + "': on_exit steps cannot read a step's exit code in Argo");
      return "{{inputs.parameters." + bind(c, (*p)->task + "-exit-code", "{{tasks." + (*p)->task + ".exitCode}}", false) + "}}";
    }
    case Reference::Kind::StepArtifact: {
      auto p = upstream(c, r);
      if (!p) return p.status();
      if ((*p)->step->for_each)
        return Status::Error("reference '" + r.text + "': artifacts of a for_each step cannot be referenced in an Argo export");
      auto path = artifact_path(**p, r.field);
      if (!path) return path.status();
      used_artifacts_[r.name].insert(r.field);
      if (opt_.artifacts == ArtifactPassing::Pvc) return *path;
      const std::string name = (*p)->task + "-" + r.field;
      const std::string local = std::string(kInRoot) + "/" + (*p)->task + "/" + r.field;
      std::string from = "{{tasks." + (*p)->task + ".outputs.artifacts." + r.field + "}}";
      if (c.exit_handler && !(*p)->exit_handler) {
        global_artifacts_[r.name].insert(r.field);
        from = "{{workflow.outputs.artifacts." + name + "}}";
      }
      bool known = false;
      for (const auto& a : c.input_artifacts) known = known || a.name == name;
      if (!known) c.input_artifacts.push_back({name, local, from});
      return local;
    }
  }
  return Status::Error("unsupported reference '" + r.text + "'");
}

Result<std::string> ArgoCompiler::workflow_ref(const CompiledStep& c, const Reference& r) const {
  if (r.name == "name") return std::string("{{workflow.name}}");
  if (r.name == "run_id") return std::string("{{workflow.uid}}");
  if (!c.exit_handler) return Status::Error("reference '" + r.text + "' is only available in on_exit steps");
  return r.name == "status" ? std::string("{{workflow.status}}") : std::string("{{workflow.failures}}");
}

// A {{ref}} in the step's DAG task (when, withParam): Argo's DAG scope.
Result<std::string> ArgoCompiler::render_in_dag(const CompiledStep& c, const Reference& r) {
  switch (r.kind) {
    case Reference::Kind::Param:
      if (!wf_.find_param(r.name)) return Status::Error("reference '" + r.text + "': there is no param '" + r.name + "'");
      return "{{workflow.parameters." + r.name + "}}";
    case Reference::Kind::Workflow: return workflow_ref(c, r);
    case Reference::Kind::Trial: return Status::Error("reference '" + r.text + "' of a sweep: sweeps are not exported");
    case Reference::Kind::Item:
      if (!c.step->for_each) return Status::Error("reference '" + r.text + "' outside a for_each step");
      return r.field.empty() ? std::string("{{item}}") : "{{item." + r.field + "}}";
    case Reference::Kind::StepOutput: {
      if (!r.path.empty()) return Status::Error("reference '" + r.text + "': a key of an object output is not exported");
      auto p = upstream(c, r);
      if (!p) return p.status();
      if (c.exit_handler && !(*p)->exit_handler) {
        global_outputs_[r.name].insert(r.field);
        used_outputs_[r.name].insert(r.field);
        return "{{workflow.outputs.parameters." + (*p)->task + "-" + r.field + "}}";
      }
      return task_output(**p, r.field);
    }
    case Reference::Kind::StepStatus: {
      auto p = upstream(c, r);
      if (!p) return p.status();
      if (c.exit_handler && !(*p)->exit_handler)
        return Status::Error("reference '" + r.text + "': on_exit steps cannot read a step's status in Argo");
      return "{{tasks." + (*p)->task + ".status}}";
    }
    case Reference::Kind::StepExitCode: {
      auto p = upstream(c, r);
      if (!p) return p.status();
      if (c.exit_handler && !(*p)->exit_handler)
        return Status::Error("reference '" + r.text + "': on_exit steps cannot read a step's exit code in Argo");
      return "{{tasks." + (*p)->task + ".exitCode}}";
    }
    case Reference::Kind::StepArtifact:
      return Status::Error("reference '" + r.text + "': an artifact is a path; it cannot be used here");
  }
  return Status::Error("unsupported reference '" + r.text + "'");
}

Result<std::string> ArgoCompiler::template_string(CompiledStep& c, const std::string& s) {
  return export_detail::rewrite(s, [&](const Reference& r) { return render_in_template(c, r); });
}

// Maps the step names in an enhanced-depends expression to task names; the
// rest of the text (operators, blanks, .Succeeded...) is copied as written.
Result<std::string> ArgoCompiler::map_depends(const CompiledStep& c, const std::string& text) const {
  auto parsed = expr::Expr::parse(text);
  if (auto* err = std::get_if<expr::ParseError>(&parsed))
    return Status::Error("depends: " + err->message + " at offset " + std::to_string(err->offset));
  std::string out;
  size_t at = 0;
  for (const expr::RefSpan& span : std::get<expr::Expr>(parsed).ref_spans()) {
    const std::string name = parse_depends_term(std::string_view(text).substr(span.offset, span.length)).step;
    const CompiledStep* p = producer(name);
    if (!p || p->exit_handler != c.exit_handler) return Status::Error("depends: there is no step '" + name + "' to depend on");
    out += text.substr(at, span.offset - at) + p->task;
    at = span.offset + name.size();
  }
  return out + text.substr(at);
}

Status ArgoCompiler::compile_step(CompiledStep& c) {
  if (auto st = compile_dependencies(c); !st.ok()) return st;
  if (auto st = compile_for_each(c); !st.ok()) return st;
  if (auto st = compile_when(c); !st.ok()) return st;
  return compile_container(c);
}

// depends / needs, as the task's depends.
Status ArgoCompiler::compile_dependencies(CompiledStep& c) {
  const Step& s = *c.step;
  if (!s.depends.empty()) {
    auto d = map_depends(c, s.depends);
    if (!d) return fail(c, s.depends_pos, d.message());
    c.depends = *d;
  } else {
    for (const auto& n : s.needs) {
      const CompiledStep* p = producer(n);
      if (!p || p->exit_handler != c.exit_handler) return fail(c, s.pos, "needs: there is no step '" + n + "'");
      c.depends += (c.depends.empty() ? "" : " && ") + p->task;
    }
  }
  return Status::Ok();
}

// for_each, as withParam or withItems.
Status ArgoCompiler::compile_for_each(CompiledStep& c) {
  const Step& s = *c.step;
  if (s.for_each) {
    const Value& fe = *s.for_each;
    if (fe.is_string() && export_detail::is_single_ref(fe.get<std::string>())) {
      auto t = export_detail::rewrite(fe.get<std::string>(), [&](const Reference& r) { return render_in_dag(c, r); });
      if (!t) return fail(c, s.for_each_pos, t.message());
      c.with_param = *t;
    } else if (fe.is_array()) {
      c.with_items = Doc::array();
      for (const auto& item : fe) {
        if (item.is_string()) {
          auto t = export_detail::rewrite(item.get<std::string>(), [&](const Reference& r) { return render_in_dag(c, r); });
          if (!t) return fail(c, s.for_each_pos, t.message());
          c.with_items.push_back(*t);
        } else {
          c.with_items.push_back(Doc::parse(item.dump()));
        }
      }
    } else {
      return fail(c, s.for_each_pos, "for_each must be a list or one \"{{ref}}\" to a JSON list");
    }
  }
  return Status::Ok();
}

// when, in govaluate.
Status ArgoCompiler::compile_when(CompiledStep& c) {
  const Step& s = *c.step;
  if (!s.when.empty()) {
    auto e = export_detail::parse_condition(s.when);
    if (!e) return fail(c, s.when_pos, e.message());
    if (!c.loop_template.empty()) {
      bool uses_item = false;
      for (const auto& text : e->refs()) {
        auto r = parse_reference(text);
        uses_item = uses_item || (r && r->kind == Reference::Kind::Item);
      }
      if (uses_item)
        return fail(c, s.when_pos, "a `when` that reads item cannot be combined with for_each parallelism in an Argo export");
    }
    auto w = export_detail::print_condition(*e, export_detail::kGovaluate, wf_,
                                            [&](const Reference& r) { return render_in_dag(c, r); });
    if (!w) return fail(c, s.when_pos, w.message());
    c.when = *w;
  }
  return Status::Ok();
}

// `ctflow step --plugin ...` with the step's `with` values.
Status ArgoCompiler::plugin_command(CompiledStep& c, Doc& command) {
  const Step& s = *c.step;
  command = Doc::array({"ctflow", "step", "--plugin", s.uses, "--out", c.dir});
  Value literal = Value::object();
  std::vector<std::pair<std::string, std::string>> templated;
  for (auto it = s.with.begin(); it != s.with.end(); ++it) {
    auto pos_it = s.with_pos.find(it.key());
    const SourcePos& pos = pos_it == s.with_pos.end() ? s.pos : pos_it->second;
    if (it.value().is_string() && it.value().get<std::string>().find("{{") != std::string::npos) {
      auto t = template_string(c, it.value().get<std::string>());
      if (!t) return fail(c, pos, t.message());
      templated.emplace_back(it.key(), *t);
    } else {
      Value v = it.value();
      Status st;
      auto walk = [&](auto& self, Value& x) -> void {
        if (x.is_string()) {
          auto t = template_string(c, x.get<std::string>());
          if (!t) st = t.status();
          else x = *t;
        } else if (x.is_array() || x.is_object()) {
          for (auto& y : x) self(self, y);
        }
      };
      walk(walk, v);
      if (!st.ok()) return fail(c, pos, st.message());
      literal[it.key()] = v;
    }
  }
  if (!literal.empty()) {
    command.push_back("--params-json");
    command.push_back(escape_k8s_vars(literal.dump()));
  }
  for (const auto& [k, v] : templated) {
    command.push_back("--param");
    command.push_back(escape_k8s_vars(k + "=" + v));
  }
  return Status::Ok();
}

// A run or shell step's command, args and the env of its `with` values.
Status ArgoCompiler::process_command(CompiledStep& c, Doc& command, Doc& args, std::map<std::string, std::string>& env_values) {
  const Step& s = *c.step;
  if (s.kind == StepKind::Run) {
    if (s.run.empty()) return fail(c, s.pos, "run: needs at least the program to start");
    for (const auto& a : s.run) {
      auto t = template_string(c, a);
      if (!t) return fail(c, s.pos, t.message());
      command.push_back(escape_k8s_vars(*t));
    }
  } else {
    auto t = template_string(c, s.shell);
    if (!t) return fail(c, s.pos, t.message());
    command = Doc::array({"sh", "-c"});
    args.push_back(escape_k8s_vars(*t));
  }
  for (auto it = s.with.begin(); it != s.with.end(); ++it) {
    auto pos_it = s.with_pos.find(it.key());
    auto t = template_string(c, export_detail::value_text(it.value()));
    if (!t) return fail(c, pos_it == s.with_pos.end() ? s.pos : pos_it->second, t.message());
    env_values[export_detail::param_env_name(it.key())] = *t;
  }
  return Status::Ok();
}

// The step's container: image, command, env, resources, the volume.
Status ArgoCompiler::compile_container(CompiledStep& c) {
  const Step& s = *c.step;
  std::string image = s.image.empty() ? opt_.image : s.image;
  if (image.empty()) {
    if (s.kind == StepKind::Plugin)
      return fail(c, s.pos, "plugin '" + s.uses + "' needs an image that holds ctflow: set `image:` on the step or pass --image");
    return fail(c, s.pos, "the step needs an image: set `image:` on the step or pass --image");
  }
  auto img = template_string(c, image);
  if (!img) return fail(c, s.pos, img.message());
  Doc command = Doc::array();
  Doc args = Doc::array();
  Doc env = Doc::array();
  std::map<std::string, std::string> env_values;
  Status st = s.kind == StepKind::Plugin ? plugin_command(c, command) : process_command(c, command, args, env_values);
  if (!st.ok()) return st;
  for (const auto& [k, v] : s.env) {
    auto t = template_string(c, v);
    if (!t) return fail(c, s.pos, t.message());
    env_values[k] = *t;
  }
  for (const auto& [k, v] : env_values) env.push_back(Doc{{"name", k}, {"value", escape_k8s_vars(v)}});

  Doc container;
  container["image"] = *img;
  if (!opt_.image_pull_policy.empty()) container["imagePullPolicy"] = opt_.image_pull_policy;
  container["command"] = command;
  if (!args.empty()) container["args"] = args;
  if (!env.empty()) container["env"] = env;
  container["workingDir"] = c.dir;
  const Resources& r = s.resources;
  if (r.cpu > 0 || r.gpu > 0 || r.memory > 0) {
    Doc q = Doc::object();
    if (r.cpu > 0) q["cpu"] = export_detail::cpu_quantity(r.cpu);
    if (r.memory > 0) q["memory"] = export_detail::memory_quantity(r.memory);
    if (r.gpu > 0) q["nvidia.com/gpu"] = std::to_string(r.gpu);
    container["resources"] = Doc{{"requests", q}, {"limits", q}};
  }
  container["volumeMounts"] = Doc::array({volume_mount()});
  c.container = std::move(container);
  return Status::Ok();
}

Doc ArgoCompiler::volume_mount() const {
  Doc m{{"name", volume_name()}, {"mountPath", kOutRoot}};
  if (opt_.artifacts == ArtifactPassing::Pvc && !opt_.existing_claim.empty()) m["subPath"] = "{{workflow.name}}";
  return m;
}

std::string ArgoCompiler::volume_name() const {
  if (opt_.artifacts == ArtifactPassing::Pvc && opt_.existing_claim.empty()) return opt_.pvc_template_name;
  return kVolume;
}

}  // namespace export_detail

Result<std::string> export_argo(const Workflow& wf, const Value& resolved_params, const ArgoExportOptions& options) {
  return export_detail::ArgoCompiler(wf, resolved_params, options).compile();
}

}  // namespace ctflow

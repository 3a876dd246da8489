#include "engine/export/argo.h"

#include <cctype>
#include <cmath>
#include <set>

#include "engine/export/common.h"
#include "engine/export/condition.h"
#include "engine/export/refs.h"
#include "engine/export/yaml_emit.h"

namespace ctflow {
namespace {

using export_detail::Ref;
using Doc = yaml_emit::Doc;

constexpr const char* kOutRoot = "/ctflow/out";
constexpr const char* kInRoot = "/ctflow/in";
constexpr const char* kVolume = "ctflow-data";

bool is_metrics_artifact(const std::string& name) {
  return name == "mlpipeline-metrics" || name == "mlpipeline-ui-metadata";
}

// Kubernetes expands $(VAR) in command, args and env values, and reduces $$ to $.
// Doubling each '$' that precedes '$' or '(' keeps the text exactly as written.
std::string escape_k8s_vars(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if (s[i] == '$' && i + 1 < s.size() && (s[i + 1] == '$' || s[i + 1] == '(')) out += '$';
  }
  return out;
}

std::string join_path(const std::string& dir, const std::string& rel) {
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

  Result<std::string> compile() {
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
    return yaml_emit::to_yaml(document());
  }

 private:
  void add_step(const Step& s, bool exit_handler) {
    CompiledStep c;
    c.step = &s;
    c.exit_handler = exit_handler;
    c.task = names_.allocate(s.name);
    c.dir = std::string(kOutRoot) + "/" + c.task;
    if (s.for_each) c.dir += "/{{pod.name}}";
    index_[s.name] = steps_.size();
    steps_.push_back(std::move(c));
  }

  const CompiledStep* producer(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &steps_[it->second];
  }

  Status fail(const CompiledStep& c, const SourcePos& pos, const std::string& message) const {
    return export_detail::error_at(pos.line > 0 ? pos : c.step->pos, wf_.file,
                                   "step '" + c.step->name + "': " + message);
  }

  // Where a producer step leaves artifact `name`.
  Result<std::string> artifact_path(const CompiledStep& p, const std::string& name) const {
    if (p.step->kind == StepKind::Plugin) return p.dir + "/artifacts/" + name;
    auto it = p.step->output_artifacts.find(name);
    if (it == p.step->output_artifacts.end())
      return Status::Error("step '" + p.step->name + "' declares no artifact '" + name + "'");
    return join_path(p.dir, it->second.path);
  }

  // Finds or adds the binding for `value` and returns its input name.
  static std::string bind(CompiledStep& c, const std::string& wanted, const std::string& value, bool item) {
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
  std::string task_output(const CompiledStep& p, const std::string& output) {
    if (output == "result" && p.step->kind != StepKind::Plugin && !p.step->output_params.count("result"))
      return "{{tasks." + p.task + ".outputs.result}}";
    used_outputs_[p.step->name].insert(output);
    return "{{tasks." + p.task + ".outputs.parameters." + output + "}}";
  }

  Result<const CompiledStep*> upstream(const CompiledStep& c, const Ref& r) const {
    const CompiledStep* p = producer(r.name);
    if (!p) return Status::Error("reference '" + r.text + "': there is no step '" + r.name + "'");
    if (p == &c) return Status::Error("reference '" + r.text + "': a step cannot read its own outputs");
    if (p->exit_handler && !c.exit_handler)
      return Status::Error("reference '" + r.text + "': an on_exit step runs after this one");
    return p;
  }

  // A {{ref}} inside the step's own template (command, args, env, image).
  Result<std::string> render_in_template(CompiledStep& c, const Ref& r) {
    switch (r.kind) {
      case Ref::Kind::Param:
        if (!wf_.find_param(r.name)) return Status::Error("reference '" + r.text + "': there is no param '" + r.name + "'");
        return "{{workflow.parameters." + r.name + "}}";
      case Ref::Kind::Workflow:
        return workflow_ref(c, r);
      case Ref::Kind::Item: {
        if (!c.step->for_each) return Status::Error("reference '" + r.text + "' outside a for_each step");
        const std::string value = r.field.empty() ? "{{item}}" : "{{item." + r.field + "}}";
        return "{{inputs.parameters." + bind(c, r.field.empty() ? "item" : "item-" + r.field, value, true) + "}}";
      }
      case Ref::Kind::StepOutput: {
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
      case Ref::Kind::StepStatus: {
        auto p = upstream(c, r);
        if (!p) return p.status();
        if (c.exit_handler && !(*p)->exit_handler)
          return Status::Error("reference '" + r.text + "': on_exit steps cannot read a step's status in Argo; use workflow.status or workflow.failures");
        return "{{inputs.parameters." + bind(c, (*p)->task + "-status", "{{tasks." + (*p)->task + ".status}}", false) + "}}";
      }
      case Ref::Kind::StepArtifact: {
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

  Result<std::string> workflow_ref(const CompiledStep& c, const Ref& r) const {
    if (r.name == "name") return std::string("{{workflow.name}}");
    if (r.name == "run_id") return std::string("{{workflow.uid}}");
    if (!c.exit_handler) return Status::Error("reference '" + r.text + "' is only available in on_exit steps");
    return r.name == "status" ? std::string("{{workflow.status}}") : std::string("{{workflow.failures}}");
  }

  // A {{ref}} in the step's DAG task (when, withParam): Argo's DAG scope.
  Result<std::string> render_in_dag(const CompiledStep& c, const Ref& r) {
    switch (r.kind) {
      case Ref::Kind::Param:
        if (!wf_.find_param(r.name)) return Status::Error("reference '" + r.text + "': there is no param '" + r.name + "'");
        return "{{workflow.parameters." + r.name + "}}";
      case Ref::Kind::Workflow: return workflow_ref(c, r);
      case Ref::Kind::Item:
        if (!c.step->for_each) return Status::Error("reference '" + r.text + "' outside a for_each step");
        return r.field.empty() ? std::string("{{item}}") : "{{item." + r.field + "}}";
      case Ref::Kind::StepOutput: {
        auto p = upstream(c, r);
        if (!p) return p.status();
        if (c.exit_handler && !(*p)->exit_handler) {
          global_outputs_[r.name].insert(r.field);
          used_outputs_[r.name].insert(r.field);
          return "{{workflow.outputs.parameters." + (*p)->task + "-" + r.field + "}}";
        }
        return task_output(**p, r.field);
      }
      case Ref::Kind::StepStatus: {
        auto p = upstream(c, r);
        if (!p) return p.status();
        if (c.exit_handler && !(*p)->exit_handler)
          return Status::Error("reference '" + r.text + "': on_exit steps cannot read a step's status in Argo");
        return "{{tasks." + (*p)->task + ".status}}";
      }
      case Ref::Kind::StepArtifact:
        return Status::Error("reference '" + r.text + "': an artifact is a path; it cannot be used here");
    }
    return Status::Error("unsupported reference '" + r.text + "'");
  }

  Result<std::string> template_string(CompiledStep& c, const std::string& s) {
    return export_detail::rewrite(s, [&](const Ref& r) { return render_in_template(c, r); });
  }

  // ---- depends ----------------------------------------------------------------

  // Maps the step names in an enhanced-depends expression to task names.
  Result<std::string> map_depends(const CompiledStep& c, const std::string& expr) const {
    std::string out;
    size_t i = 0;
    while (i < expr.size()) {
      const unsigned char ch = static_cast<unsigned char>(expr[i]);
      if (std::isalnum(ch) || ch == '_') {
        size_t j = i;
        while (j < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[j])) || expr[j] == '_' || expr[j] == '-'))
          ++j;
        const std::string name = expr.substr(i, j - i);
        const CompiledStep* p = producer(name);
        if (!p || p->exit_handler != c.exit_handler)
          return Status::Error("depends: there is no step '" + name + "' to depend on");
        out += p->task;
        i = j;
        if (i < expr.size() && expr[i] == '.') {  // .Succeeded, .Failed...: copied as is
          size_t k = i + 1;
          while (k < expr.size() && std::isalpha(static_cast<unsigned char>(expr[k]))) ++k;
          out += expr.substr(i, k - i);
          i = k;
        }
      } else {
        out += expr[i++];
      }
    }
    return out;
  }

  // ---- one step -----------------------------------------------------------------

  Status compile_step(CompiledStep& c) {
    const Step& s = *c.step;
    // depends / needs
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
    // for_each
    if (s.for_each) {
      const Value& fe = *s.for_each;
      if (fe.is_string() && export_detail::is_single_ref(fe.get<std::string>())) {
        auto t = export_detail::rewrite(fe.get<std::string>(), [&](const Ref& r) { return render_in_dag(c, r); });
        if (!t) return fail(c, s.for_each_pos, t.message());
        c.with_param = *t;
      } else if (fe.is_array()) {
        c.with_items = Doc::array();
        for (const auto& item : fe) {
          if (item.is_string()) {
            auto t = export_detail::rewrite(item.get<std::string>(), [&](const Ref& r) { return render_in_dag(c, r); });
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
    // when
    if (!s.when.empty()) {
      auto e = export_detail::parse_expr(s.when);
      if (!e) return fail(c, s.when_pos, e.message());
      if (!c.loop_template.empty()) {
        bool uses_item = false;
        export_detail::for_each_ref(**e, [&](const Ref& r) { uses_item = uses_item || r.kind == Ref::Kind::Item; });
        if (uses_item)
          return fail(c, s.when_pos, "a `when` that reads item cannot be combined with for_each parallelism in an Argo export");
      }
      auto w = export_detail::print_condition(**e, export_detail::kGovaluate, wf_,
                                              [&](const Ref& r) { return render_in_dag(c, r); });
      if (!w) return fail(c, s.when_pos, w.message());
      c.when = *w;
    }
    // the container
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
    if (s.kind == StepKind::Plugin) {
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
    } else {
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
    }
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

  Doc volume_mount() const {
    Doc m{{"name", volume_name()}, {"mountPath", kOutRoot}};
    if (opt_.artifacts == ArtifactPassing::Pvc && !opt_.existing_claim.empty()) m["subPath"] = "{{workflow.name}}";
    return m;
  }

  std::string volume_name() const {
    if (opt_.artifacts == ArtifactPassing::Pvc && opt_.existing_claim.empty()) return opt_.pvc_template_name;
    return kVolume;
  }

  // ---- emission -------------------------------------------------------------------

  const PluginOutputs* plugin_outputs(const Step& s) const {
    if (s.kind != StepKind::Plugin) return nullptr;
    auto it = opt_.plugins.find(s.uses);
    return it == opt_.plugins.end() ? nullptr : &it->second;
  }

  Doc outputs_of(const CompiledStep& c) const {
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
      if (s.kind != StepKind::Plugin && decl != s.output_params.end()) {
        vf["path"] = join_path(c.dir, decl->second.path);
        if (decl->second.default_value) vf["default"] = export_detail::value_text(*decl->second.default_value);
      } else {
        vf["path"] = c.dir + "/outputs/" + n;
      }
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

  Doc retry_strategy(const RetryPolicy& r) const {
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

  Doc pod_metadata(const Step& s) const {
    return Doc{{"labels",
                {{"pipelines.kubeflow.org/pipeline-sdk-type", "ctflow"},
                 {"pipelines.kubeflow.org/enable_caching", s.cache_enabled() ? "true" : "false"}}},
               {"annotations", {{"ctflow.dev/step", s.name}}}};
  }

  Doc step_template(const CompiledStep& c) const {
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
  Doc task_arguments(const CompiledStep& c, bool inner) const {
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

  Doc dag_task(const CompiledStep& c) const {
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
  Doc loop_template(const CompiledStep& c) const {
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

  Doc dag_template(const std::string& name, bool exit_handler) const {
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

  Doc document() const {
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

  static const char* kfp_v1_type(ParamType t) {
    switch (t) {
      case ParamType::Int: return "Integer";
      case ParamType::Float: return "Float";
      case ParamType::Bool: return "Bool";
      case ParamType::Json: return "JsonObject";
      default: return "String";
    }
  }

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

}  // namespace

Result<std::string> export_argo(const Workflow& wf, const Value& resolved_params, const ArgoExportOptions& options) {
  return ArgoCompiler(wf, resolved_params, options).compile();
}

}  // namespace ctflow

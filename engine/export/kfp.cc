#include "engine/export/kfp.h"

#include <cmath>
#include <functional>
#include <set>

#include "engine/export/common.h"
#include "engine/export/condition.h"
#include "engine/export/refs.h"
#include "engine/export/yaml_emit.h"

namespace ctflow {
namespace {

using export_detail::RefRenderer;
using Json = nlohmann::json;  // sorted keys: Kubeflow's compiler writes keys in order too

constexpr const char* kOutRoot = "/ctflow/out";

// Where a value a task reads comes from.
struct Source {
  // Collected: an output of every instance of a for_each step, as one list (KFP's dsl.Collected)
  enum class Kind { Param, TaskOutput, TaskArtifact, Item, Collected };
  Kind kind = Kind::Param;
  std::string a;  // param name, producer task
  std::string b;  // output / artifact key, item key
};

// A DAG: the root, comp-exit-handler-1, or a comp-for-loop-<task>.
struct Scope {
  std::string component;     // empty for the root
  int parent = -1;
  std::string parent_task;   // the task in the parent that runs this DAG
  std::string loop_item;     // for-loop scopes: the item's input name
  Json input_params = Json::object();
  Json input_artifacts = Json::object();
  Json tasks = Json::object();
  Json outputs = Json::object();      // for-loop scopes: dag.outputs.parameters (collected outputs)
  Json output_defs = Json::object();  // and their outputDefinitions
};

const char* kfp_type(const ParamDecl& p, const Value& value) {
  switch (p.type) {
    case ParamType::Int: return "NUMBER_INTEGER";
    case ParamType::Float: return "NUMBER_DOUBLE";
    case ParamType::Bool: return "BOOLEAN";
    case ParamType::Json: return value.is_array() ? "LIST" : "STRUCT";
    default: return "STRING";
  }
}

// Whether a depends expression can hold while an upstream step has not
// succeeded through more than its results: a negation or a comparison
// (`!a.Succeeded`, `a.Succeeded == false`).
bool has_negation(const expr::Node& n) {
  if (n.kind == expr::Kind::Not || n.kind == expr::Kind::Cmp || n.kind == expr::Kind::In) return true;
  for (const auto& k : n.kids)
    if (has_negation(*k)) return true;
  return false;
}

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

class KfpCompiler {
 public:
  KfpCompiler(const Workflow& wf, const Value& params, const KfpExportOptions& opt)
      : wf_(wf), params_(export_detail::param_values(wf, params)), opt_(opt) {}

  Result<std::string> compile() {
    if (wf_.steps.empty()) return export_detail::error_at({}, wf_.file, "the workflow has no steps");
    if (auto st = export_detail::no_calls(wf_, "Kubeflow"); !st.ok()) return st;
    scopes_.push_back(Scope{});
    int main_scope = 0;
    if (!wf_.on_exit.empty()) {
      main_scope = add_scope("comp-exit-handler-1", 0, "exit-handler-1");
      scopes_[0].tasks["exit-handler-1"] = Json{{"componentRef", {{"name", "comp-exit-handler-1"}}},
                                                 {"taskInfo", {{"name", "exit-handler-1"}}}};
    }
    names_.reserve("exit-handler-1");
    for (const auto& s : wf_.steps) tasks_[s.name] = names_.allocate(s.name);
    for (const auto& s : wf_.on_exit) tasks_[s.name] = names_.allocate(s.name);
    for (const auto& s : wf_.steps)
      if (auto st = compile_step(s, main_scope, false); !st.ok()) return st;
    for (const auto& s : wf_.on_exit)
      if (auto st = compile_step(s, 0, true); !st.ok()) return st;
    return header() + yaml_emit::to_yaml(yaml_emit::Doc::parse(document().dump()));
  }

 private:
  int add_scope(const std::string& component, int parent, const std::string& parent_task) {
    Scope s;
    s.component = component;
    s.parent = parent;
    s.parent_task = parent_task;
    scopes_.push_back(std::move(s));
    return static_cast<int>(scopes_.size()) - 1;
  }

  Status fail(const Step& s, const SourcePos& pos, const std::string& message) const {
    return export_detail::error_at(pos.line > 0 ? pos : s.pos, wf_.file, "step '" + s.name + "': " + message);
  }

  std::string source_type(const Source& src) const {
    return src.kind == Source::Kind::Param ? param_type(src.a) : src.kind == Source::Kind::Collected ? "LIST" : "STRING";
  }

  std::string param_type(const std::string& name) const {
    const ParamDecl* p = wf_.find_param(name);
    auto it = params_.find(name);
    return p ? kfp_type(*p, it == params_.end() ? Value() : it->second) : "STRING";
  }

  // The input spec that gives a task in `scope` the value of `src`, passing it down
  // through the enclosing DAGs as pipelinechannel--* inputs where needed.
  Json feed(int scope, const Source& src) {
    Scope& sc = scopes_[static_cast<size_t>(scope)];
    switch (src.kind) {
      case Source::Kind::Param:
        if (scope == 0) return Json{{"componentInputParameter", src.a}};
        return channel(scope, "pipelinechannel--" + src.a, param_type(src.a), src);
      case Source::Kind::TaskOutput:
        if (task_scope_[src.a] == scope)
          return Json{{"taskOutputParameter", {{"producerTask", src.a}, {"outputParameterKey", src.b}}}};
        return channel(scope, "pipelinechannel--" + src.a + "-" + src.b, "STRING", src);
      case Source::Kind::TaskArtifact: {
        if (task_scope_[src.a] == scope)
          return Json{{"taskOutputArtifact", {{"producerTask", src.a}, {"outputArtifactKey", src.b}}}};
        const std::string name = "pipelinechannel--" + src.a + "-" + src.b;
        sc.input_artifacts[name] = Json{{"artifactType", {{"schemaTitle", "system.Artifact"}, {"schemaVersion", "0.0.1"}}}};
        Json up = feed(sc.parent, src);
        scopes_[static_cast<size_t>(sc.parent)].tasks[scopes_[static_cast<size_t>(scope)].parent_task]["inputs"]["artifacts"][name] = up;
        return Json{{"componentInputArtifact", name}};
      }
      case Source::Kind::Collected: {
        // The loop's DAG gathers the output of each iteration into a list.
        const std::string loop_task = "for-loop-" + src.a, key = "pipelinechannel--" + src.a + "-" + src.b;
        Scope& loop = scopes_[static_cast<size_t>(task_scope_[src.a])];
        loop.outputs[key] = Json{{"valueFromParameter", {{"producerSubtask", src.a}, {"outputParameterKey", src.b}}}};
        loop.output_defs[key] = Json{{"parameterType", "LIST"}};
        if (task_scope_[loop_task] == scope)
          return Json{{"taskOutputParameter", {{"producerTask", loop_task}, {"outputParameterKey", key}}}};
        return channel(scope, key, "LIST", src);
      }
      case Source::Kind::Item: {
        Json j{{"componentInputParameter", sc.loop_item}};
        if (!src.b.empty()) j["parameterExpressionSelector"] = "parseJson(string_value)[\"" + src.b + "\"]";
        return j;
      }
    }
    return Json();
  }

  Json channel(int scope, const std::string& name, const std::string& type, const Source& src) {
    const int parent = scopes_[static_cast<size_t>(scope)].parent;
    const std::string parent_task = scopes_[static_cast<size_t>(scope)].parent_task;
    scopes_[static_cast<size_t>(scope)].input_params[name] = Json{{"parameterType", type}};
    Json up = feed(parent, src);
    scopes_[static_cast<size_t>(parent)].tasks[parent_task]["inputs"]["parameters"][name] = up;
    return Json{{"componentInputParameter", name}};
  }

  // The Source a ref reads; errors for what KFP v2 cannot express.
  Result<Source> source_of(const Step& s, bool exit_handler, const Reference& r) const {
    auto producer = [&]() -> Result<const Step*> {
      const Step* p = wf_.find_step(r.name);
      if (!p) return Status::Error("reference '" + r.text + "': there is no step '" + r.name + "'");
      if (exit_handler) return Status::Error("reference '" + r.text + "': on_exit steps cannot read other steps' outputs in a Kubeflow v2 export");
      return p;
    };
    switch (r.kind) {
      case Reference::Kind::Param:
        if (!wf_.find_param(r.name)) return Status::Error("reference '" + r.text + "': there is no param '" + r.name + "'");
        return Source{Source::Kind::Param, r.name, ""};
      case Reference::Kind::StepOutput: {
        if (!r.path.empty()) return Status::Error("reference '" + r.text + "': a key of an object output is not exported");
        auto p = producer();
        if (!p) return p.status();
        if ((*p)->for_each) {
          if (*p == &s) return Status::Error("reference '" + r.text + "': a step cannot read its own outputs");
          return Source{Source::Kind::Collected, tasks_.at(r.name), r.field};
        }
        return Source{Source::Kind::TaskOutput, tasks_.at(r.name), r.field};
      }
      case Reference::Kind::StepArtifact: {
        auto p = producer();
        if (!p) return p.status();
        if ((*p)->for_each)
          return Status::Error("reference '" + r.text + "': artifacts of a for_each step cannot be read in a Kubeflow v2 export");
        return Source{Source::Kind::TaskArtifact, tasks_.at(r.name), r.field};
      }
      case Reference::Kind::Item:
        if (!s.for_each) return Status::Error("reference '" + r.text + "' outside a for_each step");
        return Source{Source::Kind::Item, "", r.field};
      default:
        return Status::Error("reference '" + r.text + "' has no equivalent in a Kubeflow v2 export");
    }
  }

  // A templated string of the step being compiled, with its {{refs}} as task inputs.
  using Template = std::function<Result<std::string>(const std::string&)>;

  struct StepInputs {
    Json params = Json::object();     // component input name -> source spec
    Json artifacts = Json::object();
    Json defs = Json::object();       // component inputDefinitions
    std::map<std::string, std::string> by_ref;  // ref text -> input name
  };

  // Records that producer step `task` must declare `key` as an output.
  void need_output(const std::string& task, const std::string& key, bool artifact) {
    (artifact ? out_artifacts_ : out_params_)[task].insert(key);
  }

  Result<std::string> render(const Step& s, bool exit_handler, int scope, StepInputs& in, const Reference& r) {
    if (r.kind == Reference::Kind::Workflow) {
      if (r.name == "name" || r.name == "run_id") return std::string("{{$.pipeline_job_name}}");
      return Status::Error("reference '" + r.text + "' has no equivalent in a Kubeflow v2 export");
    }
    auto src = source_of(s, exit_handler, r);
    if (!src) return src.status();
    if (auto it = in.by_ref.find(r.text); it != in.by_ref.end()) {
      if (src->kind == Source::Kind::TaskArtifact) return "{{$.inputs.artifacts['" + it->second + "'].path}}";
      return "{{$.inputs.parameters['" + it->second + "']}}";
    }
    std::string base = src->kind == Source::Kind::Param ? src->a
                       : src->kind == Source::Kind::Item ? (src->b.empty() ? "item" : "item-" + src->b)
                                                         : src->a + "-" + src->b;
    std::string name = base;
    for (int n = 2; in.defs["parameters"].contains(name) || in.defs["artifacts"].contains(name); ++n)
      name = base + "-" + std::to_string(n);
    in.by_ref[r.text] = name;
    if (src->kind == Source::Kind::TaskArtifact) {
      need_output(src->a, src->b, true);
      in.artifacts[name] = feed(scope, *src);
      in.defs["artifacts"][name] = Json{{"artifactType", {{"schemaTitle", "system.Artifact"}, {"schemaVersion", "0.0.1"}}}};
      return "{{$.inputs.artifacts['" + name + "'].path}}";
    }
    if (src->kind == Source::Kind::TaskOutput || src->kind == Source::Kind::Collected) need_output(src->a, src->b, false);
    in.params[name] = feed(scope, *src);
    in.defs["parameters"][name] = Json{{"parameterType", source_type(*src)}};
    return "{{$.inputs.parameters['" + name + "']}}";
  }

  // ---- when -> CEL ---------------------------------------------------------------

  // A ref in a condition: a task input `inputs.parameter_values['pipelinechannel--...']`.
  Result<std::string> condition_input(const Step& s, int scope, Json& task_inputs, Json& defs, const Reference& r) {
    auto src = source_of(s, false, r);
    if (!src) return src.status();
    if (src->kind == Source::Kind::TaskArtifact) return Status::Error("an artifact cannot be compared");
    std::string name = "pipelinechannel--" + (src->kind == Source::Kind::Param ? src->a
                                              : src->kind == Source::Kind::Item ? std::string("loop-item")
                                                                                : src->a + "-" + src->b);
    if (src->kind == Source::Kind::Item && !src->b.empty()) name += "-" + src->b;
    if (src->kind == Source::Kind::TaskOutput || src->kind == Source::Kind::Collected) need_output(src->a, src->b, false);
    task_inputs["parameters"][name] = feed(scope, *src);
    defs["parameters"][name] = Json{{"parameterType", source_type(*src)}};
    return "inputs.parameter_values['" + name + "']";
  }

  // ---- one step -------------------------------------------------------------------

  Status compile_step(const Step& s, int outer_scope, bool exit_handler) {
    const std::string task = tasks_.at(s.name);
    int scope = outer_scope;
    std::string outer_task = task;  // the task in outer_scope that carries dependencies
    if (s.for_each) {
      auto loop_scope = compile_loop(s, outer_scope, exit_handler, task, outer_task);
      if (!loop_scope) return loop_scope.status();
      scope = *loop_scope;
    }
    task_scope_[task] = scope;

    Json& outer = scopes_[static_cast<size_t>(outer_scope)].tasks[outer_task];
    if (auto st = compile_dependencies(s, outer); !st.ok()) return st;

    Json& t = scopes_[static_cast<size_t>(scope)].tasks[task];
    t["componentRef"] = Json{{"name", "comp-" + task}};
    t["taskInfo"] = Json{{"name", task}};
    t["cachingOptions"] = s.cache_enabled() ? Json{{"enableCache", true}} : Json::object();
    if (s.retry.limit > 0) {
      Json rp{{"maxRetryCount", s.retry.limit},
              {"backoffDuration", export_detail::proto_duration(s.retry.backoff_s)},
              {"backoffFactor", s.retry.factor}};
      if (s.retry.max_backoff_s > 0) rp["backoffMaxDuration"] = export_detail::proto_duration(s.retry.max_backoff_s);
      t["retryPolicy"] = rp;
    }

    StepInputs in;
    in.defs = Json{{"parameters", Json::object()}, {"artifacts", Json::object()}};
    const Template tmpl = [&](const std::string& text) {
      return export_detail::rewrite(text, [&](const Reference& r) { return render(s, exit_handler, scope, in, r); });
    };
    if (exit_handler) {
      outer["dependentTasks"].push_back("exit-handler-1");
      outer["triggerPolicy"]["strategy"] = "ALL_UPSTREAM_TASKS_COMPLETED";
    }

    if (auto st = compile_executor(s, task, tmpl); !st.ok()) return st;

    if (auto st = compile_condition(s, scope, t, in); !st.ok()) return st;
    if (!in.params.empty()) t["inputs"]["parameters"] = in.params;
    if (!in.artifacts.empty()) t["inputs"]["artifacts"] = in.artifacts;
    Json comp{{"executorLabel", "exec-" + task}};
    if (!in.defs["parameters"].empty()) comp["inputDefinitions"]["parameters"] = in.defs["parameters"];
    if (!in.defs["artifacts"].empty()) comp["inputDefinitions"]["artifacts"] = in.defs["artifacts"];
    components_["comp-" + task] = comp;
    step_of_task_[task] = &s;
    return Status::Ok();
  }

  // A for_each step runs in a for-loop DAG of its own: returns that scope, and
  // sets outer_task to the task that runs it in outer_scope.
  Result<int> compile_loop(const Step& s, int outer_scope, bool exit_handler, const std::string& task,
                           std::string& outer_task) {
    outer_task = "for-loop-" + task;
    const int scope = add_scope("comp-" + outer_task, outer_scope, outer_task);
    scopes_[static_cast<size_t>(scope)].loop_item = "pipelinechannel--" + task + "-loop-item";
    Json loop{{"componentRef", {{"name", "comp-" + outer_task}}}, {"taskInfo", {{"name", outer_task}}}};
    scopes_[static_cast<size_t>(scope)].input_params[scopes_[static_cast<size_t>(scope)].loop_item] =
        Json{{"parameterType", "STRING"}};
    const Value& fe = *s.for_each;
    Json iterator{{"itemInput", scopes_[static_cast<size_t>(scope)].loop_item}};
    if (fe.is_array()) {
      iterator["items"] = Json{{"raw", fe.dump()}};
    } else if (fe.is_string() && export_detail::is_single_ref(fe.get<std::string>())) {
      auto refs = export_detail::refs_in(fe.get<std::string>());
      if (!refs) return fail(s, s.for_each_pos, refs.message());
      auto src = source_of(s, exit_handler, refs->front());
      if (!src) return fail(s, s.for_each_pos, src.message());
      if (src->kind == Source::Kind::TaskOutput) need_output(src->a, src->b, false);
      const std::string name = "pipelinechannel--" + task + "-loop-items";
      scopes_[static_cast<size_t>(scope)].input_params[name] = Json{{"parameterType", "LIST"}};
      scopes_[static_cast<size_t>(outer_scope)].tasks[outer_task] = loop;
      loop["inputs"]["parameters"][name] = feed(outer_scope, *src);
      iterator["items"] = Json{{"inputParameter", name}};
    } else {
      return fail(s, s.for_each_pos, "for_each must be a list or one \"{{ref}}\" to a JSON list");
    }
    loop["parameterIterator"] = iterator;
    if (s.parallelism > 0) loop["iteratorPolicy"] = Json{{"parallelismLimit", s.parallelism}};
    scopes_[static_cast<size_t>(outer_scope)].tasks[outer_task] = loop;
    task_scope_[outer_task] = outer_scope;
    return scope;
  }

  // needs and depends, as the dependentTasks (and trigger policy) of `outer`.
  Status compile_dependencies(const Step& s, Json& outer) {
    std::set<std::string> deps;  // step names
    bool all_completed = false;
    if (!s.depends.empty()) {
      auto parsed = expr::Expr::parse(s.depends);
      if (auto* err = std::get_if<expr::ParseError>(&parsed))
        return fail(s, s.depends_pos, "depends: " + err->message + " at offset " + std::to_string(err->offset));
      const expr::Expr& e = std::get<expr::Expr>(parsed);
      for (const auto& ref : e.refs()) {
        const DependsTerm term = parse_depends_term(ref);
        if (!tasks_.count(term.step)) return fail(s, s.depends_pos, "depends: there is no step '" + term.step + "'");
        deps.insert(term.step);
        for (const char* r : {"Failed", "Errored", "Omitted", "AllFailed"}) all_completed = all_completed || term.result == r;
      }
      all_completed = all_completed || has_negation(e.root());
    }
    for (const auto& n : s.needs) {
      if (!tasks_.count(n)) return fail(s, s.pos, "needs: there is no step '" + n + "'");
      deps.insert(n);
    }
    for (const auto& d : deps) {
      const Step* p = wf_.find_step(d);
      const std::string dt = tasks_.at(d);
      outer["dependentTasks"].push_back(p && p->for_each ? "for-loop-" + dt : dt);
    }
    if (all_completed) outer["triggerPolicy"]["strategy"] = "ALL_UPSTREAM_TASKS_COMPLETED";
    return Status::Ok();
  }

  // The executor: image, command, env, resources.
  Status compile_executor(const Step& s, const std::string& task, const Template& tmpl) {
    std::string image = s.image.empty() ? opt_.image : s.image;
    if (image.empty()) {
      if (s.kind == StepKind::Plugin)
        return fail(s, s.pos, "plugin '" + s.uses + "' needs an image that holds ctflow: set `image:` on the step or pass --image");
      return fail(s, s.pos, "the step needs an image: set `image:` on the step or pass --image");
    }
    auto img = tmpl(image);
    if (!img) return fail(s, s.pos, img.message());
    const std::string dir = std::string(kOutRoot) + "/" + task;
    Json command = Json::array();
    Json env = Json::array();
    if (s.kind == StepKind::Plugin) {
      command = Json::array({"ctflow", "step", "--plugin", s.uses, "--out", dir});
      Value literal = Value::object();
      std::vector<std::string> templated;
      for (auto it = s.with.begin(); it != s.with.end(); ++it) {
        auto pos_it = s.with_pos.find(it.key());
        const SourcePos& pos = pos_it == s.with_pos.end() ? s.pos : pos_it->second;
        if (it.value().is_string() && it.value().get<std::string>().find("{{") != std::string::npos) {
          auto v = tmpl(it.value().get<std::string>());
          if (!v) return fail(s, pos, v.message());
          templated.push_back(it.key() + "=" + *v);
        } else {
          literal[it.key()] = it.value();
          std::string bad;
          export_detail::for_each_string(it.value(), [&](const std::string& x) {
            if (x.find("{{") != std::string::npos) bad = x;
          });
          if (!bad.empty()) return fail(s, pos, "a {{ref}} nested inside a `with` value is not supported in a Kubeflow v2 export");
        }
      }
      if (!literal.empty()) { command.push_back("--params-json"); command.push_back(literal.dump()); }
      for (const auto& p : templated) { command.push_back("--param"); command.push_back(p); }
    } else {
      std::vector<std::string> argv;
      if (s.kind == StepKind::Run) {
        if (s.run.empty()) return fail(s, s.pos, "run: needs at least the program to start");
        for (const auto& a : s.run) {
          auto v = tmpl(a);
          if (!v) return fail(s, s.pos, v.message());
          argv.push_back(*v);
        }
      } else {
        auto v = tmpl(s.shell);
        if (!v) return fail(s, s.pos, v.message());
        argv = {"sh", "-c", *v};
      }
      std::vector<std::pair<std::string, std::string>> env_values;
      for (auto it = s.with.begin(); it != s.with.end(); ++it) {
        auto v = tmpl(export_detail::value_text(it.value()));
        if (!v) return fail(s, s.pos, v.message());
        env_values.emplace_back(export_detail::param_env_name(it.key()), *v);
      }
      for (const auto& [k, v] : s.env) env_values.emplace_back(k, v);
      for (const auto& [k, v] : env_values)
        if (v.find("{{$") == std::string::npos) env.push_back(Json{{"name", k}, {"value", v}});
      pending_[task] = Pending{&s, argv, env_values, dir};
    }
    Json container{{"image", *img}, {"command", command}};
    if (!env.empty()) container["env"] = env;
    const Resources& r = s.resources;
    if (r.cpu > 0 || r.gpu > 0 || r.memory > 0) {
      Json res = Json::object();
      if (r.cpu > 0) { res["cpuLimit"] = r.cpu; res["resourceCpuLimit"] = export_detail::cpu_quantity(r.cpu); }
      if (r.memory > 0) {
        res["memoryLimit"] = static_cast<double>(r.memory) / 1e9;
        res["resourceMemoryLimit"] = export_detail::memory_quantity(r.memory);
      }
      if (r.gpu > 0)
        res["accelerator"] = Json{{"count", std::to_string(r.gpu)}, {"type", "nvidia.com/gpu"},
                                  {"resourceCount", std::to_string(r.gpu)}, {"resourceType", "nvidia.com/gpu"}};
      container["resources"] = res;
    }
    executors_["exec-" + task] = Json{{"container", container}};
    return Status::Ok();
  }

  // when, as the task's CEL trigger condition.
  Status compile_condition(const Step& s, int scope, Json& t, StepInputs& in) {
    if (!s.when.empty()) {
      auto e = export_detail::parse_condition(s.when);
      if (!e) return fail(s, s.when_pos, e.message());
      Json task_inputs = Json::object();
      auto c = export_detail::print_condition(*e, export_detail::kCel, wf_, [&](const Reference& ref) {
        return condition_input(s, scope, task_inputs, in.defs, ref);
      });
      if (!c) return fail(s, s.when_pos, c.message());
      for (auto it = task_inputs["parameters"].begin(); it != task_inputs["parameters"].end(); ++it)
        in.params[it.key()] = it.value();
      t["triggerPolicy"]["condition"] = *c;
    }
    return Status::Ok();
  }

  // Output definitions and the publishing of outputs, once every consumer is known.
  void finish_outputs() {
    for (auto& [task, s] : step_of_task_) {
      std::set<std::string> params = out_params_[task];
      std::set<std::string> arts = out_artifacts_[task];
      if (s->kind == StepKind::Plugin) {
        if (auto it = opt_.plugins.find(s->uses); it != opt_.plugins.end()) {
          params.insert(it->second.parameters.begin(), it->second.parameters.end());
          arts.insert(it->second.artifacts.begin(), it->second.artifacts.end());
        }
      } else {
        for (const auto& [n, d] : s->output_params) params.insert(n);
        for (const auto& [n, d] : s->output_artifacts) arts.insert(n);
      }
      Json& comp = components_["comp-" + task];
      for (const auto& p : params) comp["outputDefinitions"]["parameters"][p] = Json{{"parameterType", "STRING"}};
      for (const auto& a : arts) {
        const bool metrics = a == "mlpipeline-metrics";
        comp["outputDefinitions"]["artifacts"][a] =
            Json{{"artifactType", {{"schemaTitle", metrics ? "system.Metrics" : "system.Artifact"}, {"schemaVersion", "0.0.1"}}}};
      }
      Json& container = executors_["exec-" + task]["container"];
      if (s->kind == StepKind::Plugin) {
        for (const auto& p : params) {
          container["command"].push_back("--publish-param");
          container["command"].push_back(p + "={{$.outputs.parameters['" + p + "'].output_file}}");
        }
        for (const auto& a : arts) {
          container["command"].push_back("--publish-artifact");
          container["command"].push_back(a + "={{$.outputs.artifacts['" + a + "'].path}}");
        }
        continue;
      }
      const Pending& pd = pending_.at(task);
      std::vector<std::pair<std::string, std::string>> copies;  // from (relative) -> placeholder
      for (const auto& p : params) {
        auto it = s->output_params.find(p);
        copies.emplace_back(it == s->output_params.end() ? (p == "result" ? ".ctflow-stdout" : p) : it->second.path,
                            "{{$.outputs.parameters['" + p + "'].output_file}}");
      }
      for (const auto& a : arts) {
        auto it = s->output_artifacts.find(a);
        copies.emplace_back(it == s->output_artifacts.end() ? a : it->second.path,
                            "{{$.outputs.artifacts['" + a + "'].path}}");
      }
      std::vector<std::pair<std::string, std::string>> templated_env;
      for (const auto& [k, v] : pd.env)
        if (v.find("{{$") != std::string::npos) templated_env.emplace_back(k, v);
      if (copies.empty() && templated_env.empty()) {
        container["command"] = pd.argv;
        continue;
      }
      // sh -ec SCRIPT ctflow-step VALUE... ARGV...: placeholders travel as arguments,
      // so no value is ever pasted into shell text.
      std::string script = "mkdir -p " + sh_quote(pd.dir) + " && cd " + sh_quote(pd.dir) + "\n";
      Json args = Json::array();
      int n = 0;
      for (const auto& [k, v] : templated_env) {
        script += "export " + k + "=\"$1\"; shift\n";
        args.push_back(v);
        ++n;
      }
      for (size_t i = 0; i < copies.size(); ++i) {
        script += "out" + std::to_string(i) + "=\"$1\"; shift\n";
        args.push_back(copies[i].second);
      }
      const bool capture = params.count("result") && !s->output_params.count("result");
      script += capture ? "\"$@\" > .ctflow-stdout\ncat .ctflow-stdout\n" : "\"$@\"\n";
      for (size_t i = 0; i < copies.size(); ++i) {
        const std::string var = "\"$out" + std::to_string(i) + "\"";
        script += "mkdir -p \"$(dirname " + var + ")\" && cp -r " + sh_quote(copies[i].first) + " " + var + "\n";
      }
      Json command = Json::array({"sh", "-ec", script, "ctflow-step"});
      for (const auto& a : args) command.push_back(a);
      for (const auto& a : pd.argv) command.push_back(a);
      container["command"] = command;
    }
  }

  std::string header() const {
    std::string h = "# PIPELINE DEFINITION\n# Name: " + wf_.name + "\n";
    if (!wf_.description.empty()) {
      std::string d = wf_.description;
      for (auto& c : d) if (c == '\n') c = ' ';
      h += "# Description: " + d + "\n";
    }
    if (!wf_.params.empty()) {
      h += "# Inputs:\n";
      for (const auto& p : wf_.params) {
        h += "#    " + p.name + ": " + to_string(p.type);
        if (auto it = params_.find(p.name); it != params_.end()) {
          std::string v = it->second.dump();
          for (auto& c : v) if (c == '\n') c = ' ';
          h += " [Default: " + v + "]";
        }
        h += "\n";
      }
    }
    return h;
  }

  Json document() {
    finish_outputs();
    for (size_t i = 1; i < scopes_.size(); ++i) {
      Json comp{{"dag", {{"tasks", scopes_[i].tasks}}}};
      if (!scopes_[i].input_params.empty()) comp["inputDefinitions"]["parameters"] = scopes_[i].input_params;
      if (!scopes_[i].input_artifacts.empty()) comp["inputDefinitions"]["artifacts"] = scopes_[i].input_artifacts;
      if (!scopes_[i].outputs.empty()) {
        comp["dag"]["outputs"]["parameters"] = scopes_[i].outputs;
        comp["outputDefinitions"]["parameters"] = scopes_[i].output_defs;
      }
      components_[scopes_[i].component] = comp;
    }
    Json d;
    d["components"] = components_;
    d["deploymentSpec"] = Json{{"executors", executors_}};
    Json info{{"name", wf_.name}};
    if (!wf_.description.empty()) info["description"] = wf_.description;
    d["pipelineInfo"] = info;
    d["root"]["dag"]["tasks"] = scopes_[0].tasks;
    for (const auto& p : wf_.params) {
      auto it = params_.find(p.name);
      Json def{{"parameterType", kfp_type(p, it == params_.end() ? Value() : it->second)}};
      if (it != params_.end()) {
        def["defaultValue"] = it->second;
        def["isOptional"] = true;
      }
      if (!p.description.empty()) def["description"] = p.description;
      d["root"]["inputDefinitions"]["parameters"][p.name] = def;
    }
    d["schemaVersion"] = "2.1.0";
    d["sdkVersion"] = opt_.sdk_version;
    return d;
  }

  struct Pending {
    const Step* step = nullptr;
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    std::string dir;
  };

  const Workflow& wf_;
  std::map<std::string, Value> params_;
  const KfpExportOptions& opt_;
  export_detail::NameAllocator names_;
  std::vector<Scope> scopes_;
  std::map<std::string, std::string> tasks_;     // step name -> task name
  std::map<std::string, int> task_scope_;        // task name -> scope
  std::map<std::string, const Step*> step_of_task_;
  std::map<std::string, std::set<std::string>> out_params_, out_artifacts_;
  std::map<std::string, Pending> pending_;
  Json components_ = Json::object();
  Json executors_ = Json::object();
};

}  // namespace

Result<std::string> export_kfp(const Workflow& wf, const Value& resolved_params, const KfpExportOptions& options) {
  return KfpCompiler(wf, resolved_params, options).compile();
}

}  // namespace ctflow

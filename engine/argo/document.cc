// The Argo Workflow document: kind, metadata, spec.arguments, the entrypoint
// call and spec.onExit; and the frontend's interface (engine/frontend_argo.h).
#include "engine/argo/translator.h"

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "engine/triggers/cron.h"

namespace ctflow::argo_detail {

std::optional<Workflow> Translator::run(const YAML::Node& root) {
  wf_.file = file_;
  wf_.api_version = "argoproj.io/v1alpha1";
  std::string kind = scalar(root["kind"]);
  if (kind != "CronWorkflow" && kind != "Workflow" && kind != "WorkflowTemplate" && kind != "ClusterWorkflowTemplate") {
    error(root["kind"] ? root["kind"] : root, "unsupported kind '" + kind + "': ctflow runs an Argo 'Workflow'");
    return wf_;
  }
  YAML::Node md = path(root, {"metadata"});
  std::string name = scalar(md["name"]);
  if (name.empty()) name = scalar(md["generateName"]);
  while (!name.empty() && name.back() == '-') name.pop_back();
  wf_.name = name.empty() ? "argo" : name;
  wf_.description = scalar(path(md, {"annotations", "workflows.argoproj.io/description"}));
  scheduled_time_ = now_rfc3339();
  YAML::Node spec = path(root, {"spec"});
  // A CronWorkflow runs its workflowSpec once (`ctflow run` starts no schedule);
  // its schedule is kept in the description's place for `ctflow get`.
  if (kind == "CronWorkflow") {
    YAML::Node ws = cron_spec(spec);
    if (!ws) return wf_;
    spec.reset(ws);
  }
  if (!spec || !spec.IsMap()) {
    if (root["steps"])
      error(root["apiVersion"], "an Argo Workflow needs a 'spec' with 'entrypoint' and 'templates'; this file has "
                                "ctflow/v1 'steps': write 'apiVersion: ctflow/v1'");
    else
      error(root, "an Argo Workflow needs a 'spec' with 'entrypoint' and 'templates'");
    return wf_;
  }
  check_keys(spec, kSpecHandled, kSpecIgnored, "spec.");
  defaults_ = spec["templateDefaults"];
  if (YAML::Node v = spec["volumeClaimTemplates"])
    for (const auto& pvc : v) volumes_.insert(scalar(path(pvc, {"metadata", "name"})));
  if (YAML::Node p = spec["parallelism"]) {
    Value v = val(p);
    if (v.is_number_integer() && v.get<int64_t>() > 0) wf_.parallelism = static_cast<int>(v.get<int64_t>());
    else error(p, "spec.parallelism must be a positive integer");
  }
  if (!cron_schedule_.empty())
    wf_.description = wf_.description.empty() ? cron_schedule_ : wf_.description + "\n" + cron_schedule_;
  read_parameters(path(spec, {"arguments"}));
  if (!read_templates(spec)) return wf_;
  if (!run_entrypoint(spec)) return wf_;
  run_on_exit(spec);
  check_fixed_params();
  return wf_;
}

YAML::Node Translator::cron_spec(const YAML::Node& cron) {
  YAML::Node ws = path(cron, {"workflowSpec"});
  if (!ws || !ws.IsMap()) {
    error(cron ? cron : YAML::Node(), "a CronWorkflow needs 'spec.workflowSpec', the Workflow spec it runs");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  static const std::vector<std::string> kCron = {"schedule", "schedules", "timezone", "startingDeadlineSeconds",
                                                 "concurrencyPolicy", "successfulJobsHistoryLimit",
                                                 "failedJobsHistoryLimit", "suspend", "stopStrategy", "when"};
  check_keys(cron, {"workflowSpec", "workflowMetadata"}, kCron, "CronWorkflow spec.");
  std::vector<std::string> when;
  if (YAML::Node one = cron["schedule"]) when.push_back(scalar(one));
  for (const auto& s : cron["schedules"]) when.push_back(scalar(s));
  std::string tz = scalar(cron["timezone"]);
  std::string sched;
  for (const auto& w : when) sched += (sched.empty() ? "" : ", ") + w;
  if (!sched.empty()) cron_schedule_ = "CronWorkflow schedule: " + sched + (tz.empty() ? "" : " (" + tz + ")");
  cron_trigger(cron);
  return ws;
}

// The CronWorkflow's schedule as a schedule trigger named "cron", which
// `ctflow daemon` runs (`ctflow run` runs the workflowSpec once): schedule(s),
// timezone, concurrencyPolicy, startingDeadlineSeconds; `suspend: true` leaves
// it out. Argo runs the latest slot missed within startingDeadlineSeconds, as
// catchup: latest does.
void Translator::cron_trigger(const YAML::Node& cron) {
  if (YAML::Node s = cron["suspend"]; s && scalar(s) == "true") return;
  YAML::Node at = cron["schedule"] ? cron["schedule"] : cron["schedules"];
  if (!at) {
    error(cron, "a CronWorkflow needs 'spec.schedule' (a cron expression like \"0 3 * * *\") or 'spec.schedules'");
    return;
  }
  Trigger t;
  t.name = "cron";
  t.pos = pos(at);
  t.kind = TriggerKind::Schedule;
  t.kind_pos = t.pos;
  t.max_active = 1;
  std::shared_ptr<const triggers::TimeZone> zone = triggers::TimeZone::utc();
  if (YAML::Node tz = cron["timezone"]; tz && !scalar(tz).empty()) {
    t.timezone = scalar(tz);
    t.timezone_pos = pos(tz);
    auto z = triggers::TimeZone::load(t.timezone);
    if (z) zone = *z;
    else error(tz, "spec.timezone: " + z.message());
  }
  std::vector<YAML::Node> items;
  if (YAML::Node one = cron["schedule"]) items.push_back(one);
  for (const auto& x : cron["schedules"]) items.push_back(x);
  for (const auto& x : items) {
    const std::string text = scalar(x);
    if (std::string problem = triggers::schedule_problem(text, zone); !problem.empty()) error(x, problem);
    else t.schedules.push_back(text);
  }
  if (YAML::Node c = cron["concurrencyPolicy"]) {
    const std::string v = scalar(c);
    if (v == "Allow") t.concurrency = Concurrency::Allow;
    else if (v == "Forbid") t.concurrency = Concurrency::Forbid;
    else if (v == "Replace") t.concurrency = Concurrency::Replace;
    else error(c, "spec.concurrencyPolicy must be Allow, Forbid or Replace; got '" + v + "'");
    if (t.concurrency == Concurrency::Allow) t.max_active = 3;
  } else {
    t.max_active = 3;  // Argo's default policy is Allow
  }
  if (YAML::Node sd = cron["startingDeadlineSeconds"]) {
    Value v = val(sd);
    if (v.is_number() && v.get<double>() >= 0) t.starting_deadline_s = v.get<double>();  // 0: none, as in Argo
    else error(sd, "spec.startingDeadlineSeconds must be a number of seconds (0 or more)");
  }
  if (!t.schedules.empty()) wf_.triggers.push_back(std::move(t));
}

// spec.arguments.parameters as the workflow's params, and the value each has
// when the file is read.
void Translator::read_parameters(const YAML::Node& args) {
  if (YAML::Node ps = args["parameters"]) {
    for (const auto& p : ps) {
      ParamDecl d;
      d.name = scalar(p["name"]);
      d.pos = pos(p["name"] ? p["name"] : p);
      d.type = ParamType::String;
      if (p["valueFrom"]) unsupported(p["valueFrom"], "parameters from valueFrom (configMap)");
      if (YAML::Node v = p["value"] ? p["value"] : p["default"]) {
        // Argo's parameters are text; a number stays a number here, so that
        // `when` compares it as Argo's govaluate does after substitution.
        std::string txt = text_of(val(v));
        Value typed = yaml_to_value(YAML::Node(txt));
        if (typed.is_number_integer()) d.type = ParamType::Int;
        else if (typed.is_number_float()) d.type = ParamType::Float;
        d.default_value = d.type == ParamType::String ? Value(txt) : typed;
      }
      d.description = scalar(p["description"]);
      if (d.name.empty()) error(p, "a workflow parameter needs a 'name'");
      else wf_.params.push_back(d);
    }
  }
  // Each parameter's value as the run will render {{params.NAME}}: the -p value
  // where the caller gave it (as bind_params types it), else its default.
  for (const auto& d : wf_.params) {
    auto given = opt_.params.find(d.name);
    if (given != opt_.params.end()) {
      const std::string& v = given->second;
      std::string t = v;
      if (d.type == ParamType::Int && std::regex_match(v, std::regex("[-+]?[0-9]{1,18}"))) t = std::to_string(std::stoll(v));
      else if (d.type == ParamType::Float && is_number(v)) t = Value(std::stod(v)).dump();
      load_values_[d.name] = t;
    } else if (d.default_value) {
      load_values_[d.name] = text_of(*d.default_value);
    }
  }
}

bool Translator::read_templates(const YAML::Node& spec) {
  YAML::Node ts = path(spec, {"templates"});
  if (!ts || !ts.IsSequence()) {
    error(spec, "spec.templates must be a list of templates");
    return false;
  }
  for (const auto& t : ts) {
    std::string n = scalar(t["name"]);
    if (n.empty()) {
      error(t, "a template needs a 'name'");
      continue;
    }
    if (templates_.count(n)) error(t["name"], "duplicate template name '" + n + "'");
    templates_[n] = YAML::Node(t);
    template_names_.push_back(n);
  }
  return true;
}

// The entrypoint's inputs come from spec.arguments: a call with those arguments.
bool Translator::run_entrypoint(const YAML::Node& spec) {
  YAML::Node entry = path(spec, {"entrypoint"});
  if (!entry) {
    error(spec, "missing spec.entrypoint: name the template to run");
    return false;
  }
  const YAML::Node* t = find_template(scalar(entry));
  if (!t) {
    error(entry, "unknown template '" + scalar(entry) + "'" + did_you_mean(scalar(entry), template_names_));
    return false;
  }
  Ctx top;
  top.tmpl = "spec.arguments";
  Ctx callee;
  callee.tmpl = scalar((*t)["name"]);
  YAML::Node call;
  call["name"] = callee.tmpl;
  for (const auto& p : path((*t), {"inputs", "parameters"})) {
    std::string pn = scalar(p["name"]);
    if (!wf_.find_param(pn)) continue;
    YAML::Node a;
    a["name"] = pn;
    a["value"] = "{{workflow.parameters." + pn + "}}";
    call["arguments"]["parameters"].push_back(a);
  }
  if (YAML::Node as = path(spec, {"arguments", "artifacts"})) call["arguments"]["artifacts"] = as;
  if (!bind_inputs(*t, call, top, callee)) return false;
  std::vector<Step> main;
  expand(*t, callee, (*t)["dag"] || (*t)["steps"] ? "" : callee.tmpl, (*t)["name"], Deps{}, "", std::nullopt, main,
         true);
  wf_.steps = std::move(main);
  return true;
}

void Translator::run_on_exit(const YAML::Node& spec) {
  YAML::Node on_exit = path(spec, {"onExit"});
  if (!on_exit) on_exit = path(spec, {"hooks", "exit", "template"});
  if (YAML::Node hooks = spec["hooks"])
    for (const auto& kv : hooks)
      if (scalar(kv.first) != "exit") unsupported(kv.first, "workflow hooks other than 'exit'");
  if (!on_exit) return;
  YAML::Node exit_call;
  exit_call["name"] = "onExit";
  exit_call["template"] = scalar(on_exit);
  if (path(spec, {"hooks", "exit", "arguments"})) exit_call["arguments"] = path(spec, {"hooks", "exit", "arguments"});
  Ctx c;
  c.tmpl = "spec.onExit";
  std::vector<Step> ex;
  const YAML::Node* et = find_template(scalar(on_exit));
  if (et && ((*et)["steps"] || (*et)["dag"])) {
    // A steps/dag exit handler: its steps are the on_exit steps, by their own names.
    Ctx exit_ctx;
    exit_ctx.tmpl = scalar(on_exit);
    if (bind_inputs(*et, exit_call, c, exit_ctx)) expand(*et, exit_ctx, "", on_exit, Deps{}, "", std::nullopt, ex, true);
  } else {
    invoke(exit_call, "onExit", c, Deps{}, ex);
  }
  for (auto& s : ex) {
    if (s.pos.line == 0) s.pos = pos(on_exit);
    wf_.on_exit.push_back(std::move(s));
  }
}

void Translator::check_fixed_params() {
  std::vector<std::string> checks;
  for (const auto& [name, f] : fixed_) {
    // A value with "{{" would be read as a reference by the run's templating.
    if (f.value.find("{{") != std::string::npos) continue;
    std::string what;
    for (const auto& w : f.what) what += (what.empty() ? "" : ", ") + w;
    checks.insert(checks.end(),
                  {"param",
                   "ctflow-argo: workflow parameter '" + name + "' shaped this workflow when it was read (" + what +
                       "), with the value '" + f.value + "'; this run gives it another value (-p), which cannot "
                       "reshape the workflow here: change it in spec.arguments instead",
                   f.value, "{{params." + name + "}}"});
  }
  if (checks.empty()) return;
  for (auto* list : {&wf_.steps, &wf_.on_exit})
    for (auto& s : *list)
      if (s.run.size() >= 4 && s.run[2] == kPrologue) s.run.insert(s.run.begin() + 4, checks.begin(), checks.end());
}

const YAML::Node* Translator::find_template(const std::string& name) {
  auto it = templates_.find(name);
  return it == templates_.end() ? nullptr : &it->second;
}

}  // namespace ctflow::argo_detail

namespace ctflow {

using argo_detail::path;
using argo_detail::Translator;

ArgoOptions ArgoOptions::from_env() {
  ArgoOptions o;
  if (const char* e = std::getenv("CTFLOW_ARGO_EXECUTOR")) o.executor = e;
  if (const char* b = std::getenv("CTFLOW_BINARY")) o.ctflow_binary = b;
  if (const char* r = std::getenv("CTFLOW_ARGO_RESUME_SUSPENDED")) o.resume_suspended = std::string(r) == "1";
  if (o.ctflow_binary.empty()) {
    std::error_code ec;
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) o.ctflow_binary = self.string();
  }
  return o;
}

bool is_argo_document(const YAML::Node& root) {
  if (!root.IsMap()) return false;
  YAML::Node api = path(root, {"apiVersion"});
  return api && api.IsScalar() && api.Scalar().rfind("argoproj.io/", 0) == 0;
}

std::optional<Workflow> parse_argo_workflow(const YAML::Node& root, const std::string& file, Diagnostics& diags,
                                            const ArgoOptions& options) {
  if (!root.IsMap()) return std::nullopt;
  if (!options.executor.empty() && options.executor != "host" && options.executor != "podman" &&
      options.executor != "docker") {
    diags.error({file, 0, 0}, "unknown executor '" + options.executor + "': use host, podman or docker");
    return std::nullopt;
  }
  Translator t(file, diags, options);
  return t.run(root);
}

}  // namespace ctflow

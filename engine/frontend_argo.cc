#include "engine/frontend_argo.h"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "engine/yaml_util.h"

namespace ctflow {
namespace {

namespace fs = std::filesystem;

// Runs every Argo step. Arguments: directives, then "--", then the command.
// Paths in directives are relative to the step's working directory W; the
// marker @POD@ stands for the step instance's name ({{pod.name}}).
//   dir P | parent P | copy P SRC | raw P DATA | script P SOURCE |
//   volume P NAME (P links to the run's shared folder NAME) | cd P |
//   out P SAVED (after the command, a copy of P is kept as SAVED) |
//   param MESSAGE WANT GOT (the step fails with MESSAGE unless GOT, a workflow
//   parameter's value in this run, is WANT, the value the translation read)
const char* const kPrologue = R"SH(W=$PWD; pod=$(printf '%s' "$CTFLOW_STEP" | tr '[]' '..' | sed 's/\.$//')
sub() { r=; s=$1; while :; do case "$s" in *@POD@*) r="$r${s%%@POD@*}$pod"; s=${s#*@POD@};; *) r="$r$s"; return;; esac; done; }
outs=; into=
while [ "$#" -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    dir) sub "$2"; mkdir -p "$W/$r" || exit 1; shift 2 ;;
    parent) sub "$2"; mkdir -p "$(dirname "$W/$r")" || exit 1; shift 2 ;;
    copy) sub "$2"; mkdir -p "$(dirname "$W/$r")" && cp -R "$3" "$W/$r" && chmod -R u+w "$W/$r" || exit 1; shift 3 ;;
    raw) sub "$2"; mkdir -p "$(dirname "$W/$r")" && printf '%s' "$3" > "$W/$r" || exit 1; shift 3 ;;
    script) sub "$2"; printf '%s' "$3" > "$W/$r" && chmod +x "$W/$r" || exit 1; shift 3 ;;
    volume) sub "$2"; v="$(cd ../.. && pwd)/argo-volumes/$3"; mkdir -p "$v" "$(dirname "$W/$r")" && ln -sfn "$v" "$W/$r" || exit 1; shift 3 ;;
    cd) sub "$2"; into=$r; shift 2 ;;
    param) if [ "$3" != "$4" ]; then printf '%s\n' "$2" >&2; exit 2; fi; shift 4 ;;
    out) sub "$2"; outs="$outs$r
$3
"; shift 3 ;;
    *) echo "ctflow-argo: unknown directive '$1'" >&2; exit 2 ;;
  esac
done
n=$#; while [ "$n" -gt 0 ]; do sub "$1"; shift; set -- "$@" "$r"; n=$((n-1)); done
if [ "$1" = python ] && ! command -v python >/dev/null 2>&1; then shift; set -- python3 "$@"; fi
if [ -n "$into" ]; then mkdir -p "$W/$into" && cd "$W/$into" || exit 1; fi
"$@"; rc=$?
printf '%s' "$outs" | while IFS= read -r p && IFS= read -r saved; do
  if [ -e "$W/$p" ]; then mkdir -p "$(dirname "$W/$saved")" && cp -R "$W/$p" "$W/$saved"; fi
done
exit $rc)SH";

const char* const kSaved = ".argo-outputs";

const std::vector<std::string> kSpecHandled = {"entrypoint", "arguments", "templates", "onExit", "parallelism",
                                               "templateDefaults", "hooks", "volumeClaimTemplates"};
// Kubernetes scheduling and bookkeeping: no effect on what a local run computes.
const std::vector<std::string> kSpecIgnored = {
    "serviceAccountName", "automountServiceAccountToken", "executor", "podGC", "ttlStrategy", "podMetadata",
    "imagePullSecrets", "nodeSelector", "tolerations", "affinity", "podDisruptionBudget", "podResources",
    "securityContext", "priorityClassName", "podPriorityClassName", "podPriority", "schedulerName", "hostNetwork",
    "dnsPolicy", "dnsConfig", "hostAliases", "metrics", "workflowMetadata", "archiveLogs", "artifactGC",
    "podSpecPatch", "shutdown"};
const std::vector<std::string> kTemplateHandled = {
    "name", "inputs", "outputs", "container", "script", "steps", "dag", "retryStrategy", "activeDeadlineSeconds",
    "timeout", "memoize", "parallelism", "failFast", "suspend", "resource", "containerSet", "http", "plugin", "data"};
const std::vector<std::string> kTemplateIgnored = {
    "metadata", "nodeSelector", "tolerations", "affinity", "metrics", "serviceAccountName", "securityContext",
    "priorityClassName", "priority", "schedulerName", "automountServiceAccountToken", "executor", "hostAliases",
    "podSpecPatch", "archiveLocation"};
const std::vector<std::string> kContainerHandled = {"image", "command", "args", "env", "resources", "source",
                                                    "workingDir", "volumeMounts"};
const std::vector<std::string> kContainerIgnored = {"imagePullPolicy", "name", "securityContext", "ports",
                                                    "terminationMessagePath", "terminationMessagePolicy"};
const std::vector<std::string> kStepHandled = {"name", "template", "inline", "arguments", "when", "depends",
                                               "dependencies", "withItems", "withParam", "withSequence",
                                               "continueOn", "hooks", "onExit"};
const std::vector<std::string> kExternalStores = {"s3", "gcs", "oss", "http", "git", "artifactory", "hdfs",
                                                  "azure", "plugin"};

// N[k1][k2]...; a null node where any key is missing (yaml-cpp throws on chained
// lookups through a missing key of a const node).
YAML::Node path(const YAML::Node& n, std::initializer_list<const char*> keys) {
  YAML::Node at = n;
  for (const char* k : keys) {
    if (!at || !at.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = static_cast<const YAML::Node&>(at)[k];
    if (!next) return YAML::Node(YAML::NodeType::Undefined);
    at.reset(next);
  }
  return at;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    size_t i = s.find(sep, at);
    out.push_back(s.substr(at, i == std::string::npos ? std::string::npos : i - at));
    if (i == std::string::npos) return out;
    at = i + 1;
  }
}

bool is_number(const std::string& s) {
  static const std::regex kNum(R"([-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?)");
  return std::regex_match(s, kNum);
}

// A ctflow expression value for a text: numbers and booleans as they are, else a string literal.
std::optional<std::string> expr_literal(const std::string& s) {
  if (is_number(s) || s == "true" || s == "false") return s;
  if (s.find('\'') == std::string::npos) return "'" + s + "'";
  if (s.find('"') == std::string::npos) return "\"" + s + "\"";
  return std::nullopt;
}

bool is_single_ref(const std::string& s) {
  return s.size() > 4 && s.rfind("{{", 0) == 0 && s.find("{{", 2) == std::string::npos &&
         s.find("}}") == s.size() - 2;
}

// A dependency on another IR step, with what counts as "done" for it.
struct Dep {
  std::string step;
  bool failed_ok = false;   // continueOn.failed
  bool errored_ok = false;  // continueOn.error
};

struct Deps {
  std::vector<Dep> terms;   // all must be done (Succeeded or Skipped, plus what continueOn allows)
  std::string expr;         // or: a ctflow depends expression
};

// What a task or step name in a steps/dag template stands for.
struct Callee {
  std::string flat;   // the IR step (or join step)
  bool broken = false;  // could not be translated (already reported)
  bool nested = false;
  bool fan_out = false;
  bool failed_ok = false, errored_ok = false;
  std::map<std::string, std::string> out_params;     // nested: name -> ctflow text
  std::map<std::string, std::string> out_artifacts;  // nested: name -> ctflow text
  std::set<std::string> params, artifacts;           // leaf: declared outputs
};

struct Item {
  enum Mode { None, Static, Dynamic } mode = None;
  Value value;
};

struct Ctx {
  std::string tmpl;                              // template name, for messages
  std::string kind;                              // "steps" or "tasks": how siblings are referred to
  std::map<std::string, std::string> params;     // inputs.parameters -> ctflow text
  std::map<std::string, std::string> paths;      // "inputs.artifacts.x.path" ... -> path text
  std::map<std::string, Callee> siblings;
  Item item;
  bool used_item = false;
};

Value val(const YAML::Node& n) { return n ? yaml_to_value(n) : Value(); }

// An output parameter named "result" would be hidden by the step's stdout
// (ctflow's outputs.result): it is kept as "result-parameter".
std::string ir_param(const std::string& name) { return name == "result" ? "result-parameter" : name; }

Callee broken(const std::string& flat) {
  Callee c;
  c.flat = flat;
  c.broken = true;
  return c;
}

std::string text_of(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

class Translator {
 public:
  Translator(const std::string& file, Diagnostics& d, const ArgoOptions& o) : file_(file), d_(d), opt_(o) {}

  std::optional<Workflow> run(const YAML::Node& root);

 private:
  void error(const YAML::Node& n, const std::string& m) { report(pos(n), m); }
  void unsupported(const YAML::Node& n, const std::string& feature) { report(pos(n), "not supported locally: " + feature); }
  // A template called from several places reports each problem once.
  void report(const SourcePos& p, const std::string& m) {
    if (reported_.insert(std::to_string(p.line) + ":" + std::to_string(p.col) + ":" + m).second) d_.error(p, m);
  }
  SourcePos pos(const YAML::Node& n) const { return n.IsDefined() ? yaml_pos(file_, n) : SourcePos{file_, 0, 0}; }
  std::string scalar(const YAML::Node& n) const { return n && n.IsScalar() ? n.Scalar() : ""; }

  void check_keys(const YAML::Node& map, const std::vector<std::string>& handled,
                  const std::vector<std::string>& ignored, const std::string& where) {
    if (!map.IsMap()) return;
    for (const auto& kv : map) {
      std::string k = scalar(kv.first);
      if (contains(handled, k) || contains(ignored, k)) continue;
      unsupported(kv.first, where + k);
    }
  }

  std::optional<std::string> resolve(const std::string& ref, const SourcePos& at, Ctx& c);
  std::optional<std::string> text(const std::string& s, const YAML::Node& at, Ctx& c);
  std::optional<std::string> when_expr(const YAML::Node& n, Ctx& c);
  std::optional<std::string> depends_expr(const YAML::Node& n, const Ctx& c);
  std::optional<Item> items(const YAML::Node& call, Ctx& caller);
  // Makes ctflow text T, which gives WHAT (dag.target, ...), known now: T may
  // refer to workflow parameters only ({{params.NAME}}), which are replaced by
  // their values and recorded in fixed_. False (reported at AT) where T refers to
  // anything else (RUN_TIME: "not supported locally: RUN_TIME") or to a
  // parameter without a value.
  bool at_load(std::string& t, const YAML::Node& at, const std::string& what, const std::string& run_time);
  // The tasks of dag D to translate: all of them, or the targets of dag.target
  // and what they depend on; nothing when the target is wrong (reported).
  std::optional<std::set<std::string>> dag_targets(const YAML::Node& d, Ctx& c, const std::vector<std::string>& order,
                                                   const std::map<std::string, std::vector<std::string>>& deps_of);
  // Adds the `param` checks of the prologue to every step (see ArgoOptions::params).
  void check_fixed_params();
  const YAML::Node* find_template(const std::string& name);

  // Expands CALL (a step or task) of the template whose context is CALLER.
  std::optional<Callee> invoke(const YAML::Node& call, const std::string& flat, Ctx& caller, const Deps& deps,
                               std::vector<Step>& out);
  // Expands template T (with context C) as FLAT; returns the IR steps that end it.
  std::optional<Callee> expand(const YAML::Node& t, Ctx& c, const std::string& flat, const YAML::Node& at,
                               const Deps& deps, const std::string& when, const std::optional<Value>& for_each,
                               std::vector<Step>& out, bool top);
  void expand_body(const YAML::Node& t, Ctx& c, const std::string& prefix, const Deps& entry,
                   std::vector<Step>& out, Deps& exits);
  bool make_leaf(const YAML::Node& t, Ctx& c, Step& s, Callee& info);
  bool bind_inputs(const YAML::Node& t, const YAML::Node& call, Ctx& caller, Ctx& callee);
  void add_exit_hook(const YAML::Node& call, const std::string& flat, Ctx& caller);
  void apply_retry(const YAML::Node& r, Step& s);
  // Whether the container runtime has IMAGE without pulling it.
  bool image_is_local(const std::string& image);
  std::string flat_name(const std::string& prefix, const std::string& local) {
    return prefix.empty() ? local : prefix + "_" + local;
  }

  const std::string& file_;
  Diagnostics& d_;
  ArgoOptions opt_;
  Workflow wf_;
  std::map<std::string, YAML::Node> templates_;
  std::vector<std::string> template_names_;
  std::vector<std::string> stack_;
  YAML::Node defaults_;
  std::set<std::string> volumes_;  // volumeClaimTemplates
  std::set<std::string> used_;
  std::set<std::string> reported_;
  std::map<std::string, bool> local_images_;
  std::map<std::string, std::string> load_values_;  // workflow parameter -> its value when the file is read
  struct Fixed {
    std::string value;
    std::set<std::string> what;  // what it shaped: "dag.target", ...
  };
  std::map<std::string, Fixed> fixed_;  // parameters whose value shaped the translation
  // The parallelism of the steps/dag template being expanded when its body is
  // one call: a static fan-out over a steps/dag template takes it as lanes
  // (item i starts when item i-N has ended) and sets lanes_used_.
  int lanes_ = 0;
  bool lanes_used_ = false;
};

void apply_deps(Step& s, const Deps& d) {
  if (!d.expr.empty()) {
    s.depends = d.expr;
    return;
  }
  bool simple = true;
  for (const auto& t : d.terms) simple = simple && !t.failed_ok && !t.errored_ok;
  if (simple) {
    for (const auto& t : d.terms) s.needs.push_back(t.step);
    return;
  }
  std::string e;
  for (const auto& t : d.terms) {
    std::string term = "(" + t.step + ".Succeeded || " + t.step + ".Skipped";
    if (t.failed_ok) term += " || " + t.step + ".Failed";
    if (t.errored_ok) term += " || " + t.step + ".Errored";
    e += (e.empty() ? "" : " && ") + term + ")";
  }
  s.depends = e;
}

std::optional<Workflow> Translator::run(const YAML::Node& root) {
  wf_.file = file_;
  wf_.api_version = "argoproj.io/v1alpha1";
  std::string kind = scalar(root["kind"]);
  if (kind == "CronWorkflow") {
    unsupported(root["kind"], "CronWorkflow (schedules); run its workflowSpec as a Workflow");
    return wf_;
  }
  if (kind != "Workflow" && kind != "WorkflowTemplate" && kind != "ClusterWorkflowTemplate") {
    error(root["kind"] ? root["kind"] : root, "unsupported kind '" + kind + "': ctflow runs an Argo 'Workflow'");
    return wf_;
  }
  YAML::Node md = path(root, {"metadata"});
  std::string name = scalar(md["name"]);
  if (name.empty()) name = scalar(md["generateName"]);
  while (!name.empty() && name.back() == '-') name.pop_back();
  wf_.name = name.empty() ? "argo" : name;
  wf_.description = scalar(path(md, {"annotations", "workflows.argoproj.io/description"}));
  YAML::Node spec = path(root, {"spec"});
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
  YAML::Node args = path(spec, {"arguments"});
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
  YAML::Node ts = path(spec, {"templates"});
  if (!ts || !ts.IsSequence()) {
    error(spec, "spec.templates must be a list of templates");
    return wf_;
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
  YAML::Node entry = path(spec, {"entrypoint"});
  if (!entry) {
    error(spec, "missing spec.entrypoint: name the template to run");
    return wf_;
  }
  const YAML::Node* t = find_template(scalar(entry));
  if (!t) {
    error(entry, "unknown template '" + scalar(entry) + "'" + did_you_mean(scalar(entry), template_names_));
    return wf_;
  }
  // The entrypoint's inputs come from spec.arguments: a call with those arguments.
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
  if (YAML::Node as = path(args, {"artifacts"})) call["arguments"]["artifacts"] = as;
  if (!bind_inputs(*t, call, top, callee)) return wf_;
  std::vector<Step> main;
  expand(*t, callee, (*t)["dag"] || (*t)["steps"] ? "" : callee.tmpl, (*t)["name"], Deps{}, "", std::nullopt, main,
         true);
  wf_.steps = std::move(main);
  YAML::Node on_exit = path(spec, {"onExit"});
  if (!on_exit) on_exit = path(spec, {"hooks", "exit", "template"});
  if (YAML::Node hooks = spec["hooks"])
    for (const auto& kv : hooks)
      if (scalar(kv.first) != "exit") unsupported(kv.first, "workflow hooks other than 'exit'");
  if (on_exit) {
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
      if (bind_inputs(*et, exit_call, c, exit_ctx))
        expand(*et, exit_ctx, "", on_exit, Deps{}, "", std::nullopt, ex, true);
    } else {
      invoke(exit_call, "onExit", c, Deps{}, ex);
    }
    for (auto& s : ex) {
      if (s.pos.line == 0) s.pos = pos(on_exit);
      wf_.on_exit.push_back(std::move(s));
    }
  }
  check_fixed_params();
  return wf_;
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

bool Translator::at_load(std::string& t, const YAML::Node& at, const std::string& what,
                         const std::string& run_time) {
  std::string out;
  std::map<std::string, std::string> used;
  size_t i = 0;
  for (;;) {
    size_t open = t.find("{{", i);
    if (open == std::string::npos) {
      out += t.substr(i);
      break;
    }
    size_t close = t.find("}}", open + 2);
    std::string inner = close == std::string::npos ? "" : t.substr(open + 2, close - open - 2);
    if (inner.rfind("params.", 0) != 0) {
      unsupported(at, run_time);
      return false;
    }
    std::string name = inner.substr(7);
    auto v = load_values_.find(name);
    if (v == load_values_.end()) {
      error(at, what + " needs workflow parameter '" + name + "' when the file is read, and it has no value: "
                "give it one in spec.arguments");
      return false;
    }
    out += t.substr(i, open - i) + v->second;
    used[name] = v->second;
    i = close + 2;
  }
  for (const auto& [name, value] : used) {
    fixed_[name].value = value;
    fixed_[name].what.insert(what);
  }
  t = out;
  return true;
}

const YAML::Node* Translator::find_template(const std::string& name) {
  auto it = templates_.find(name);
  return it == templates_.end() ? nullptr : &it->second;
}

std::optional<std::string> Translator::resolve(const std::string& ref, const SourcePos& at, Ctx& c) {
  auto nothing = [&](const std::string& why) -> std::optional<std::string> {
    report(at, "'{{" + ref + "}}' refers to nothing: " + why);
    return std::nullopt;
  };
  auto no = [&]() -> std::optional<std::string> {
    report(at, "not supported locally: '{{" + ref + "}}'");
    return std::nullopt;
  };
  std::vector<std::string> p = split(ref, '.');
  const std::string& root = p[0];
  if (root == "inputs" || root == "outputs") {
    if (p.size() == 3 && root == "inputs" && p[1] == "parameters") {
      auto it = c.params.find(p[2]);
      if (it != c.params.end()) return it->second;
      std::vector<std::string> names;
      for (const auto& [k, v] : c.params) names.push_back(k);
      return nothing("template '" + c.tmpl + "' has no input parameter '" + p[2] + "'" + did_you_mean(p[2], names));
    }
    if (p.size() == 4 && p[3] == "path") {
      auto it = c.paths.find(ref);
      if (it != c.paths.end()) return it->second;
      return nothing("template '" + c.tmpl + "' declares no " + p[1] + " '" + p[2] + "' with a path");
    }
    if (ref == "inputs.parameters" || ref == "outputs.result" || ref == "outputs.parameters") return no();
    return nothing("use inputs.parameters.NAME, inputs.artifacts.NAME.path or outputs.parameters.NAME.path");
  }
  if (root == "workflow") {
    if (p.size() == 3 && p[1] == "parameters") {
      if (wf_.find_param(p[2])) return "{{params." + p[2] + "}}";
      std::vector<std::string> names;
      for (const auto& d : wf_.params) names.push_back(d.name);
      return nothing("no workflow parameter '" + p[2] + "' in spec.arguments" + did_you_mean(p[2], names));
    }
    if (ref == "workflow.name" || ref == "workflow.status" || ref == "workflow.failures") return "{{" + ref + "}}";
    if (ref == "workflow.uid") return std::string("{{workflow.run_id}}");
    return no();
  }
  if (root == "item") {
    if (c.item.mode == Item::None) return nothing("'item' is only known in a step with withItems, withParam or withSequence");
    c.used_item = true;
    if (c.item.mode == Item::Dynamic) return "{{" + ref + "}}";
    Value v = c.item.value;
    for (size_t i = 1; i < p.size(); ++i) {
      if (!v.is_object() || !v.contains(p[i])) return nothing("the item " + v.dump() + " has no key '" + p[i] + "'");
      v = Value(v[p[i]]);
    }
    return text_of(v);
  }
  if (root == "steps" || root == "tasks") {
    if (p.size() < 3) return nothing("write " + root + ".NAME.outputs.result, .outputs.parameters.NAME or .status");
    if (root != c.kind)
      return nothing("'" + root + ".' names " + (root == "steps" ? "steps of a steps" : "tasks of a dag") +
                     " template, and template '" + c.tmpl + "' is not one");
    auto it = c.siblings.find(p[1]);
    if (it == c.siblings.end()) {
      std::vector<std::string> names;
      for (const auto& [k, v] : c.siblings) names.push_back(k);
      return nothing("no " + root.substr(0, root.size() - 1) + " '" + p[1] + "' before this one in template '" +
                     c.tmpl + "'" + did_you_mean(p[1], names));
    }
    const Callee& o = it->second;
    if (o.broken) return std::nullopt;
    const std::string what = ref.substr(root.size() + p[1].size() + 2);
    if (what == "outputs.result") {
      if (o.nested) return no();
      return "{{steps." + o.flat + ".outputs.result}}";
    }
    if (what == "status") {
      if (o.nested) return no();
      return "{{steps." + o.flat + ".status}}";
    }
    if (p.size() == 5 && p[2] == "outputs" && (p[3] == "parameters" || p[3] == "artifacts")) {
      bool param = p[3] == "parameters";
      const auto& m = param ? o.out_params : o.out_artifacts;
      auto f = m.find(p[4]);
      if (f != m.end()) return f->second;
      if (!o.nested && (param ? o.params : o.artifacts).count(p[4])) {
        return "{{steps." + o.flat + (param ? ".outputs." + ir_param(p[4]) : ".artifacts." + p[4]) + "}}";
      }
      return nothing(root.substr(0, root.size() - 1) + " '" + p[1] + "' has no output " +
                     (param ? "parameter" : "artifact") + " '" + p[4] + "'");
    }
    static const std::set<std::string> kKnown = {"exitCode", "id", "ip", "startedAt", "finishedAt", "hostNodeName"};
    if (kKnown.count(what) || what == "outputs.parameters" || what == "outputs.artifacts") return no();
    return nothing("use outputs.result, outputs.parameters.NAME, outputs.artifacts.NAME or status");
  }
  if (ref == "pod.name") return std::string("@POD@");
  static const std::set<std::string> kRuntime = {"node.name", "retries", "status", "duration", "exitCode",
                                                 "lastRetry.exitCode", "lastRetry.status", "lastRetry.duration",
                                                 "lastRetry.message"};
  if (kRuntime.count(ref) || root == "workflows" || root == "cronworkflow") return no();
  return nothing("Argo knows inputs., outputs., workflow., item, steps. and tasks. references");
}

std::optional<std::string> Translator::text(const std::string& s, const YAML::Node& at, Ctx& c) {
  std::string out;
  size_t i = 0;
  bool ok = true;
  for (;;) {
    size_t open = s.find("{{", i);
    if (open == std::string::npos) {
      out += s.substr(i);
      break;
    }
    SourcePos p = pos(at);
    if (at && at.IsScalar() && s == at.Scalar() && s.find('\n') == std::string::npos)
      p.col += static_cast<int>(open) + (yaml_is_quoted(at) ? 1 : 0);
    size_t close = s.find("}}", open + 2);
    if (close == std::string::npos) {
      report(p, "unclosed '{{'");
      return std::nullopt;
    }
    out += s.substr(i, open - i);
    std::string inner = trim(s.substr(open + 2, close - open - 2));
    if (!inner.empty() && inner[0] == '=') {
      report(p, "not supported locally: expression templates '{{=...}}'");
      ok = false;
    } else if (auto r = resolve(inner, p, c)) {
      out += *r;
    } else {
      ok = false;
    }
    i = close + 2;
  }
  if (!ok) return std::nullopt;
  return out;
}

// Argo's `when` (govaluate after substitution) -> a ctflow expression: words
// and substituted texts become string literals, references stay references.
std::optional<std::string> Translator::when_expr(const YAML::Node& n, Ctx& c) {
  const std::string s = scalar(n);
  std::string out;
  int in_list = 0;  // depth of parentheses inside an IN list
  auto value = [&](const std::string& piece) -> bool {
    if (is_single_ref(piece) || piece.find("{{") == std::string::npos) {
      if (is_single_ref(piece)) out += piece;
      else if (auto lit = expr_literal(piece)) out += *lit;
      else return false;
      return true;
    }
    unsupported(n, "a 'when' that pastes a reference inside a longer text");
    return false;
  };
  size_t i = 0;
  while (i < s.size()) {
    char ch = s[i];
    if (std::isspace(static_cast<unsigned char>(ch))) {
      out += ' ';
      ++i;
    } else if (s.compare(i, 2, "{{") == 0) {
      size_t close = s.find("}}", i);
      if (close == std::string::npos) {
        error(n, "unclosed '{{' in 'when'");
        return std::nullopt;
      }
      auto t = text(s.substr(i, close + 2 - i), n, c);
      if (!t || !value(*t)) return std::nullopt;
      i = close + 2;
    } else if (ch == '\'' || ch == '"') {
      size_t close = s.find(ch, i + 1);
      if (close == std::string::npos) {
        error(n, "unclosed string in 'when'");
        return std::nullopt;
      }
      auto t = text(s.substr(i + 1, close - i - 1), n, c);
      if (!t) return std::nullopt;
      if (is_single_ref(*t)) out += *t;
      else if (!value(*t)) return std::nullopt;
      else if (is_number(*t)) out.replace(out.size() - t->size(), t->size(), "'" + *t + "'");
      i = close + 1;
    } else if (s.compare(i, 2, "=~") == 0 || s.compare(i, 2, "!~") == 0) {
      unsupported(n, "the regular expression operator '" + s.substr(i, 2) + "' in 'when'");
      return std::nullopt;
    } else if (std::string("=!<>&|(),").find(ch) != std::string::npos) {
      // govaluate's `x IN (a, b)` is ctflow's `x in [a, b]`.
      if (ch == '(' && in_list == 0 && trim(out).size() >= 3 && trim(out).substr(trim(out).size() - 3) == " in") {
        in_list = 1;
        out += '[';
      } else if (ch == '(' && in_list > 0) {
        ++in_list;
        out += ch;
      } else if (ch == ')' && in_list > 0) {
        out += --in_list == 0 ? ']' : ')';
      } else {
        out += ch;
      }
      ++i;
    } else {
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) &&
             std::string("=!<>&|(),'\"").find(s[j]) == std::string::npos && s.compare(j, 2, "{{") != 0)
        ++j;
      std::string word = s.substr(i, j - i);
      if (word == "true" || word == "false" || word == "null" || is_number(word)) out += word;
      else if (word == "IN" || word == "in") out += "in";
      else if (auto lit = expr_literal(word)) out += *lit;
      i = j;
    }
  }
  return trim(out);
}

std::optional<std::string> Translator::depends_expr(const YAML::Node& n, const Ctx& c) {
  const std::string s = scalar(n);
  std::string out;
  size_t i = 0;
  bool ok = true;
  while (i < s.size()) {
    char ch = s[i];
    if (std::string(" \t\n&|!()").find(ch) != std::string::npos) {
      out += ch;
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '-' || s[j] == '_' || s[j] == '.'))
      ++j;
    if (j == i) {
      error(n, std::string("unexpected '") + ch + "' in 'depends'");
      return std::nullopt;
    }
    std::string word = s.substr(i, j - i);
    i = j;
    size_t dot = word.find('.');
    std::string task = word.substr(0, dot), status = dot == std::string::npos ? "" : word.substr(dot + 1);
    auto it = c.siblings.find(task);
    if (it == c.siblings.end()) {
      std::vector<std::string> names;
      for (const auto& [k, v] : c.siblings) names.push_back(k);
      error(n, "'depends' names task '" + task + "', which is not in template '" + c.tmpl + "'" +
                   did_you_mean(task, names));
      ok = false;
      continue;
    }
    const Callee& o = it->second;
    if (o.broken) {
      ok = false;
      continue;
    }
    static const std::set<std::string> kStatuses = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted",
                                                    "AnySucceeded", "AllFailed"};
    if (status.empty()) {
      std::string e = o.flat + ".Succeeded || " + o.flat + ".Skipped";
      if (o.failed_ok) e += " || " + o.flat + ".Failed";
      if (o.errored_ok) e += " || " + o.flat + ".Errored";
      out += o.nested ? o.flat + ".Succeeded" : "(" + e + ")";
    } else if (!kStatuses.count(status)) {
      unsupported(n, "'" + word + "' in 'depends'");
      ok = false;
    } else if (o.nested && status != "Succeeded") {
      unsupported(n, "'" + word + "': the status of a task that calls a steps/dag template");
      ok = false;
    } else {
      out += o.flat + "." + status;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Item> Translator::items(const YAML::Node& call, Ctx& caller) {
  Item it;
  if (YAML::Node wi = call["withItems"]) {
    it.mode = Item::Static;
    it.value = val(wi);
    if (!it.value.is_array()) {
      error(wi, "withItems must be a list");
      return std::nullopt;
    }
  } else if (YAML::Node wp = call["withParam"]) {
    auto t = text(scalar(wp), wp, caller);
    if (!t) return std::nullopt;
    if (is_single_ref(*t)) {
      it.mode = Item::Dynamic;
      it.value = Value(*t);
    } else if (t->find("{{") != std::string::npos) {
      unsupported(wp, "a withParam that pastes a reference inside a longer text");
      return std::nullopt;
    } else {
      it.value = Value::parse(*t, nullptr, false);
      if (it.value.is_discarded() || !it.value.is_array()) {
        error(wp, "withParam must give a JSON list; got '" + *t + "'");
        return std::nullopt;
      }
      it.mode = Item::Static;
    }
  } else if (YAML::Node ws = call["withSequence"]) {
    auto num = [&](const char* key) -> std::optional<long long> {
      YAML::Node v = ws[key];
      if (!v) return std::nullopt;
      auto t = text(scalar(v), v, caller);
      if (!t) return std::nullopt;
      // From workflow parameters: known now. From a step's outputs: only at run time.
      if (!at_load(*t, v, std::string("withSequence.") + key, "withSequence bounds known only at run time"))
        return std::nullopt;
      if (!std::regex_match(*t, std::regex("-?[0-9]+"))) {
        error(v, std::string("withSequence.") + key + " must be an integer; got '" + *t + "'");
        return std::nullopt;
      }
      return std::stoll(*t);
    };
    auto count = num("count"), start = num("start"), end = num("end");
    if (d_.size() > 0 && ((ws["count"] && !count) || (ws["start"] && !start) || (ws["end"] && !end)))
      return std::nullopt;
    long long from = start.value_or(0);
    std::vector<long long> seq;
    if (count) {
      for (long long k = 0; k < *count && k < 100000; ++k) seq.push_back(from + k);
    } else if (end) {
      long long step = *end >= from ? 1 : -1;
      for (long long k = from;; k += step) {
        seq.push_back(k);
        if (k == *end || seq.size() > 100000) break;
      }
    } else {
      error(ws, "withSequence needs 'count' or 'end'");
      return std::nullopt;
    }
    std::string format = scalar(ws["format"]);
    if (!format.empty() && !std::regex_match(format, std::regex("[^%]*%[-0 +#]*[0-9]*[dxXo][^%]*"))) {
      unsupported(ws["format"], "withSequence format '" + format + "' (one %d, %x, %X or %o is)");
      return std::nullopt;
    }
    it.mode = Item::Static;
    it.value = Value::array();
    for (long long k : seq) {
      if (format.empty()) {
        it.value.push_back(std::to_string(k));
      } else {
        char buf[256];
        std::snprintf(buf, sizeof buf, format.c_str(), k);  // NOLINT: format checked above
        it.value.push_back(std::string(buf));
      }
    }
  }
  return it;
}

// Fills CALLEE's inputs (parameters and artifacts) from CALL's arguments,
// evaluated in CALLER, and the template's own values and defaults.
bool Translator::bind_inputs(const YAML::Node& t, const YAML::Node& call, Ctx& caller, Ctx& callee) {
  bool ok = true;
  std::map<std::string, YAML::Node> given;
  YAML::Node args = path(call, {"arguments"});
  if (args && args["parameters"])
    for (const auto& a : args["parameters"]) given[scalar(a["name"])] = YAML::Node(a);
  for (const auto& p : path(t, {"inputs", "parameters"})) {
    std::string n = scalar(p["name"]);
    auto g = given.find(n);
    if (g != given.end()) {
      if (g->second["valueFrom"]) {
        unsupported(g->second["valueFrom"], "arguments from valueFrom");
        ok = false;
      } else if (auto v = text(text_of(val(g->second["value"])), g->second["value"], caller)) {
        callee.params[n] = *v;
      } else {
        ok = false;
      }
      given.erase(g);
    } else if (YAML::Node v = p["value"] ? p["value"] : p["default"]) {
      if (auto x = text(text_of(val(v)), v, callee)) callee.params[n] = *x;
      else ok = false;
    } else if (p["valueFrom"]) {
      unsupported(p["valueFrom"], "input parameters from valueFrom");
      ok = false;
    } else if (call) {
      error(call["name"] ? call["name"] : call, "input parameter '" + n + "' of template '" + callee.tmpl +
                                                    "' gets no value: pass it in arguments.parameters");
      ok = false;
    }
  }
  for (const auto& [n, a] : given)
    error(a, "template '" + callee.tmpl + "' has no input parameter '" + n + "'");
  std::map<std::string, YAML::Node> given_art;
  if (args && args["artifacts"])
    for (const auto& a : args["artifacts"]) given_art[scalar(a["name"])] = YAML::Node(a);
  for (const auto& a : path(t, {"inputs", "artifacts"})) {
    std::string n = scalar(a["name"]);
    auto g = given_art.find(n);
    YAML::Node src = a;
    if (g != given_art.end()) src.reset(g->second);
    std::string key = "inputs.artifacts." + n + ".source";
    for (const auto& store : kExternalStores)
      if (src[store]) {
        unsupported(src[store], "artifacts from an external store (" + store + ")");
        ok = false;
      }
    if (YAML::Node from = src["from"]) {
      if (auto v = text(scalar(from), from, caller)) {
        std::string sub = scalar(src["subPath"]);
        callee.paths[key] = *v + (sub.empty() ? "" : "/" + sub);
      } else {
        ok = false;
      }
    } else if (YAML::Node raw = src["raw"]) {
      callee.paths["inputs.artifacts." + n + ".raw"] = scalar(raw["data"]);
    } else if (src["fromExpression"]) {
      unsupported(src["fromExpression"], "fromExpression");
      ok = false;
    } else if (!val(a["optional"]).is_boolean() || !val(a["optional"]).get<bool>()) {
      bool external = false;
      for (const auto& store : kExternalStores) external = external || src[store];
      if (!external) {
        error(call && call["name"] ? call["name"] : a, "input artifact '" + n + "' of template '" + callee.tmpl +
                                                           "' gets nothing: pass it in arguments.artifacts");
        ok = false;
      }
    }
  }
  return ok;
}

std::optional<Callee> Translator::invoke(const YAML::Node& call, const std::string& flat, Ctx& caller,
                                         const Deps& deps, std::vector<Step>& out) {
  check_keys(call, kStepHandled, {}, caller.kind == "tasks" ? "task key " : "step key ");
  const int lanes = lanes_;  // for this call only, not for the calls inside it
  lanes_ = 0;
  const YAML::Node* t = nullptr;
  YAML::Node inline_t;
  if (YAML::Node tn = call["template"]) {
    t = find_template(scalar(tn));
    if (!t) {
      error(tn, "unknown template '" + scalar(tn) + "'" + did_you_mean(scalar(tn), template_names_));
      return std::nullopt;
    }
  } else if (call["inline"]) {
    inline_t.reset(call["inline"]);
    inline_t["name"] = scalar(call["name"]);
    t = &inline_t;
  } else if (call["templateRef"]) {
    unsupported(call["templateRef"], "templateRef (templates of another WorkflowTemplate)");
    return std::nullopt;
  } else {
    error(call, "step '" + scalar(call["name"]) + "' names no template: add 'template: NAME'");
    return std::nullopt;
  }
  std::string tname = scalar((*t)["name"]);
  if (std::find(stack_.begin(), stack_.end(), tname) != stack_.end()) {
    unsupported(call["template"] ? call["template"] : call,
                "recursive template '" + tname + "' (how deep it goes is known only at run time)");
    return std::nullopt;
  }
  auto it = items(call, caller);
  if (!it) return std::nullopt;
  const bool nested = (*t)["steps"] || (*t)["dag"];
  // A nested template of exactly one leaf step runs as that step.
  YAML::Node single(YAML::NodeType::Undefined);
  if (nested) {
    YAML::Node body = (*t)["steps"] ? (*t)["steps"] : path((*t), {"dag", "tasks"});
    if ((*t)["steps"] && body.IsSequence() && body.size() == 1 && body[0].IsSequence() && body[0].size() == 1)
      single.reset(body[0][0]);
    if ((*t)["dag"] && body.IsSequence() && body.size() == 1 && !path((*t), {"dag", "target"})) single.reset(body[0]);
    if (single) {
      const YAML::Node* inner = single["template"] ? find_template(scalar(single["template"])) : nullptr;
      bool inner_items = single["withItems"] || single["withParam"] || single["withSequence"];
      if (!inner || (*inner)["steps"] || (*inner)["dag"] || (inner_items && it->mode != Item::None) ||
          single["when"] || single["hooks"] || single["onExit"] || single["continueOn"] || single["depends"] ||
          single["dependencies"] || call["when"])
        single.reset(YAML::Node(YAML::NodeType::Undefined));
    }
  }
  std::vector<Value> unroll;
  if (nested && !single && it->mode != Item::None) {
    if (it->mode == Item::Dynamic) {
      // Unrolled here, so the list must be known now: it may come from workflow parameters.
      std::string t2 = it->value.get<std::string>();
      if (!at_load(t2, call["withParam"], "withParam over a steps/dag template",
                   "a withParam known only at run time over a steps/dag template"))
        return std::nullopt;
      it->value = Value::parse(t2, nullptr, false);
      if (it->value.is_discarded() || !it->value.is_array()) {
        error(call["withParam"], "withParam must give a JSON list; got '" + trim(t2) + "'");
        return std::nullopt;
      }
      it->mode = Item::Static;
    }
    for (const auto& v : it->value) unroll.push_back(v);
  }
  // ITEM: one item of a static list unrolled here, or the whole list (or
  // reference) that the IR step fans out over.
  auto one = [&](const std::string& name, const Item& item, bool unrolled, const Deps& entry) -> std::optional<Callee> {
    caller.item = item;
    if (!unrolled && item.mode != Item::None) caller.item.mode = Item::Dynamic;
    caller.used_item = false;
    Ctx callee;
    callee.tmpl = tname;
    bool ok = bind_inputs(*t, call, caller, callee);
    std::string when;
    if (YAML::Node w = call["when"]) {
      caller.used_item = false;
      auto e = when_expr(w, caller);
      if (!e) ok = false;
      else when = *e;
      if (caller.used_item && !unrolled && item.mode != Item::None) {
        unsupported(w, "a 'when' that reads {{item}} (ctflow checks 'when' once for all items)");
        ok = false;
      }
    }
    caller.item = Item{};
    if (!ok) return std::nullopt;
    std::optional<Value> for_each;
    if (!unrolled && item.mode != Item::None) for_each = item.value;
    if (nested && !single && when.size()) {
      unsupported(call["when"], "'when' on a step that calls a steps/dag template");
      return std::nullopt;
    }
    stack_.push_back(tname);
    std::optional<Callee> r;
    if (single) {
      // Inline the one inner step under the caller's name.
      Ctx inner = callee;
      inner.kind = (*t)["steps"] ? "steps" : "tasks";
      if (!for_each) {
        auto inner_items = items(single, inner);
        if (!inner_items) {
          stack_.pop_back();
          return std::nullopt;
        }
        if (inner_items->mode != Item::None) for_each = inner_items->value;
        inner.item = *inner_items;
      } else {
        inner.item.mode = Item::Dynamic;
      }
      const YAML::Node& it2 = *find_template(scalar(single["template"]));
      Ctx leaf;
      leaf.tmpl = scalar(it2["name"]);
      bool ok2 = bind_inputs(it2, single, inner, leaf);
      stack_.push_back(leaf.tmpl);
      if (ok2) r = expand(it2, leaf, name, call["name"] ? call["name"] : call, entry, when, for_each, out, false);
      stack_.pop_back();
      if (r) {
        if (YAML::Node par = path((*t), {"parallelism"}); par && !out.empty()) out.back().parallelism = val(par).get<int>();
        // The nested template's outputs, read from the inner step.
        Ctx outer = callee;
        outer.kind = inner.kind;
        outer.siblings[scalar(single["name"])] = *r;
        r->out_params.clear();
        for (const auto& op : path((*t), {"outputs", "parameters"})) {
          if (YAML::Node from = path(op, {"valueFrom", "parameter"})) {
            if (auto v = text(scalar(from), from, outer)) r->out_params[scalar(op["name"])] = *v;
          } else {
            unsupported(op["valueFrom"] ? op["valueFrom"] : op, "this kind of output parameter of a steps/dag template");
          }
        }
        for (const auto& p : r->params)
          if (!r->out_params.count(p)) r->out_params[p] = "{{steps." + r->flat + ".outputs." + ir_param(p) + "}}";
      }
    } else {
      r = expand(*t, callee, name, call["name"] ? call["name"] : call, entry, when, for_each, out, false);
    }
    stack_.pop_back();
    return r;
  };
  std::optional<Callee> result;
  if (unroll.empty()) {
    result = one(flat, *it, false, deps);
  } else {
    // Each item of a static list: its own copy of the nested template, then one
    // join. Under the caller's parallelism N, a copy starts when the copy N
    // before it has ended (Argo starts one as soon as any has: the same runs,
    // never more at once, at times later).
    Deps ends;
    for (size_t i = 0; i < unroll.size(); ++i) {
      Item item;
      item.mode = Item::Static;
      item.value = unroll[i];
      Deps d = deps;
      if (lanes > 0 && i >= static_cast<size_t>(lanes)) {
        const std::string& before = ends.terms[i - static_cast<size_t>(lanes)].step;
        if (d.expr.empty()) d.terms.push_back({before});
        else d.expr = "(" + d.expr + ") && " + before + ".Succeeded";
      }
      auto r = one(flat + "-" + std::to_string(i), item, true, d);
      if (!r) return std::nullopt;
      ends.terms.push_back({r->flat});
    }
    if (lanes > 0) lanes_used_ = true;
    Step join;
    join.name = flat;
    join.pos = pos(call["name"] ? call["name"] : call);
    join.kind = StepKind::Run;
    join.run = {"true"};
    apply_deps(join, ends);
    out.push_back(join);
    result = Callee{};
    result->flat = flat;
    result->nested = true;
  }
  if (!result) return std::nullopt;
  if (YAML::Node co = call["continueOn"]) {
    result->failed_ok = val(co["failed"]) == Value(true);
    result->errored_ok = val(co["error"]) == Value(true);
    if (result->nested) {
      unsupported(co, "continueOn on a step that calls a steps/dag template");
      return std::nullopt;
    }
  }
  return result;
}

void Translator::add_exit_hook(const YAML::Node& call, const std::string& flat, Ctx& caller) {
  YAML::Node hook(YAML::NodeType::Undefined);
  if (YAML::Node h = call["hooks"]) {
    for (const auto& kv : h) {
      if (scalar(kv.first) != "exit") {
        unsupported(kv.first, "step hooks other than 'exit'");
        continue;
      }
      hook = YAML::Clone(kv.second);
    }
  } else if (YAML::Node oe = call["onExit"]) {
    hook["template"] = scalar(oe);
  }
  if (!hook) return;
  hook["name"] = flat + "-onexit";
  std::vector<Step> ex;
  auto r = invoke(hook, flat + "-onexit", caller, Deps{}, ex);
  if (!r) return;
  for (auto& s : ex) {
    std::string ran = "steps." + flat + ".status in ['Succeeded', 'Failed', 'Errored']";
    s.when = s.when.empty() ? ran : "(" + ran + ") && (" + s.when + ")";
    if (s.pos.line == 0) s.pos = pos(call["name"]);
    wf_.on_exit.push_back(std::move(s));
  }
}

std::optional<Callee> Translator::expand(const YAML::Node& t, Ctx& c, const std::string& flat, const YAML::Node& at,
                                         const Deps& deps, const std::string& when,
                                         const std::optional<Value>& for_each, std::vector<Step>& out, bool top) {
  check_keys(t, kTemplateHandled, kTemplateIgnored, "template key ");
  const std::string tname = scalar(t["name"]);
  Callee info;
  info.flat = flat;
  if (t["steps"] || t["dag"]) {
    for (const char* k : {"retryStrategy", "activeDeadlineSeconds", "timeout", "memoize"})
      if (t[k]) unsupported(t[k], std::string(k) + " on a steps/dag template");
    if (t["dag"] && val(path(t, {"dag", "failFast"})) == Value(false)) wf_.fail_fast = false;
    std::string prefix = top ? "" : flat;
    Deps exits;
    size_t first = out.size();
    const int n = val(t["parallelism"]).is_number_integer() ? val(t["parallelism"]).get<int>() : 0;
    // A body of one call: a fan-out over a steps/dag template there takes the parallelism as lanes.
    YAML::Node body = t["steps"] ? t["steps"] : path(t, {"dag", "tasks"});
    bool one_call = body.IsSequence() && body.size() == 1 &&
                    (t["dag"] || body[0].IsMap() || (body[0].IsSequence() && body[0].size() == 1));
    const bool outer_used = lanes_used_;  // the caller's, kept
    lanes_ = one_call ? n : 0;
    lanes_used_ = false;
    stack_.push_back(tname);
    expand_body(t, c, prefix, deps, out, exits);
    stack_.pop_back();
    const bool as_lanes = lanes_used_;
    lanes_ = 0;
    lanes_used_ = outer_used;
    if (YAML::Node par = t["parallelism"]) {
      if (as_lanes) {
        // Done: the copies of the fan-out run in lanes.
      } else if (top) wf_.parallelism = wf_.parallelism > 0 ? std::min(wf_.parallelism, n) : n;
      else if (out.size() == first + 1 && out.back().for_each) out.back().parallelism = n;
      else unsupported(par, "parallelism on a steps/dag template that is not the entrypoint");
    }
    info.nested = true;
    // The template's outputs, read from its steps.
    for (const auto& op : path(t, {"outputs", "parameters"})) {
      if (YAML::Node from = path(op, {"valueFrom", "parameter"})) {
        if (auto v = text(scalar(from), from, c)) info.out_params[scalar(op["name"])] = *v;
      } else {
        unsupported(path(op, {"valueFrom", "expression"}) ? path(op, {"valueFrom", "expression"}) : YAML::Node(op),
                    "output parameters of a steps/dag template other than valueFrom.parameter");
      }
    }
    for (const auto& oa : path(t, {"outputs", "artifacts"})) {
      if (YAML::Node from = oa["from"]) {
        if (auto v = text(scalar(from), from, c)) info.out_artifacts[scalar(oa["name"])] = *v;
      } else {
        unsupported(oa["fromExpression"] ? oa["fromExpression"] : YAML::Node(oa),
                    "output artifacts of a steps/dag template other than 'from'");
      }
    }
    if (!top) {
      Step join;
      join.name = flat;
      join.pos = pos(at);
      join.kind = StepKind::Run;
      join.run = {"true"};
      apply_deps(join, exits);
      out.push_back(join);
    }
    return info;
  }
  if (!t["container"] && !t["script"]) {
    static const std::vector<std::string> kKinds = {"suspend", "resource", "containerSet", "http", "plugin", "data"};
    for (const auto& k : kKinds)
      if (t[k]) {
        unsupported(t[k], k + " templates");
        return std::nullopt;
      }
    error(at, "template '" + tname + "' has nothing to run: add container, script, steps or dag");
    return std::nullopt;
  }
  Step s;
  s.name = flat;
  s.pos = pos(at);
  s.when = when;
  if (!when.empty()) s.when_pos = pos(at);
  if (for_each) {
    s.for_each = *for_each;
    s.for_each_pos = pos(at);
  }
  apply_deps(s, deps);
  if (!make_leaf(t, c, s, info)) return std::nullopt;
  info.fan_out = for_each.has_value();
  if (used_.count(flat)) error(at, "two steps would both be named '" + flat + "' here");
  used_.insert(flat);
  out.push_back(std::move(s));
  return info;
}

void Translator::expand_body(const YAML::Node& t, Ctx& c, const std::string& prefix, const Deps& entry,
                             std::vector<Step>& out, Deps& exits) {
  if (YAML::Node groups = t["steps"]) {
    c.kind = "steps";
    Deps prev = entry;
    for (const auto& g : groups) {
      Deps next;
      YAML::Node list = g;
      if (g.IsMap()) {
        list.reset(YAML::Node(YAML::NodeType::Sequence));
        list.push_back(g);
      }
      for (const auto& st : list) {
        std::string local = scalar(st["name"]);
        std::string flat = flat_name(prefix, local);
        auto r = invoke(st, flat, c, prev, out);
        if (!r) {
          c.siblings[local] = broken(flat);
          continue;
        }
        next.terms.push_back({r->flat, r->failed_ok, r->errored_ok});
        c.siblings[local] = *r;
        add_exit_hook(st, r->flat, c);
      }
      prev = next;
    }
    exits = prev;
    return;
  }
  c.kind = "tasks";
  YAML::Node dag = path(t, {"dag"});
  YAML::Node tasks = path(dag, {"tasks"});
  std::map<std::string, YAML::Node> by_name;
  std::vector<std::string> order;
  for (const auto& task : tasks) {
    std::string n = scalar(task["name"]);
    if (by_name.count(n)) error(task["name"], "duplicate task name '" + n + "'");
    by_name[n] = YAML::Node(task);
    order.push_back(n);
  }
  // The names each task depends on, for ordering and cycles.
  std::map<std::string, std::vector<std::string>> deps_of;
  std::set<std::string> depended;
  for (const auto& n : order) {
    const YAML::Node& task = by_name[n];
    std::vector<std::string> ds;
    if (YAML::Node dl = task["dependencies"])
      for (const auto& x : dl) ds.push_back(scalar(x));
    if (YAML::Node de = task["depends"]) {
      static const std::regex kWord("[A-Za-z0-9][-A-Za-z0-9_]*");
      std::string s = scalar(de);
      for (auto w = std::sregex_iterator(s.begin(), s.end(), kWord); w != std::sregex_iterator(); ++w) {
        std::string word = w->str();
        size_t at = static_cast<size_t>(w->position());
        if (at > 0 && s[at - 1] == '.') continue;  // a status
        ds.push_back(word);
      }
    }
    for (const auto& x : ds) {
      if (!by_name.count(x)) {
        YAML::Node where = task["depends"] ? task["depends"] : task["dependencies"];
        error(where, "task '" + n + "' depends on '" + x + "', which is not a task of template '" + c.tmpl + "'" +
                         did_you_mean(x, order));
      } else {
        depended.insert(x);
      }
    }
    deps_of[n] = ds;
  }
  auto keep = dag_targets(dag, c, order, deps_of);
  if (!keep) {
    for (const auto& n : order) c.siblings[n] = broken(flat_name(prefix, n));
    return;
  }
  if (keep->size() < order.size()) {
    depended.clear();
    for (const auto& n : *keep)
      for (const auto& x : deps_of[n]) depended.insert(x);
  }
  // Depth-first order; a cycle is reported once, at the task that closes it.
  std::map<std::string, int> state;
  std::vector<std::string> sorted, path;
  std::function<bool(const std::string&)> visit = [&](const std::string& n) -> bool {
    if (state[n] == 2) return true;
    if (state[n] == 3) return false;  // on or after a cycle already reported
    if (state[n] == 1) {
      auto from = std::find(path.begin(), path.end(), n);
      std::string cycle;
      for (auto p = from; p != path.end(); ++p) cycle += *p + " -> ";
      error(by_name[n]["name"], "cycle: " + cycle + n + ": a task cannot depend on itself, even indirectly");
      return false;
    }
    state[n] = 1;
    path.push_back(n);
    for (const auto& d : deps_of[n])
      if (by_name.count(d) && !visit(d)) return false;
    path.pop_back();
    state[n] = 2;
    sorted.push_back(n);
    return true;
  };
  for (const auto& n : order)
    if (!visit(n)) {
      for (auto& [k, v] : state)
        if (v == 1) v = 3;
      path.clear();
    }
  for (const auto& n : order)
    if (state[n] == 3) c.siblings[n] = broken(flat_name(prefix, n));
  for (const auto& n : sorted) {
    if (!keep->count(n)) continue;  // not needed by dag.target
    const YAML::Node& task = by_name[n];
    Deps d;
    bool ok = true;
    if (YAML::Node de = task["depends"]) {
      auto e = depends_expr(de, c);
      if (!e) ok = false;
      else d.expr = *e;
    } else if (YAML::Node dl = task["dependencies"]) {
      for (const auto& x : dl) {
        auto f = c.siblings.find(scalar(x));
        if (f == c.siblings.end()) ok = false;
        else d.terms.push_back({f->second.flat, f->second.failed_ok, f->second.errored_ok});
      }
    } else {
      d = entry;
    }
    std::optional<Callee> r;
    if (ok) r = invoke(task, flat_name(prefix, n), c, d, out);
    if (!r) {
      c.siblings[n] = broken(flat_name(prefix, n));
      continue;
    }
    c.siblings[n] = *r;
    add_exit_hook(task, r->flat, c);
  }
  for (const auto& n : order)
    if (keep->count(n) && !depended.count(n) && c.siblings.count(n)) {
      const Callee& o = c.siblings[n];
      exits.terms.push_back({o.flat, o.failed_ok, o.errored_ok});
    }
}

std::optional<std::set<std::string>> Translator::dag_targets(const YAML::Node& d, Ctx& c,
                                                             const std::vector<std::string>& order,
                                                             const std::map<std::string, std::vector<std::string>>& deps_of) {
  std::set<std::string> all(order.begin(), order.end());
  YAML::Node tn = d["target"];
  if (!tn) return all;
  const std::string written = text_of(val(tn));
  auto t = text(written, tn, c);
  if (!t) return std::nullopt;
  if (!at_load(*t, tn, "dag.target", "a dag.target known only at run time")) return std::nullopt;
  // Space-separated task names; none: every task.
  std::vector<std::string> targets;
  static const std::regex kName("\\S+");
  for (auto w = std::sregex_iterator(t->begin(), t->end(), kName); w != std::sregex_iterator(); ++w)
    targets.push_back(w->str());
  if (targets.empty()) return all;
  std::set<std::string> keep;
  std::vector<std::string> todo;
  bool ok = true;
  for (const auto& x : targets) {
    if (all.count(x)) {
      todo.push_back(x);
      continue;
    }
    std::string names;
    for (const auto& n : order) names += (names.empty() ? "" : ", ") + n;
    std::string from = written.find("{{") != std::string::npos ? " (from '" + written + "')" : "";
    error(tn, "dag.target names '" + x + "'" + from + ", which is not a task of template '" + c.tmpl +
                  "': its tasks are " + names);
    ok = false;
  }
  if (!ok) return std::nullopt;
  // The targets and, transitively, what they depend on.
  while (!todo.empty()) {
    std::string n = todo.back();
    todo.pop_back();
    if (!keep.insert(n).second) continue;
    for (const auto& x : deps_of.at(n))
      if (all.count(x)) todo.push_back(x);
  }
  return keep;
}

bool Translator::image_is_local(const std::string& image) {
  auto it = local_images_.find(image);
  if (it != local_images_.end()) return it->second;
  static const std::regex kImage("[A-Za-z0-9][A-Za-z0-9._/:@-]*");
  bool local = false;
  if (std::regex_match(image, kImage)) {
    std::string cmd = opt_.executor + (opt_.executor == "docker" ? " image inspect " : " image exists ") + image +
                      " >/dev/null 2>&1";
    local = std::system(cmd.c_str()) == 0;  // NOLINT: the name is checked above
  }
  return local_images_[image] = local;
}

void Translator::apply_retry(const YAML::Node& r, Step& s) {
  if (!r) return;
  for (const auto& kv : r) {
    std::string k = scalar(kv.first);
    if (k == "expression") unsupported(kv.first, "retryStrategy.expression");
    else if (k != "limit" && k != "retryPolicy" && k != "backoff" && k != "affinity")
      unsupported(kv.first, "retryStrategy." + k);
  }
  Value limit = val(r["limit"]);
  if (limit.is_string() && std::regex_match(limit.get<std::string>(), std::regex("[0-9]+")))
    limit = std::stoi(limit.get<std::string>());
  if (r["limit"] && !limit.is_number_integer()) error(r["limit"], "retryStrategy.limit must be an integer");
  s.retry.limit = limit.is_number_integer() ? limit.get<int>() : (r["limit"] ? 0 : 1 << 20);
  s.retry.backoff_s = 0;
  s.retry.factor = 1;
  std::string policy = scalar(r["retryPolicy"]);
  if (policy.empty() || policy == "OnFailure") {
    s.retry.on_error = false;
  } else if (policy == "OnError" || policy == "OnTransientError") {
    s.retry.on_failed = s.retry.on_timeout = false;
  } else if (policy != "Always") {
    error(r["retryPolicy"], "unknown retryPolicy '" + policy + "'" +
                                did_you_mean(policy, {"Always", "OnFailure", "OnError", "OnTransientError"}));
  }
  if (YAML::Node b = r["backoff"]) {
    auto dur = [&](const YAML::Node& n) -> double {
      std::string v = text_of(val(n));
      auto d = parse_duration(v);
      if (!d) error(n, "a duration like 10s, 2m or 1h is expected; got '" + v + "'");
      return d.value_or(0);
    };
    if (b["duration"]) s.retry.backoff_s = dur(b["duration"]);
    if (b["factor"]) {
      Value f = val(b["factor"]);
      if (f.is_string()) f = std::atof(f.get<std::string>().c_str());
      s.retry.factor = f.is_number() ? std::max(1.0, f.get<double>()) : 1;
    }
    if (b["maxDuration"]) s.retry.max_backoff_s = dur(b["maxDuration"]);
  }
}

bool Translator::make_leaf(const YAML::Node& t, Ctx& c, Step& s, Callee& info) {
  const bool script = static_cast<bool>(t["script"]);
  const YAML::Node body = script ? t["script"] : t["container"];
  const std::string tname = scalar(t["name"]);
  check_keys(body, kContainerHandled, kContainerIgnored, script ? "script." : "container.");
  for (const char* k : {"sidecars", "initContainers", "volumes", "daemon", "synchronization"})
    if (t[k]) unsupported(t[k], k);
  bool ok = true;
  // Where the template's paths live: under the step's working directory.
  std::string work_dir = scalar(body["workingDir"]);
  std::map<std::string, std::string> mounts;  // mountPath -> volume
  for (const auto& m : body["volumeMounts"]) {
    std::string v = scalar(m["name"]);
    if (!volumes_.count(v)) {
      unsupported(m, "volume '" + v + "' (only volumes from spec.volumeClaimTemplates are shared folders here)");
      ok = false;
    }
    mounts[scalar(m["mountPath"])] = v;
  }
  if (!mounts.empty() && !opt_.executor.empty() && opt_.executor != "host") {
    unsupported(body["volumeMounts"], "volumes with a container executor");
    ok = false;
  }
  auto rel = [&](std::string p) {
    if (p.empty() || p[0] != '/') return p;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p.substr(1);
  };
  // Absolute paths the command may write: relative to where it runs.
  std::vector<std::string> abs;
  auto from_cwd = [&](const std::string& p) {
    if (work_dir.empty()) return rel(p);
    std::string r = fs::path(p).lexically_relative(fs::path(work_dir)).string();
    return r.empty() ? std::string(".") : r;
  };
  std::vector<std::string> pre;  // prologue directives
  std::vector<std::pair<std::string, std::string>> outs;
  for (const auto& [mp, v] : mounts) {
    pre.insert(pre.end(), {"volume", rel(mp), v});
    abs.push_back(mp);
  }
  for (const auto& a : path(t, {"inputs", "artifacts"})) {
    std::string n = scalar(a["name"]), p = scalar(a["path"]);
    if (p.empty()) continue;
    c.paths["inputs.artifacts." + n + ".path"] = from_cwd(p);
    abs.push_back(p);
    auto src = c.paths.find("inputs.artifacts." + n + ".source");
    auto raw = c.paths.find("inputs.artifacts." + n + ".raw");
    if (src != c.paths.end()) pre.insert(pre.end(), {"copy", rel(p), src->second});
    else if (raw != c.paths.end()) pre.insert(pre.end(), {"raw", rel(p), raw->second});
  }
  for (const auto& op : path(t, {"outputs", "parameters"})) {
    std::string n = scalar(op["name"]);
    YAML::Node vf = path(op, {"valueFrom"});
    for (const auto& kv : vf) {
      std::string k = scalar(kv.first);
      if (k != "path" && k != "default") {
        unsupported(kv.first, "output parameters from valueFrom." + k);
        ok = false;
      }
    }
    std::string p = scalar(vf["path"]);
    if (p.empty()) {
      if (ok) error(op, "output parameter '" + n + "' needs valueFrom.path");
      ok = false;
      continue;
    }
    auto tp = text(p, vf["path"], c);
    if (!tp) {
      ok = false;
      continue;
    }
    c.paths["outputs.parameters." + n + ".path"] = from_cwd(*tp);
    abs.push_back(*tp);
    pre.insert(pre.end(), {"parent", rel(*tp)});
    std::string saved = std::string(kSaved) + "/parameters/" + n;
    outs.emplace_back(rel(*tp), saved);
    OutputParamDecl d;
    d.path = saved;
    if (YAML::Node def = vf["default"]) d.default_value = Value(text_of(val(def)));
    s.output_params[ir_param(n)] = d;
    info.params.insert(n);
  }
  for (const auto& oa : path(t, {"outputs", "artifacts"})) {
    std::string n = scalar(oa["name"]);
    for (const auto& store : kExternalStores)
      if (oa[store]) {
        unsupported(oa[store], "artifacts to an external store (" + store + ")");
        ok = false;
      }
    std::string p = scalar(oa["path"]);
    if (p.empty()) {
      error(oa, "output artifact '" + n + "' needs a 'path'");
      ok = false;
      continue;
    }
    auto tp = text(p, oa["path"], c);
    if (!tp) {
      ok = false;
      continue;
    }
    c.paths["outputs.artifacts." + n + ".path"] = from_cwd(*tp);
    abs.push_back(*tp);
    pre.insert(pre.end(), {p.back() == '/' ? "dir" : "parent", rel(*tp)});
    std::string saved = std::string(kSaved) + "/artifacts/" + n;
    outs.emplace_back(rel(*tp), saved);
    s.output_artifacts[n] = OutputArtifactDecl{saved};
    info.artifacts.insert(n);
  }
  if (!work_dir.empty()) {
    auto w = text(work_dir, body["workingDir"], c);
    if (!w) return false;
    bool in_mount = false;
    for (const auto& [mp, v] : mounts) in_mount = in_mount || w->rfind(mp, 0) == 0;
    for (const auto& p : abs) {
      bool p_in = false;
      for (const auto& [mp, v] : mounts) p_in = p_in || p.rfind(mp, 0) == 0;
      if (p_in != in_mount) {
        unsupported(body["workingDir"], "a workingDir and paths that are not all in one volume");
        return false;
      }
    }
    work_dir = *w;
    pre.insert(pre.end(), {"cd", rel(*w)});
  }
  // Longest first, so /tmp/a/b is rewritten before /tmp/a.
  std::sort(abs.begin(), abs.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  auto rewrite = [&](std::string s2) {
    for (const auto& p0 : abs) {
      std::string p = p0;
      while (p.size() > 1 && p.back() == '/') p.pop_back();
      if (p.size() < 2 || p[0] != '/') continue;
      size_t at = 0;
      while ((at = s2.find(p, at)) != std::string::npos) {
        char before = at == 0 ? ' ' : s2[at - 1];
        char after = at + p.size() < s2.size() ? s2[at + p.size()] : ' ';
        bool word = std::isalnum(static_cast<unsigned char>(before)) || before == '.' || before == '_' ||
                    before == '-' || before == '/' || std::isalnum(static_cast<unsigned char>(after)) ||
                    after == '.' || after == '_' || after == '-';
        if (word) {
          at += p.size();
          continue;
        }
        std::string r = from_cwd(p);
        s2.replace(at, p.size(), r);
        at += r.size();
      }
    }
    return s2;
  };
  // Kubernetes' $(VAR) from the container's env, and $$ -> $.
  std::map<std::string, std::string> env;
  std::vector<std::string> env_args;
  for (const auto& e : body["env"]) {
    std::string n = scalar(e["name"]);
    if (e["valueFrom"]) {
      unsupported(e["valueFrom"], "env from valueFrom (secrets, configMaps, fields)");
      ok = false;
      continue;
    }
    auto v = text(rewrite(text_of(val(e["value"]))), e["value"], c);
    if (!v) {
      ok = false;
      continue;
    }
    env[n] = *v;
    env_args.push_back(n + "=" + *v);
  }
  auto k8s = [&](const std::string& s2) {
    std::string out;
    for (size_t i = 0; i < s2.size(); ++i) {
      if (s2[i] == '$' && i + 1 < s2.size() && s2[i + 1] == '$') {
        out += '$';
        ++i;
      } else if (s2[i] == '$' && i + 1 < s2.size() && s2[i + 1] == '(') {
        size_t close = s2.find(')', i);
        std::string name = close == std::string::npos ? "" : s2.substr(i + 2, close - i - 2);
        auto f = env.find(name);
        if (f != env.end()) {
          out += f->second;
          i = close;
        } else {
          out += s2[i];
        }
      } else {
        out += s2[i];
      }
    }
    return out;
  };
  std::vector<std::string> argv;
  YAML::Node command = path(body, {"command"});
  if (!command || !command.IsSequence() || command.size() == 0) {
    unsupported(body, std::string(script ? "script" : "container") + " template '" + tname +
                          "' without 'command' (the image's entrypoint is unknown here): add 'command'");
    return false;
  }
  for (const YAML::Node& l : {command, body["args"]}) {
    if (!l) continue;
    for (const auto& a : l) {
      std::string raw = text_of(val(a));
      auto v = text(script ? rewrite(raw) : k8s(rewrite(raw)), a, c);
      if (!v) ok = false;
      else argv.push_back(*v);
    }
  }
  if (script) {
    auto src = text(rewrite(scalar(body["source"])), body["source"], c);
    if (!src) return false;
    pre.insert(pre.end(), {"script", "ctflow-argo-script", *src});
    argv.push_back(work_dir.empty() ? "./ctflow-argo-script" : from_cwd("/ctflow-argo-script"));
  }
  if (!ok) return false;
  const bool host = opt_.executor.empty() || opt_.executor == "host";
  if (host && !argv.empty() && argv[0] == "ctflow" && !opt_.ctflow_binary.empty()) argv[0] = opt_.ctflow_binary;
  if (!host) {
    auto img = text(scalar(body["image"]), body["image"], c);
    if (!img) return false;
    if (img->find("{{") == std::string::npos && !image_is_local(*img)) {
      unsupported(body["image"], "image '" + *img + "' is not in the local " + opt_.executor +
                                     " store, and nothing is pulled here: build or load it, or run on the host");
      return false;
    }
    s.image = *img;
    s.image_pos = pos(body["image"]);
  }
  s.kind = StepKind::Run;
  s.kind_pos = pos(body);
  s.run = {"/bin/sh", "-c", kPrologue, "ctflow-argo"};
  s.run.insert(s.run.end(), pre.begin(), pre.end());
  for (const auto& [p, saved] : outs) s.run.insert(s.run.end(), {"out", p, saved});
  s.run.push_back("--");
  if (!env_args.empty()) {
    s.run.push_back("env");
    s.run.insert(s.run.end(), env_args.begin(), env_args.end());
  }
  s.run.insert(s.run.end(), argv.begin(), argv.end());
  // Settings: the template's, else templateDefaults'.
  auto setting = [&](const char* k) { return t[k] ? t[k] : defaults_[k]; };
  apply_retry(setting("retryStrategy"), s);
  if (YAML::Node to = setting("timeout")) {
    auto d = parse_duration(text_of(val(to)));
    if (!d) error(to, "timeout must be a duration like 30s or 5m");
    else s.timeout_s = *d;
  }
  if (YAML::Node ad = setting("activeDeadlineSeconds")) {
    auto d = parse_duration(text_of(val(ad)));
    if (!d) error(ad, "activeDeadlineSeconds must be a number of seconds");
    else s.timeout_s = s.timeout_s > 0 ? std::min(s.timeout_s, *d) : *d;
  }
  if (t["memoize"]) s.cache = true;
  Value gpu = val(path(body, {"resources", "limits", "nvidia.com/gpu"}));
  if (gpu.is_string()) gpu = std::atoi(gpu.get<std::string>().c_str());
  if (gpu.is_number_integer()) s.resources.gpu = gpu.get<int>();
  s.network = true;
  return true;
}

}  // namespace

ArgoOptions ArgoOptions::from_env() {
  ArgoOptions o;
  if (const char* e = std::getenv("CTFLOW_ARGO_EXECUTOR")) o.executor = e;
  if (const char* b = std::getenv("CTFLOW_BINARY")) o.ctflow_binary = b;
  if (o.ctflow_binary.empty()) {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
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

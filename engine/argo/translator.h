// The Argo frontend's inside (engine/frontend_argo.h is its interface): one
// Translator expands an Argo Workflow's templates into the flat IR. Its parts
// live in files of one concept:
//   document.cc    the Workflow document: spec, arguments, entrypoint, onExit
//   references.cc  Argo's {{...}} references -> ctflow text
//   conditions.cc  `when` and `depends` -> ctflow expressions
//   loops.cc       withItems / withParam / withSequence, dag.target
//   inlining.cc    calls of templates: inputs, steps and dag bodies, exit hooks
//   leaves.cc      a container or script template -> one IR step
#pragma once

#include <ctime>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/diag.h"
#include "engine/frontend_argo.h"
#include "engine/ir.h"
#include "engine/template.h"
#include "engine/yaml_util.h"

namespace ctflow::argo_detail {

// The /bin/sh prologue every translated step runs through (leaves.cc).
extern const char* const kPrologue;
// Where a step keeps copies of its outputs, under its working directory.
extern const char* const kSaved;
// What of expr-lang the frontend reads, for messages (references.cc).
extern const std::string kExprLangHas;

inline const std::vector<std::string> kSpecHandled = {"entrypoint", "arguments", "templates", "onExit", "parallelism",
                                               "templateDefaults", "hooks", "volumeClaimTemplates"};
// Kubernetes scheduling and bookkeeping: no effect on what a local run computes.
inline const std::vector<std::string> kSpecIgnored = {
    "serviceAccountName", "automountServiceAccountToken", "executor", "podGC", "ttlStrategy", "podMetadata",
    "imagePullSecrets", "nodeSelector", "tolerations", "affinity", "podDisruptionBudget", "podResources",
    "securityContext", "priorityClassName", "podPriorityClassName", "podPriority", "schedulerName", "hostNetwork",
    "dnsPolicy", "dnsConfig", "hostAliases", "metrics", "workflowMetadata", "archiveLogs", "artifactGC",
    "podSpecPatch", "shutdown"};
inline const std::vector<std::string> kTemplateHandled = {
    "name", "inputs", "outputs", "container", "script", "steps", "dag", "retryStrategy", "activeDeadlineSeconds",
    "timeout", "memoize", "parallelism", "failFast", "suspend", "resource", "containerSet", "http", "plugin", "data"};
inline const std::vector<std::string> kTemplateIgnored = {
    "metadata", "nodeSelector", "tolerations", "affinity", "metrics", "serviceAccountName", "securityContext",
    "priorityClassName", "priority", "schedulerName", "automountServiceAccountToken", "executor", "hostAliases",
    "podSpecPatch", "archiveLocation"};
inline const std::vector<std::string> kContainerHandled = {"image", "command", "args", "env", "resources", "source",
                                                    "workingDir", "volumeMounts"};
inline const std::vector<std::string> kContainerIgnored = {"imagePullPolicy", "name", "securityContext", "ports",
                                                    "terminationMessagePath", "terminationMessagePolicy"};
inline const std::vector<std::string> kStepHandled = {"name", "template", "inline", "arguments", "when", "depends",
                                               "dependencies", "withItems", "withParam", "withSequence",
                                               "continueOn", "hooks", "onExit"};
inline const std::vector<std::string> kExternalStores = {"s3", "gcs", "oss", "http", "git", "artifactory", "hdfs",
                                                  "azure", "plugin"};

// N[k1][k2]...; a null node where any key is missing (yaml-cpp throws on chained
// lookups through a missing key of a const node).
inline YAML::Node path(const YAML::Node& n, std::initializer_list<const char*> keys) {
  YAML::Node at = n;
  for (const char* k : keys) {
    if (!at || !at.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = static_cast<const YAML::Node&>(at)[k];
    if (!next) return YAML::Node(YAML::NodeType::Undefined);
    at.reset(next);
  }
  return at;
}

inline bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

inline std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    size_t i = s.find(sep, at);
    out.push_back(s.substr(at, i == std::string::npos ? std::string::npos : i - at));
    if (i == std::string::npos) return out;
    at = i + 1;
  }
}

inline bool is_number(const std::string& s) {
  static const std::regex kNum(R"([-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?)");
  return std::regex_match(s, kNum);
}

// A ctflow expression value for a text: numbers and booleans as they are, else a string literal.
inline std::optional<std::string> expr_literal(const std::string& s) {
  if (is_number(s) || s == "true" || s == "false") return s;
  if (s.find('\'') == std::string::npos) return "'" + s + "'";
  if (s.find('"') == std::string::npos) return "\"" + s + "\"";
  return std::nullopt;
}

// The time now as Argo writes a timestamp: 2026-12-07T03:40:00Z.
inline std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

inline bool is_single_ref(const std::string& s) { return tmpl::is_single_placeholder(s); }

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

inline Value val(const YAML::Node& n) { return n ? yaml_to_value(n) : Value(); }

// An output parameter named "result" would be hidden by the step's stdout
// (ctflow's outputs.result): it is kept as "result-parameter".
inline std::string ir_param(const std::string& name) { return name == "result" ? "result-parameter" : name; }

inline Callee broken(const std::string& flat) {
  Callee c;
  c.flat = flat;
  c.broken = true;
  return c;
}

inline std::string text_of(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

struct Leaf;  // what make_leaf gathers (leaves.cc)

// The tasks of a dag template, as expand_dag reads them.
struct DagTasks {
  std::map<std::string, YAML::Node> by_name;
  std::vector<std::string> order;                              // as written
  std::map<std::string, std::vector<std::string>> deps_of;     // task -> the names it depends on
  std::set<std::string> depended;                              // tasks another task depends on
};

// One call (a step or task) of a template, as invoke() reads it.
struct Call {
  const YAML::Node& node;  // the step or task
  const YAML::Node& t;     // the template it calls
  std::string tname;
  bool nested = false;     // t is a steps/dag template
  YAML::Node single;       // nested with one leaf step that runs as the call itself; else undefined
};

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
  std::optional<std::string> expression_at_load(const std::string& e, const SourcePos& at, Ctx& c);
  // An expression evaluated by the run (valueFrom.expression): E with each
  // Argo reference rewritten as a ctflow one, or a literal where it is known now.
  std::optional<std::string> expression_at_run(const std::string& e, const YAML::Node& at, Ctx& c);
  // The outputs.parameters of steps/dag template T (context C) into INFO: a
  // valueFrom.parameter as its text, a valueFrom.expression as an output of the
  // join step FLAT (added to EXPRESSIONS).
  void nested_outputs(const YAML::Node& t, Ctx& c, const std::string& flat, Callee& info,
                      std::map<std::string, OutputParamDecl>& expressions);
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
  // The parts of run (document.cc).
  void read_parameters(const YAML::Node& args);
  // A CronWorkflow's spec.workflowSpec (its schedule kept in cron_schedule_).
  YAML::Node cron_spec(const YAML::Node& cron);
  // Its schedule as the trigger "cron" in wf_.triggers, which ctflow daemon runs.
  void cron_trigger(const YAML::Node& cron);
  bool read_templates(const YAML::Node& spec);
  bool run_entrypoint(const YAML::Node& spec);
  void run_on_exit(const YAML::Node& spec);
  // Adds the `param` checks of the prologue to every step (see ArgoOptions::params).
  void check_fixed_params();
  const YAML::Node* find_template(const std::string& name);

  // Expands CALL (a step or task) of the template whose context is CALLER.
  std::optional<Callee> invoke(const YAML::Node& call, const std::string& flat, Ctx& caller, const Deps& deps,
                               std::vector<Step>& out);
  // The parts of invoke (inlining.cc).
  const YAML::Node* called_template(const YAML::Node& call, YAML::Node& inline_t);
  YAML::Node single_step(const Call& k, const Item& it);
  std::optional<std::vector<Value>> unrolled_items(const YAML::Node& call, Item& it);
  std::optional<Callee> call_unrolled(const Call& k, const std::string& flat, Ctx& caller, const Deps& deps, int lanes,
                                      const std::vector<Value>& unroll, std::vector<Step>& out);
  std::optional<Callee> call_once(const Call& k, const std::string& name, Ctx& caller, const Item& item, bool unrolled,
                                  const Deps& entry, std::vector<Step>& out);
  std::optional<Callee> call_single(const Call& k, const Ctx& callee, const std::string& name, const Deps& entry,
                                    const std::string& when, std::optional<Value> for_each, std::vector<Step>& out);
  // Expands template T (with context C) as FLAT; returns the IR steps that end it.
  std::optional<Callee> expand(const YAML::Node& t, Ctx& c, const std::string& flat, const YAML::Node& at,
                               const Deps& deps, const std::string& when, const std::optional<Value>& for_each,
                               std::vector<Step>& out, bool top);
  void expand_body(const YAML::Node& t, Ctx& c, const std::string& prefix, const Deps& entry,
                   std::vector<Step>& out, Deps& exits);
  void expand_steps(const YAML::Node& groups, Ctx& c, const std::string& prefix, const Deps& entry,
                    std::vector<Step>& out, Deps& exits);
  void expand_dag(const YAML::Node& dag, Ctx& c, const std::string& prefix, const Deps& entry,
                  std::vector<Step>& out, Deps& exits);
  DagTasks dag_tasks(const YAML::Node& tasks, const Ctx& c);
  std::vector<std::string> dag_order(DagTasks& g, Ctx& c, const std::string& prefix);
  // A container or script template T (context C) as the IR step S (leaves.cc).
  bool make_leaf(const YAML::Node& t, Ctx& c, Step& s, Callee& info);
  // A suspend template under --resume-suspended (leaves.cc).
  bool make_suspend(const YAML::Node& t, Ctx& c, Step& s, Callee& info);
  void leaf_mounts(Leaf& l);
  void leaf_input_artifacts(Leaf& l);
  void leaf_output_parameters(Leaf& l);
  void leaf_output_artifacts(Leaf& l);
  bool leaf_working_dir(Leaf& l);
  void leaf_env(Leaf& l);
  bool leaf_argv(Leaf& l);
  bool leaf_image(Leaf& l);
  void leaf_settings(const YAML::Node& t, const YAML::Node& body, Step& s);
  bool bind_inputs(const YAML::Node& t, const YAML::Node& call, Ctx& caller, Ctx& callee);
  void add_exit_hook(const YAML::Node& call, const std::string& flat, Ctx& caller);
  void apply_retry(const YAML::Node& r, Step& s);
  // IMAGE's entrypoint and cmd in the container runtime's local store, or
  // nothing when it is not there (nothing is pulled).
  const std::optional<ImageConfig>& image_config(const std::string& image);
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
  std::map<std::string, std::optional<ImageConfig>> local_images_;
  std::string cron_schedule_;   // "CronWorkflow schedule: * * * * * (tz)", or empty
  std::string scheduled_time_;  // {{workflow.scheduledTime}}: when the file is read
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

// Sets S's needs or depends from D.
void apply_deps(Step& s, const Deps& d);

}  // namespace ctflow::argo_detail

#include "engine/frontend_v1.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_map>

#include <yaml-cpp/yaml.h>

#include "engine/expr.h"
#include "engine/frontend_argo.h"
#include "engine/params.h"
#include "engine/sweep/spec_parse.h"
#include "engine/template.h"
#include "engine/triggers/parse.h"
#include "engine/yaml_util.h"

namespace ctflow {
namespace {

const std::regex kWorkflowName("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
// [a-z0-9]([-_a-z0-9]*[a-z0-9])?, checked by hand: a std::regex per step is
// a measurable part of reading a 10,000-step workflow.
bool is_step_name(const std::string& n) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (n.empty() || !alnum(n.front()) || !alnum(n.back())) return false;
  return std::all_of(n.begin(), n.end(), [&](char c) { return alnum(c) || c == '-' || c == '_'; });
}
const std::regex kParamName("[A-Za-z_][A-Za-z0-9_]*");

const std::vector<std::string> kTopKeys = {"apiVersion", "kind",     "metadata", "params", "defaults",
                                           "parallelism", "fail_fast", "steps",   "on_exit",
                                           "templates", "max_depth", "triggers"};
const std::vector<std::string> kMetadataKeys = {"name", "description", "labels", "annotations"};
const std::vector<std::string> kParamKeys = {"type", "default", "description"};
const std::vector<std::string> kTemplateKeys = {"params", "steps", "outputs"};
const std::vector<std::string> kStepKeys = {"uses",     "run",         "shell",   "call",    "image",   "network",
                                            "with",     "needs",       "depends", "when",    "for_each",
                                            "parallelism", "outputs",  "retry",   "timeout", "resources",
                                            "cache",    "isolation",   "env",     "sweep"};
const std::vector<std::string> kDefaultsKeys = {"timeout", "retry", "resources", "cache", "isolation", "image"};
const std::vector<std::string> kRetryKeys = {"limit", "backoff", "factor", "max_backoff", "on"};
const std::vector<std::string> kResourceKeys = {"cpu", "gpu", "memory"};
const std::vector<std::string> kOutputsKeys = {"parameters", "artifacts"};
const std::vector<std::string> kOutputParamKeys = {"path", "default"};
const std::vector<std::string> kOutputArtifactKeys = {"path", "default"};

class Parser {
 public:
  Parser(const std::string& file, Diagnostics& diags, const ShapeParams& shape)
      : file_(file), d_(diags), shape_(shape) {}

  std::optional<Workflow> parse(const YAML::Node& root) {
    if (!root.IsMap()) {
      error(root, "a workflow must be a map with apiVersion, kind, metadata and steps; got " + yaml_kind(root));
      return std::nullopt;
    }
    Workflow wf;
    wf.file = file_;
    std::set<std::string> keys;
    scan_keys(root, &kTopKeys, "at the top level", &keys);
    YAML::Node api = root["apiVersion"];
    if (!api) {
      error(root, "missing 'apiVersion': add 'apiVersion: ctflow/v1' at the top");
    } else if (!api.IsScalar() || api.Scalar() != "ctflow/v1") {
      std::string got = api.IsScalar() ? "'" + api.Scalar() + "'" : yaml_kind(api);
      std::string hint = api.IsScalar() && api.Scalar() == "argoproj.io/v1alpha1"
                             ? " (an Argo Workflow: ctflow run reads it with the Argo frontend)"
                             : "";
      error(api, "unsupported apiVersion " + got + ": this ctflow reads 'ctflow/v1'" + hint);
    }
    YAML::Node kind = root["kind"];
    if (!kind) error(root, "missing 'kind': add 'kind: Workflow'");
    else if (!kind.IsScalar() || kind.Scalar() != "Workflow")
      error(kind, "unsupported kind '" + (kind.IsScalar() ? kind.Scalar() : yaml_kind(kind)) +
                      "': a ctflow/v1 file holds a 'Workflow'");
    parse_metadata(root["metadata"], root, wf);
    if (YAML::Node params = root["params"]) parse_params(params, wf.params);
    wf_ = &wf;
    Step defaults;
    if (YAML::Node dn = root["defaults"]) {
      if (expect_map(dn, "'defaults'")) {
        check_keys(dn, kDefaultsKeys, "in 'defaults' (allowed: timeout, retry, resources, cache, isolation, image)");
        parse_step_settings(dn, defaults, "defaults");
      }
    }
    if (YAML::Node p = root["parallelism"]) wf.parallelism = positive_int(p, "parallelism", true);
    if (YAML::Node f = root["fail_fast"]) wf.fail_fast = boolean(f, "fail_fast");
    if (YAML::Node md = root["max_depth"]) wf.max_depth = positive_int(md, "max_depth");
    if (YAML::Node t = root["templates"]) parse_templates(t, defaults, wf);
    YAML::Node steps = root["steps"];
    if (!steps) error(root, "missing 'steps': a workflow needs at least one step");
    else parse_steps(steps, defaults, wf.steps, "steps");
    if (YAML::Node ex = root["on_exit"]) parse_steps(ex, defaults, wf.on_exit, "on_exit");
    if (YAML::Node tr = root["triggers"]) triggers::parse_triggers(tr, file_, wf, d_);
    std::set<std::string> names;
    for (const auto& s : wf.steps) names.insert(s.name);
    for (const auto& s : wf.on_exit)
      if (names.count(s.name)) d_.error(s.pos, "step name '" + s.name + "' is used in both steps and on_exit");
    return wf;
  }

 private:
  void error(const YAML::Node& n, std::string message) { d_.error(yaml_pos(file_, n), std::move(message)); }
  SourcePos pos(const YAML::Node& n) const { return yaml_pos(file_, n); }

  bool expect_map(const YAML::Node& n, const std::string& what) {
    if (n.IsMap()) return true;
    if (n.IsNull()) return false;
    error(n, what + " must be a map; got " + yaml_kind(n));
    return false;
  }

  // Reports unknown and duplicate keys; returns the keys seen.
  // Reports duplicate keys and, when ALLOWED is given, keys that are not plain
  // names and unknown keys; KEYS gets the keys.
  void scan_keys(const YAML::Node& map, const std::vector<std::string>* allowed, const std::string& where,
                 std::set<std::string>* keys = nullptr) {
    // Most maps have a handful of keys, and this runs for each step: a list
    // beats a tree there. The map of steps itself gets a hash table.
    const size_t n = map.size();
    std::vector<std::pair<std::string_view, int>> seen;  // key, line
    std::unordered_map<std::string_view, int> seen_big;
    constexpr size_t kSmall = 16;
    if (n <= kSmall) seen.reserve(n);
    else seen_big.reserve(n);
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        if (allowed) error(kv.first, "keys must be plain names " + where);
        continue;
      }
      const std::string& k = kv.first.Scalar();
      const int line = kv.first.Mark().line;
      std::optional<int> first;
      if (n <= kSmall) {
        auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& e) { return e.first == k; });
        if (it != seen.end()) first = it->second;
        else seen.emplace_back(k, line);
      } else if (auto [it, fresh] = seen_big.emplace(k, line); !fresh) {
        first = it->second;
      }
      if (first) {
        error(kv.first, "duplicate key '" + k + "' " + where + " (first given on line " + std::to_string(*first + 1) + ")");
        continue;
      }
      if (allowed && std::find(allowed->begin(), allowed->end(), k) == allowed->end())
        error(kv.first, "unknown key '" + k + "' " + where + did_you_mean(k, *allowed));
    }
    if (keys) {
      for (const auto& e : seen) keys->emplace(e.first);
      for (const auto& e : seen_big) keys->emplace(e.first);
    }
  }
  void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed, const std::string& where) {
    scan_keys(map, &allowed, where);
  }
  void check_duplicates(const YAML::Node& map, const std::string& where) { scan_keys(map, nullptr, where); }

  std::string string(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) return n.Scalar();
    error(n, what + " must be a string; got " + yaml_kind(n));
    return "";
  }

  bool boolean(const YAML::Node& n, const std::string& what) {
    Value v = yaml_to_value(n);
    if (v.is_boolean()) return v.get<bool>();
    error(n, what + " must be true or false; got " + (n.IsScalar() ? "'" + n.Scalar() + "'" : yaml_kind(n)));
    return false;
  }

  int positive_int(const YAML::Node& n, const std::string& what, bool allow_zero = false) {
    return positive_int(n, n, what, allow_zero);
  }
  // N's value; a mistake is reported at AT (N itself, or the {{params.X}} it was read from).
  int positive_int(const YAML::Node& n, const YAML::Node& at, const std::string& what, bool allow_zero = false) {
    Value v = yaml_to_value(n);
    if (v.is_number_integer() && (v.get<int64_t>() > 0 || (allow_zero && v.get<int64_t>() == 0)) &&
        v.get<int64_t>() < (1 << 30))
      return static_cast<int>(v.get<int64_t>());
    error(at, what + " must be a " + (allow_zero ? "non-negative" : "positive") + " integer; got " +
                  (n.IsScalar() ? "'" + n.Scalar() + "'" : yaml_kind(n)) + from_param(at));
    return 0;
  }

  double number(const YAML::Node& n, const std::string& what) { return number(n, n, what); }
  double number(const YAML::Node& n, const YAML::Node& at, const std::string& what) {
    Value v = yaml_to_value(n);
    if (v.is_number() && v.get<double>() >= 0) return v.get<double>();
    error(at, what + " must be a non-negative number; got " + (n.IsScalar() ? "'" + n.Scalar() + "'" : yaml_kind(n)) +
                  from_param(at));
    return 0;
  }

  // The name X of N when N is "{{params.X}}", else "".
  static std::string param_ref(const YAML::Node& n) {
    if (!n.IsScalar() || !tmpl::is_single_placeholder(n.Scalar())) return "";
    auto refs = tmpl::refs(n.Scalar());
    const auto* list = std::get_if<std::vector<std::string>>(&refs);
    if (!list || list->size() != 1 || list->front().rfind("params.", 0) != 0) return "";
    return list->front().substr(7);
  }
  // " (from params.X)" when AT is such a reference, for the messages about its value.
  static std::string from_param(const YAML::Node& at) {
    std::string p = param_ref(at);
    return p.empty() ? "" : " (from params." + p + ")";
  }

  // A resource is a value, or "{{params.NAME}}": a workflow param, read when
  // the file is (resources shape the run before any step starts: what it is
  // admitted with, the pod an export asks for), from the run's -p NAME=VALUE,
  // else the param's default. Nothing when the reference cannot be resolved
  // (reported).
  std::optional<YAML::Node> resource_value(const YAML::Node& n, const std::string& key, Resources& r) {
    if (!n.IsScalar() || n.Scalar().find("{{") == std::string::npos) return n;
    const std::string what = "'resources." + key + "'";
    const std::string name = param_ref(n);
    if (name.empty()) {
      error(n, what + " takes a value or one workflow param, like '{{params." + key + "s}}'; got '" + n.Scalar() + "'");
      return std::nullopt;
    }
    const ParamDecl* decl = wf_->find_param(name);
    if (!decl) {
      std::vector<std::string> names;
      for (const auto& p : wf_->params) names.push_back(p.name);
      error(n, what + " reads params." + name + ", which the workflow does not declare" + did_you_mean(name, names) +
                   ": add it under 'params'");
      return std::nullopt;
    }
    r.from_params[key] = name;
    std::string text;
    if (auto it = shape_.find(name); it != shape_.end()) text = it->second;
    else if (!decl->default_value) {
      error(n, what + " reads params." + name + ", which has no default: pass -p " + name + "=VALUE");
      return std::nullopt;
    } else {
      const Value& v = *decl->default_value;
      text = v.is_string() ? v.get<std::string>() : v.dump();
    }
    try {
      YAML::Node v = YAML::Load(text);
      if (v.IsScalar()) return v;
    } catch (const YAML::Exception&) {
    }
    return YAML::Node(text);  // not a plain value: reported as it was given
  }

  double duration(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) {
      if (auto d = parse_duration(n.Scalar())) return *d;
    }
    error(n, what + " must be a duration like 30s, 5m, 2h or 1h30m; got " +
                 (n.IsScalar() ? "'" + n.Scalar() + "'" : yaml_kind(n)));
    return 0;
  }

  void parse_metadata(const YAML::Node& md, const YAML::Node& root, Workflow& wf) {
    if (!md) {
      error(root, "missing 'metadata': add 'metadata: {name: my-workflow}'");
      return;
    }
    if (!expect_map(md, "'metadata'")) return;
    check_keys(md, kMetadataKeys, "in 'metadata'");
    YAML::Node name = md["name"];
    if (!name) {
      error(md, "missing 'metadata.name': give the workflow a name like 'mnist-ct'");
    } else {
      wf.name = string(name, "metadata.name");
      if (!wf.name.empty() && (!std::regex_match(wf.name, kWorkflowName) || wf.name.size() > 63))
        error(name, "bad workflow name '" + wf.name +
                        "': use at most 63 lower-case letters, digits and '-', starting and ending with a letter "
                        "or digit (it becomes a Kubernetes name)");
    }
    if (YAML::Node desc = md["description"]) wf.description = string(desc, "metadata.description");
  }

  void parse_params(const YAML::Node& params, std::vector<ParamDecl>& out) {
    if (!expect_map(params, "'params'")) return;
    check_duplicates(params, "in 'params'");
    std::set<std::string> seen;
    for (const auto& kv : params) {
      const std::string name = kv.first.Scalar();
      if (!seen.insert(name).second) continue;
      ParamDecl p;
      p.name = name;
      p.pos = pos(kv.first);
      if (!std::regex_match(name, kParamName))
        error(kv.first, "bad param name '" + name + "': use letters, digits and '_', not starting with a digit");
      const YAML::Node& v = kv.second;
      bool is_decl = v.IsMap() && v.size() > 0;
      if (is_decl) {
        for (const auto& e : v)
          if (!e.first.IsScalar() ||
              std::find(kParamKeys.begin(), kParamKeys.end(), e.first.Scalar()) == kParamKeys.end())
            is_decl = false;
        if (!is_decl && v["type"]) is_decl = true;  // a declaration with a typo: report the key
      }
      if (is_decl) {
        check_keys(v, kParamKeys, "in param '" + name + "' (allowed: type, default, description)");
        std::optional<ParamType> type;
        if (YAML::Node t = v["type"]) {
          std::string ts = string(t, "param type");
          type = param_type_from_string(ts);
          if (!type && !ts.empty())
            error(t, "unknown param type '" + ts + "'" +
                         did_you_mean(ts, {"string", "int", "float", "bool", "path", "json"}) +
                         ": use string, int, float, bool, path or json");
        }
        if (YAML::Node d = v["default"]) p.default_value = yaml_to_value(d);
        if (YAML::Node desc = v["description"]) p.description = string(desc, "param description");
        p.type = type ? *type : (p.default_value ? infer_type(*p.default_value) : ParamType::String);
        if (p.default_value && type) {
          auto coerced = coerce_param_value(p, *p.default_value);
          if (!coerced) error(v["default"], "default of param '" + name + "' " + coerced.message());
          else p.default_value = *coerced;
        }
      } else {
        p.default_value = yaml_to_value(v);
        p.type = infer_type(*p.default_value);
      }
      out.push_back(std::move(p));
    }
  }

  static ParamType infer_type(const Value& v) {
    if (v.is_boolean()) return ParamType::Bool;
    if (v.is_number_integer()) return ParamType::Int;
    if (v.is_number()) return ParamType::Float;
    if (v.is_string()) return ParamType::String;
    return ParamType::Json;
  }

 public:
  // Also used for -p values; see bind_params.

 private:
  void parse_steps(const YAML::Node& steps, const Step& defaults, std::vector<Step>& out, const std::string& section) {
    if (!steps.IsMap()) {
      error(steps, "'" + section + "' must be a map of step name to step; got " + yaml_kind(steps));
      return;
    }
    if (steps.size() == 0 && section == "steps") error(steps, "'steps' is empty: a workflow needs at least one step");
    check_duplicates(steps, "in '" + section + "'");
    std::set<std::string> seen;
    out.reserve(steps.size());
    for (const auto& kv : steps) {
      if (!kv.first.IsScalar()) continue;
      const std::string name = kv.first.Scalar();
      if (!seen.insert(name).second) continue;
      Step s = defaults;
      s.name = name;
      s.pos = pos(kv.first);
      if (!is_step_name(name) || name.size() > 63)
        error(kv.first, "bad step name '" + name +
                            "': use lower-case letters, digits, '-' and '_', starting and ending with a letter or digit");
      parse_step(kv.second, s);
      out.push_back(std::move(s));
    }
  }

  // templates: {NAME: {params: {...}, steps: {...}, outputs: {NAME: "{{steps.x.outputs.y}}"}}}
  void parse_templates(const YAML::Node& n, const Step& defaults, Workflow& wf) {
    if (!expect_map(n, "'templates'")) return;
    check_duplicates(n, "in 'templates'");
    for (const auto& kv : n) {
      if (!kv.first.IsScalar() || wf.templates.count(kv.first.Scalar())) continue;
      TemplateDef t;
      t.name = kv.first.Scalar();
      t.pos = pos(kv.first);
      const std::string where = "template '" + t.name + "'";
      if (!is_step_name(t.name) || t.name.size() > 63)
        error(kv.first, "bad template name '" + t.name + "': use lower-case letters, digits, '-' and '_'");
      const YAML::Node& v = kv.second;
      if (!v.IsMap()) {
        error(v, where + " must be a map with 'steps' (and optional 'params', 'outputs'); got " + yaml_kind(v));
        continue;
      }
      check_keys(v, kTemplateKeys, "in " + where + " (allowed: params, steps, outputs)");
      if (YAML::Node p = v["params"]) parse_params(p, t.params);
      YAML::Node st = v["steps"];
      if (!st || (st.IsMap() && st.size() == 0)) error(st ? st : v, where + " has no steps: add 'steps:' with at least one");
      else parse_steps(st, defaults, t.steps, "templates." + t.name + ".steps");
      if (YAML::Node o = v["outputs"]; o && expect_map(o, "'outputs' of " + where))
        for (const auto& out : o) {
          t.outputs[out.first.Scalar()] = string(out.second, "output '" + out.first.Scalar() + "' of " + where);
          t.output_pos[out.first.Scalar()] = pos(out.second);
          check_template(out.second, t.outputs[out.first.Scalar()]);
        }
      wf.templates.emplace(t.name, std::move(t));
    }
  }

  void check_template(const YAML::Node& n, const std::string& text) {
    auto r = tmpl::refs(text);
    if (auto* e = std::get_if<tmpl::TemplateError>(&r)) {
      SourcePos p = pos(n);
      if (n.Mark().line >= 0 && text.find('\n') == std::string::npos)
        p.col += static_cast<int>(e->offset) + (yaml_is_quoted(n) ? 1 : 0);
      d_.error(p, e->message);
    }
  }

  void check_templates_in(const YAML::Node& n) {
    if (n.IsScalar()) check_template(n, n.Scalar());
    else if (n.IsSequence() || n.IsMap())
      for (const auto& child : n) check_templates_in(n.IsMap() ? child.second : child);
  }

  void check_expression(const YAML::Node& n, const std::string& text, const std::string& what) {
    auto r = expr::Expr::parse(text);
    if (auto* e = std::get_if<expr::ParseError>(&r)) {
      SourcePos p = pos(n);
      if (text.find('\n') == std::string::npos)
        p.col += static_cast<int>(e->offset) + (yaml_is_quoted(n) ? 1 : 0);
      d_.error(p, "in " + what + " expression: " + e->message);
    }
  }

  // uses, run, shell or call: exactly one says what the step runs.
  void parse_kind(const YAML::Node& n, const MapView& m, Step& s) {
    int kinds = 0;
    std::vector<std::string> kind_keys;
    for (const char* k : {"uses", "run", "shell", "call"})
      if (m[k]) {
        ++kinds;
        kind_keys.push_back(k);
      }
    if (kinds == 0) {
      error(n, "step '" + s.name + "' says nothing to run: add one of 'uses: PLUGIN', 'run: [argv...]', 'shell: SCRIPT' "
               "or 'call: TEMPLATE'");
    } else if (kinds > 1) {
      error(m[kind_keys[1]], "step '" + s.name + "' has both '" + kind_keys[0] + "' and '" + kind_keys[1] +
                                 "': a step runs exactly one of uses, run, shell or call");
    }
    if (YAML::Node u = m["uses"]) {
      s.kind = StepKind::Plugin;
      s.kind_pos = pos(u);
      s.uses = string(u, "'uses'");
    } else if (YAML::Node r = m["run"]) {
      s.kind = StepKind::Run;
      s.kind_pos = pos(r);
      if (r.IsSequence()) {
        if (r.size() == 0) error(r, "'run' is empty: give the command and its arguments as a list");
        for (const auto& a : r) {
          if (a.IsScalar()) {
            s.run.push_back(a.Scalar());
            check_template(a, a.Scalar());
          } else {
            error(a, "each element of 'run' must be a string; got " + yaml_kind(a));
          }
        }
      } else {
        error(r, "'run' takes a list (argv), e.g. run: [python3, train.py, \"{{params.epochs}}\"]; "
                 "for a shell command line use 'shell:'");
      }
    } else if (YAML::Node c = m["call"]) {
      s.kind = StepKind::Call;
      s.kind_pos = pos(c);
      s.call = string(c, "'call'");
      if (m["image"]) error(m["image"], "step '" + s.name + "' calls a template: its own steps say where they run, not 'image'");
    } else if (YAML::Node sh = m["shell"]) {
      s.kind = StepKind::Shell;
      s.kind_pos = pos(sh);
      s.shell = string(sh, "'shell'");
      check_template(sh, s.shell);
    }
  }

  void parse_step(const YAML::Node& n, Step& s) {
    const std::string where = "in step '" + s.name + "'";
    if (!n.IsMap()) {
      error(n, "step '" + s.name + "' must be a map with one of uses, run, shell or call; got " + yaml_kind(n));
      return;
    }
    check_keys(n, kStepKeys, where);
    const MapView m(n);
    parse_kind(n, m, s);
    if (YAML::Node net = m["network"]) s.network = boolean(net, "'network'");
    if (YAML::Node w = m["with"]) {
      if (expect_map(w, "'with'")) {
        check_duplicates(w, where + " 'with'");
        s.with = Value::object();
        for (const auto& kv : w) {
          s.with[kv.first.Scalar()] = yaml_to_value(kv.second);
          s.with_pos[kv.first.Scalar()] = pos(kv.first);
          check_templates_in(kv.second);
        }
      }
    }
    if (YAML::Node e = m["env"]) {
      if (expect_map(e, "'env'"))
        for (const auto& kv : e) s.env[kv.first.Scalar()] = kv.second.IsScalar() ? kv.second.Scalar() : "";
    }
    if (m["needs"] && m["depends"])
      error(m["depends"], "step '" + s.name + "' has both 'needs' and 'depends': use one (needs: [a] means depends: "
                             "\"a.Succeeded || a.Skipped\")");
    if (YAML::Node nd = m["needs"]) {
      if (nd.IsScalar()) s.needs.push_back(nd.Scalar());
      else if (nd.IsSequence()) {
        for (const auto& x : nd) {
          if (x.IsScalar()) s.needs.push_back(x.Scalar());
          else error(x, "each entry of 'needs' must be a step name; got " + yaml_kind(x));
        }
      } else error(nd, "'needs' must be a list of step names; got " + yaml_kind(nd));
    }
    if (YAML::Node dp = m["depends"]) {
      s.depends = string(dp, "'depends'");
      s.depends_pos = pos(dp);
      if (!s.depends.empty()) check_expression(dp, s.depends, "'depends'");
    }
    if (YAML::Node wh = m["when"]) {
      Value v = yaml_to_value(wh);
      s.when = v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      s.when_pos = pos(wh);
      check_expression(wh, s.when, "'when'");
    }
    if (YAML::Node fe = m["for_each"]) {
      s.for_each_pos = pos(fe);
      if (fe.IsSequence()) s.for_each = yaml_to_value(fe);
      else if (fe.IsScalar()) {
        s.for_each = Value(fe.Scalar());
        auto refs = tmpl::refs(fe.Scalar());
        auto* list = std::get_if<std::vector<std::string>>(&refs);
        if (!list || list->size() != 1 || fe.Scalar().rfind("{{", 0) != 0)
          error(fe, "'for_each' takes a list or one reference like \"{{steps.split.outputs.shards}}\"");
      } else error(fe, "'for_each' takes a list or one reference; got " + yaml_kind(fe));
    }
    if (YAML::Node par = m["parallelism"]) {
      s.parallelism = positive_int(par, "'parallelism'");
      if (!m["for_each"]) error(par, "'parallelism' on a step limits a fan-out: it needs 'for_each'");
    }
    if (YAML::Node out = m["outputs"]) parse_outputs(out, s);
    parse_step_settings(n, s, "step '" + s.name + "'");
    if (YAML::Node sw = m["sweep"]) parse_sweep(sw, s);
  }

  void parse_sweep(const YAML::Node& sw, Step& s) {
    const size_t before = d_.size();
    if (s.for_each) error(sw, "step '" + s.name + "' has both 'sweep' and 'for_each': a sweep makes its own instances, "
                                  "one per trial; use one of them");
    s.sweep = sweep::parse_sweep_block(sw, file_, d_);
    if (s.kind == StepKind::Call && d_.size() == before)
      error(sw, "step '" + s.name + "' is a call step: a sweep runs a step's own body (uses, run or shell) as trials");
  }

  // A run or shell step declares its outputs (a file each, and a default); a
  // plugin step only gives defaults to outputs its plugin declares (validate.cc
  // checks the names): what a reference to them gives when the step does not run.
  void parse_outputs(const YAML::Node& out, Step& s) {
    if (!expect_map(out, "'outputs'")) return;
    if (s.kind == StepKind::Call) {
      error(out, "a call step's outputs are its template's: declare them under 'templates." + s.call + ".outputs'");
      return;
    }
    const bool plugin = s.kind == StepKind::Plugin;
    check_keys(out, kOutputsKeys, "in 'outputs'");
    // One declared output: its path (not for a plugin) and its default (required for a plugin).
    auto decl = [&](const YAML::Node& k, const YAML::Node& v, const std::string& what, const char* example,
                    const char* writes, const std::vector<std::string>& keys, std::string& path,
                    std::optional<Value>& def) {
      const std::string name = k.Scalar();
      if (!v.IsMap()) {
        error(v, what + " '" + name + "' must be a map like " + (plugin ? "{default: VALUE}" : std::string(example)));
        return false;
      }
      check_keys(v, keys, "in " + what + " '" + name + "'");
      if (YAML::Node d = v["default"]) def = yaml_to_value(d);
      if (plugin) {
        const std::string see = " (the plugin declares the output itself: see 'ctflow plugins " + s.uses + "')";
        if (YAML::Node p = v["path"]) error(p, "a plugin step gives its " + what + " '" + name + "' only a 'default'" + see);
        else if (!def) error(v, what + " '" + name + "' of a plugin step needs a 'default': what it is when the step "
                                "is Skipped or Omitted" + see);
        return true;
      }
      if (YAML::Node p = v["path"]) path = string(p, "'path'");
      else error(v, what + " '" + name + "' needs a 'path' (" + writes + ")");
      return true;
    };
    if (YAML::Node ps = out["parameters"]) {
      if (expect_map(ps, "'outputs.parameters'")) {
        for (const auto& kv : ps) {
          const std::string name = kv.first.Scalar();
          if (name == "result") error(kv.first, "'result' is reserved: stdout is always outputs.result");
          OutputParamDecl d;
          if (decl(kv.first, kv.second, "output parameter", "{path: out.txt}", "a file the step writes",
                   kOutputParamKeys, d.path, d.default_value))
            s.output_params[name] = d;
        }
      }
    }
    if (YAML::Node as = out["artifacts"]) {
      if (expect_map(as, "'outputs.artifacts'")) {
        for (const auto& kv : as) {
          OutputArtifactDecl d;
          if (decl(kv.first, kv.second, "output artifact", "{path: model/}", "a file or folder the step writes",
                   kOutputArtifactKeys, d.path, d.default_value))
            s.output_artifacts[kv.first.Scalar()] = d;
        }
      }
    }
  }

  // Keys shared by steps and 'defaults'.
  void parse_step_settings(const YAML::Node& n, Step& s, const std::string& where) {
    const MapView m(n);
    if (YAML::Node img = m["image"]) {
      s.image = string(img, "'image'");
      s.image_pos = pos(img);
      check_template(img, s.image);
    }
    if (YAML::Node t = m["timeout"]) s.timeout_s = duration(t, "'timeout'");
    if (YAML::Node r = m["retry"]) parse_retry(r, s.retry);
    if (YAML::Node res = m["resources"]) {
      if (expect_map(res, "'resources'")) {
        check_keys(res, kResourceKeys, "in 'resources' (allowed: cpu, gpu, memory)");
        for (const auto& k : kResourceKeys)  // a step's own value replaces its defaults' param
          if (res[k]) s.resources.from_params.erase(k);
        if (YAML::Node c = res["cpu"]) {
          if (auto v = resource_value(c, "cpu", s.resources)) s.resources.cpu = number(*v, c, "'resources.cpu'");
        }
        if (YAML::Node g = res["gpu"]) {
          if (auto v = resource_value(g, "gpu", s.resources))
            s.resources.gpu = positive_int(*v, g, "'resources.gpu'", true);
        }
        if (YAML::Node mem = res["memory"]) {
          if (auto v = resource_value(mem, "memory", s.resources)) {
            auto sz = v->IsScalar() ? parse_size(v->Scalar()) : std::nullopt;
            if (sz) s.resources.memory = *sz;
            else error(mem, "'resources.memory' must be a size like 512Mi, 4Gi or 2G; got " +
                                (v->IsScalar() ? "'" + v->Scalar() + "'" : yaml_kind(*v)) + from_param(mem));
          }
        }
      }
    }
    if (YAML::Node c = m["cache"]) s.cache = boolean(c, "'cache'");
    if (YAML::Node iso = m["isolation"]) {
      std::string v = string(iso, "'isolation'");
      if (v == "process") s.isolation = Isolation::Process;
      else if (v == "none") s.isolation = Isolation::None;
      else error(iso, "'isolation' must be 'process' or 'none'; got '" + v + "'" + did_you_mean(v, {"process", "none"}));
    }
    (void)where;
  }

  void parse_retry(const YAML::Node& r, RetryPolicy& p) {
    if (r.IsScalar()) {
      p.limit = positive_int(r, "'retry'", true);
      return;
    }
    if (!expect_map(r, "'retry'")) return;
    check_keys(r, kRetryKeys, "in 'retry' (allowed: limit, backoff, factor, max_backoff, on)");
    if (YAML::Node l = r["limit"]) p.limit = positive_int(l, "'retry.limit'", true);
    if (YAML::Node b = r["backoff"]) p.backoff_s = duration(b, "'retry.backoff'");
    if (YAML::Node f = r["factor"]) {
      p.factor = number(f, "'retry.factor'");
      if (p.factor < 1) error(f, "'retry.factor' must be at least 1");
    }
    if (YAML::Node m = r["max_backoff"]) p.max_backoff_s = duration(m, "'retry.max_backoff'");
    if (YAML::Node on = r["on"]) {
      if (!on.IsSequence()) {
        error(on, "'retry.on' must be a list of failed, error, timeout");
        return;
      }
      p.on_failed = p.on_error = p.on_timeout = false;
      for (const auto& x : on) {
        std::string v = x.IsScalar() ? x.Scalar() : "";
        if (v == "failed") p.on_failed = true;
        else if (v == "error") p.on_error = true;
        else if (v == "timeout") p.on_timeout = true;
        else error(x, "unknown retry condition '" + v + "'" + did_you_mean(v, {"failed", "error", "timeout"}) +
                          ": use failed, error or timeout");
      }
    }
  }

  const std::string& file_;
  Diagnostics& d_;
  const ShapeParams& shape_;
  const Workflow* wf_ = nullptr;  // the one being parsed: its params are read before any step
};

}  // namespace

ShapeParams shape_params(const std::vector<std::string>& assignments) {
  ShapeParams out;
  for (const auto& a : assignments)
    if (auto eq = a.find('='); eq != std::string::npos && eq > 0) out[a.substr(0, eq)] = a.substr(eq + 1);
  return out;
}

ShapeParams shape_params(const Value& params) {
  ShapeParams out;
  if (params.is_object())
    for (auto it = params.begin(); it != params.end(); ++it)
      out[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
  return out;
}

LoadResult parse_workflow_text(const std::string& text, const std::string& file, const ShapeParams& params) {
  LoadResult out;
  out.diags.set_source(text);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    out.diags.error(yaml_pos(file, e.mark), "YAML syntax: " + e.msg);
    return out;
  } catch (const YAML::Exception& e) {
    out.diags.error(yaml_pos(file, e.mark), std::string("YAML: ") + e.what());
    return out;
  }
  Parser parser(file, out.diags, params);
  try {
    if (is_argo_document(root)) {
      ArgoOptions options = ArgoOptions::from_env();
      options.params = params;
      out.workflow = parse_argo_workflow(root, file, out.diags, options);
    }
    else out.workflow = parser.parse(root);
  } catch (const YAML::Exception& e) {
    out.diags.error(yaml_pos(file, e.mark), std::string("YAML: ") + e.what());
  } catch (const std::exception& e) {
    out.diags.error({file, 0, 0}, std::string("cannot read the workflow: ") + e.what() +
                                      " (is the file UTF-8 text?)");
  }
  return out;
}

LoadResult load_workflow_file(const std::string& file, const ShapeParams& params) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    LoadResult out;
    out.diags.error({file, 0, 0}, "cannot read the workflow file: " + std::string(std::strerror(errno)));
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_workflow_text(ss.str(), file, params);
}

}  // namespace ctflow

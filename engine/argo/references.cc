// Argo's {{...}} references, rewritten into ctflow text: inputs substituted,
// tasks./steps. outputs as ctflow step references, workflow parameters as
// params; and values that must be known when the file is read (at_load).
#include "engine/argo/translator.h"

#include "engine/expr.h"
#include "engine/reference.h"
#include "engine/template.h"

namespace ctflow::argo_detail {

bool Translator::at_load(std::string& t, const YAML::Node& at, const std::string& what,
                         const std::string& run_time) {
  auto scanned = tmpl::placeholders(t);
  if (std::holds_alternative<tmpl::TemplateError>(scanned)) {
    unsupported(at, run_time);
    return false;
  }
  std::string out;
  std::map<std::string, std::string> used;
  size_t i = 0;
  for (const tmpl::Placeholder& p : std::get<std::vector<tmpl::Placeholder>>(scanned)) {
    auto ref = parse_reference(p.ref);
    if (!ref || ref->kind != Reference::Kind::Param) {
      unsupported(at, run_time);
      return false;
    }
    const std::string& name = ref->name;
    auto v = load_values_.find(name);
    if (v == load_values_.end()) {
      error(at, what + " needs workflow parameter '" + name + "' when the file is read, and it has no value: "
                "give it one in spec.arguments");
      return false;
    }
    out += t.substr(i, p.begin - i) + v->second;
    used[name] = v->second;
    i = p.end;
  }
  out += t.substr(i);
  for (const auto& [name, value] : used) {
    fixed_[name].value = value;
    fixed_[name].what.insert(what);
  }
  t = out;
  return true;
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
    // A local run is scheduled when it is started: the time the file is read.
    if (ref == "workflow.scheduledTime" || ref == "workflow.creationTimestamp") return scheduled_time_;
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
    if (what == "exitCode") {
      if (o.nested || o.fan_out) return no();
      return "{{steps." + o.flat + ".exit_code}}";
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

// What of expr-lang ctflow reads, for messages.
const std::string kExprLangHas =
    std::string("ctflow's expressions have ==, !=, <, <=, >, >=, =~, in, &&, ||, !, + - * / %, ? :, ??, [i], .key, "
                "[...], {key: ...} and the functions ") + expr::function_names(expr::Syntax::ExprLang);

// An expression tag {{=EXPR}} evaluated when the file is read: EXPR may read
// workflow parameters (recorded in fixed_, as dag.target's are) and input
// parameters that are known then; anything else is known only at run time.
std::optional<std::string> Translator::expression_at_load(const std::string& e, const SourcePos& at, Ctx& c) {
  auto parsed = expr::Expr::parse(e, expr::Syntax::ExprLang);
  if (auto* err = std::get_if<expr::ParseError>(&parsed)) {
    report(at, "not supported locally: the expression '{{=" + trim(e) + "}}' (" + err->message + " at offset " +
                   std::to_string(err->offset) + "): " + kExprLangHas);
    return std::nullopt;
  }
  std::map<std::string, std::string> used;
  auto value = std::get<expr::Expr>(parsed).eval([&](const std::string& ref) -> Result<Value> {
    std::vector<std::string> p = split(ref, '.');
    if (p.size() == 3 && p[0] == "workflow" && p[1] == "parameters") {
      auto v = load_values_.find(p[2]);
      if (v == load_values_.end()) return Status::Error("no workflow parameter '" + p[2] + "' with a value");
      used[p[2]] = v->second;
      return Value(v->second);
    }
    if (p.size() == 3 && p[0] == "inputs" && p[1] == "parameters") {
      auto v = c.params.find(p[2]);
      if (v == c.params.end()) return Status::Error("template '" + c.tmpl + "' has no input parameter '" + p[2] + "'");
      if (v->second.find("{{") != std::string::npos)
        return Status::Error("'" + ref + "' is known only at run time");
      return Value(v->second);
    }
    return Status::Error("'" + ref + "' is known only at run time (an expression here may read workflow "
                         "parameters and input parameters known when the file is read)");
  });
  if (!value) {
    report(at, "not supported locally: the expression '{{=" + trim(e) + "}}': " + value.message());
    return std::nullopt;
  }
  for (const auto& [name, v] : used) {
    fixed_[name].value = v;
    fixed_[name].what.insert("an expression tag");
  }
  return value->is_string() ? value->get<std::string>() : value->dump();
}

std::optional<std::string> Translator::expression_at_run(const std::string& e, const YAML::Node& at, Ctx& c) {
  auto parsed = expr::Expr::parse(e, expr::Syntax::ExprLang);
  if (auto* err = std::get_if<expr::ParseError>(&parsed)) {
    unsupported(at, "the expression '" + trim(e) + "' (" + err->message + " at offset " + std::to_string(err->offset) +
                        "): " + kExprLangHas);
    return std::nullopt;
  }
  std::string out;
  size_t i = 0;
  bool ok = true;
  for (const expr::RefSpan& sp : std::get<expr::Expr>(parsed).ref_spans()) {
    const std::string written = e.substr(sp.offset, sp.length);
    // The REF as the parser folded it: tasks['a'].outputs.result -> tasks.a.outputs.result.
    std::string ref;
    for (size_t k = 0; k < written.size(); ++k) {
      if (written.compare(k, 2, "['") == 0 || written.compare(k, 2, "[\"") == 0) {
        size_t close = written.find(written[k + 1], k + 2);
        ref += "." + written.substr(k + 2, close - k - 2);
        k = close + 1;
      } else {
        ref += written[k];
      }
    }
    out += e.substr(i, sp.offset - i);
    i = sp.offset + sp.length;
    auto r = resolve(ref, pos(at), c);
    if (!r) {
      ok = false;
      continue;
    }
    if (is_single_ref(*r) && r->find("{{", 2) == std::string::npos) out += trim(r->substr(2, r->size() - 4));
    else if (r->find("{{") == std::string::npos) out += Value(*r).dump();
    else {
      unsupported(at, "the expression '" + trim(e) + "': '" + written + "' is '" + *r + "' here, which is not one value");
      ok = false;
    }
  }
  out += e.substr(i);
  if (!ok) return std::nullopt;
  return out;
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
      if (auto v = expression_at_load(inner.substr(1), p, c)) out += *v;
      else ok = false;
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

}  // namespace ctflow::argo_detail

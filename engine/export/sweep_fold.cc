#include "engine/export/sweep_fold.h"

#include <algorithm>
#include <map>

#include "engine/template.h"

namespace ctflow {
namespace {

bool untried(const Step& s, const Value& params) {
  if (!s.sweep || s.sweep->trials_param.empty()) return false;
  if (!params.is_object() || !params.contains(s.sweep->trials_param)) return false;
  const Value& n = params[s.sweep->trials_param];
  if (!n.is_number_integer() || n.get<int64_t>() != 0) return false;
  return std::all_of(s.sweep->parameters.begin(), s.sweep->parameters.end(),
                     [](const SweepParam& p) { return p.default_value.has_value(); });
}

// V with each {{steps.S.outputs.best.NAME}} of a left-out S replaced by its default; other references stay.
Value fold_refs(const Value& v, const std::map<std::string, Value>& defaults) {
  if (v.is_array() || v.is_object()) {
    Value out = v;
    for (auto it = out.begin(); it != out.end(); ++it) *it = fold_refs(*it, defaults);
    return out;
  }
  if (!v.is_string()) return v;
  const std::string& text = v.get<std::string>();
  const bool mentions = std::any_of(defaults.begin(), defaults.end(), [&](const auto& d) {
    return text.find("steps." + d.first + ".outputs.best") != std::string::npos;
  });
  if (!mentions) return v;
  auto r = tmpl::render(text, [&](const std::string& ref) -> Result<Value> {
    for (const auto& [step, best] : defaults) {
      const std::string prefix = "steps." + step + ".outputs.best.";
      if (ref.rfind(prefix, 0) == 0 && best.contains(ref.substr(prefix.size()))) return best[ref.substr(prefix.size())];
      if (ref == "steps." + step + ".outputs.best") return best;
    }
    return Value("{{" + ref + "}}");
  });
  return r ? *r : v;
}

std::string text_of(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

Workflow without_untried_sweeps(const Workflow& wf, const Value& params, std::vector<std::string>* left_out) {
  std::map<std::string, Value> defaults;                // left-out step -> its `best`
  std::map<std::string, std::vector<std::string>> inherited;  // left-out step -> its needs
  for (const auto& s : wf.steps)
    if (untried(s, params)) {
      Value best = Value::object();
      for (const auto& p : s.sweep->parameters) best[p.name] = *p.default_value;
      defaults[s.name] = std::move(best);
      inherited[s.name] = s.needs;
      if (left_out) left_out->push_back(s.name);
    }
  if (defaults.empty()) return wf;
  Workflow out = wf;
  out.steps.clear();
  for (const auto& s : wf.steps) {
    if (defaults.count(s.name)) continue;
    Step t = s;
    std::vector<std::string> needs;
    for (const auto& n : s.needs) {
      const auto& add = inherited.count(n) ? inherited[n] : std::vector<std::string>{n};
      for (const auto& x : add)
        if (std::find(needs.begin(), needs.end(), x) == needs.end()) needs.push_back(x);
    }
    t.needs = std::move(needs);
    t.with = fold_refs(s.with, defaults);
    for (auto& a : t.run) a = text_of(fold_refs(Value(a), defaults));
    if (!t.shell.empty()) t.shell = text_of(fold_refs(Value(t.shell), defaults));
    out.steps.push_back(std::move(t));
  }
  return out;
}

}  // namespace ctflow

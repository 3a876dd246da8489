#include "engine/validate_call.h"

#include <algorithm>

#include "engine/params.h"
#include "engine/template.h"

namespace ctflow {

namespace {
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}
}  // namespace

void check_call(const Workflow& root, const Step& s, Diagnostics& d) {
  auto it = root.templates.find(s.call);
  if (it == root.templates.end()) {
    std::vector<std::string> names;
    for (const auto& [n, t] : root.templates) names.push_back(n);
    d.error(s.kind_pos, "step '" + s.name + "' calls unknown template '" + s.call + "'" + did_you_mean(s.call, names) +
                            ": declare it under 'templates:' at the top level");
    return;
  }
  const TemplateDef& t = it->second;
  std::vector<std::string> declared;
  for (const auto& p : t.params) declared.push_back(p.name);
  for (auto w = s.with.begin(); w != s.with.end(); ++w) {
    auto pos_it = s.with_pos.find(w.key());
    const SourcePos pos = pos_it == s.with_pos.end() ? s.pos : pos_it->second;
    const ParamDecl* p = t.find_param(w.key());
    if (!p) {
      d.error(pos, "template '" + t.name + "' has no param '" + w.key() + "'" + did_you_mean(w.key(), declared) +
                       " (its params: " + joined(declared) + ")");
      continue;
    }
    const Value& v = w.value();
    if (v.is_string() && v.get<std::string>().find("{{") != std::string::npos) continue;  // known when it runs
    if (p->type == ParamType::Json) continue;
    if (auto c = coerce_param_value(*p, v); !c)
      d.error(pos, "param '" + p->name + "' of template '" + t.name + "' is " + to_string(p->type) + " and " +
                       c.message());
  }
  for (const auto& p : t.params)
    if (!p.default_value && !s.with.contains(p.name))
      d.error(s.kind_pos, "step '" + s.name + "': template '" + t.name + "' needs param '" + p.name + "' (" +
                              to_string(p.type) + "): add it under 'with:'");
}

bool call_output_known(const Workflow& root, const Step& caller, const std::string& name,
                       std::vector<std::string>& declared) {
  auto it = root.templates.find(caller.call);
  if (it == root.templates.end()) return true;
  for (const auto& [n, text] : it->second.outputs) declared.push_back(n);
  return it->second.outputs.count(name) > 0;
}

void check_template_outputs(const TemplateDef& t, Diagnostics& d) {
  std::vector<std::string> steps;
  for (const auto& s : t.steps) steps.push_back(s.name);
  for (const auto& [name, text] : t.outputs) {
    auto r = tmpl::refs(text);
    auto* refs = std::get_if<std::vector<std::string>>(&r);
    if (!refs) continue;  // the frontend reported the syntax
    const SourcePos pos = t.output_pos.count(name) ? t.output_pos.at(name) : t.pos;
    for (const auto& ref : *refs) {
      const std::string root = ref.substr(0, ref.find('.'));
      const std::string rest = root.size() < ref.size() ? ref.substr(root.size() + 1) : "";
      const std::string step = rest.substr(0, rest.find('.'));
      if (root == "params" && t.find_param(rest)) continue;
      if (root == "steps" && std::find(steps.begin(), steps.end(), step) != steps.end() &&
          step.size() < rest.size())
        continue;
      if (root == "steps")
        d.error(pos, "output '" + name + "' of template '" + t.name + "' refers to '" + ref +
                         "': a template's outputs come from its own steps (" + joined(steps) + ")" +
                         did_you_mean(step, steps));
      else
        d.error(pos, "output '" + name + "' of template '" + t.name + "' refers to '" + ref +
                         "': use {{steps.STEP.outputs.NAME}} of one of its steps, or {{params.NAME}}");
    }
  }
}

}  // namespace ctflow

#include "engine/lint.h"

#include <cctype>
#include <set>

namespace ctflow {
namespace {

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Adds every NAME of "params.NAME" in `text` to `used`.
void params_in(const std::string& text, std::set<std::string>& used) {
  static const std::string kRoot = "params.";
  for (size_t at = text.find(kRoot); at != std::string::npos; at = text.find(kRoot, at + 1)) {
    if (at > 0 && (ident_char(text[at - 1]) || text[at - 1] == '.')) continue;
    size_t end = at + kRoot.size();
    while (end < text.size() && ident_char(text[end])) ++end;
    if (end > at + kRoot.size()) used.insert(text.substr(at + kRoot.size(), end - at - kRoot.size()));
  }
}

void params_in(const Value& v, std::set<std::string>& used) {
  if (v.is_string()) params_in(v.get<std::string>(), used);
  else if (v.is_array() || v.is_object())
    for (const auto& x : v) params_in(x, used);
}

void params_in(const Step& s, std::set<std::string>& used) {
  for (const auto& a : s.run) params_in(a, used);
  params_in(s.shell, used);
  params_in(s.image, used);
  if (s.sweep && !s.sweep->trials_param.empty()) used.insert(s.sweep->trials_param);  // trials: "{{params.NAME}}"
  params_in(s.when, used);
  params_in(s.with, used);
  if (s.for_each) params_in(*s.for_each, used);
  for (const auto& [k, v] : s.env) params_in(v, used);
  for (const auto& [k, o] : s.output_params) {
    params_in(o.path, used);
    if (o.default_value) params_in(*o.default_value, used);
  }
  for (const auto& [k, o] : s.output_artifacts) {
    params_in(o.path, used);
    if (o.default_value) params_in(*o.default_value, used);
  }
}

void check_step(const Step& s, Diagnostics& d) {
  if (s.kind == StepKind::Run && !s.run.empty()) {
    const std::string& prog = s.run.front();
    if (prog.find_first_of(" \t") != std::string::npos && prog.find('/') == std::string::npos &&
        prog.find("{{") == std::string::npos)
      d.warning(s.kind_pos, "step '" + s.name + "': run: starts the program '" + prog +
                                "', spaces and all (run is argv, not a shell line): split it, e.g. [" +
                                prog.substr(0, prog.find_first_of(" \t")) + ", ...], or use shell:");
  }
  const RetryPolicy& r = s.retry;
  if (r.limit > 0 && !r.on_failed && !r.on_error && (!r.on_timeout || s.timeout_s <= 0))
    d.warning(s.pos, "step '" + s.name + "': retry can never happen: " +
                         (r.on_timeout ? std::string("it retries only on timeout and the step has no timeout")
                                       : std::string("retry.on lists no reason")));
}

}  // namespace

void lint_warnings(const Workflow& wf, Diagnostics& d) {
  if (wf.api_version != "ctflow/v1") return;
  std::set<std::string> used;
  for (const auto* steps : {&wf.steps, &wf.on_exit})
    for (const auto& s : *steps) {
      params_in(s, used);
      for (const auto& [key, name] : s.resources.from_params) used.insert(name);  // read when the file is
      check_step(s, d);
    }
  for (const auto& p : wf.params)
    if (!used.count(p.name))
      d.warning(p.pos, "param '" + p.name + "' is declared but no step reads it: remove it, or use {{params." + p.name +
                           "}}");
}

}  // namespace ctflow

// Fan-outs (withItems, withParam, withSequence) and the tasks a dag.target
// keeps.
#include "engine/argo/translator.h"

#include <cstdio>

namespace ctflow::argo_detail {

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

}  // namespace ctflow::argo_detail

// A run's sweeps as the dashboard shows them (web/sweep_view.h).
#include "web/sweep_view.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

namespace ctflow::web {
using Json = nlohmann::json;

namespace {

const char* kind_name(SweepParam::Kind k) {
  switch (k) {
    case SweepParam::Kind::Int: return "int";
    case SweepParam::Kind::Categorical: return "categorical";
    case SweepParam::Kind::Float: break;
  }
  return "float";
}

const char* method_name(SweepMethod m) {
  switch (m) {
    case SweepMethod::Grid: return "grid";
    case SweepMethod::Tpe: return "tpe";
    case SweepMethod::Random: break;
  }
  return "random";
}

Json space(const SweepSpec& spec) {
  Json out = Json::array();
  for (const auto& p : spec.parameters) {
    Json d = {{"name", p.name}, {"kind", kind_name(p.kind)}, {"scale", p.log ? "log" : "linear"}};
    if (p.kind == SweepParam::Kind::Categorical) d["values"] = p.values;
    else {
      d["min"] = p.min;
      d["max"] = p.max;
    }
    out.push_back(d);
  }
  return out;
}

// The trials' own keys, in the order they first appear: all a run whose text is lost tells.
Json space_of(const std::vector<const Json*>& trials) {
  Json out = Json::array();
  std::vector<std::string> seen;
  for (const Json* t : trials)
    if ((*t)["trial"].is_object())
      for (const auto& [k, v] : (*t)["trial"].items())
        if (std::find(seen.begin(), seen.end(), k) == seen.end()) {
          seen.push_back(k);
          out.push_back({{"name", k}, {"kind", v.is_number() ? "float" : "categorical"}, {"scale", "linear"}});
        }
  return out;
}

// N of an instance name STEP[N], or -1.
int trial_index(const std::string& name, const std::string& step) {
  if (name.size() < step.size() + 3 || name.compare(0, step.size() + 1, step + "[") != 0 || name.back() != ']')
    return -1;
  const std::string digits = name.substr(step.size() + 1, name.size() - step.size() - 2);
  if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) return -1;
  return std::stoi(digits);
}

const Step* find_step(const Workflow* wf, const std::string& name) {
  if (!wf) return nullptr;
  for (const auto& s : wf->steps)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

Json sweeps_view(const Json& steps, const Workflow* workflow, const std::vector<MetricPoint>& metrics) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Json*>> trials;
  std::map<std::string, const Json*> parents;
  for (const auto& s : steps) {
    const std::string step = s.value("step", s.value("name", ""));
    if (s.contains("trial")) {
      if (!trials.count(step)) order.push_back(step);
      trials[step].push_back(&s);
    } else if (s.value("name", "") == step) {
      parents[step] = &s;
    }
  }
  // Per instance: the highest step of any metric, and the latest point of each metric.
  std::map<std::string, int64_t> reached;
  std::map<std::pair<std::string, std::string>, const MetricPoint*> latest;
  for (const auto& p : metrics) {
    if (p.kind == "series") {
      auto [it, fresh] = reached.emplace(p.step, p.index);
      if (!fresh) it->second = std::max(it->second, p.index);
    }
    const MetricPoint*& l = latest[{p.step, p.name}];
    if (!l || p.index > l->index || (p.index == l->index && p.ts >= l->ts)) l = &p;
  }
  Json out = Json::array();
  for (const auto& step : order) {
    const Step* st = find_step(workflow, step);
    const SweepSpec* spec = st && st->sweep ? &*st->sweep : nullptr;
    Json view = {{"step", step},
                 {"method", spec ? Json(method_name(spec->method)) : Json(nullptr)},
                 {"metric", spec ? Json(spec->metric) : Json(nullptr)},
                 {"goal", spec ? Json(spec->goal == SweepGoal::Minimize ? "minimize" : "maximize") : Json(nullptr)},
                 {"parameters", spec ? space(*spec) : space_of(trials[step])},
                 {"best_trial", nullptr},
                 {"best_value", nullptr},
                 {"best", nullptr},
                 {"trials", Json::array()}};
    if (auto it = parents.find(step); it != parents.end() && (*it->second)["outputs"].is_object()) {
      const Json& o = (*it->second)["outputs"];
      for (const char* k : {"best_trial", "best_value", "best"})
        if (o.contains(k)) view[k] = o[k];
    }
    for (const Json* t : trials[step]) {
      const std::string name = t->value("name", "");
      const Json& o = (*t)["outputs"].is_object() ? (*t)["outputs"] : Json::object();
      Json objective = nullptr;
      bool live = false;
      if (o.contains("objective") && o["objective"].is_number()) {
        objective = o["objective"];
      } else if (spec && t->value("status", "") == "Running") {
        if (auto l = latest.find({name, spec->metric}); l != latest.end()) {
          objective = l->second->value;
          live = true;
        }
      }
      Json steps_reached = nullptr;
      if (auto r = reached.find(name); r != reached.end()) steps_reached = r->second;
      else if (o.contains("objective_step") && o["objective_step"].is_number()) steps_reached = o["objective_step"];
      view["trials"].push_back({{"index", trial_index(name, step)},
                                {"name", name},
                                {"status", t->value("status", "")},
                                {"params", (*t)["trial"]},
                                {"objective", objective},
                                {"live", live},
                                {"steps_reached", steps_reached},
                                {"message", t->value("message", "")}});
    }
    std::stable_sort(view["trials"].begin(), view["trials"].end(),
                     [](const Json& a, const Json& b) { return a["index"].get<int>() < b["index"].get<int>(); });
    out.push_back(view);
  }
  return out;
}

}  // namespace ctflow::web

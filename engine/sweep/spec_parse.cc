#include "engine/sweep/spec_parse.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <tuple>

#include "engine/sweep/space.h"
#include "engine/yaml_util.h"

namespace ctflow::sweep {
namespace {

const std::vector<std::string> kSweepKeys = {"parameters", "method",    "trials",   "parallelism",
                                             "seed",       "objective", "early_stop"};
const std::vector<std::string> kParamKeys = {"min", "max", "scale", "type", "step", "count", "values", "default"};
const std::vector<std::string> kObjectiveKeys = {"metric", "goal"};
const std::vector<std::string> kEarlyStopKeys = {"method", "min_steps", "reduction", "warmup"};

bool is_param_name(const std::string& n) {
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  return !n.empty() && alpha(n.front()) &&
         std::all_of(n.begin(), n.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

class SweepReader {
 public:
  SweepReader(const std::string& file, Diagnostics& d) : file_(file), d_(d) {}

  SweepSpec read(const YAML::Node& n) {
    SweepSpec s;
    s.pos = yaml_pos(file_, n);
    if (!n.IsMap()) {
      error(n, "'sweep' must be a map with parameters, method, trials and objective; got " + yaml_kind(n));
      return s;
    }
    keys(n, kSweepKeys, "in 'sweep'");
    const MapView m(n);
    read_method(n, m["method"], s);
    if (YAML::Node t = m["trials"]) read_trials(t, s);
    else if (m["method"] && s.method != SweepMethod::Grid)
      error(n, "a " + std::string(s.method == SweepMethod::Tpe ? "tpe" : "random") +
                   " sweep needs 'trials: N', how many trials to run");
    if (YAML::Node p = m["parallelism"])
      s.parallelism = integer(p, "'parallelism'", 0, "0 (as many at once as resources allow) or more");
    if (YAML::Node sd = m["seed"]) s.seed = static_cast<uint64_t>(integer(sd, "'seed'", 0, "a non-negative integer"));
    read_objective(n, m["objective"], s);
    if (YAML::Node e = m["early_stop"]) read_early_stop(e, s);
    if (YAML::Node ps = m["parameters"]) read_parameters(ps, s);
    else error(n, "a sweep needs 'parameters', e.g. parameters: {lr: {min: 1.0e-4, max: 1.0e-2, scale: log}}");
    return s;
  }

 private:
  void error(const YAML::Node& n, std::string message) { d_.error(yaml_pos(file_, n), std::move(message)); }

  static std::string shown(const YAML::Node& n) { return n.IsScalar() ? "'" + n.Scalar() + "'" : yaml_kind(n); }

  // Duplicate keys and, unless ANY_KEY, keys not in ALLOWED.
  void keys(const YAML::Node& map, const std::vector<std::string>& allowed, const std::string& where,
            bool any_key = false) {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (!seen.insert(k).second) error(kv.first, "duplicate key '" + k + "' " + where);
      else if (!any_key && std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        error(kv.first, "unknown key '" + k + "' " + where + did_you_mean(k, allowed));
    }
  }

  int64_t integer(const YAML::Node& n, const std::string& what, int64_t min, const std::string& expected) {
    Value v = yaml_to_value(n);
    if (v.is_number_integer() && v.get<int64_t>() >= min && v.get<int64_t>() < (int64_t{1} << 30))
      return v.get<int64_t>();
    error(n, what + " must be " + expected + "; got " + shown(n));
    return min;
  }

  // A number, or one reference to a param, read when the step starts:
  // trials: "{{params.trials}}" (0 there runs no trial: the step is Skipped).
  void read_trials(const YAML::Node& t, SweepSpec& s) {
    const std::string text = t.IsScalar() ? t.Scalar() : "";
    if (text.find("{{") == std::string::npos) {
      s.trials = static_cast<int>(integer(t, "'trials'", 1, "at least 1, or a param: \"{{params.trials}}\""));
      return;
    }
    std::string inner = text;
    auto trim = [](std::string x) {
      const auto a = x.find_first_not_of(" \t"), b = x.find_last_not_of(" \t");
      return a == std::string::npos ? std::string() : x.substr(a, b - a + 1);
    };
    inner = trim(inner);
    if (inner.size() > 4 && inner.rfind("{{", 0) == 0 && inner.substr(inner.size() - 2) == "}}")
      inner = trim(inner.substr(2, inner.size() - 4));
    else inner.clear();
    if (inner.rfind("params.", 0) == 0 && is_param_name(inner.substr(7))) {
      s.trials_param = inner.substr(7);
      return;
    }
    error(t, "'trials' must be a number or exactly one param reference like \"{{params.trials}}\"; got '" + text + "'");
  }

  std::string word(const YAML::Node& n, const std::string& what, const std::vector<std::string>& allowed) {
    const std::string v = n.IsScalar() ? n.Scalar() : "";
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return v;
    std::string list;
    for (size_t i = 0; i < allowed.size(); ++i)
      list += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
    error(n, "unknown " + what + " " + shown(n) + did_you_mean(v, allowed) + ": use " + list);
    return "";
  }

  void read_method(const YAML::Node& sweep, const YAML::Node& n, SweepSpec& s) {
    if (!n) {
      error(sweep, "a sweep needs 'method': grid, random or tpe");
      return;
    }
    const std::string m = word(n, "sweep method", {"grid", "random", "tpe"});
    s.method = m == "grid" ? SweepMethod::Grid : m == "tpe" ? SweepMethod::Tpe : SweepMethod::Random;
  }

  void read_objective(const YAML::Node& sweep, const YAML::Node& n, SweepSpec& s) {
    if (!n) {
      error(sweep, "a sweep needs 'objective', e.g. objective: {metric: val_accuracy, goal: maximize}");
      return;
    }
    if (!n.IsMap()) {
      error(n, "'objective' must be a map like {metric: val_accuracy, goal: maximize}; got " + yaml_kind(n));
      return;
    }
    keys(n, kObjectiveKeys, "in 'objective' (allowed: metric, goal)");
    const MapView m(n);
    if (YAML::Node metric = m["metric"]; metric && metric.IsScalar() && !metric.Scalar().empty())
      s.metric = metric.Scalar();
    else
      error(metric ? metric : n, "'objective' needs 'metric': the name of the metric the trials report, "
                                 "e.g. metric: val_accuracy");
    if (YAML::Node goal = m["goal"])
      s.goal = word(goal, "objective goal", {"maximize", "minimize"}) == "minimize" ? SweepGoal::Minimize
                                                                                   : SweepGoal::Maximize;
    else error(n, "'objective' needs 'goal: maximize' or 'goal: minimize'");
  }

  void read_early_stop(const YAML::Node& n, SweepSpec& s) {
    if (!n.IsMap()) {
      error(n, "'early_stop' must be a map like {method: asha, min_steps: 1, reduction: 3}; got " + yaml_kind(n));
      return;
    }
    keys(n, kEarlyStopKeys, "in 'early_stop' (allowed: method, min_steps, reduction, warmup)");
    EarlyStopSpec e;
    e.pos = yaml_pos(file_, n);
    const MapView m(n);
    if (YAML::Node method = m["method"])
      e.method = word(method, "early_stop method", {"asha", "median"}) == "median" ? EarlyStopMethod::Median
                                                                                  : EarlyStopMethod::Asha;
    else error(n, "'early_stop' needs 'method: asha' or 'method: median'");
    if (YAML::Node ms = m["min_steps"]) e.min_steps = static_cast<int>(integer(ms, "'min_steps'", 1, "at least 1"));
    if (YAML::Node r = m["reduction"]) {
      e.reduction = static_cast<int>(integer(r, "'reduction'", 2, "an integer of at least 2"));
      if (e.method == EarlyStopMethod::Median)
        error(r, "'reduction' is ASHA's: the median rule takes min_steps and warmup");
    }
    if (YAML::Node w = m["warmup"]) {
      e.warmup_trials = static_cast<int>(integer(w, "'warmup'", 0, "0 or more (trials)"));
      if (e.method == EarlyStopMethod::Asha)
        error(w, "'warmup' is the median rule's: ASHA takes min_steps and reduction");
    }
    s.early_stop = e;
  }

  void read_parameters(const YAML::Node& n, SweepSpec& s) {
    if (!n.IsMap() || n.size() == 0) {
      error(n, "'parameters' must be a map of name to range or values, e.g. {lr: {min: 1.0e-4, max: 1.0e-2}}; got " +
                   (n.IsMap() ? std::string("an empty map") : yaml_kind(n)));
      return;
    }
    keys(n, {}, "in 'parameters'", true);
    for (const auto& kv : n) {
      SweepParam p;
      p.name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      p.pos = yaml_pos(file_, kv.first);
      if (!is_param_name(p.name))
        error(kv.first, "bad parameter name '" + p.name +
                            "': use letters, digits and '_', not starting with a digit (it is {{trial." + p.name + "}})");
      if (read_parameter(kv.second, s.method, p) && s.method == SweepMethod::Grid) {
        if (auto g = grid_values(p); !g.ok()) error(kv.second, g.message());
      }
      s.parameters.push_back(std::move(p));
    }
    if (s.method == SweepMethod::Grid && s.trials == 0 && s.trials_param.empty()) {
      auto grid = Grid::make(s.parameters);
      if (grid.ok() && grid->size() > kMaxGridTrials)
        error(n, "the grid has " + (grid->size() == UINT64_MAX ? std::string("too many") : std::to_string(grid->size())) +
                     " combinations, over " + std::to_string(kMaxGridTrials) +
                     ": give 'trials' to cap it, or fewer points (a larger step, a smaller count)");
    }
  }

  // False when P could not be read well enough to check it as a grid.
  bool read_parameter(const YAML::Node& n, SweepMethod method, SweepParam& p);
  bool read_values(const YAML::Node& n, SweepParam& p);
  bool read_range(const YAML::Node& n, SweepMethod method, SweepParam& p);
  void read_default(const YAML::Node& d, SweepParam& p);

  const std::string& file_;
  Diagnostics& d_;
};

bool SweepReader::read_parameter(const YAML::Node& n, SweepMethod method, SweepParam& p) {
  if (!n.IsMap()) {
    error(n, "parameter '" + p.name + "' must be a range like {min: 0.1, max: 0.5} or choices like {values: [32, 64]}; got " +
                 yaml_kind(n));
    return false;
  }
  keys(n, kParamKeys, "in parameter '" + p.name + "' (allowed: min, max, scale, type, step, count, values, default)");
  const bool ok = MapView(n)["values"] ? read_values(n, p) : read_range(n, method, p);
  if (YAML::Node d = MapView(n)["default"]; d && ok) read_default(d, p);
  return ok;
}

// The value `best.NAME` has when the sweep runs no trials: one of the values,
// or a number in the range (whole for type: int).
void SweepReader::read_default(const YAML::Node& d, SweepParam& p) {
  const Value v = yaml_to_value(d);
  if (p.kind == SweepParam::Kind::Categorical) {
    if (std::find(p.values.begin(), p.values.end(), v) != p.values.end()) p.default_value = v;
    else error(d, "the default " + v.dump() + " of parameter '" + p.name + "' is not one of its values");
    return;
  }
  const bool number = v.is_number() && std::isfinite(v.get<double>());
  if (!number || v.get<double>() < p.min || v.get<double>() > p.max ||
      (p.kind == SweepParam::Kind::Int && std::floor(v.get<double>()) != v.get<double>())) {
    char range[96];
    std::snprintf(range, sizeof range, "%g to %g", p.min, p.max);
    error(d, "the default of parameter '" + p.name + "' must be " +
                 (p.kind == SweepParam::Kind::Int ? "a whole number" : "a number") + " from " + range + "; got " +
                 shown(d));
    return;
  }
  p.default_value = p.kind == SweepParam::Kind::Int ? Value(static_cast<int64_t>(v.get<double>())) : v;
}

bool SweepReader::read_values(const YAML::Node& n, SweepParam& p) {
  const MapView m(n);
  p.kind = SweepParam::Kind::Categorical;
  for (const char* k : {"min", "max", "scale", "type", "step", "count"})
    if (YAML::Node other = m[k]) {
      error(other, "parameter '" + p.name + "' has both 'values' and '" + k +
                       "': give a list of choices or a range, not both");
      return false;
    }
  const YAML::Node vs = m["values"];
  if (!vs.IsSequence() || vs.size() == 0) {
    error(vs, "'values' of parameter '" + p.name + "' must be a non-empty list of choices, e.g. values: [32, 64, 128]");
    return false;
  }
  for (const auto& x : vs) {
    Value v = yaml_to_value(x);
    if (std::find(p.values.begin(), p.values.end(), v) != p.values.end()) {
      error(x, "value " + v.dump() + " of parameter '" + p.name + "' is listed twice");
      continue;
    }
    p.values.push_back(std::move(v));
  }
  return true;
}

bool SweepReader::read_range(const YAML::Node& n, SweepMethod method, SweepParam& p) {
  const MapView m(n);
  const YAML::Node lo = m["min"], hi = m["max"];
  if (!lo || !hi) {
    error(n, "parameter '" + p.name + "' needs 'min' and 'max' (a range) or 'values' (a list of choices)");
    return false;
  }
  const Value vlo = yaml_to_value(lo), vhi = yaml_to_value(hi);
  bool ok = true;
  for (const auto& [node, v, key] : {std::tuple{lo, vlo, "min"}, std::tuple{hi, vhi, "max"}})
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      error(node, "'" + std::string(key) + "' of parameter '" + p.name + "' must be a number; got " + shown(node));
      ok = false;
    }
  if (!ok) return false;
  p.min = vlo.get<double>();
  p.max = vhi.get<double>();
  std::string type = vlo.is_number_integer() && vhi.is_number_integer() ? "int" : "float";
  if (YAML::Node t = m["type"]) {
    type = word(t, "parameter type", {"int", "float"});
    if (type == "int" && (std::floor(p.min) != p.min || std::floor(p.max) != p.max)) {
      error(t, "parameter '" + p.name + "' is 'type: int' but its min or max is not an integer");
      return false;
    }
  }
  p.kind = type == "int" ? SweepParam::Kind::Int : SweepParam::Kind::Float;
  if (!(p.min < p.max)) {
    error(hi, "parameter '" + p.name + "': min (" + vlo.dump() + ") must be less than max (" + vhi.dump() + ")");
    ok = false;
  }
  if (YAML::Node sc = m["scale"]) p.log = word(sc, "scale", {"linear", "log"}) == "log";
  if (p.log && p.min <= 0) {
    error(lo, "parameter '" + p.name + "' has a log scale, so min must be above 0; got " + vlo.dump() +
                  " (use a small positive min like 1.0e-6, or scale: linear)");
    ok = false;
  }
  const YAML::Node step = m["step"], count = m["count"];
  for (const auto& [g, key] : {std::pair{step, "step"}, std::pair{count, "count"}})
    if (g && method != SweepMethod::Grid) {
      error(g, "'" + std::string(key) + "' sets a grid's points; a random or tpe sweep draws from the whole range: "
                   "remove it");
      return false;
    }
  if (step && count) {
    error(count, "parameter '" + p.name + "' has both 'step' and 'count': give one");
    return false;
  }
  if (step) {
    const Value v = yaml_to_value(step);
    const bool integral = v.is_number() && std::floor(v.get<double>()) == v.get<double>();
    if (!v.is_number() || v.get<double>() <= 0 || (p.kind == SweepParam::Kind::Int && !integral)) {
      error(step, "'step' of parameter '" + p.name + "' must be a number above 0" +
                      (p.kind == SweepParam::Kind::Int ? " and an integer" : "") + "; got " + shown(step));
      return false;
    }
    if (p.log) {
      error(step, "'step' is for a linear scale: a grid over a log scale takes 'count', e.g. count: 5");
      return false;
    }
    p.step = v.get<double>();
  }
  if (count) p.count = static_cast<int>(integer(count, "'count'", 2, "an integer of at least 2"));
  return ok;
}

}  // namespace

SweepSpec parse_sweep_block(const YAML::Node& node, const std::string& file, Diagnostics& diags) {
  return SweepReader(file, diags).read(node);
}

}  // namespace ctflow::sweep

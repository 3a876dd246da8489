#include "engine/export/sweep_fold.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/export/common.h"
#include "engine/export/refs.h"
#include "engine/sweep/sampler.h"
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

namespace {

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The metrics file of an exported trial: each pod has its own /tmp.
constexpr const char* kTrialMetrics = "/tmp/ctflow-metrics.jsonl";
constexpr const char* kObjectiveFile = ".ctflow-objective";

// The trials `ctflow run` would start: grid order, or seeded draws.
Result<std::vector<Value>> sample_trials(const SweepSpec& spec) {
  auto sampler = sweep::make_sampler(spec);
  if (!sampler) return sampler.status();
  auto budget = sweep::trial_budget(spec);
  if (!budget) return budget.status();
  std::vector<sweep::TrialRecord> history;
  while (history.size() < *budget) {
    auto next = (*sampler)->suggest(history);
    if (!next) break;
    history.push_back({*next, std::nullopt, sweep::TrialStatus::Succeeded});
  }
  std::vector<Value> out;
  for (auto& h : history) out.push_back(std::move(h.params));
  return out;
}

// {{trial.X}} -> {{item.X}} in TEXT.
Result<std::string> trial_to_item(const std::string& text) {
  if (text.find("{{") == std::string::npos) return text;
  return export_detail::rewrite(text, [](const Reference& r) -> Result<std::string> {
    if (r.kind == Reference::Kind::Trial) return "{{item" + (r.name.empty() ? std::string() : "." + r.name) + "}}";
    return "{{" + r.text + "}}";
  });
}

Result<Value> trial_to_item(const Value& v) {
  if (v.is_string()) {
    auto t = trial_to_item(v.get<std::string>());
    if (!t) return t.status();
    return Value(*t);
  }
  if (!v.is_array() && !v.is_object()) return v;
  Value out = v;
  for (auto it = out.begin(); it != out.end(); ++it) {
    auto x = trial_to_item(*it);
    if (!x) return x.status();
    *it = *x;
  }
  return out;
}

// A reader of sweep S: {{steps.S.outputs.best.X}} -> best_X; the best trial's
// other outputs and its artifacts are an error.
Result<std::string> reader_refs(const std::string& text, const std::set<std::string>& sweeps) {
  if (text.find("{{") == std::string::npos) return text;
  return export_detail::rewrite(text, [&](const Reference& r) -> Result<std::string> {
    if (!r.is_step() || !sweeps.count(r.name) || r.kind == Reference::Kind::StepStatus ||
        r.kind == Reference::Kind::StepExitCode)
      return "{{" + r.text + "}}";
    if (r.kind == Reference::Kind::StepOutput &&
        (r.field == "best" || r.field == "best_value" || r.field == "best_trial")) {
      if (r.path.empty()) return "{{" + r.text + "}}";
      if (r.path.find('.') == std::string::npos) return "{{steps." + r.name + ".outputs.best_" + r.path + "}}";
    }
    return Status::Error("reference '" + r.text + "': the export runs sweep '" + r.name +
                         "' as a fan-out and a step that picks the best, which outputs best, best.NAME, best_value "
                         "and best_trial only (not the best trial's own outputs or artifacts); read those, or run "
                         "the sweep with 'ctflow run'");
  });
}

Status rewrite_reader(Step& t, const std::set<std::string>& sweeps) {
  auto fail = [&](const Status& st) {
    return export_detail::error_at(t.pos, "", "step '" + t.name + "': " + st.message());
  };
  for (auto& a : t.run) {
    auto x = reader_refs(a, sweeps);
    if (!x) return fail(x.status());
    a = *x;
  }
  if (auto x = reader_refs(t.shell, sweeps); !x) return fail(x.status());
  else t.shell = *x;
  for (auto& [k, v] : t.env) {
    auto x = reader_refs(v, sweeps);
    if (!x) return fail(x.status());
    v = *x;
  }
  Status st;
  auto walk = [&](auto& self, Value& v) -> void {
    if (v.is_string()) {
      auto x = reader_refs(v.get<std::string>(), sweeps);
      if (!x) st = x.status();
      else v = *x;
    } else if (v.is_array() || v.is_object()) {
      for (auto& y : v) self(self, y);
    }
  };
  walk(walk, t.with);
  if (t.for_each) walk(walk, *t.for_each);
  if (!st.ok()) return fail(st);
  for (const auto& name : sweeps) {  // bare REFs in `when`: steps.S.outputs.best.X
    const std::string from = "steps." + name + ".outputs.best.", to = "steps." + name + ".outputs.best_";
    for (size_t at = t.when.find(from); at != std::string::npos; at = t.when.find(from, at + to.size()))
      t.when.replace(at, from.size(), to);
  }
  return Status::Ok();
}

std::string unique_name(const Workflow& wf, const std::string& wanted) {
  std::string name = wanted;
  for (int n = 2; wf.find_step(name); ++n) name = wanted + "-" + std::to_string(n);
  return name;
}

}  // namespace

std::string sweep_pick_script(const std::vector<Value>& trials, SweepGoal goal) {
  std::string s =
      "# the best of the sweep's trials, by the objective each wrote ('' when it wrote none)\n"
      "printf '%s' \"$CTFLOW_PARAM_OBJECTIVES\" | tr -d '[]\" \\n' | tr ',' '\\n' | awk -v goal=" +
      std::string(goal == SweepGoal::Maximize ? "max" : "min") +
      " '\n"
      "  { n = NR - 1 }\n"
      "  $0 != \"\" { v = $0 + 0; if (best == \"\" || (goal == \"max\" ? v > bv : v < bv)) { best = n; bv = v; bs = $0 } }\n"
      "  END { if (best == \"\") { print \"sweep: no trial reported the objective\" > \"/dev/stderr\"; exit 1 }\n"
      "        printf \"%s\", best > \"best_trial\"; printf \"%s\", bs > \"best_value\" }' || exit 1\n"
      "case $(cat best_trial) in\n";
  for (size_t i = 0; i < trials.size(); ++i) {
    s += "  " + std::to_string(i) + ")";
    s += " printf '%s' " + sh_quote(trials[i].dump()) + " > best;";
    for (auto it = trials[i].begin(); it != trials[i].end(); ++it)
      s += " printf '%s' " + sh_quote(export_detail::value_text(it.value())) + " > best_" + it.key() + ";";
    s += ";\n";
  }
  return s + "esac\n";
}

Result<Workflow> sweeps_as_fanout(const Workflow& wf, const Value& params, const SweepFanout& opt) {
  std::set<std::string> sweeps;
  for (const auto& s : wf.steps)
    if (s.sweep) sweeps.insert(s.name);
  if (sweeps.empty()) return wf;
  Workflow out = wf;
  out.steps.clear();
  auto note = [&](const std::string& n) {
    if (opt.notes) opt.notes->push_back(n);
  };
  for (const auto& s : wf.steps) {
    if (!s.sweep) {
      Step t = s;
      if (Status st = rewrite_reader(t, sweeps); !st.ok()) return st;
      out.steps.push_back(std::move(t));
      continue;
    }
    SweepSpec spec = *s.sweep;
    auto at = [&](const std::string& m) { return export_detail::error_at(spec.pos, wf.file, "step '" + s.name + "': " + m); };
    if (!spec.trials_param.empty()) {
      const Value n = params.is_object() && params.contains(spec.trials_param) ? params[spec.trials_param] : Value();
      if (!n.is_number_integer() || n.get<int64_t>() < 1)
        return at("the sweep takes 'trials' from params." + spec.trials_param + ", which is " +
                  (n.is_null() ? std::string("not given") : n.dump()) +
                  ": give it with -p " + spec.trials_param + "=N (N of 1 or more), or 0 with a 'default' on "
                  "every sweep parameter to leave the sweep out");
      spec.trials = static_cast<int>(n.get<int64_t>());
    }
    if (spec.method == SweepMethod::Tpe || spec.early_stop) {
      const std::string what = spec.method == SweepMethod::Tpe && spec.early_stop ? "TPE and early stopping"
                               : spec.method == SweepMethod::Tpe               ? "TPE"
                                                                               : "early stopping";
      if (!opt.plain)
        return at("the sweep uses " + what + ", which a fan-out cannot express (" +
                  (spec.method == SweepMethod::Tpe ? "TPE draws each trial from the finished ones"
                                                   : "early stopping reads the trials' metrics while they run") +
                  "); use method grid or random without early_stop, or pass --sweep-as-fanout to export " +
                  std::to_string(spec.trials) + " seeded random trials, each run to the end");
      if (spec.method == SweepMethod::Tpe) spec.method = SweepMethod::Random;
      spec.early_stop.reset();
      note("step '" + s.name + "': " + what + " left out: " + std::to_string(spec.trials) +
           " seeded random trials, each run to the end (--sweep-as-fanout)");
    }
    auto trials = sample_trials(spec);
    if (!trials) return at(trials.message());

    Step t = s;  // the trials
    t.name = unique_name(wf, s.name + "-trials");
    t.sweep.reset();
    t.for_each = Value(*trials);
    t.for_each_pos = spec.pos;
    t.parallelism = spec.parallelism;
    auto with = trial_to_item(s.with);
    if (!with) return at(with.message());
    t.with = *with;
    for (auto& a : t.run) {
      auto x = trial_to_item(a);
      if (!x) return at(x.message());
      a = *x;
    }
    if (auto x = trial_to_item(s.shell); !x) return at(x.message());
    else t.shell = *x;
    if (Status st = rewrite_reader(t, sweeps); !st.ok()) return st;
    t.env["CTFLOW_METRICS"] = kTrialMetrics;
    t.output_params.clear();
    t.output_artifacts.clear();
    if (t.kind == StepKind::Plugin) {
      t.env["CTFLOW_OBJECTIVE"] = spec.metric;  // ctflow step writes outputs/objective
      t.output_params["objective"] = {"objective", std::nullopt};
    } else {
      std::string body;
      if (t.kind == StepKind::Run) {
        for (const auto& a : t.run) body += (body.empty() ? "" : " ") + sh_quote(a);
      } else {
        body = t.shell;
      }
      t.kind = StepKind::Shell;
      t.run.clear();
      t.shell = "(\n" + body + (body.empty() || body.back() == '\n' ? "" : "\n") +
                ") || exit $?\n"
                "# the objective: the last value of '" + spec.metric + "' in $CTFLOW_METRICS\n"
                "v=$(grep '\"name\": *\"" + spec.metric + "\"' \"$CTFLOW_METRICS\" 2>/dev/null | tail -n 1 | "
                "sed 's/.*\"value\": *\\([-+0-9.eE]*\\).*/\\1/')\n"
                "printf '%s' \"$v\" > " + kObjectiveFile + "\n";
      t.output_params["objective"] = {kObjectiveFile, std::nullopt};
    }

    Step pick;  // the best of them
    pick.name = s.name;
    pick.pos = s.pos;
    pick.kind = StepKind::Shell;
    pick.kind_pos = spec.pos;
    pick.needs = {t.name};
    pick.with = Value{{"objectives", "{{steps." + t.name + ".outputs.objective}}"}};
    pick.shell = sweep_pick_script(*trials, spec.goal);
    pick.cache = false;
    for (const char* o : {"best", "best_value", "best_trial"}) pick.output_params[o] = {o, std::nullopt};
    for (const auto& p : spec.parameters) pick.output_params["best_" + p.name] = {"best_" + p.name, std::nullopt};
    note("step '" + s.name + "': " + std::to_string(trials->size()) + " trials as '" + t.name +
         "' (a fan-out) and '" + s.name + "' picking the best");
    out.steps.push_back(std::move(t));
    out.steps.push_back(std::move(pick));
  }
  return out;
}

}  // namespace ctflow

// References in templates and `when`: params, item, workflow and steps.
#include "engine/scheduler_impl.h"
#include "engine/template.h"

namespace ctflow {

Result<Value> Scheduler::Impl::render(const StepState& s, const Instance* inst, const Value& v) {
  return tmpl::render_value(v, [&](const std::string& ref) { return resolve(s, inst, ref); });
}

Result<Value> Scheduler::Impl::resolve(const StepState& s, const Instance* inst, const std::string& ref) {
  return resolve_in(s.scope.get(), inst, ref);
}

// Inside a template (SCOPE), params are the template's and step names its own.
Result<Value> Scheduler::Impl::resolve_in(const CallScope* scope, const Instance* inst, const std::string& ref) {
  auto dot = ref.find('.');
  std::string root = ref.substr(0, dot);
  std::string rest = dot == std::string::npos ? "" : ref.substr(dot + 1);
  if (root == "params") {
    const Value& params = scope ? scope->params : params_;
    if (!params.contains(rest)) return Status::Error("unknown param '" + rest + "'");
    return params[rest];
  }
  if (root == "item") {
    if (!inst || inst->index < 0) return Status::Error("'" + ref + "' is only known inside a for_each step");
    if (rest.empty()) return inst->item;
    // An item that is a JSON object's text (one step's output in a list of a fan-out's) is read as that object.
    Value item = inst->item;
    if (item.is_string()) {
      Value parsed = Value::parse(item.get<std::string>(), nullptr, false);
      if (parsed.is_object()) item = std::move(parsed);
    }
    if (!item.is_object() || !item.contains(rest))
      return Status::Error("item " + json_text(inst->item) + " has no key '" + rest + "'");
    return item[rest];
  }
  if (root == "trial") {
    if (!inst || inst->trial < 0) return Status::Error("'" + ref + "' is only known inside a sweep step");
    if (rest.empty()) return inst->trial_params;
    if (!inst->trial_params.contains(rest)) return Status::Error("the sweep has no parameter '" + rest + "'");
    return inst->trial_params[rest];
  }
  if (root == "workflow") {
    if (rest == "name") return Value(wf_.name);
    if (rest == "run_id") return Value(run_id_);
    if (rest == "status") return Value(main_status_.empty() ? "Running" : main_status_);
    if (rest == "failures") {
      Value list = Value::array();
      for (const auto& f : plan_->failures())
        list.push_back({{"step", f}, {"status", to_string(plan_->status(f))}, {"message", steps_[f].message}});
      return list;
    }
    return Status::Error("unknown reference '" + ref + "'");
  }
  if (root == "steps") return resolve_step(ref, rest, scope ? scope->prefix : "");
  return Status::Error("unknown reference '" + ref + "'");
}

// steps.NAME.status, steps.NAME.outputs.KEY, steps.NAME.artifacts.KEY (REST is without "steps.").
Result<Value> Scheduler::Impl::resolve_step(const std::string& ref, const std::string& rest, const std::string& prefix) {
  auto d2 = rest.find('.');
  std::string name = rest.substr(0, d2);
  std::string what = d2 == std::string::npos ? "" : rest.substr(d2 + 1);
  auto it = steps_.find(prefix + name);
  if (it == steps_.end()) return Status::Error("unknown step '" + name + "'");
  const StepState& o = it->second;
  if (what == "status") return Value(to_string(o.status));
  if (what == "exit_code") {
    bool ran = o.status == NodeStatus::Succeeded || o.status == NodeStatus::Failed;
    if (!o.fan_out && ran && !o.instances.empty()) return Value(o.instances.back()->exit_code);
    return Status::Error("steps." + name + ".exit_code: step '" + name + "' " + to_string(o.status) +
                         (o.fan_out ? " is a fan-out (read the exit code of one instance inside it)" : " without an exit code"));
  }
  auto d3 = what.find('.');
  std::string kind = what.substr(0, d3), key = d3 == std::string::npos ? "" : what.substr(d3 + 1);
  bool not_run = o.status == NodeStatus::Skipped || o.status == NodeStatus::Omitted;
  if (kind == "outputs") {
    if (key == "result" && !o.fan_out && o.status == NodeStatus::Succeeded) return Value(o.result);
    // A sweep that ran no trials: `best` is its parameters' defaults, when each has one.
    Value defaults = Value::object();
    if (not_run && o.step->sweep && o.outputs.empty()) {
      Value best = Value::object();
      for (const auto& p : o.step->sweep->parameters)
        if (p.default_value) best[p.name] = *p.default_value;
      if (best.size() == o.step->sweep->parameters.size()) defaults["best"] = std::move(best);
    }
    const Value& outputs = defaults.empty() ? o.outputs : defaults;
    if (outputs.contains(key)) return outputs[key];
    // A key of an output that is an object: steps.tune.outputs.best.lr
    if (auto d4 = key.find('.'); d4 != std::string::npos && outputs.contains(key.substr(0, d4))) {
      const Value* v = &outputs[key.substr(0, d4)];
      for (size_t at = d4 + 1; at <= key.size();) {
        const size_t next = std::min(key.find('.', at), key.size());
        const std::string k = key.substr(at, next - at);
        if (!v->is_object() || !v->contains(k))
          return Status::Error("steps." + name + ".outputs." + key + ": output '" + key.substr(0, d4) + "' of step '" +
                               name + "' has no key '" + k + "'");
        v = &(*v)[k];
        at = next + 1;
      }
      return *v;
    }
    if (not_run || o.status == NodeStatus::Succeeded) {
      auto d = o.step->output_params.find(key);
      if (d != o.step->output_params.end() && d->second.default_value) return *d->second.default_value;
    }
    const bool sweep_best = o.step->sweep && key.rfind("best", 0) == 0;
    return Status::Error("steps." + name + ".outputs." + key + ": step '" + name + "' " + to_string(o.status) +
                         (not_run && sweep_best ? " and ran no trials: give every sweep parameter a 'default' for this case"
                          : not_run             ? " and the output has no default"
                                                : " without this output"));
  }
  if (kind == "artifacts") {
    if (o.artifacts.contains(key) && o.artifacts[key].is_object() && o.artifacts[key].contains("path"))
      return o.artifacts[key]["path"];
    if (not_run) {
      auto d = o.step->output_artifacts.find(key);
      if (d != o.step->output_artifacts.end() && d->second.default_value) return *d->second.default_value;
    }
    return Status::Error("steps." + name + ".artifacts." + key + ": step '" + name + "' " + to_string(o.status) +
                         (not_run ? " and the artifact has no default" : " without this artifact"));
  }
  return Status::Error("unknown reference '" + ref + "'");
}

}  // namespace ctflow

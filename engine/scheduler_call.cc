// Call steps (docs/dag-growth.md): when an instance of a `call` step starts,
// its `with` is rendered into the template's params, the template's steps are
// added to the run as `caller/child` (`caller[2]/child` in a fan-out) and to
// the Plan as a sub-DAG, and the instance ends when they all have: by the
// rules of a run (an unhandled failure fails it), with the template's outputs
// as its own.
#include "engine/params.h"
#include "engine/scheduler_impl.h"
#include "engine/template.h"

namespace ctflow {

namespace {
bool is_failure(NodeStatus s) { return s == NodeStatus::Failed || s == NodeStatus::Errored; }
}  // namespace

// The template's params from the call's `with` (rendered for this instance), typed, with defaults.
Result<Value> Scheduler::Impl::call_params(StepState& s, Instance& inst, const TemplateDef& t) {
  auto with = render(s, &inst, s.step->with);
  if (!with) return Status::Error("with: " + with.message());
  Value out = Value::object();
  for (auto it = with->begin(); it != with->end(); ++it) {
    const ParamDecl* p = t.find_param(it.key());
    if (!p) return Status::Error("template '" + t.name + "' has no param '" + it.key() + "'");
    auto v = coerce_param_value(*p, it.value());
    if (!v) return Status::Error("param '" + it.key() + "' of template '" + t.name + "' " + v.message());
    out[it.key()] = std::move(*v);
  }
  for (const auto& p : t.params) {
    if (out.contains(p.name)) continue;
    if (!p.default_value) return Status::Error("template '" + t.name + "' needs param '" + p.name + "'");
    out[p.name] = *p.default_value;
  }
  return out;
}

void Scheduler::Impl::start_call(Instance& inst) {
  if (inst.status != NodeStatus::Pending) return;
  StepState& s = *inst.step;
  inst.status = NodeStatus::Running;
  inst.started_at = clock_.now_ms();
  if (keep_previous(inst)) return;
  auto found = wf_.templates.find(s.step->call);
  if (found == wf_.templates.end())
    return finish_instance(inst, NodeStatus::Errored, "unknown template '" + s.step->call + "'");
  const TemplateDef& t = found->second;
  auto scope = std::make_shared<CallScope>();
  scope->depth = (s.scope ? s.scope->depth : 0) + 1;
  scope->chain = (s.scope ? s.scope->chain + " -> " : "") + t.name;
  if (scope->depth > wf_.max_depth)
    return finish_instance(inst, NodeStatus::Errored,
                           "call depth " + std::to_string(scope->depth) + " exceeds max_depth " +
                               std::to_string(wf_.max_depth) + ": " + scope->chain);
  auto params = call_params(s, inst, t);
  if (!params) return finish_instance(inst, NodeStatus::Errored, params.message());
  scope->params = std::move(*params);
  scope->tmpl = &t;
  scope->caller = &inst;
  scope->prefix = inst.name + "/";
  inst.inputs = scope->params;
  inst.call = scope;
  std::vector<const Step*> added;
  for (const Step& child : t.steps) {
    Step& g = grown_.emplace_back(child);
    g.name = scope->prefix + child.name;
    StepState& cs = steps_[g.name];
    cs.step = &g;
    cs.exit_handler = s.exit_handler;
    cs.scope = scope;
    added.push_back(&g);
  }
  scope->left = static_cast<int>(added.size());
  record_instance(inst);
  emit(inst.name, NodeStatus::Running, "calls template '" + t.name + "'", 0, false);
  plan().add_steps(s.step->name, scope->prefix, added);
  // Resume: the steps that Succeeded in the earlier attempt keep their results.
  if (opt_.resume)
    for (const Step* g : added)
      if (StepState& cs = steps_[g->name]; keep_previous_step(cs)) child_ended(cs);
  defer(nullptr, nullptr, [this] { pump(); });
}

// Counts the end of a step of an expansion; the last one ends its caller.
void Scheduler::Impl::child_ended(StepState& s) {
  if (!s.scope || s.counted || !is_terminal(s.status)) return;
  s.counted = true;
  if (--s.scope->left > 0) return;
  Instance* caller = s.scope->caller;
  defer(caller, nullptr, [this, caller] { end_call(*caller); });
}

void Scheduler::Impl::end_call(Instance& inst) {
  if (is_terminal(inst.status) || !inst.call) return;
  const CallScope& scope = *inst.call;
  Plan::ScopeEnd end = plan().scope_status(scope.prefix);
  std::string message = end.message;
  if (is_failure(end.status)) {
    const StepState& failed = steps_[end.step];
    // A failure deep in nested calls is told once, by the step where it happened.
    message = failed.step->kind == StepKind::Call && !failed.message.empty()
                  ? failed.message
                  : "step '" + end.step + "' " + to_string(end.status) + ": " + failed.message;
  }
  if (end.status == NodeStatus::Succeeded) {
    for (const auto& [name, text] : scope.tmpl->outputs) {
      auto v = tmpl::render(text, [&](const std::string& ref) { return resolve_in(&scope, nullptr, ref); });
      if (!v) {
        end.status = NodeStatus::Errored;
        message = "output '" + name + "' of template '" + scope.tmpl->name + "': " + v.message();
        break;
      }
      inst.outputs[name] = std::move(*v);
    }
  }
  finish_instance(inst, end.status, message);
}

}  // namespace ctflow

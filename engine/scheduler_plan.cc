// Plan driving: which steps start (when, for_each), how instances and steps
// end, on_exit, cancel, the run's end.
#include <set>

#include <boost/asio/defer.hpp>

#include "engine/expr.h"
#include "engine/scheduler_impl.h"

namespace ctflow {

namespace {
bool is_failure(NodeStatus s) { return s == NodeStatus::Failed || s == NodeStatus::Errored; }
}  // namespace

void Scheduler::Impl::pump() {
  record_omitted();
  for (const auto& name : plan().take_ready()) {
    StepState& s = steps_[name];
    guarded(nullptr, &s, [&] { begin_step(s); });
  }
  try_dispatch();
  maybe_finish();
}

// Records the steps the plan has Omitted (or Cancelled) since the last call.
void Scheduler::Impl::record_omitted() {
  for (const auto& omitted : plan().take_omitted()) {
    StepState& s = steps_[omitted.first];
    guarded(nullptr, &s, [&] {
      s.status = plan().status(omitted.first);
      s.message = omitted.second;
      s.finished_at = clock_.now_ms();
      record_step(s);
      emit(omitted.first, s.status, omitted.second, 0, false);
      child_ended(s);
    });
  }
}

// Evaluates the step's `when`: RUN says whether it runs; an error when it cannot be evaluated.
// A fan-out's `when` that reads `item` is read per instance (INST), after the
// items are known: with INST null it holds for the step, and each instance
// whose `when` is false is Skipped (skip_items).
Status Scheduler::Impl::check_when(StepState& s, bool& run, const Instance* inst) {
  const Step& step = *s.step;
  run = true;
  if (step.when.empty()) return Status::Ok();
  auto parsed = expr::Expr::parse(step.when);
  if (auto* err = std::get_if<expr::ParseError>(&parsed)) return Status::Error("when: " + err->message);
  const expr::Expr& e = std::get<expr::Expr>(parsed);
  if (!inst && step.for_each && when_reads_item(e)) return Status::Ok();
  auto v = e.eval_bool([&](const std::string& ref) { return resolve(s, inst, ref); });
  if (!v) return Status::Error("when '" + step.when + "': " + v.message());
  run = *v;
  return Status::Ok();
}

bool Scheduler::Impl::when_reads_item(const expr::Expr& e) {
  for (const auto& r : e.refs())
    if (r == "item" || r.rfind("item.", 0) == 0) return true;
  return false;
}

// The instances of S whose per-item `when` is false end Skipped before they start.
void Scheduler::Impl::skip_items(StepState& s) {
  std::vector<std::pair<Instance*, std::string>> skip;
  for (auto& i : s.instances) {
    bool run = true;
    Status st = check_when(s, run, i.get());
    if (!st.ok()) skip.emplace_back(i.get(), st.message());
    else if (!run) skip.emplace_back(i.get(), "");
  }
  for (auto& [i, why] : skip) {
    detach(*i);
    finish_instance(*i, why.empty() ? NodeStatus::Skipped : NodeStatus::Errored,
                    why.empty() ? "skipped: when '" + s.step->when + "' is false for this item" : why);
  }
}

// The list a for_each step fans out over: a JSON list, or a string that holds one.
Result<Value> Scheduler::Impl::fan_out_items(StepState& s) {
  auto r = render(s, nullptr, *s.step->for_each);
  if (!r) return Status::Error("for_each: " + r.message());
  Value items = std::move(*r);
  if (items.is_string()) {
    Value parsed = Value::parse(items.get<std::string>(), nullptr, false);
    if (!parsed.is_discarded()) items = std::move(parsed);
  }
  if (!items.is_array()) {
    // The text may be anything a step printed: bytes that are not UTF-8, megabytes.
    std::string shown = json_text(items);
    if (shown.size() > 200) shown = shown.substr(0, 200) + "... (" + std::to_string(shown.size()) + " bytes)";
    return Status::Error("for_each must give a JSON list; got " + shown);
  }
  return items;
}

void Scheduler::Impl::begin_step(StepState& s) {
  const Step& step = *s.step;
  s.started_at = clock_.now_ms();
  s.status = NodeStatus::Running;
  bool run = true;
  if (auto st = check_when(s, run); !st.ok()) return finish_step(s, NodeStatus::Errored, st.message());
  if (!run) return finish_step(s, NodeStatus::Skipped, "skipped: when '" + step.when + "' is false");
  if (step.sweep) return begin_sweep(s);
  if (step.for_each) {
    s.fan_out = true;
    auto items = fan_out_items(s);
    if (!items) return finish_step(s, NodeStatus::Errored, items.message());
    if (items->empty()) return finish_step(s, NodeStatus::Skipped, "skipped: the for_each list is empty");
    for (size_t i = 0; i < items->size(); ++i) add_instance(s, static_cast<int>(i), (*items)[i]);
  } else {
    add_instance(s, -1, nullptr);
  }
  s.remaining = static_cast<int>(s.instances.size());
  record_step(s);
  if (s.fan_out && !step.when.empty()) {
    skip_items(s);
    if (s.status != NodeStatus::Running) return;  // every item skipped: the step has ended
  }
  if (step.kind == StepKind::Call)
    for (size_t i = 0; i < s.instances.size(); ++i)
      if (s.instances[i]->status == NodeStatus::Pending) start_call(*s.instances[i]);
}

void Scheduler::Impl::add_instance(StepState& s, int index, Value item) {
  auto inst = std::make_unique<Instance>();
  inst->step = &s;
  inst->index = index;
  inst->item = std::move(item);
  inst->name = index < 0 ? s.step->name : s.step->name + "[" + std::to_string(index) + "]";
  if (s.step->kind != StepKind::Call) queue_.push_back(inst.get());  // a call expands instead (start_call)
  s.instances.push_back(std::move(inst));
}

void Scheduler::Impl::finish_step(StepState& s, NodeStatus status, const std::string& message) {
  s.status = status;
  s.message = message;
  s.finished_at = clock_.now_ms();
  std::vector<NodeStatus> inst;
  if (s.sweep) {
    for (auto& i : s.instances) inst.push_back(i->status);  // its outputs are the best trial's (end_sweep)
  } else if (s.fan_out) {
    for (auto& i : s.instances) inst.push_back(i->status);
    // A fan-out's outputs are lists of its instances' outputs, in order.
    Value outs = Value::object();
    std::set<std::string> names;
    for (auto& i : s.instances)
      for (auto it = i->outputs.begin(); it != i->outputs.end(); ++it) names.insert(it.key());
    for (const auto& n : names) {
      Value list = Value::array();
      for (auto& i : s.instances) list.push_back(i->outputs.contains(n) ? i->outputs[n] : Value());
      outs[n] = list;
    }
    s.outputs = outs;
  } else if (!s.instances.empty()) {
    s.outputs = s.instances[0]->outputs;
    s.artifacts = s.instances[0]->artifacts;
    s.result = s.instances[0]->result;
  }
  plan().finish(s.step->name, status, inst);
  record_step(s);
  // A plain step's instance row is the step row, and its event was the instance's.
  if (s.fan_out || s.instances.empty())
    emit(s.step->name, status, message, (s.finished_at - s.started_at) / 1000.0, false);
  defer(nullptr, nullptr, [this] { pump(); });
  child_ended(s);
}

void Scheduler::Impl::finish_instance(Instance& inst, NodeStatus status, std::string message) {
  release(inst);
  inst.status = status;
  inst.message = std::move(message);
  inst.finished_at = clock_.now_ms();
  if (inst.started_at == 0) inst.started_at = inst.finished_at;
  StepState& s = *inst.step;
  if (inst.trial >= 0) trial_ended(inst);
  // A trial stopped early is kept too: an unchanged re-run of a sweep is all cache hits.
  if (status == NodeStatus::Succeeded || (status == NodeStatus::Stopped && inst.trial >= 0)) store_in_cache(inst);
  if (s.step->kind != StepKind::Plugin && s.step->kind != StepKind::Call && status == NodeStatus::Succeeded && !inst.outputs.contains("result") && s.fan_out)
    inst.outputs["result"] = inst.result;
  record_instance(inst);
  emit(inst.name, status, inst.message, (inst.finished_at - inst.started_at) / 1000.0, inst.cached);
  if (s.sweep) s.remaining += add_trials(s);  // the next trials, now that this one's result is known
  if (--s.remaining > 0) {
    try_dispatch();
    maybe_finish();
    return;
  }
  if (s.sweep) return end_sweep(s);
  NodeStatus agg = NodeStatus::Succeeded;
  std::string msg;
  int failed = 0;
  for (auto& i : s.instances) {
    if (i->status == NodeStatus::Cancelled) agg = NodeStatus::Cancelled;
    if (is_failure(i->status)) {
      ++failed;
      if (agg != NodeStatus::Cancelled && agg != NodeStatus::Failed) agg = i->status;
      if (msg.empty()) msg = s.fan_out ? i->name + ": " + i->message : i->message;
    }
    if (i->status == NodeStatus::Omitted && agg == NodeStatus::Succeeded) {
      agg = NodeStatus::Omitted;
      msg = i->message;
    }
  }
  if (s.fan_out && failed > 0)
    msg = std::to_string(failed) + " of " + std::to_string(s.instances.size()) + " instances failed; first: " + msg;
  if (!s.fan_out) msg = s.instances[0]->message;
  finish_step(s, agg, msg);
}

void Scheduler::Impl::maybe_finish() {
  if (finished_ || running_ > 0 || busy_ > 0) return;
  if (!queue_.empty()) {
    if (cancelling_ || plan().stopped()) stop_queued();
    return;
  }
  if (waiting_retry_ > 0) return;
  if (!plan().done()) return;
  // What the plan Omitted last (a fail-fast stop in this very handler) is
  // recorded before the plan is left behind: a pump deferred now would read
  // the next one.
  record_omitted();
  if (!exit_phase_) {
    main_status_ = plan_->run_status();
    if (!wf_.on_exit.empty() && !cancelling_) return start_exit_phase();
    if (cancelling_)
      for (auto& s : wf_.on_exit) {
        StepState& st = steps_[s.name];
        st.status = NodeStatus::Cancelled;
        st.message = "not run: the run was cancelled";
        record_step(st);
      }
  }
  finished_ = true;
  flush();
  heartbeat_.reset();
  flush_timer_.reset();
  metrics_timer_.reset();
  io_.stop();
}

// Queued instances of a stopped run never start.
void Scheduler::Impl::stop_queued() {
  auto queued = std::move(queue_);
  queue_.clear();
  for (Instance* inst : queued)
    guarded(inst, nullptr, [&] {
      finish_instance(*inst, cancelling_ ? NodeStatus::Cancelled : NodeStatus::Omitted,
                      cancelling_ ? "cancelled before it started" : "not started: the run stopped after a failure");
    });
}

void Scheduler::Impl::start_exit_phase() {
  exit_phase_ = true;
  exit_plan_ = std::make_unique<Plan>(wf_.on_exit, false);
  defer(nullptr, nullptr, [this] { pump(); });
}

void Scheduler::Impl::do_cancel(const std::string& why) {
  if (cancelling_ || finished_) return;
  cancelling_ = true;
  plan().stop(why, true);
  for (auto& [name, s] : steps_)
    for (auto& inst : s.instances) {
      if (inst->status == NodeStatus::Running) {
        inst->cancelled = true;
        if (inst->running) inst->running->stop();
      }
      if (inst->retry_timer) {
        // Its retry never comes; it ends once this handler is over.
        inst->retry_timer.reset();
        Instance* i = inst.get();
        post(i, nullptr, [this, i] {
          --waiting_retry_;
          finish_instance(*i, NodeStatus::Cancelled, "cancelled while waiting to retry");
        });
      }
    }
  pump();
}

}  // namespace ctflow

// Sweep steps: a hyperparameter search run as trials tune[0], tune[1], ...
// Each trial is an instance of the step (its body: uses, run, shell, image)
// with {{trial.NAME}} bound to the parameters its sampler suggested. Trials are
// added as others end, at most `parallelism` at once, so that a sampler that
// learns from finished trials (TPE) sees them. A trial's objective is the last
// value of the objective metric it reported (its CTFLOW_METRICS file, or a
// plugin's metrics); the pruner reads the live values and may stop a trial,
// which then ends Stopped. The step Succeeds when a trial did, with the best
// trial's outputs and artifacts as its own, plus `best`, `best_value` and
// `best_trial`.
#include <cmath>

#include "engine/scheduler_impl.h"

namespace ctflow {

namespace {

sweep::TrialStatus trial_status(NodeStatus s) {
  switch (s) {
    case NodeStatus::Succeeded: return sweep::TrialStatus::Succeeded;
    case NodeStatus::Stopped: return sweep::TrialStatus::Stopped;
    case NodeStatus::Pending:
    case NodeStatus::Running: return sweep::TrialStatus::Running;
    default: return sweep::TrialStatus::Failed;
  }
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v + 0.0);  // never "-0"
  return buf;
}

}  // namespace

void Scheduler::Impl::begin_sweep(StepState& s) {
  auto sw = std::make_shared<SweepRun>();
  sw->spec = &*s.step->sweep;
  if (!sw->spec->trials_param.empty()) {  // trials: "{{params.NAME}}"
    const std::string& name = sw->spec->trials_param;
    auto v = resolve(s, nullptr, "params." + name);
    if (!v) return finish_step(s, NodeStatus::Errored, "sweep: 'trials' from params." + name + ": " + v.message());
    if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() >= (int64_t{1} << 30))
      return finish_step(s, NodeStatus::Errored, "sweep: 'trials' from params." + name +
                                                     " must be a whole number of 0 or more; got " + json_text(*v));
    if (v->get<int64_t>() == 0)
      return finish_step(s, NodeStatus::Skipped, "skipped: params." + name + " is 0, so the sweep runs no trials");
    sw->spec_read = *sw->spec;
    sw->spec_read.trials = static_cast<int>(v->get<int64_t>());
    sw->spec = &sw->spec_read;
  }
  const SweepSpec& spec = *sw->spec;
  auto sampler = sweep::make_sampler(spec);
  if (!sampler) return finish_step(s, NodeStatus::Errored, "sweep: " + sampler.message());
  auto budget = sweep::trial_budget(spec);
  if (!budget) return finish_step(s, NodeStatus::Errored, "sweep: " + budget.message());
  if (*budget == 0) return finish_step(s, NodeStatus::Skipped, "skipped: the sweep has no trials to run");
  sw->sampler = std::move(*sampler);
  sw->pruner = sweep::make_pruner(spec);
  sw->budget = *budget;
  // Unset: as many at once as the host has CPUs (a sampler that learns from
  // finished trials learns more from fewer at once).
  sw->parallelism = spec.parallelism > 0 ? spec.parallelism : std::max(1, static_cast<int>(opt_.host.cpus));
  s.sweep = sw;
  s.fan_out = true;
  if (opt_.resume) resume_trials(s);
  add_trials(s);
  s.remaining = static_cast<int>(s.instances.size());
  record_step(s);
  if (s.instances.empty()) end_sweep(s);
}

// Resume: the trials the earlier attempt of the run started come back with
// their parameters, in order; those that Succeeded or were Stopped keep their
// results when they start (keep_previous), the others run again as they were.
bool Scheduler::Impl::resume_trials(StepState& s) {
  SweepRun& sw = *s.sweep;
  bool any = false;
  for (uint64_t i = 0; i < sw.budget; ++i) {
    auto prev = previous_.find(s.step->name + "[" + std::to_string(i) + "]");
    if (prev == previous_.end() || !prev->second.inputs.is_object() || !prev->second.inputs.contains("trial")) break;
    add_trial(s, prev->second.inputs["trial"]);
    any = true;
  }
  return any;
}

// Queues trial number instances.size() of S with PARAMS.
Scheduler::Impl::Instance& Scheduler::Impl::add_trial(StepState& s, Value params) {
  SweepRun& sw = *s.sweep;
  const int index = static_cast<int>(s.instances.size());
  add_instance(s, index, nullptr);
  Instance& inst = *s.instances.back();
  inst.trial = index;
  inst.trial_params = std::move(params);
  inst.inputs["trial"] = inst.trial_params;
  sw.history.push_back({inst.trial_params, std::nullopt, sweep::TrialStatus::Running});
  ++sw.active;
  return inst;
}

// Adds trials while fewer than `parallelism` are going and the budget allows;
// returns how many.
int Scheduler::Impl::add_trials(StepState& s) {
  SweepRun& sw = *s.sweep;
  int added = 0;
  if (cancelling_ || plan().stopped()) return 0;
  while (!sw.exhausted && sw.active < sw.parallelism && sw.history.size() < sw.budget) {
    auto params = sw.sampler->suggest(sw.history);
    if (!params) {
      sw.exhausted = true;
      break;
    }
    record_instance(add_trial(s, std::move(*params)));
    ++added;
  }
  return added;
}

// A value of the objective metric from trial INST at STEP. LIVE: read while it
// runs (the pruner may stop it); else from its result (too late to stop it).
void Scheduler::Impl::trial_metric(Instance& inst, int64_t step, double value, bool live) {
  SweepRun& sw = *inst.step->sweep;
  inst.objective = value;
  inst.objective_step = step;
  sw.history[static_cast<size_t>(inst.trial)].objective = value;
  if (!sw.pruner) return;
  const sweep::Decision d = sw.pruner->report(inst.trial, step, value);
  if (d != sweep::Decision::Stop || !live || inst.stopping || inst.status != NodeStatus::Running) return;
  const char* rule = sw.spec->early_stop && sw.spec->early_stop->method == EarlyStopMethod::Median ? "median" : "asha";
  stop_trial(inst, "stopped early by the " + std::string(rule) + " rule at step " + std::to_string(step) + ": " +
                       sw.spec->metric + " " + number_text(value) + " is behind the other trials");
}

// Ends INST's attempt as a timeout does (SIGTERM to its process group); it ends Stopped.
void Scheduler::Impl::stop_trial(Instance& inst, const std::string& why) {
  inst.stopping = true;
  inst.stop_message = why;
  emit(inst.name, NodeStatus::Running, why, 0, false);
  // An in-process plugin cannot be made to end: the trial ends now, its call runs out in the background.
  if (inst.running && !inst.running->stop()) attempt_ended(inst, NodeStatus::Stopped, why);
}

// Before INST's end is recorded: its objective becomes an output, and the history learns how it ended.
void Scheduler::Impl::trial_ended(Instance& inst) {
  SweepRun& sw = *inst.step->sweep;
  auto& rec = sw.history[static_cast<size_t>(inst.trial)];
  // A trial kept from an earlier attempt or the cache brings its objective in its outputs.
  if (!inst.objective && inst.outputs.contains("objective") && inst.outputs["objective"].is_number()) {
    inst.objective = inst.outputs["objective"].get<double>();
    inst.objective_step = inst.outputs.value("objective_step", int64_t{0});
    if (sw.pruner && inst.objective_step > 0) sw.pruner->report(inst.trial, inst.objective_step, *inst.objective);
  }
  rec.objective = inst.objective;
  rec.status = trial_status(inst.status);
  if (inst.status == NodeStatus::Succeeded || inst.status == NodeStatus::Stopped) {
    inst.outputs["objective"] = inst.objective ? Value(*inst.objective) : Value();
    inst.outputs["objective_step"] = inst.objective_step;
  }
  --sw.active;
}

void Scheduler::Impl::end_sweep(StepState& s) {
  SweepRun& sw = *s.sweep;
  int counts[4] = {0, 0, 0, 0};  // Succeeded, Stopped, failed, cancelled
  std::string first_failure;
  for (auto& i : s.instances) {
    if (i->status == NodeStatus::Succeeded) ++counts[0];
    else if (i->status == NodeStatus::Stopped) ++counts[1];
    else if (i->status == NodeStatus::Cancelled) ++counts[3];
    else {
      ++counts[2];
      if (first_failure.empty()) first_failure = i->name + ": " + i->message;
    }
  }
  std::string tally = std::to_string(s.instances.size()) + " trials: " + std::to_string(counts[0]) + " Succeeded";
  if (counts[1]) tally += ", " + std::to_string(counts[1]) + " Stopped";
  if (counts[2]) tally += ", " + std::to_string(counts[2]) + " failed";
  if (counts[3]) tally += ", " + std::to_string(counts[3]) + " Cancelled";
  if (cancelling_ && counts[3]) return finish_step(s, NodeStatus::Cancelled, tally);
  auto best = sweep::best_trial(sw.history, sw.spec->goal);
  if (!best) {
    if (counts[0] == 0 && counts[1] == 0)
      return finish_step(s, counts[3] ? NodeStatus::Cancelled : NodeStatus::Failed,
                         "every trial failed (" + tally + "); first: " + first_failure);
    return finish_step(s, NodeStatus::Failed,
                       "no Succeeded trial reported the objective '" + sw.spec->metric + "' (" + tally +
                           "): a trial reports it as a JSON line {\"name\": \"" + sw.spec->metric +
                           "\", \"value\": ...} appended to $CTFLOW_METRICS, or as a plugin metric");
  }
  const Instance& b = *s.instances[*best];
  s.outputs = b.outputs;
  s.outputs.erase("objective");
  s.outputs.erase("objective_step");
  if (b.step->step->kind != StepKind::Plugin) s.outputs["result"] = b.result;
  s.outputs["best"] = b.trial_params;
  s.outputs["best_value"] = *b.objective;
  s.outputs["best_trial"] = static_cast<int64_t>(*best);
  s.artifacts = b.artifacts;
  s.result = b.result;
  finish_step(s, NodeStatus::Succeeded,
              "best " + b.name + ": " + sw.spec->metric + " " + number_text(*b.objective) + " (" + tally + ")");
}

}  // namespace ctflow

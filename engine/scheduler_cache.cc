// The step cache (an attempt whose key matches an earlier success takes its
// outputs) and resume (what Succeeded in an earlier attempt of the run is kept).
#include "engine/scheduler_impl.h"
#include "store/sha256.h"

namespace ctflow {

std::string Scheduler::Impl::cache_key(const Instance& inst, const Rendered& r) const {
  const Step& st = *inst.step->step;
  Value key = {{"v", 1}, {"kind", to_string(st.kind)}, {"with", r.with}, {"image", r.image}};
  if (st.kind == StepKind::Plugin) {
    key["plugin"] = st.uses;
    key["version"] = r.plugin ? r.plugin->version : "";
  } else {
    key["argv"] = r.argv;
    Value outs = Value::object();
    for (const auto& [n, d] : st.output_params) outs[n] = d.path;
    for (const auto& [n, d] : st.output_artifacts) outs["artifact:" + n] = d.path;
    key["outputs"] = outs;
  }
  return "sha256:" + Sha256::hex_of(json_text(key));
}

namespace {

// A Stopped trial's cache entry holds, under this output, why it stopped and
// the rule that stopped it: a re-run under the same rule takes the stop as it
// takes a success; under another rule the trial runs again.
constexpr const char* kStoppedKey = "ctflow.stopped";

Value stop_rule(const SweepSpec& spec) {
  Value rule = {{"metric", spec.metric}, {"goal", spec.goal == SweepGoal::Maximize ? "maximize" : "minimize"}};
  if (const auto& e = spec.early_stop)
    rule["early_stop"] = {{"method", e->method == EarlyStopMethod::Asha ? "asha" : "median"},
                          {"min_steps", e->min_steps}, {"reduction", e->reduction}, {"warmup", e->warmup_trials}};
  return rule;
}

}  // namespace

// A cache hit ends INST Succeeded with the entry's outputs, when every blob it
// names is intact; a trial's Stopped entry ends it Stopped, under the same rule.
bool Scheduler::Impl::use_cached(Instance& inst) {
  flush();  // an entry this run just made is pending in writes_
  auto hit = journal_.cache_lookup(inst.cache_key);
  if (!hit || !hit->has_value()) return false;
  const CacheEntry& e = **hit;
  std::string stopped;
  if (e.outputs.is_object() && e.outputs.contains(kStoppedKey)) {
    const Value& mark = e.outputs[kStoppedKey];
    const SweepRun* sw = inst.step->sweep.get();
    if (inst.trial < 0 || !sw || !mark.is_object() || mark.value("rule", Value()) != stop_rule(*sw->spec)) return false;
    stopped = mark.value("message", std::string("stopped early"));
  }
  Value arts = Value::object();
  for (auto it = e.artifacts.begin(); it != e.artifacts.end(); ++it) {
    auto blob = journal_.get_blob(it.value().is_object() ? it.value().value("digest", "") : "");
    if (!blob) return false;
    arts[it.key()] = {{"digest", blob->digest}, {"size", blob->size}, {"kind", blob->kind}, {"path", blob->path.string()}};
  }
  inst.outputs = e.outputs.is_object() ? e.outputs : Value::object();
  inst.outputs.erase(kStoppedKey);
  if (inst.outputs.contains("result")) inst.result = value_text(inst.outputs["result"]);
  inst.artifacts = arts;
  note_artifacts(arts);
  inst.cached = true;
  record_artifacts(inst, arts);
  if (!stopped.empty())
    finish_instance(inst, NodeStatus::Stopped, "cache hit: run " + e.run_id + " step " + e.step + " " + stopped);
  else
    finish_instance(inst, NodeStatus::Succeeded, "cache hit: outputs of run " + e.run_id + " step " + e.step);
  return true;
}

void Scheduler::Impl::store_in_cache(const Instance& inst) {
  const Step& st = *inst.step->step;
  if (inst.cached || !st.cache_enabled() || opt_.no_cache || inst.cache_key.empty()) return;
  CacheEntry e;
  e.key = inst.cache_key;
  e.run_id = run_id_;
  e.step = inst.name;
  e.outputs = inst.outputs;
  if (inst.status == NodeStatus::Stopped) {
    if (inst.trial < 0 || !inst.step->sweep) return;
    e.outputs[kStoppedKey] = {{"message", inst.message}, {"rule", stop_rule(*inst.step->sweep->spec)}};
  }
  if (st.kind != StepKind::Plugin) e.outputs["result"] = inst.result;
  for (auto it = inst.artifacts.begin(); it != inst.artifacts.end(); ++it)
    e.artifacts[it.key()] = {{"digest", it.value()["digest"]}, {"size", it.value()["size"]}, {"kind", it.value()["kind"]}};
  e.created_at = inst.finished_at;
  record([e](RunJournal& j) { return j.cache_store(e); });
}

// Resume: the steps that Succeeded (or were Skipped) before keep their results.
void Scheduler::Impl::load_previous() {
  auto recs = journal_.steps(run_id_);
  if (!recs) return;
  for (auto& r : *recs) previous_[r.name] = r;
  auto arts = journal_.artifacts(run_id_);
  if (arts)
    for (const auto& a : *arts)
      if (a.role == "output")
        previous_artifacts_[a.step][a.name] = {{"digest", a.digest}, {"size", a.size}, {"kind", a.kind}, {"path", a.path}};
  for (auto& [name, st] : steps_)
    if (!st.exit_handler) keep_previous_step(st);
}

// Resume: ST keeps its result when it Succeeded (or was Skipped) before. Also
// for the steps of a template expanded again (docs/dag-growth.md).
bool Scheduler::Impl::keep_previous_step(StepState& st) {
  const std::string& name = st.step->name;
  auto it = previous_.find(name);
  if (it == previous_.end() || (it->second.status != "Succeeded" && it->second.status != "Skipped")) return false;
  bool fan = st.step->for_each.has_value();
  st.status = *node_status_from_string(it->second.status);
  st.message = it->second.message;
  st.outputs = it->second.outputs;
  st.started_at = it->second.started_at;
  st.finished_at = it->second.finished_at;
  if (!fan) {
    st.result = st.outputs.contains("result") ? value_text(st.outputs["result"]) : "";
    // A sweep's artifacts are its best trial's.
    const std::string owner = st.step->sweep && st.outputs.contains("best_trial")
                                  ? name + "[" + value_text(st.outputs["best_trial"]) + "]"
                                  : name;
    st.artifacts = previous_artifacts_[owner];
    note_artifacts(st.artifacts);
  }
  plan().restore(name, st.status);
  emit(name, st.status, "kept from the earlier attempt of this run", 0, it->second.cached);
  return true;
}

// Resume: an instance of a fan-out that Succeeded before (or a sweep's trial
// that was Stopped) keeps its result.
bool Scheduler::Impl::keep_previous(Instance& inst) {
  if (!inst.step->fan_out) return false;
  auto prev = previous_.find(inst.name);
  if (prev == previous_.end()) return false;
  const bool stopped = inst.trial >= 0 && prev->second.status == "Stopped";
  if (prev->second.status != "Succeeded" && !stopped) return false;
  inst.outputs = prev->second.outputs;
  inst.cached = prev->second.cached;
  if (prev->second.outputs.contains("result")) inst.result = value_text(prev->second.outputs["result"]);
  if (auto a = previous_artifacts_.find(inst.name); a != previous_artifacts_.end()) {
    inst.artifacts = a->second;
    note_artifacts(inst.artifacts);
  }
  finish_instance(inst, stopped ? NodeStatus::Stopped : NodeStatus::Succeeded,
                  stopped ? prev->second.message : "kept from the earlier attempt of this run");
  return true;
}

}  // namespace ctflow

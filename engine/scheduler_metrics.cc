// Live metrics and progress: every attempt gets CTFLOW_METRICS, a file to which
// it appends JSON lines (engine/step_metrics.h). The scheduler reads the files
// of running attempts every kMetricsPoll seconds and once more when an attempt
// ends: points become metrics in the store, the sweep's objective feeds its
// early stopping, and progress lines become events and the step row's progress.
#include <algorithm>

#include "engine/scheduler_impl.h"

namespace ctflow {

void Scheduler::Impl::watch_metrics(Instance& inst, const std::string& path) {
  inst.metrics = std::make_unique<MetricsFileReader>(path);
  inst.metric_count.clear();
  watched_.insert(&inst);
  if (metrics_timer_) return;
  metrics_timer_ = clock_.after(strand_, kMetricsPoll, [this] { guarded(nullptr, nullptr, [this] { poll_metrics(); }); });
}

void Scheduler::Impl::poll_metrics() {
  metrics_timer_.reset();
  if (finished_) return;
  // take_metrics may stop a trial, which may end it (and unwatch it) at once.
  // In the order of their names, not of their addresses: what a pruner decides
  // may depend on which report it hears first.
  std::vector<Instance*> now(watched_.begin(), watched_.end());
  std::sort(now.begin(), now.end(), [](const Instance* a, const Instance* b) {
    return a->step != b->step ? a->step->step->name < b->step->step->name : a->index < b->index;
  });
  for (Instance* inst : now)
    if (watched_.count(inst) && inst->metrics)
      guarded(inst, nullptr, [&] { take_metrics(*inst, inst->metrics->poll()); });
  if (!watched_.empty() && !finished_)
    metrics_timer_ = clock_.after(strand_, kMetricsPoll, [this] { guarded(nullptr, nullptr, [this] { poll_metrics(); }); });
}

// The attempt is over: what is left of its file, then no more reads.
void Scheduler::Impl::end_metrics(Instance& inst) {
  watched_.erase(&inst);
  if (!inst.metrics) return;
  auto reader = std::move(inst.metrics);
  take_metrics(inst, reader->finish());
}

void Scheduler::Impl::take_metrics(Instance& inst, MetricsBatch batch) {
  if (batch.empty()) return;
  for (const auto& w : batch.warnings)
    if (inst.running) inst.running->note("warning: " + w.text());
  if (!batch.points.empty()) {
    std::vector<MetricPoint> pts;
    pts.reserve(batch.points.size());
    const int64_t ts = clock_.now_ms();
    const std::string* objective = inst.trial >= 0 ? &inst.step->sweep->spec->metric : nullptr;
    for (const auto& p : batch.points) {
      int64_t& count = inst.metric_count[p.name];
      const int64_t index = p.step ? *p.step : ++count;
      if (p.step) count = std::max(count, *p.step);
      pts.push_back({run_id_, inst.name, p.name, "series", index, p.value, ts});
      if (objective && p.name == *objective) trial_metric(inst, index, p.value, true);
    }
    record([pts = std::move(pts)](RunJournal& j) { return j.add_metrics(pts); });
  }
  if (batch.progress && batch.progress != inst.progress) {
    inst.progress = batch.progress;
    const StepProgress& p = *inst.progress;
    Value v = {{"done", p.done}, {"total", p.total}, {"message", p.message}, {"at", clock_.now_ms()}};
    record([run = run_id_, name = inst.name, v](RunJournal& j) { return j.set_progress(run, name, v); });
    if (on_event_) {
      StepEvent e{inst.name, to_string(inst.status), p.message, (clock_.now_ms() - inst.started_at) / 1000.0, false};
      e.progress = p;
      on_event_(e);
    }
  }
}

}  // namespace ctflow

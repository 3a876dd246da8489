// Recording: every change goes to the journal in batches. Writes are committed
// in one transaction at the end of the current io tick, and at most once every
// kFlushEvery: a burst of short steps costs one commit per interval, not one or
// more per step, and the store is never more than kFlushEvery behind. The
// run's end flushes what is left.
#include <boost/asio/defer.hpp>
#include <spdlog/spdlog.h>

#include "engine/scheduler_impl.h"

namespace ctflow {

void Scheduler::Impl::record(std::function<Status(RunJournal&)> write) {
  writes_.push_back({std::move(write), std::nullopt});
  schedule_flush();
}

void Scheduler::Impl::record(StepRecord r) {
  auto [it, fresh] = pending_step_.emplace(r.name, writes_.size());
  if (fresh) {
    writes_.push_back({nullptr, std::move(r)});
  } else {
    StepRecord& pending = *writes_[it->second].step;
    // upsert_step keeps the stored inputs when given none: so does the merge.
    if (r.inputs.is_object() && r.inputs.empty()) r.inputs = std::move(pending.inputs);
    pending = std::move(r);
  }
  schedule_flush();
}

void Scheduler::Impl::schedule_flush() {
  if (flush_posted_ || finished_) return;
  flush_posted_ = true;
  auto since = clock_.steady_now() - last_flush_;
  if (since >= kFlushEvery) {
    defer(nullptr, nullptr, [this] { flush(); });
    return;
  }
  const double wait = std::chrono::duration<double>(kFlushEvery - since).count();
  flush_timer_ = clock_.after(strand_, wait, [this] { guarded(nullptr, nullptr, [this] { flush(); }); });
}

void Scheduler::Impl::flush() {
  flush_posted_ = false;
  last_flush_ = clock_.steady_now();
  if (writes_.empty()) return;
  std::vector<Write> writes;
  writes.swap(writes_);
  writes_.reserve(writes.size());  // the next batch is likely as big
  pending_step_.clear();
  auto st = journal_.transaction([&] {
    for (auto& w : writes) {
      Status s;
      try {
        s = w.step ? journal_.upsert_step(*w.step) : w.fn(journal_);
      } catch (const std::exception& e) {  // one bad row must not lose the batch
        s = Status::Error(e.what());
      }
      if (!s.ok()) spdlog::warn("store: {}", s.message());
    }
  });
  if (!st.ok()) spdlog::warn("store: {}", st.message());
  if (on_settled_) on_settled_();
}

void Scheduler::Impl::record_step(const StepState& s) {
  if (!s.fan_out && !s.instances.empty()) return;  // the instance row is the step row
  StepRecord r;
  r.run_id = run_id_;
  r.name = s.step->name;
  r.step = s.step->name;
  r.status = to_string(s.status);
  r.started_at = s.started_at;
  r.finished_at = is_terminal(s.status) ? s.finished_at : 0;
  r.outputs = s.outputs;
  r.message = s.message;
  int attempts = 0;
  for (auto& i : s.instances) attempts = std::max(attempts, i->attempt);
  r.attempts = attempts;
  record(std::move(r));
}

void Scheduler::Impl::record_instance(const Instance& inst) {
  StepRecord r;
  r.run_id = run_id_;
  r.name = inst.name;
  r.step = inst.step->step->name;
  r.status = to_string(inst.status);
  r.attempts = inst.attempt;
  r.cached = inst.cached;
  r.started_at = inst.started_at;
  r.finished_at = is_terminal(inst.status) ? inst.finished_at : 0;
  r.outputs = inst.outputs;
  const StepKind kind = inst.step->step->kind;
  if (kind != StepKind::Plugin && kind != StepKind::Call && inst.status == NodeStatus::Succeeded) r.outputs["result"] = inst.result;
  r.message = inst.message;
  r.log_path = inst.log_path;
  r.exit_code = inst.exit_code;
  r.cache_key = inst.cache_key;
  r.inputs = inst.inputs;
  record(std::move(r));
}

void Scheduler::Impl::record_attempt(const Instance& inst, NodeStatus status, const std::string& message) {
  AttemptRecord a{run_id_, inst.name, inst.attempt, to_string(status), inst.attempt_started_at, clock_.now_ms(),
                  inst.exit_code, message, inst.log_path};
  record([a](RunJournal& j) { return j.add_attempt(a); });
}

void Scheduler::Impl::record_artifacts(const Instance& inst, const Value& arts) {
  for (auto it = arts.begin(); it != arts.end(); ++it) {
    const Value& v = it.value();
    ArtifactRecord a{run_id_, inst.name, it.key(), v["digest"], v["size"], v["kind"], "output", ""};
    record([a](RunJournal& j) { return j.add_artifact(a); });
  }
}

void Scheduler::Impl::note_artifacts(const Value& arts) {
  for (auto it = arts.begin(); it != arts.end(); ++it)
    if (it.value().contains("path")) artifact_by_path_[it.value()["path"].get<std::string>()] = it.value();
}

// An artifact of an earlier step named in what INST runs with is one of its
// inputs (lineage); so is any other blob of the store it names (a data version
// an earlier run made, as core.data gives it).
void Scheduler::Impl::record_inputs(const Instance& inst, const Value& v) {
  if (v.is_string()) {
    const std::string& path = v.get<std::string>();
    auto it = artifact_by_path_.find(path);
    if (it == artifact_by_path_.end()) {
      const std::string blobs = journal_.blobs_dir().string();
      if (path.compare(0, blobs.size(), blobs) != 0) return;
      auto named = ArtifactStore::blob_at(blobs, path);
      auto blob = named ? journal_.get_blob(named->digest) : Result<StoredArtifact>(Status::Error("not a blob"));
      if (!blob) return;
      it = artifact_by_path_.emplace(path, Value{{"digest", blob->digest}, {"size", blob->size}, {"kind", blob->kind},
                                                 {"path", path}}).first;
    }
    ArtifactRecord a{run_id_, inst.name, "", it->second["digest"], it->second["size"], it->second["kind"], "input", ""};
    a.name = a.digest;
    record([a](RunJournal& j) { return j.add_artifact(a); });
  } else if (v.is_array() || v.is_object()) {
    for (const auto& x : v) record_inputs(inst, x);
  }
}

// A plugin's metrics and confusion matrices; entries of the wrong shape are dropped with a warning.
void Scheduler::Impl::record_metrics(Instance& inst, const Value& metrics, const Value& confusions) {
  if (metrics.is_array() && !metrics.empty()) {
    std::vector<MetricPoint> pts;
    int64_t ts = clock_.now_ms();
    for (const auto& m : metrics) {
      try {
        pts.push_back({run_id_, inst.name, m.value("name", ""), m.value("kind", "scalar"), m.value("index", int64_t{0}),
                       m.value("value", 0.0), ts});
        if (inst.trial >= 0 && pts.back().name == inst.step->sweep->spec->metric)
          trial_metric(inst, pts.back().index, pts.back().value, false);
      } catch (const std::exception& e) {
        spdlog::warn("{}: a metric that is not {{name, kind, index, value}}: {}", inst.name, e.what());
      }
    }
    record([pts](RunJournal& j) { return j.add_metrics(pts); });
  }
  if (!confusions.is_array()) return;
  for (const auto& c : confusions) {
    try {
      ConfusionRecord r{run_id_, inst.name, c.value("name", ""), c.at("labels").get<std::vector<std::string>>(),
                        c.at("counts").get<std::vector<int64_t>>()};
      record([r](RunJournal& j) { return j.add_confusion(r); });
    } catch (const std::exception& e) {
      spdlog::warn("{}: a confusion matrix that is not {{name, labels, counts}}: {}", inst.name, e.what());
    }
  }
}

void Scheduler::Impl::emit(const std::string& name, NodeStatus st, const std::string& msg, double secs, bool cached) {
  if (on_event_) on_event_(StepEvent{name, to_string(st), msg, secs, cached});
}

}  // namespace ctflow

// Fakes for the Scheduler's seams: a virtual clock, an in-memory journal and a
// runner that runs nothing. A run under them is single-threaded, deterministic
// and never sleeps: time moves only when every ready handler has run and the
// clock jumps to the next timer. Used by scheduler_test.cc and fuzz_scheduler.cc.
#pragma once

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>

#include "engine/frontend_v1.h"
#include "engine/run/clock.h"
#include "engine/run/journal.h"
#include "engine/run/step_runner.h"
#include "engine/scheduler.h"
#include "store/sha256.h"

namespace ctflow::fake {

// Virtual time in microseconds from the run's start.
class FakeClock final : public Clock {
 public:
  static constexpr int64_t kEpochMs = 1'800'000'000'000;

  int64_t now_ms() override { return kEpochMs + now_us_ / 1000; }
  std::chrono::steady_clock::time_point steady_now() override {
    return std::chrono::steady_clock::time_point(std::chrono::microseconds(now_us_));
  }
  double seconds() const { return static_cast<double>(now_us_) / 1e6; }

  std::unique_ptr<TimerHandle> after(boost::asio::any_io_executor ex, double seconds, std::function<void()> fn,
                                     bool background) override {
    auto alive = std::make_shared<bool>(true);
    const int64_t delay = seconds > 0 ? static_cast<int64_t>(std::llround(seconds * 1e6)) : 0;
    timers_.push_back({now_us_ + delay, seq_++, std::move(ex), std::move(fn), background, alive});
    return std::make_unique<Handle>(alive);
  }

  bool advance() override {
    std::erase_if(timers_, [](const Timer& t) { return !*t.alive; });
    int64_t next = -1;
    for (const auto& t : timers_)
      if (!t.background && (next < 0 || t.due < next)) next = t.due;
    if (next < 0) return false;
    now_us_ = std::max(now_us_, next);
    std::vector<Timer> due;
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->due <= now_us_) {
        due.push_back(std::move(*it));
        it = timers_.erase(it);
      } else {
        ++it;
      }
    }
    std::sort(due.begin(), due.end(), [](const Timer& a, const Timer& b) {
      return a.due != b.due ? a.due < b.due : a.seq < b.seq;
    });
    for (auto& t : due)
      boost::asio::post(t.ex, [alive = t.alive, fn = std::move(t.fn)] {
        if (*alive) fn();
      });
    return true;
  }
  bool is_virtual() const override { return true; }
  // Drops every pending timer: they hold the scheduler's executor, which must
  // not outlive it.
  void clear() { timers_.clear(); }

 private:
  struct Timer {
    int64_t due;
    uint64_t seq;
    boost::asio::any_io_executor ex;
    std::function<void()> fn;
    bool background;
    std::shared_ptr<bool> alive;
  };
  class Handle final : public TimerHandle {
   public:
    explicit Handle(std::shared_ptr<bool> alive) : alive_(std::move(alive)) {}
    ~Handle() override { *alive_ = false; }
    void cancel() override { *alive_ = false; }

   private:
    std::shared_ptr<bool> alive_;
  };
  int64_t now_us_ = 0;
  uint64_t seq_ = 0;
  std::vector<Timer> timers_;
};

// The journal in memory. Rows are written through json_text as the store
// does, so a value the store could not write fails here too.
class FakeJournal final : public RunJournal {
 public:
  // Nothing is written under it, except the metrics files of fake attempts
  // with `live` lines (a test that has them sets a real folder).
  std::filesystem::path root = "/fake-store";
  std::filesystem::path dir() const override { return root; }
  std::filesystem::path work_dir() const override { return root / "work"; }
  std::filesystem::path logs_dir() const override { return root / "logs"; }
  std::filesystem::path blobs_dir() const override { return root / "blobs"; }

  Status claim(const std::string& run_id, int64_t) override {
    run_status[run_id] = "Running";
    return Status::Ok();
  }
  Status heartbeat(const std::string&, int64_t) override {
    if (!throw_on_heartbeat.empty()) throw std::runtime_error(throw_on_heartbeat);
    ++heartbeats;
    return Status::Ok();
  }
  Status finish(const std::string& run_id, const std::string& status, const std::string& message) override {
    run_status[run_id] = status;
    run_message[run_id] = message;
    return Status::Ok();
  }
  Status upsert_step(const StepRecord& step) override {
    (void)json_text(step.outputs);
    auto it = step_rows.find(step.name);
    StepRecord r = step;
    if (it != step_rows.end() && r.inputs.is_object() && r.inputs.empty()) r.inputs = it->second.inputs;
    if (it == step_rows.end()) step_order.push_back(step.name);
    step_rows[step.name] = std::move(r);
    return Status::Ok();
  }
  Status add_attempt(const AttemptRecord& a) override {
    attempts.push_back(a);
    return Status::Ok();
  }
  Status add_artifact(const ArtifactRecord& a) override {
    artifact_rows.push_back(a);
    return Status::Ok();
  }
  Status add_metrics(const std::vector<MetricPoint>& points) override {
    metrics.insert(metrics.end(), points.begin(), points.end());
    return Status::Ok();
  }
  Status add_confusion(const ConfusionRecord& c) override {
    confusions.push_back(c);
    return Status::Ok();
  }
  Status set_progress(const std::string&, const std::string& name, const Json& p) override {
    progress[name].push_back(p);
    return Status::Ok();
  }
  Status transaction(const std::function<void()>& writes) override {
    ++transactions;
    writes();
    return Status::Ok();
  }
  Result<std::vector<StepRecord>> steps(const std::string&) override {
    std::vector<StepRecord> out;
    for (const auto& n : step_order) out.push_back(step_rows[n]);
    return out;
  }
  Result<std::vector<ArtifactRecord>> artifacts(const std::string&) override { return artifact_rows; }
  Result<std::optional<CacheEntry>> cache_lookup(const std::string& key) override {
    if (!throw_on_cache_lookup.empty()) throw std::runtime_error(throw_on_cache_lookup);
    auto it = cache.find(key);
    if (it == cache.end()) return std::optional<CacheEntry>();
    return std::optional<CacheEntry>(it->second);
  }
  Status cache_store(const CacheEntry& e) override {
    cache[e.key] = e;
    return Status::Ok();
  }
  Result<StoredArtifact> put_blob(const std::filesystem::path& path) override {
    StoredArtifact a{"sha256:" + Sha256::hex_of(path.string()), 1, "file", blobs_dir() / path.filename()};
    blobs[a.digest] = a;
    return a;
  }
  Result<StoredArtifact> get_blob(const std::string& digest) override {
    auto it = blobs.find(digest);
    if (it == blobs.end()) return Status::Error("no blob " + digest);
    return it->second;
  }

  const StepRecord& step(const std::string& name) {
    static const StepRecord kNone{};
    auto it = step_rows.find(name);
    return it == step_rows.end() ? kNone : it->second;
  }
  std::string status(const std::string& name) { return step(name).status; }

  std::map<std::string, std::string> run_status, run_message;
  std::map<std::string, StepRecord> step_rows;
  std::vector<std::string> step_order;
  std::vector<AttemptRecord> attempts;
  std::vector<ArtifactRecord> artifact_rows;
  std::vector<MetricPoint> metrics;
  std::vector<ConfusionRecord> confusions;
  std::map<std::string, std::vector<Json>> progress;  // step row -> what set_progress wrote, in order
  std::map<std::string, CacheEntry> cache;
  std::map<std::string, StoredArtifact> blobs;
  int transactions = 0, heartbeats = 0;
  // Faults to inject: what a call throws (a bug, or a library that throws).
  std::string throw_on_heartbeat, throw_on_cache_lookup;
};

// What a fake attempt does.
struct Outcome {
  double seconds = 0;  // how long it runs (virtual)
  NodeStatus status = NodeStatus::Succeeded;
  std::string message;
  int exit_code = 0;
  std::string stdout_text;  // the step's result
  Value outputs = Value::object();
  std::map<std::string, std::filesystem::path> artifacts;
  Value metrics = Value::array();
  Value confusions = Value::array();
  bool ignores_term = false;  // SIGTERM does not end it: it dies by SIGKILL after the grace period
  // Lines the step appends to its CTFLOW_METRICS file, each at SECONDS after it starts.
  std::vector<std::pair<double, std::string>> live;
};

// Where an attempt's CTFLOW_METRICS file is.
inline std::string metrics_path_of(const AttemptSpec& spec) {
  if (spec.kind == AttemptKind::InProcess) return spec.invocation.metrics_path;
  for (const auto& e : spec.env)
    if (e.rfind("CTFLOW_METRICS=", 0) == 0) return e.substr(15);
  return "";
}

struct Span {
  std::string instance;
  int attempt = 0;
  AttemptKind kind = AttemptKind::Process;
  double start = 0, end = -1;  // virtual seconds; end -1 while it runs
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string note;  // the log's last line, from the scheduler
};

class FakeRunner final : public StepRunner {
 public:
  explicit FakeRunner(FakeClock& clock) : clock_(clock) {}
  // What each attempt does; by default it succeeds at once with no output.
  std::function<Outcome(const AttemptSpec&)> script = [](const AttemptSpec&) { return Outcome{}; };

  std::shared_ptr<RunningAttempt> start(const AttemptSpec& spec, const RunnerContext& ctx, AttemptDone done) override {
    spans.push_back({spec.instance, spec.attempt, spec.kind, clock_.seconds(), -1, spec.argv, spec.env, ""});
    ++running;
    max_running = std::max(max_running, running);
    auto a = std::make_shared<Attempt>(*this, spans.size() - 1, spec.kind, ctx, std::move(done));
    Outcome out = script(spec);
    a->outcome = out;
    if (!out.live.empty()) {
      const std::filesystem::path path = metrics_path_of(spec);
      std::filesystem::create_directories(path.parent_path());
      std::filesystem::remove(path);  // made anew for each attempt, as the process runner does
      for (const auto& [at, line] : out.live)
        a->writes.push_back(clock_.after(ctx.strand, at, [a, path, line = line] {
          if (!a->ended()) std::ofstream(path, std::ios::app) << line << "\n";
        }, false));
    }
    // After the writes: a line due when the attempt ends is written before it ends.
    a->timer = clock_.after(ctx.strand, out.seconds, [a] { a->finish(a->result_of(a->outcome)); }, false);
    return a;
  }
  int stop_orphans(const std::string&) override {
    ++orphan_sweeps;
    return 0;
  }

  // The spans of INSTANCE's attempts, in order.
  std::vector<Span> of(const std::string& instance) const {
    std::vector<Span> out;
    for (const auto& s : spans)
      if (s.instance == instance) out.push_back(s);
    return out;
  }

  std::vector<Span> spans;
  int running = 0, max_running = 0, orphan_sweeps = 0;

 private:
  class Attempt final : public RunningAttempt, public std::enable_shared_from_this<Attempt> {
   public:
    Attempt(FakeRunner& r, size_t span, AttemptKind kind, RunnerContext ctx, AttemptDone done)
        : runner_(r), span_(span), kind_(kind), ctx_(std::move(ctx)), done_(std::move(done)) {}
    bool stop() override {
      if (kind_ == AttemptKind::InProcess) return false;  // a plugin call runs on
      if (outcome.ignores_term) {
        kill_timer_ = runner_.clock_.after(ctx_.strand, ctx_.kill_grace_s, [self = shared_from_this()] {
          self->finish(killed(9));
        }, false);
        return true;
      }
      boost::asio::post(ctx_.strand, [self = shared_from_this()] { self->finish(killed(15)); });
      return true;
    }
    void kill() override {
      if (kind_ == AttemptKind::InProcess) return;
      boost::asio::post(ctx_.strand, [self = shared_from_this()] { self->finish(killed(9)); });
    }
    void close_log(const std::string& note) override { runner_.spans[span_].note = note; }

    static AttemptResult killed(int sig) {
      AttemptResult r;
      r.status = NodeStatus::Failed;
      r.message = "killed by signal " + std::to_string(sig);
      r.exit_code = 128 + sig;
      return r;
    }
    AttemptResult result_of(const Outcome& o) const {
      AttemptResult r;
      r.status = o.status;
      r.message = o.message;
      r.exit_code = o.exit_code;
      r.stdout_tail = o.stdout_text;
      r.outputs = o.outputs;
      r.artifacts = o.artifacts;
      r.metrics = o.metrics;
      r.confusions = o.confusions;
      return r;
    }
    void finish(AttemptResult r) {
      if (!done_) return;
      timer.reset();
      kill_timer_.reset();
      writes.clear();
      --runner_.running;
      runner_.spans[span_].end = runner_.clock_.seconds();
      auto done = std::move(done_);
      done_ = nullptr;
      done(std::move(r));
    }

    bool ended() const { return !done_; }

    Outcome outcome;
    std::unique_ptr<TimerHandle> timer;
    std::vector<std::unique_ptr<TimerHandle>> writes;  // the live lines still to write

   private:
    FakeRunner& runner_;
    size_t span_;
    AttemptKind kind_;
    RunnerContext ctx_;
    AttemptDone done_;
    std::unique_ptr<TimerHandle> kill_timer_;
  };
  FakeClock& clock_;
};

// A workflow from ctflow/v1 YAML (the test fails on a diagnostic).
inline Workflow workflow(const std::string& yaml) {
  LoadResult r = parse_workflow_text("apiVersion: ctflow/v1\nkind: Workflow\nmetadata: {name: t}\n" + yaml, "test.yaml");
  if (!r.ok()) throw std::runtime_error("bad test workflow: " + r.diags.render());
  return *r.workflow;
}

// A scheduler over the fakes, and what it left.
struct Harness {
  FakeClock clock;
  FakeJournal journal;
  FakeRunner runner{clock};
  std::map<std::string, PluginInfo> plugins;
  RunOptions options;
  std::vector<StepEvent> events;
  std::function<void(Scheduler&, const StepEvent&)> on_event;  // e.g. cancel when a step starts

  Harness() {
    options.host.cpus = 8;
    options.host.gpus = 0;
    options.host.memory = 0;
  }

  std::string run(const Workflow& wf, Value params = Value::object(), const std::string& run_id = "r-1") {
    SchedulerServices svc;
    svc.journal = &journal;
    svc.runner = &runner;
    svc.clock = &clock;
    svc.find_plugin = [this](const std::string& name) -> const PluginInfo* {
      auto it = plugins.find(name);
      return it == plugins.end() ? nullptr : &it->second;
    };
    Scheduler sched(wf, std::move(params), svc, options);
    sched.on_event([&](const StepEvent& e) {
      events.push_back(e);
      if (on_event) on_event(sched, e);
    });
    std::string status = sched.run(run_id);
    clock.clear();
    return status;
  }
};

}  // namespace ctflow::fake

// The Scheduler's state and its parts, one file each:
//   scheduler.cc            the run loop, the facade, errors caught at each handler
//   scheduler_plan.cc       plan driving: when, for_each, step ends, on_exit, cancel
//   scheduler_slots.cc      resource admission (cpu, gpu, memory, parallelism) and the job pool
//   scheduler_attempt.cc    an attempt: its spec for the runner, its result, timeout, retry
//   scheduler_refs.cc       reference resolution ({{steps.x.outputs.y}}, params, item)
//   scheduler_cache.cc      the step cache and resume from an earlier attempt
//   scheduler_record.cc     recording: batched journal writes
//   scheduler_call.cc       call steps: a template expanded when the step starts
//   scheduler_metrics.cc    live metrics and progress: the CTFLOW_METRICS file of each running attempt
//   scheduler_sweep.cc      sweep steps: trials sampled as others end, early stopping, the best trial
// Private to the engine.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "base/json_text.h"
#include "engine/expr.h"
#include "engine/plan.h"
#include "engine/run/clock.h"
#include "engine/run/journal.h"
#include "engine/run/step_runner.h"
#include "engine/scheduler.h"
#include "engine/step_metrics.h"
#include "engine/sweep/pruner.h"
#include "engine/sweep/sampler.h"

namespace ctflow {

// Text for a value put in a command line, an environment variable or a message.
std::string value_text(const Value& v);
std::string fmt_seconds(double s);

class Scheduler::Impl final : public JobPool {
 public:
  Impl(const Workflow& wf, Value params, SchedulerServices services, RunOptions options);
  // Owns the real services (the store's journal, the local runner, the system clock).
  Impl(const Workflow& wf, Value params, RunStore& store, PluginRegistry& plugins, RunOptions options);
  Impl(const Workflow& wf, Value params, SchedulerServices unused, RunOptions options, std::unique_ptr<RunJournal> journal,
       std::unique_ptr<StepRunner> runner, std::unique_ptr<Clock> clock, PluginRegistry& plugins);
  ~Impl() override;

  std::string run(const std::string& run_id);
  void cancel(const std::string& why);
  void kill_now();
  std::function<void(const StepEvent&)> on_event_;
  std::function<void()> on_settled_;

  // JobPool: WORK off the strand, at most kWorkers at once, then THEN in the strand.
  void run(std::function<void()> work, std::function<void()> then) override;

 private:
  struct StepState;
  struct Instance;
  // One expansion of a template by a call step's instance (docs/dag-growth.md).
  struct CallScope {
    std::string prefix;            // "caller/" or "caller[2]/": its steps' names start with it
    Value params;                  // the template's params, bound
    int depth = 1;                 // 1 for a call from the workflow's own steps
    std::string chain;             // the templates called on the way here: "a -> b -> b"
    const TemplateDef* tmpl = nullptr;
    Instance* caller = nullptr;
    int left = 0;                  // its steps not yet ended
  };
  struct Instance {
    std::string name;
    StepState* step = nullptr;
    int index = -1;  // fan-out index, -1 for a plain step
    Value item;
    int attempt = 0;
    NodeStatus status = NodeStatus::Pending;
    std::string message;
    int exit_code = 0;
    Value outputs = Value::object();
    std::string result;
    Value artifacts = Value::object();  // name -> {digest, size, kind, path}
    bool cached = false;
    int64_t started_at = 0, attempt_started_at = 0, finished_at = 0;
    std::string log_path, cache_key;
    Value inputs = Value::object();  // what it ran with, for lineage
    // while running
    std::shared_ptr<RunningAttempt> running;
    bool timed_out = false, cancelled = false;
    std::unique_ptr<TimerHandle> timeout_timer, retry_timer;
    double cpu = 0;
    std::vector<int> gpus;  // the GPU slots it holds (0 .. host.gpus-1)
    int64_t mem = 0;
    bool holds_slot = false;
    std::shared_ptr<CallScope> call;  // a call step's expansion
    // Live metrics: the attempt's CTFLOW_METRICS file, read while it runs.
    std::unique_ptr<MetricsFileReader> metrics;
    std::map<std::string, int64_t> metric_count;  // points without a `step`, numbered 1, 2, ... per name
    std::optional<StepProgress> progress;
    // A sweep's trial (scheduler_sweep.cc).
    int trial = -1;                  // its number; -1: not a trial
    Value trial_params;              // what {{trial.NAME}} gives
    std::optional<double> objective; // the latest value of the sweep's objective metric
    int64_t objective_step = 0;
    bool stopping = false;           // stopped early: its attempt ends Stopped
    std::string stop_message;
  };
  // A sweep step's search (scheduler_sweep.cc).
  struct SweepRun {
    SweepSpec spec_read;                // the step's spec with `trials` read from its param, when it names one
    const SweepSpec* spec = nullptr;
    std::unique_ptr<sweep::Sampler> sampler;
    std::unique_ptr<sweep::Pruner> pruner;
    std::vector<sweep::TrialRecord> history;  // by trial number
    uint64_t budget = 0;
    int parallelism = 1;
    int active = 0;           // trials started and not ended
    bool exhausted = false;   // the sampler has nothing more to suggest
  };
  struct StepState {
    const Step* step = nullptr;
    bool exit_handler = false;
    NodeStatus status = NodeStatus::Pending;
    std::string message;
    bool fan_out = false;
    std::vector<std::unique_ptr<Instance>> instances;
    int remaining = 0;
    int running = 0;
    int64_t started_at = 0, finished_at = 0;
    Value outputs = Value::object();
    Value artifacts = Value::object();
    std::string result;
    std::shared_ptr<CallScope> scope;  // the expansion it is part of; null for the workflow's own steps
    bool counted = false;              // its end was counted in scope->left
    std::shared_ptr<SweepRun> sweep;   // a sweep step's search
  };

  // --- the run loop (scheduler.cc) ---
  void start_run();
  void heartbeat();
  void loop();
  void close_unfinished(const std::string& why);
  std::string end_run();
  // Runs F; anything it throws ends INST (else S) Errored, and the run goes on.
  template <class F>
  void guarded(Instance* inst, StepState* s, F&& f) noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      handler_failed(inst, s, e.what());
    } catch (...) {
      handler_failed(inst, s, "an unknown exception");
    }
  }
  void handler_failed(Instance* inst, StepState* s, const std::string& what) noexcept;
  void fail_step(StepState& s, const std::string& message);
  void detach(Instance& inst);  // out of the queue, its timers and attempt dropped
  void post(Instance* inst, StepState* s, std::function<void()> fn);
  void defer(Instance* inst, StepState* s, std::function<void()> fn);

  // --- plan driving (scheduler_plan.cc) ---
  void pump();
  void record_omitted();
  void begin_step(StepState& s);
  Status check_when(StepState& s, bool& run, const Instance* inst = nullptr);
  static bool when_reads_item(const expr::Expr& e);
  void skip_items(StepState& s);
  Result<Value> fan_out_items(StepState& s);
  void add_instance(StepState& s, int index, Value item);
  void finish_step(StepState& s, NodeStatus status, const std::string& message);
  void finish_instance(Instance& inst, NodeStatus status, std::string message);
  void maybe_finish();
  void stop_queued();
  void start_exit_phase();
  void do_cancel(const std::string& why);
  Plan& plan() { return exit_phase_ ? *exit_plan_ : *plan_; }

  // --- call steps (scheduler_call.cc) ---
  void start_call(Instance& inst);
  Result<Value> call_params(StepState& s, Instance& inst, const TemplateDef& t);
  void child_ended(StepState& s);
  void end_call(Instance& inst);

  // --- live metrics and progress (scheduler_metrics.cc) ---
  void watch_metrics(Instance& inst, const std::string& path);
  void poll_metrics();
  void end_metrics(Instance& inst);
  void take_metrics(Instance& inst, MetricsBatch batch);

  // --- sweeps (scheduler_sweep.cc) ---
  void begin_sweep(StepState& s);
  int add_trials(StepState& s);
  Instance& add_trial(StepState& s, Value params);
  bool resume_trials(StepState& s);
  void trial_metric(Instance& inst, int64_t step, double value, bool live);
  void stop_trial(Instance& inst, const std::string& why);
  void trial_ended(Instance& inst);
  void end_sweep(StepState& s);

  // --- resources and jobs (scheduler_slots.cc) ---
  bool fits(const Instance& inst) const;
  void try_dispatch();
  void take_slot(Instance& inst);
  void release(Instance& inst);
  void job_done();
  // An in-process step starts only when a worker is free, so that its
  // timeout counts from when it runs, not from when it waited for a thread.
  static bool in_process(const Step& st) {
    return st.kind == StepKind::Plugin && st.isolation == Isolation::None && st.image.empty();
  }

  // --- attempts (scheduler_attempt.cc) ---
  struct Rendered {
    Value with;
    std::vector<std::string> argv;
    std::string image;
    const PluginInfo* plugin = nullptr;
  };
  void start_attempt(Instance& inst);
  Result<Rendered> render_attempt(StepState& s, Instance& inst);
  AttemptSpec attempt_spec(Instance& inst, const Rendered& r);
  void container_spec(AttemptSpec& spec, Instance& inst, const Rendered& r);
  void on_result(Instance& inst, int attempt, AttemptResult r);
  void commit_artifacts(Instance& inst, std::map<std::string, std::filesystem::path> paths);
  void on_timeout(Instance& inst);
  void attempt_ended(Instance& inst, NodeStatus status, std::string message);
  bool retry(Instance& inst, NodeStatus status, const std::string& message);
  bool retry_expression_holds(Instance& inst, NodeStatus status, const std::string& message);

  // --- references (scheduler_refs.cc) ---
  Result<Value> resolve(const StepState& s, const Instance* inst, const std::string& ref);
  Status output_expressions(Instance& inst);
  Result<Value> resolve_in(const CallScope* scope, const Instance* inst, const std::string& ref);
  Result<Value> resolve_step(const std::string& ref, const std::string& rest, const std::string& prefix);
  Result<Value> render(const StepState& s, const Instance* inst, const Value& v);

  // --- the step cache and resume (scheduler_cache.cc) ---
  std::string cache_key(const Instance& inst, const Rendered& r) const;
  bool use_cached(Instance& inst);
  void store_in_cache(const Instance& inst);
  void load_previous();
  bool keep_previous_step(StepState& st);
  bool keep_previous(Instance& inst);

  // --- recording (scheduler_record.cc) ---
  void record(std::function<Status(RunJournal&)> write);
  void record(StepRecord step_row);
  void schedule_flush();
  void flush();
  void record_step(const StepState& s);
  void record_instance(const Instance& inst);
  void record_attempt(const Instance& inst, NodeStatus status, const std::string& message);
  void record_artifacts(const Instance& inst, const Value& arts);
  void record_inputs(const Instance& inst, const Value& v);
  void note_artifacts(const Value& arts);
  void emit(const std::string& name, NodeStatus st, const std::string& msg, double secs, bool cached);
  void record_metrics(Instance& inst, const Value& metrics, const Value& confusions);

  const Workflow& wf_;
  Value params_;
  // The real services when constructed over a RunStore.
  std::unique_ptr<RunJournal> own_journal_;
  std::unique_ptr<StepRunner> own_runner_;
  std::unique_ptr<Clock> own_clock_;
  SchedulerServices svc_;
  RunJournal& journal_;
  StepRunner& runner_;
  Clock& clock_;
  RunOptions opt_;
  std::string run_id_;

  // Threads: the caller's and kWorkers more all run io_ (none under a virtual
  // clock: the caller's thread runs everything). The scheduler's state is only
  // touched in strand_ (every timer, result and job end completes there), so
  // it needs no lock. Plugin calls and artifact commits are jobs that run
  // outside the strand on any of the threads, at most kWorkers at once, so
  // one thread is always free for the strand: a long in-process plugin never
  // holds up a timeout, a Ctrl-C or another step's end. A job's end is
  // dispatched to the strand from the thread that ran it, and a step it
  // unlocks is deferred onto that same thread: a chain of short in-process
  // steps runs on one thread, without waking another per step.
  static constexpr int kWorkers = 2;
  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_{io_.get_executor()};
  RunnerContext runner_ctx_;
  std::vector<std::thread> workers_;
  int jobs_running_ = 0;
  std::deque<std::function<void()>> jobs_waiting_;
  std::string worker_error_;  // what escaped io_.run() on a thread (nothing should)
  std::mutex worker_error_mu_;
  std::unique_ptr<TimerHandle> heartbeat_, flush_timer_, metrics_timer_;
  std::set<Instance*> watched_;  // running attempts whose metrics file is read
  static constexpr double kMetricsPoll = 0.25;  // seconds between reads of the metrics files

  std::unique_ptr<Plan> plan_, exit_plan_;
  bool exit_phase_ = false;
  bool cancelling_ = false;
  bool finished_ = false;
  std::string main_status_;
  std::string run_error_;  // why the run ended Errored without its plan's say (an internal error)
  std::map<std::string, StepState> steps_;
  std::deque<Step> grown_;  // the steps of expanded templates (a deque: Plan and StepState point at them)
  std::deque<Instance*> queue_;
  std::filesystem::path run_work_dir_, run_logs_dir_;  // this run's folders under the store, made once
  int running_ = 0;
  int busy_ = 0;            // work in the thread pool
  int waiting_retry_ = 0;   // instances whose retry timer is pending
  double used_cpu_ = 0;
  std::vector<bool> gpu_busy_;  // by GPU slot: held by a running instance
  int free_gpus() const;
  int64_t used_mem_ = 0;
  // Pending writes, in order. A step row is written as its last record in the
  // batch (a short step's Running and final records cost one upsert), at the
  // place of its first (so rows keep the order they were first recorded in).
  struct Write {
    std::function<Status(RunJournal&)> fn;
    std::optional<StepRecord> step;
  };
  std::vector<Write> writes_;
  std::map<std::string, size_t> pending_step_;  // step row name -> index in writes_
  bool flush_posted_ = false;
  static constexpr std::chrono::milliseconds kFlushEvery{25};
  std::chrono::steady_clock::time_point last_flush_{};
  std::map<std::string, StepRecord> previous_;  // resume: records of the earlier attempt
  std::map<std::string, Value> previous_artifacts_;  // resume: step -> its output artifacts then
  std::map<std::string, Value> artifact_by_path_;  // blob path -> {digest, size, kind}: inputs for lineage
};

}  // namespace ctflow

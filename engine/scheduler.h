// Scheduler: drives a Plan on a boost::asio::io_context (a strand; see kWorkers
// in scheduler_impl.h for the threads). It evaluates `when`, expands
// `for_each`, grants resource slots (cpu, gpu, memory, parallelism), starts
// attempts through a StepRunner, applies timeouts and retries with
// exponential backoff, runs `on_exit` steps, and records everything in a
// RunJournal as it happens. Time comes from a Clock.
//
// The runner, the journal and the clock are injected (SchedulerServices): the
// real ones run processes, write the SQLite store and wait on asio timers; a
// unit test's fakes do none of that, and under a virtual clock the whole run
// is single-threaded and deterministic.
//
// Signals are the caller's: the CLI turns Ctrl-C into cancel() and a second
// one into kill_now(). Nothing a step does (bytes that are not UTF-8, a value
// that cannot be rendered, a store write that fails) makes the scheduler throw
// or abort: the step ends Errored with a message and the run goes on by its rules.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/ir.h"
#include "engine/plugin_registry.h"
#include "engine/step_metrics.h"
#include "base/status.h"
#include "engine/validate.h"
#include "store/run_store.h"

namespace ctflow {

class Clock;
class RunJournal;
class StepRunner;

struct RunOptions {
  HostCapacity host = HostCapacity::detect();
  int parallelism = 0;          // overrides the workflow's when > 0
  bool no_cache = false;
  bool resume = false;          // keep what Succeeded in an earlier attempt of this run
  double kill_grace_s = 5;      // SIGTERM, then SIGKILL after this long
  bool progress = false;        // redraw a status line (a terminal)
  bool quiet = false;           // no per-step lines
  std::filesystem::path ctflow_binary;  // for isolated plugin steps ("ctflow step")
};

struct StepEvent {
  std::string step;      // instance name
  std::string status;
  std::string message;
  double seconds = 0;
  bool cached = false;
  std::optional<StepProgress> progress;  // a running step's latest progress report
};

// What the scheduler works through; it owns none of them.
struct SchedulerServices {
  RunJournal* journal = nullptr;
  StepRunner* runner = nullptr;
  Clock* clock = nullptr;
  std::function<const PluginInfo*(const std::string& name)> find_plugin;  // nullptr: unknown
};

class Scheduler {
 public:
  // The real services: the store, child processes and plugins, the system clock.
  Scheduler(const Workflow& wf, Value params, RunStore& store, PluginRegistry& plugins, RunOptions options);
  Scheduler(const Workflow& wf, Value params, SchedulerServices services, RunOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs the workflow as run RUN_ID (already created in the store) to its end
  // and returns the run's final status: Succeeded, Failed, Errored or Cancelled.
  std::string run(const std::string& run_id);
  // Asks a running run to stop (as Ctrl-C does): steps are told to stop
  // (SIGTERM, SIGKILL after the grace period), steps not started are
  // Cancelled with WHY; safe from any thread.
  void cancel(const std::string& why = "cancelled by the user");
  // Kills what runs at once (SIGKILL), as a second Ctrl-C does; safe from any thread.
  void kill_now();
  void on_event(std::function<void(const StepEvent&)> callback);
  // Called after each batch of changes is committed to the store: at most
  // every 25 ms while steps change, and at the end. Progress output written
  // here costs one write per batch instead of one per event.
  void on_settled(std::function<void()> callback);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ctflow

// Scheduler: drives a Plan on a boost::asio::io_context (a strand; see kWorkers
// in scheduler.cc for the threads). It evaluates `when`,
// expands `for_each`, grants resource slots (cpu, gpu, memory, parallelism),
// starts attempts through the step runners, applies timeouts (SIGTERM to the
// process group, SIGKILL after a grace period) and retries with exponential
// backoff, runs `on_exit` steps, handles Ctrl-C, and records everything in the
// RunStore as it happens.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "engine/ir.h"
#include "engine/plugin_registry.h"
#include "base/status.h"
#include "engine/validate.h"
#include "store/run_store.h"

namespace ctflow {

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

// Event a caller may watch (for progress output).
struct StepEvent {
  std::string step;      // instance name
  std::string status;
  std::string message;
  double seconds = 0;
  bool cached = false;
};

class Scheduler {
 public:
  Scheduler(const Workflow& wf, Value params, RunStore& store, PluginRegistry& plugins, RunOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs the workflow as run RUN_ID (already created in the store) to its end
  // and returns the run's final status: Succeeded, Failed, Errored or Cancelled.
  std::string run(const std::string& run_id);
  // Asks a running run to stop (as Ctrl-C does); safe from any thread.
  void cancel();
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

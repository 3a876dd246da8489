// StepRunner: how the scheduler runs one attempt of a step (ninja's
// CommandRunner). The scheduler builds an AttemptSpec (argv, environment,
// folders and log, or the in-process plugin invocation, or the container),
// starts it, and gets back on its strand one AttemptResult; meanwhile it may
// ask the attempt to stop (a timeout, Ctrl-C) or to die at once (a second
// Ctrl-C). LocalRunner runs attempts for real: as child processes (posix_spawn,
// a process group each, reaped by pid), as in-process plugin calls on the
// scheduler's worker threads, or in a container; a unit test's fake runs none.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "engine/container.h"
#include "engine/ir.h"
#include "engine/plan.h"
#include "engine/plugin_host.h"

namespace ctflow {

enum class AttemptKind {
  Process,    // argv as a child process: a shell or run step, or an isolated plugin ("ctflow step")
  InProcess,  // a plugin called inside the engine (isolation: none)
  Container,  // the ContainerSpec through podman or docker
};

struct AttemptSpec {
  AttemptKind kind = AttemptKind::Process;
  std::string run_id;
  std::string instance;  // "train", "shard[2]"
  int attempt = 1;
  // Files. WORK_DIR is the step's working folder (RUN/NAME); OUT_DIR
  // (RUN/.out/NAME) holds an isolated plugin's params and result and is what a
  // container mounts besides; METRICS_PATH is its CTFLOW_METRICS file
  // (RUN/.metrics/NAME.jsonl, or under OUT_DIR for a container). A process or
  // container attempt gets WORK_DIR made anew (one folder: a shell step costs
  // one inode) and OUT_DIR with make_out_dir; an in-process attempt makes them
  // on first use, and with clear_files first removes what an earlier attempt left.
  std::filesystem::path work_dir, out_dir;
  std::string metrics_path;
  bool make_out_dir = false;
  bool clear_files = false;
  std::string log_path;  // stdout (not captured) and stderr, the plugin's log lines, the engine's notes; made on the first write
  // Process and container attempts.
  std::vector<std::string> argv;
  std::vector<std::string> env;            // "NAME=VALUE", added to the engine's environment
  bool capture_stdout = true;              // stdout is the step's result; else it goes to the log
  std::optional<std::string> params_json;  // written to out/params.json first (an isolated plugin)
  bool plugin_result = false;              // the outcome is out/result.json (an isolated plugin)
  // What a shell or run step declares it writes (read from work/ when it exits 0).
  std::map<std::string, OutputParamDecl> output_params;
  std::map<std::string, OutputArtifactDecl> output_artifacts;
  ContainerSpec container;  // Container: argv, env and mounts are in here
  PluginInvocation invocation;  // InProcess (its log and cancel flag are the runner's)
};

struct AttemptResult {
  NodeStatus status = NodeStatus::Succeeded;  // Succeeded, Failed (the step failed), Errored (it could not run)
  std::string message;
  int exit_code = 0;
  std::string stdout_tail;  // a shell or run step's stdout, its last 256 KiB: the step's result
  Value outputs = Value::object();
  std::map<std::string, std::filesystem::path> artifacts;  // to store as the step's output artifacts
  Value metrics = Value::array();
  Value confusions = Value::array();

  static AttemptResult error(std::string message) {
    AttemptResult r;
    r.status = NodeStatus::Errored;
    r.message = std::move(message);
    return r;
  }
};

// Runs work off the scheduler's strand: WORK on a worker thread, then THEN on the strand.
class JobPool {
 public:
  virtual ~JobPool() = default;
  virtual void run(std::function<void()> work, std::function<void()> then) = 0;
};

struct RunnerContext {
  boost::asio::any_io_executor strand;  // where completions must run
  JobPool* jobs = nullptr;              // for work that blocks (an in-process plugin)
  double kill_grace_s = 5;              // SIGTERM, then SIGKILL after this long
};

class RunningAttempt {
 public:
  virtual ~RunningAttempt() = default;
  // Asks the attempt to end (SIGTERM to its process group, SIGKILL after the
  // grace period; a plugin's cancel flag). True when its result will come;
  // false when it cannot be made to end (an in-process plugin runs on until it
  // returns): the scheduler may then end the attempt without its result.
  virtual bool stop() = 0;
  // Ends it at once (SIGKILL to its process group): a second Ctrl-C.
  virtual void kill() = 0;
  // The attempt is over for the scheduler: NOTE (when not empty) is the log's
  // last line ("ctflow: NOTE"), and the log is closed; later writes are dropped.
  virtual void close_log(const std::string& note) = 0;
  // Writes "ctflow: LINE" to the attempt's log while it runs (a warning about
  // its metrics file, say).
  virtual void note(const std::string& line) { (void)line; }
};

using AttemptDone = std::function<void(AttemptResult)>;

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // Starts SPEC. DONE runs on ctx.strand once, never before start returns
  // (unless the run's io stops first); an error to start is a result too.
  virtual std::shared_ptr<RunningAttempt> start(const AttemptSpec& spec, const RunnerContext& ctx, AttemptDone done) = 0;
  // Resume: stops what an engine killed with SIGKILL left running for RUN_ID;
  // returns how many processes it stopped.
  virtual int stop_orphans(const std::string& run_id) {
    (void)run_id;
    return 0;
  }
};

// The real runners behind one StepRunner: child processes, in-process plugin
// calls and containers, chosen by AttemptSpec::kind.
class LocalRunner final : public StepRunner {
 public:
  LocalRunner();
  ~LocalRunner() override;
  std::shared_ptr<RunningAttempt> start(const AttemptSpec& spec, const RunnerContext& ctx, AttemptDone done) override;
  int stop_orphans(const std::string& run_id) override;

 private:
  std::unique_ptr<StepRunner> process_, in_process_, container_;
};

std::unique_ptr<StepRunner> make_process_runner();
std::unique_ptr<StepRunner> make_in_process_runner();
// Runs the container's command line through PROCESS.
std::unique_ptr<StepRunner> make_container_runner(StepRunner& process);

}  // namespace ctflow

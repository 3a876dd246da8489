// The in-process runner: a plugin called inside the engine (isolation: none)
// on one of the scheduler's worker threads. It cannot be killed: stop() sets
// the plugin's cancel flag and says so, and a timed-out call runs on in the
// background, its log closed and its result dropped by the scheduler.
#include <algorithm>
#include <atomic>
#include <exception>

#include <boost/asio/post.hpp>

#include "engine/run/log_file.h"
#include "engine/run/step_runner.h"

namespace ctflow {
namespace fs = std::filesystem;

namespace {

class PluginCall final : public RunningAttempt {
 public:
  explicit PluginCall(std::shared_ptr<LogFile> log) : log_(std::move(log)) {}
  bool stop() override {
    cancel_->store(true);
    return false;
  }
  void kill() override { cancel_->store(true); }
  void note(const std::string& line) override { log_->write("ctflow: " + line + "\n"); }
  void close_log(const std::string& note) override {
    if (!note.empty()) log_->write("ctflow: " + note + "\n");
    log_->close();
  }
  const std::shared_ptr<std::atomic<bool>>& cancel_flag() const { return cancel_; }

 private:
  std::shared_ptr<LogFile> log_;
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
};

AttemptResult result_of(const PluginOutcome& out) {
  AttemptResult r;
  r.outputs = out.outputs;
  r.metrics = out.metrics;
  r.confusions = out.confusions;
  if (out.ok) {
    r.artifacts = out.artifacts;
  } else {
    r.status = NodeStatus::Failed;
    r.message = out.error;
  }
  return r;
}

class InProcessRunner final : public StepRunner {
 public:
  std::shared_ptr<RunningAttempt> start(const AttemptSpec& spec, const RunnerContext& ctx, AttemptDone done) override {
    auto log = std::make_shared<LogFile>(spec.log_path);
    auto call = std::make_shared<PluginCall>(log);
    if (spec.clear_files) {  // an earlier attempt's files; this one makes its folders on first use
      if (auto ec = remove_attempt_files(spec.work_dir, spec.out_dir, spec.metrics_path)) {
        boost::asio::post(ctx.strand, [done = std::move(done), m = "cannot remove the earlier attempt's files in " +
                                                                     spec.work_dir.string() + ": " + ec.message()] {
          done(AttemptResult::error(m));
        });
        return call;
      }
    }
    if (spec.attempt > 1) log->write("--- attempt " + std::to_string(spec.attempt) + " ---\n");
    auto inv = std::make_shared<PluginInvocation>(spec.invocation);
    auto flag = call->cancel_flag();
    inv->cancel = flag.get();
    inv->log = [log](int level, const std::string& m) {
      static const char* kLevels[] = {"debug", "info", "warn", "error"};
      log->write(std::string("[") + kLevels[std::clamp(level, 0, 3)] + "] " + m + "\n");
    };
    auto out = std::make_shared<PluginOutcome>();
    ctx.jobs->run(
        [inv, flag, out] {
          // A plugin library that cannot be loaded throws; nothing may escape a worker.
          try {
            *out = invoke_plugin(*inv);
          } catch (const std::exception& e) {
            out->ok = false;
            out->error = "plugin '" + inv->plugin->name + "': " + e.what();
          } catch (...) {
            out->ok = false;
            out->error = "plugin '" + inv->plugin->name + "' threw an unknown exception";
          }
        },
        [out, done = std::move(done)] { done(result_of(*out)); });
    return call;
  }
};

}  // namespace

std::unique_ptr<StepRunner> make_in_process_runner() { return std::make_unique<InProcessRunner>(); }

LocalRunner::LocalRunner()
    : process_(make_process_runner()), in_process_(make_in_process_runner()), container_(make_container_runner(*process_)) {}
LocalRunner::~LocalRunner() = default;

std::shared_ptr<RunningAttempt> LocalRunner::start(const AttemptSpec& spec, const RunnerContext& ctx, AttemptDone done) {
  switch (spec.kind) {
    case AttemptKind::InProcess: return in_process_->start(spec, ctx, std::move(done));
    case AttemptKind::Container: return container_->start(spec, ctx, std::move(done));
    case AttemptKind::Process: break;
  }
  return process_->start(spec, ctx, std::move(done));
}

int LocalRunner::stop_orphans(const std::string& run_id) { return process_->stop_orphans(run_id); }

}  // namespace ctflow

// The run loop, the facade, and the guard around every handler: nothing a
// step does may throw out of a handler (that would abort the engine and
// leave the run Running); it ends the step Errored instead.
#include "engine/scheduler.h"

#include <unistd.h>

#include <boost/asio/defer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "engine/scheduler_impl.h"

namespace ctflow {
namespace asio = boost::asio;

std::string value_text(const Value& v) { return v.is_string() ? v.get<std::string>() : json_text(v); }

std::string fmt_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

Scheduler::Impl::Impl(const Workflow& wf, Value params, SchedulerServices services, RunOptions options)
    : wf_(wf), params_(std::move(params)), svc_(std::move(services)), journal_(*svc_.journal),
      runner_(*svc_.runner), clock_(*svc_.clock), opt_(std::move(options)) {
  runner_ctx_.strand = strand_;
  runner_ctx_.jobs = this;
  runner_ctx_.kill_grace_s = opt_.kill_grace_s;
}

namespace {
SchedulerServices real_services(RunJournal* journal, StepRunner* runner, Clock* clock, PluginRegistry& plugins) {
  SchedulerServices s;
  s.journal = journal;
  s.runner = runner;
  s.clock = clock;
  s.find_plugin = [&plugins](const std::string& name) { return plugins.find(name); };
  return s;
}
}  // namespace

Scheduler::Impl::Impl(const Workflow& wf, Value params, RunStore& store, PluginRegistry& plugins, RunOptions options)
    : Impl(wf, std::move(params), SchedulerServices{}, std::move(options), std::make_unique<StoreJournal>(store),
           std::make_unique<LocalRunner>(), std::make_unique<SystemClock>(), plugins) {}

Scheduler::Impl::Impl(const Workflow& wf, Value params, SchedulerServices, RunOptions options,
                      std::unique_ptr<RunJournal> journal, std::unique_ptr<StepRunner> runner,
                      std::unique_ptr<Clock> clock, PluginRegistry& plugins)
    : Impl(wf, std::move(params), real_services(journal.get(), runner.get(), clock.get(), plugins), std::move(options)) {
  own_journal_ = std::move(journal);
  own_runner_ = std::move(runner);
  own_clock_ = std::move(clock);
}

Scheduler::Impl::~Impl() = default;

// ---------------------------------------------------------------- run

std::string Scheduler::Impl::run(const std::string& run_id) {
  run_id_ = run_id;
  if (auto st = journal_.claim(run_id, getpid()); !st.ok()) {
    spdlog::error("{}", st.message());
    return "Errored";
  }
  guarded(nullptr, nullptr, [this] { start_run(); });
  loop();
  return end_run();
}

void Scheduler::Impl::start_run() {
  for (const auto& s : wf_.steps) steps_[s.name].step = &s;
  for (const auto& s : wf_.on_exit) {
    steps_[s.name].step = &s;
    steps_[s.name].exit_handler = true;
  }
  plan_ = std::make_unique<Plan>(wf_.steps, wf_.fail_fast);
  run_work_dir_ = journal_.work_dir() / run_id_;
  run_logs_dir_ = journal_.logs_dir() / run_id_;
  if (opt_.resume) {
    // An engine killed with SIGKILL leaves its steps running (each has a
    // process group of its own); they must not write while the steps re-run.
    if (int n = runner_.stop_orphans(run_id_); n > 0)
      spdlog::warn("stopped {} process(es) that the previous engine of run {} left running", n, run_id_);
    load_previous();
  }
  heartbeat_ = clock_.after(strand_, 2, [this] { guarded(nullptr, nullptr, [this] { heartbeat(); }); }, true);
  post(nullptr, nullptr, [this] { pump(); });
}

void Scheduler::Impl::heartbeat() {
  if (finished_) return;
  (void)journal_.heartbeat(run_id_, getpid());
  heartbeat_ = clock_.after(strand_, 2, [this] { guarded(nullptr, nullptr, [this] { heartbeat(); }); }, true);
}

void Scheduler::Impl::loop() {
  if (finished_) return;
  if (clock_.is_virtual()) {
    // One thread, no sleeping: run what is ready, else move time to the next timer.
    auto work = asio::make_work_guard(io_);
    while (!finished_ && run_error_.empty()) {
      if (io_.poll() > 0) continue;
      if (finished_ || !run_error_.empty() || !clock_.advance()) break;
    }
  } else {
    auto run_io = [this] {
      try {
        io_.run();
      } catch (const std::exception& e) {  // a handler is guarded; this is a last resort
        std::lock_guard<std::mutex> lock(worker_error_mu_);
        if (worker_error_.empty()) worker_error_ = e.what();
        io_.stop();
      } catch (...) {
        std::lock_guard<std::mutex> lock(worker_error_mu_);
        if (worker_error_.empty()) worker_error_ = "an unknown exception";
        io_.stop();
      }
    };
    for (int i = 0; i < kWorkers; ++i) workers_.emplace_back(run_io);
    run_io();
    for (auto& t : workers_) t.join();
    workers_.clear();
    if (!worker_error_.empty() && run_error_.empty()) run_error_ = "internal error: " + worker_error_;
  }
  if (!run_error_.empty()) close_unfinished(run_error_);
  else if (!finished_) close_unfinished("the run stalled: nothing runs and no step can start (an engine bug)");
}

// Ends what is not over when the run stops without its plan's say.
void Scheduler::Impl::close_unfinished(const std::string& why) {
  spdlog::error("run {}: {}", run_id_, why);
  if (run_error_.empty()) run_error_ = why;
  finished_ = true;
  for (auto& [name, s] : steps_) {
    for (auto& inst : s.instances)
      if (!is_terminal(inst->status)) {
        detach(*inst);
        if (inst->running) inst->running->kill();  // an engine that gives up leaves no process behind
        inst->status = NodeStatus::Errored;
        inst->message = why;
        inst->finished_at = clock_.now_ms();
        record_instance(*inst);
      }
    if (!is_terminal(s.status)) {
      s.status = NodeStatus::Errored;
      s.message = why;
      s.finished_at = clock_.now_ms();
      record_step(s);
    }
  }
}

std::string Scheduler::Impl::end_run() {
  heartbeat_.reset();
  flush_timer_.reset();
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("run {}: cannot record the run's last changes: {}", run_id_, e.what());
  }
  std::string status, message;
  if (!run_error_.empty()) {
    status = "Errored";
    message = run_error_;
  } else {
    status = main_status_.empty() ? plan_->run_status() : main_status_;
    if (status == "Succeeded" && exit_plan_ && exit_plan_->run_status() != "Succeeded") status = "Failed";
    if (status != "Succeeded") {
      auto f = plan_->failures();
      if (!f.empty()) message = "step '" + f.front() + "' " + to_string(plan_->status(f.front()));
      if (status == "Cancelled") message = "cancelled by the user";
    }
  }
  if (auto st = journal_.finish(run_id_, status, message); !st.ok()) spdlog::error("{}", st.message());
  return status;
}

// ---------------------------------------------------------------- guard

void Scheduler::Impl::handler_failed(Instance* inst, StepState* s, const std::string& what) noexcept {
  const std::string msg = "internal error: " + what;
  try {
    spdlog::warn("run {}: {}{}", run_id_, inst ? inst->name + ": " : s ? s->step->name + ": " : "", msg);
    if (inst && !is_terminal(inst->status)) {
      detach(*inst);
      if (inst->running) inst->running->close_log(msg);
      inst->running.reset();
      finish_instance(*inst, NodeStatus::Errored, msg);
      return;
    }
    if (s && !is_terminal(s->status)) return fail_step(*s, msg);
  } catch (...) {
  }
  // Not a step's (the run's own handlers), or ending the step failed too:
  // the run stops, and what is not over ends Errored (loop()).
  if (run_error_.empty()) run_error_ = msg;
  io_.stop();
}

void Scheduler::Impl::fail_step(StepState& s, const std::string& message) {
  for (auto& inst : s.instances)
    if (!is_terminal(inst->status)) {
      detach(*inst);
      release(*inst);
      inst->status = NodeStatus::Errored;
      inst->message = message;
      inst->finished_at = clock_.now_ms();
      record_instance(*inst);
    }
  s.remaining = 0;
  finish_step(s, NodeStatus::Errored, message);
}

void Scheduler::Impl::detach(Instance& inst) {
  for (auto it = queue_.begin(); it != queue_.end();)
    it = *it == &inst ? queue_.erase(it) : it + 1;
  inst.timeout_timer.reset();
  if (inst.retry_timer) {
    inst.retry_timer.reset();
    --waiting_retry_;
  }
}

void Scheduler::Impl::post(Instance* inst, StepState* s, std::function<void()> fn) {
  asio::post(strand_, [this, inst, s, fn = std::move(fn)] { guarded(inst, s, fn); });
}

void Scheduler::Impl::defer(Instance* inst, StepState* s, std::function<void()> fn) {
  asio::defer(strand_, [this, inst, s, fn = std::move(fn)] { guarded(inst, s, fn); });
}

void Scheduler::Impl::cancel(const std::string& why) {
  post(nullptr, nullptr, [this, why] { do_cancel(why); });
}

void Scheduler::Impl::kill_now() {
  post(nullptr, nullptr, [this] {
    for (auto& [name, s] : steps_)
      for (auto& inst : s.instances)
        if (inst->running && inst->status == NodeStatus::Running) inst->running->kill();
  });
}

// ---------------------------------------------------------------- facade

Scheduler::Scheduler(const Workflow& wf, Value params, RunStore& store, PluginRegistry& plugins, RunOptions options)
    : impl_(std::make_unique<Impl>(wf, std::move(params), store, plugins, std::move(options))) {}
Scheduler::Scheduler(const Workflow& wf, Value params, SchedulerServices services, RunOptions options)
    : impl_(std::make_unique<Impl>(wf, std::move(params), std::move(services), std::move(options))) {}
Scheduler::~Scheduler() = default;
std::string Scheduler::run(const std::string& run_id) { return impl_->run(run_id); }
void Scheduler::cancel(const std::string& why) { impl_->cancel(why); }
void Scheduler::kill_now() { impl_->kill_now(); }
void Scheduler::on_event(std::function<void(const StepEvent&)> callback) { impl_->on_event_ = std::move(callback); }
void Scheduler::on_settled(std::function<void()> callback) { impl_->on_settled_ = std::move(callback); }

}  // namespace ctflow

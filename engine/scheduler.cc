#include "engine/scheduler.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include "engine/container.h"
#include "engine/expr.h"
#include "engine/plan.h"
#include "engine/plugin_host.h"
#include "engine/process.h"
#include "engine/template.h"
#include "store/artifact_store.h"
#include "store/sha256.h"

namespace ctflow {
namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

constexpr size_t kResultTail = 256 * 1024;

std::string instance_dir_name(const std::string& instance) {
  std::string out;
  for (char c : instance) out += (c == '[' || c == ']') ? (c == '[' ? '.' : '\0') : c;
  out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());
  return out;
}

std::string value_text(const Value& v) { return v.is_string() ? v.get<std::string>() : json_text(v); }

std::string fmt_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

bool is_failure(NodeStatus s) { return s == NodeStatus::Failed || s == NodeStatus::Errored; }

// A step attempt's log file, opened on the first write: most in-process steps
// never log, and then cost no file. Process steps open it before the spawn (it
// is the child's stderr). Writes may come from a plugin's threads; after
// close() they are dropped (a timed-out in-process plugin that goes on).
class LogFile {
 public:
  explicit LogFile(std::string path) : path_(std::move(path)) {}
  ~LogFile() { close(); }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // The descriptor, opening the file if needed; -1 (and errno) when it cannot be opened.
  int open() {
    std::lock_guard<std::mutex> lock(mu_);
    return open_locked();
  }
  void write(const char* data, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_locked() >= 0) (void)!::write(fd_, data, n);
  }
  void write(const std::string& text) { write(text.data(), text.size()); }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  const std::string& path() const { return path_; }

 private:
  int open_locked() {
    if (fd_ < 0 && !closed_) fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd_;
  }
  std::string path_;
  std::mutex mu_;
  int fd_ = -1;
  bool closed_ = false;
};

// Makes DIR anew and empty: one mkdir when it is not there (the common case),
// else removes what an earlier attempt left.
std::error_code fresh_dir(const fs::path& dir) {
  std::error_code ec;
  if (::mkdir(dir.c_str(), 0755) == 0) return ec;
  if (errno == EEXIST) fs::remove_all(dir, ec);
  if (ec) return ec;
  fs::create_directories(dir, ec);
  return ec;
}

}  // namespace

class Scheduler::Impl {
 public:
  Impl(const Workflow& wf, Value params, RunStore& store, PluginRegistry& plugins, RunOptions options)
      : wf_(wf), params_(std::move(params)), store_(store), plugins_(plugins), opt_(std::move(options)),
        store_dir_(fs::absolute(store.dir())), artifacts_(fs::absolute(store.blobs_dir())), signals_(strand_, SIGINT, SIGTERM), sigchld_(strand_, SIGCHLD),
        heartbeat_(strand_), flush_timer_(strand_) {}

  std::string run(const std::string& run_id);
  void cancel() {
    asio::post(strand_, [this] { do_cancel("cancelled by the user"); });
  }
  std::function<void(const StepEvent&)> on_event_;
  std::function<void()> on_settled_;

 private:
  struct StepState;
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
    fs::path work_dir, out_dir;
    // while running
    pid_t pid = 0;
    bool reaped = false;  // the child has exited; its stdout may still be read
    int wait_status = 0;
    bool timed_out = false, cancelled = false;
    std::unique_ptr<asio::steady_timer> timeout_timer, kill_timer, retry_timer;
    std::shared_ptr<std::atomic<bool>> cancel_flag;
    std::unique_ptr<asio::posix::stream_descriptor> out_pipe;
    std::unique_ptr<std::array<char, 16384>> buf;  // only while a child's stdout is read
    std::string tail;
    std::shared_ptr<LogFile> log;
    double cpu = 0;
    int gpu = 0;
    int64_t mem = 0;
    bool holds_slot = false;
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
  };

  // --- plan driving ---
  void pump();
  void begin_step(StepState& s);
  void finish_step(StepState& s, NodeStatus status, const std::string& message);
  void try_dispatch();
  bool fits(const Instance& inst) const;
  void maybe_finish();
  void start_exit_phase();
  Plan& plan() { return exit_phase_ ? *exit_plan_ : *plan_; }

  // --- attempts ---
  void start_attempt(Instance& inst);
  void launch_plugin_inprocess(Instance& inst, const PluginInfo& p, const Value& with);
  void launch_process(Instance& inst, std::vector<std::string> argv, std::vector<std::string> env, bool capture_stdout);
  void on_child_exit(pid_t pid, int wait_status);
  void child_done(Instance& inst);
  void read_pipe(Instance& inst);
  void append_output(Instance& inst, const char* data, size_t n);
  void attempt_ended(Instance& inst, NodeStatus status, std::string message);
  void collect_outputs(Instance& inst, std::function<void(NodeStatus, std::string)> done);
  void commit_artifacts(Instance& inst, std::map<std::string, fs::path> paths,
                        std::function<void(NodeStatus, std::string)> done);
  void finish_instance(Instance& inst, NodeStatus status, std::string message);
  void release(Instance& inst);
  void do_cancel(const std::string& why);
  void kill_attempt(Instance& inst);

  // --- references ---
  Result<Value> resolve(const StepState& s, const Instance* inst, const std::string& ref);
  Result<Value> render(const StepState& s, const Instance* inst, const Value& v) {
    return tmpl::render_value(v, [&](const std::string& ref) { return resolve(s, inst, ref); });
  }
  std::string cache_key(const Instance& inst, const Value& with, const std::vector<std::string>& argv,
                        const std::string& image) const;

  // --- recording ---
  void record(std::function<Status(RunStore&)> write);
  void record(StepRecord step_row);
  void schedule_flush();
  void flush();
  void record_step(const StepState& s);
  void record_instance(const Instance& inst);
  void emit(const std::string& name, NodeStatus st, const std::string& msg, double secs, bool cached);
  void record_metrics(const Instance& inst, const Value& metrics, const Value& confusions);
  void load_previous();

  const Workflow& wf_;
  Value params_;
  RunStore& store_;
  PluginRegistry& plugins_;
  RunOptions opt_;
  // Absolute: steps run in their own working folders, so a store given as a
  // relative path (--store .ctflow) must not reach them as one.
  fs::path store_dir_;
  ArtifactStore artifacts_;
  std::string run_id_;

  // Threads: the caller's and kWorkers more all run io_. The scheduler's state
  // is only touched in strand_ (every timer, signal and pipe completes there),
  // so it needs no lock. Plugin calls and artifact commits are jobs that run
  // outside the strand on any of the threads, at most kWorkers at once, so
  // one thread is always free for the strand: a long in-process plugin never
  // holds up a timeout, a Ctrl-C or another step's end. A job's end is
  // dispatched to the strand from the thread that ran it, and a step it
  // unlocks is deferred onto that same thread: a chain of short in-process
  // steps runs on one thread, without waking another per step.
  static constexpr int kWorkers = 2;
  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> strand_{io_.get_executor()};
  std::vector<std::thread> workers_;
  int jobs_running_ = 0;
  std::deque<std::function<void()>> jobs_waiting_;
  std::exception_ptr worker_error_;
  std::mutex worker_error_mu_;
  // Runs JOB off the strand; it must end by calling job_done() in the strand.
  void start_job(std::function<void()> job) {
    ++busy_;
    if (jobs_running_ >= kWorkers) {
      jobs_waiting_.push_back(std::move(job));
      return;
    }
    ++jobs_running_;
    asio::defer(io_, std::move(job));
  }
  void job_done() {
    --busy_;
    --jobs_running_;
    if (!jobs_waiting_.empty()) {
      ++jobs_running_;
      asio::defer(io_, std::move(jobs_waiting_.front()));
      jobs_waiting_.pop_front();
    }
    // A worker is free: a queued in-process step may start; and with no step
    // running, the job may have been the run's last work (a timed-out plugin
    // that has now returned). Otherwise the job's own completion moves the run
    // on, and a chain of steps costs no extra handler per step.
    if (!queue_.empty() || running_ == 0)
      asio::defer(strand_, [this] {
        try_dispatch();
        maybe_finish();
      });
  }
  // An in-process step starts only when a worker is free, so that its
  // timeout counts from when it runs, not from when it waited for a thread.
  static bool in_process(const Step& st) {
    return st.kind == StepKind::Plugin && st.isolation == Isolation::None && st.image.empty();
  }
  asio::signal_set signals_;
  asio::signal_set sigchld_;
  asio::steady_timer heartbeat_;
  asio::steady_timer flush_timer_;

  std::unique_ptr<Plan> plan_, exit_plan_;
  bool exit_phase_ = false;
  bool cancelling_ = false;
  bool finished_ = false;
  std::string main_status_;
  std::map<std::string, StepState> steps_;
  std::deque<Instance*> queue_;
  std::map<pid_t, Instance*> by_pid_;
  fs::path run_work_dir_, run_logs_dir_;  // this run's folders under the store, made once
  int running_ = 0;
  int busy_ = 0;            // work in the thread pool
  int waiting_retry_ = 0;   // instances whose retry timer is pending
  double used_cpu_ = 0;
  int used_gpu_ = 0;
  int64_t used_mem_ = 0;
  // Pending writes, in order. A step row is written as its last record in the
  // batch (a short step's Running and final records cost one upsert), at the
  // place of its first (so rows keep the order they were first recorded in).
  struct Write {
    std::function<Status(RunStore&)> fn;
    std::optional<StepRecord> step;
  };
  std::vector<Write> writes_;
  std::map<std::string, size_t> pending_step_;  // step row name -> index in writes_
  bool flush_posted_ = false;
  static constexpr std::chrono::milliseconds kFlushEvery{25};
  std::chrono::steady_clock::time_point last_flush_{};
  std::map<std::string, StepRecord> previous_;  // resume: records of the earlier attempt
  std::map<std::string, Value> artifact_by_path_;  // blob path -> {digest, size, kind}: inputs for lineage
  void note_artifacts(const Value& arts) {
    for (auto it = arts.begin(); it != arts.end(); ++it)
      if (it.value().contains("path")) artifact_by_path_[it.value()["path"].get<std::string>()] = it.value();
  }
  void record_inputs(const Instance& inst, const Value& v) {
    if (v.is_string()) {
      auto it = artifact_by_path_.find(v.get<std::string>());
      if (it == artifact_by_path_.end()) return;
      ArtifactRecord a{run_id_, inst.name, "", it->second["digest"], it->second["size"], it->second["kind"], "input", ""};
      a.name = a.digest;
      record([a](RunStore& db) { return db.add_artifact(a); });
    } else if (v.is_array() || v.is_object()) {
      for (const auto& x : v) record_inputs(inst, x);
    }
  }
};

// ---------------------------------------------------------------- run

std::string Scheduler::Impl::run(const std::string& run_id) {
  run_id_ = run_id;
  if (auto st = store_.claim_run(run_id, getpid()); !st.ok()) {
    spdlog::error("{}", st.message());
    return "Errored";
  }
  for (const auto& s : wf_.steps) steps_[s.name].step = &s;
  for (const auto& s : wf_.on_exit) {
    steps_[s.name].step = &s;
    steps_[s.name].exit_handler = true;
  }
  plan_ = std::make_unique<Plan>(wf_.steps, wf_.fail_fast);
  run_work_dir_ = fs::absolute(store_.work_dir()) / run_id_;
  run_logs_dir_ = fs::absolute(store_.logs_dir()) / run_id_;
  for (const auto& dir : {run_work_dir_, run_logs_dir_}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) spdlog::warn("cannot create {}: {}", dir.string(), ec.message());  // each step reports it
  }
  if (opt_.resume) {
    // An engine killed with SIGKILL leaves its steps running (each has a
    // process group of its own); they must not write while the steps re-run.
    if (int n = kill_run_orphans(run_id_); n > 0)
      spdlog::warn("stopped {} process(es) that the previous engine of run {} left running", n, run_id_);
    load_previous();
  }

  signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) do_cancel("cancelled by the user (Ctrl-C)");
    // A second Ctrl-C kills at once.
    signals_.async_wait([this](const boost::system::error_code& ec2, int) {
      if (ec2) return;
      for (auto& [pid, inst] : by_pid_) signal_group(pid, SIGKILL);
    });
  });
  std::function<void(const boost::system::error_code&, int)> on_chld = [this, &on_chld](const boost::system::error_code& ec, int) {
    if (ec) return;
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) on_child_exit(pid, status);
    sigchld_.async_wait(on_chld);
  };
  sigchld_.async_wait(on_chld);
  std::function<void(const boost::system::error_code&)> beat = [this, &beat](const boost::system::error_code& ec) {
    if (ec || finished_) return;
    (void)store_.heartbeat(run_id_, getpid());
    heartbeat_.expires_after(std::chrono::seconds(2));
    heartbeat_.async_wait(beat);
  };
  heartbeat_.expires_after(std::chrono::seconds(2));
  heartbeat_.async_wait(beat);

  asio::post(strand_, [this] { pump(); });
  auto run_io = [this] {
    try {
      io_.run();
    } catch (...) {
      std::lock_guard<std::mutex> lock(worker_error_mu_);
      if (!worker_error_) worker_error_ = std::current_exception();
      io_.stop();
    }
  };
  for (int i = 0; i < kWorkers; ++i) workers_.emplace_back(run_io);
  run_io();
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (worker_error_) std::rethrow_exception(worker_error_);
  flush();

  std::string status = main_status_.empty() ? plan_->run_status() : main_status_;
  if (status == "Succeeded" && exit_plan_ && exit_plan_->run_status() != "Succeeded") status = "Failed";
  std::string message;
  if (status != "Succeeded") {
    auto f = plan_->failures();
    if (!f.empty()) message = "step '" + f.front() + "' " + to_string(plan_->status(f.front()));
    if (status == "Cancelled") message = "cancelled by the user";
  }
  if (auto st = store_.finish_run(run_id_, status, message); !st.ok()) spdlog::error("{}", st.message());
  return status;
}

void Scheduler::Impl::load_previous() {
  auto recs = store_.get_steps(run_id_);
  if (!recs) return;
  for (auto& r : *recs) previous_[r.name] = r;
  auto arts = store_.get_artifacts(run_id_);
  std::map<std::string, Value> art_by_step;
  if (arts)
    for (const auto& a : *arts)
      if (a.role == "output")
        art_by_step[a.step][a.name] = {{"digest", a.digest}, {"size", a.size}, {"kind", a.kind}, {"path", a.path}};
  for (auto& [name, st] : steps_) {
    if (st.exit_handler) continue;
    auto it = previous_.find(name);
    if (it == previous_.end() || (it->second.status != "Succeeded" && it->second.status != "Skipped")) continue;
    bool fan = st.step->for_each.has_value();
    st.status = *node_status_from_string(it->second.status);
    st.message = it->second.message;
    st.outputs = it->second.outputs;
    st.started_at = it->second.started_at;
    st.finished_at = it->second.finished_at;
    if (!fan) {
      st.result = st.outputs.contains("result") ? value_text(st.outputs["result"]) : "";
      st.artifacts = art_by_step[name];
      note_artifacts(st.artifacts);
    }
    plan_->restore(name, st.status);
    emit(name, st.status, "kept from the earlier attempt of this run", 0, it->second.cached);
  }
}

// ---------------------------------------------------------------- plan

void Scheduler::Impl::pump() {
  for (auto& [name, message] : plan().take_omitted()) {
    StepState& s = steps_[name];
    s.status = plan().status(name);
    s.message = message;
    s.finished_at = now_ms();
    record_step(s);
    emit(name, s.status, message, 0, false);
  }
  for (const auto& name : plan().take_ready()) begin_step(steps_[name]);
  try_dispatch();
  maybe_finish();
}

void Scheduler::Impl::begin_step(StepState& s) {
  const Step& step = *s.step;
  s.started_at = now_ms();
  s.status = NodeStatus::Running;
  if (!step.when.empty()) {
    auto parsed = expr::Expr::parse(step.when);
    if (auto* err = std::get_if<expr::ParseError>(&parsed)) {
      finish_step(s, NodeStatus::Errored, "when: " + err->message);
      return;
    }
    auto v = std::get<expr::Expr>(parsed).eval_bool([&](const std::string& ref) { return resolve(s, nullptr, ref); });
    if (!v) {
      finish_step(s, NodeStatus::Errored, "when '" + step.when + "': " + v.message());
      return;
    }
    if (!*v) {
      finish_step(s, NodeStatus::Skipped, "skipped: when '" + step.when + "' is false");
      return;
    }
  }
  Value items;
  if (step.for_each) {
    s.fan_out = true;
    auto r = render(s, nullptr, *step.for_each);
    if (!r) {
      finish_step(s, NodeStatus::Errored, "for_each: " + r.message());
      return;
    }
    items = *r;
    if (items.is_string()) {
      Value parsed = Value::parse(items.get<std::string>(), nullptr, false);
      if (!parsed.is_discarded()) items = parsed;
    }
    if (!items.is_array()) {
      finish_step(s, NodeStatus::Errored, "for_each must give a JSON list; got " + items.dump());
      return;
    }
    if (items.empty()) {
      finish_step(s, NodeStatus::Skipped, "skipped: the for_each list is empty");
      return;
    }
  }
  auto add = [&](int index, Value item) {
    auto inst = std::make_unique<Instance>();
    inst->step = &s;
    inst->index = index;
    inst->item = std::move(item);
    inst->name = index < 0 ? step.name : step.name + "[" + std::to_string(index) + "]";
    queue_.push_back(inst.get());
    s.instances.push_back(std::move(inst));
  };
  if (s.fan_out)
    for (size_t i = 0; i < items.size(); ++i) add(static_cast<int>(i), items[i]);
  else
    add(-1, nullptr);
  s.remaining = static_cast<int>(s.instances.size());
  record_step(s);
}

void Scheduler::Impl::finish_step(StepState& s, NodeStatus status, const std::string& message) {
  s.status = status;
  s.message = message;
  s.finished_at = now_ms();
  std::vector<NodeStatus> inst;
  if (s.fan_out) {
    for (auto& i : s.instances) inst.push_back(i->status);
    // A fan-out's outputs are lists of its instances' outputs, in order.
    Value outs = Value::object();
    std::set<std::string> names;
    for (auto& i : s.instances)
      for (auto it = i->outputs.begin(); it != i->outputs.end(); ++it) names.insert(it.key());
    for (const auto& n : names) {
      Value list = Value::array();
      for (auto& i : s.instances) list.push_back(i->outputs.contains(n) ? i->outputs[n] : Value());
      outs[n] = list;
    }
    s.outputs = outs;
  } else if (!s.instances.empty()) {
    s.outputs = s.instances[0]->outputs;
    s.artifacts = s.instances[0]->artifacts;
    s.result = s.instances[0]->result;
  }
  record_step(s);
  if (!s.fan_out && !s.instances.empty()) {
    // the instance row is the step row
  } else {
    emit(s.step->name, status, message, (s.finished_at - s.started_at) / 1000.0, false);
  }
  plan().finish(s.step->name, status, inst);
  asio::defer(strand_, [this] { pump(); });
}

bool Scheduler::Impl::fits(const Instance& inst) const {
  const Step& st = *inst.step->step;
  int limit = opt_.parallelism > 0 ? opt_.parallelism : wf_.parallelism;
  if (limit > 0 && running_ >= limit) return false;
  if (st.parallelism > 0 && inst.step->running >= st.parallelism) return false;
  if (in_process(st) && jobs_running_ >= kWorkers) return false;
  const Resources& r = st.resources;
  if (r.cpu > 0 && used_cpu_ > 0 && used_cpu_ + r.cpu > opt_.host.cpus + 1e-9) return false;
  if (r.gpu > 0 && used_gpu_ + r.gpu > opt_.host.gpus) return false;
  if (r.memory > 0 && opt_.host.memory > 0 && used_mem_ > 0 && used_mem_ + r.memory > opt_.host.memory) return false;
  return true;
}

void Scheduler::Impl::try_dispatch() {
  if (cancelling_ || plan().stopped()) return;  // queued instances never start: the run stopped
  const int limit = opt_.parallelism > 0 ? opt_.parallelism : wf_.parallelism;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (limit > 0 && running_ >= limit) return;  // nothing more fits: no need to look further
    Instance& inst = **it;
    if (!fits(inst)) {
      ++it;
      continue;
    }
    it = queue_.erase(it);
    const Resources& r = inst.step->step->resources;
    inst.cpu = r.cpu;
    inst.gpu = r.gpu;
    inst.mem = r.memory;
    used_cpu_ += inst.cpu;
    used_gpu_ += inst.gpu;
    used_mem_ += inst.mem;
    ++running_;
    ++inst.step->running;
    inst.holds_slot = true;
    start_attempt(inst);
  }
}

void Scheduler::Impl::maybe_finish() {
  if (finished_ || running_ > 0 || busy_ > 0) return;
  if (!queue_.empty()) {
    if (!(cancelling_ || plan().stopped())) return;
    // Queued instances of a stopped run never start.
    auto queued = std::move(queue_);
    queue_.clear();
    for (Instance* inst : queued)
      finish_instance(*inst, cancelling_ ? NodeStatus::Cancelled : NodeStatus::Omitted,
                      cancelling_ ? "cancelled before it started" : "not started: the run stopped after a failure");
    return;
  }
  if (waiting_retry_ > 0) return;
  if (!plan().done()) return;
  if (!exit_phase_) {
    main_status_ = plan_->run_status();
    if (!wf_.on_exit.empty() && !cancelling_) {
      start_exit_phase();
      return;
    }
    if (cancelling_)
      for (auto& s : wf_.on_exit) {
        StepState& st = steps_[s.name];
        st.status = NodeStatus::Cancelled;
        st.message = "not run: the run was cancelled";
        record_step(st);
      }
  }
  finished_ = true;
  flush();
  signals_.cancel();
  sigchld_.cancel();
  heartbeat_.cancel();
  flush_timer_.cancel();
  io_.stop();
}

void Scheduler::Impl::start_exit_phase() {
  exit_phase_ = true;
  exit_plan_ = std::make_unique<Plan>(wf_.on_exit, false);
  asio::defer(strand_, [this] { pump(); });
}

// ---------------------------------------------------------------- references

Result<Value> Scheduler::Impl::resolve(const StepState& s, const Instance* inst, const std::string& ref) {
  auto dot = ref.find('.');
  std::string root = ref.substr(0, dot);
  std::string rest = dot == std::string::npos ? "" : ref.substr(dot + 1);
  if (root == "params") {
    if (!params_.contains(rest)) return Status::Error("unknown param '" + rest + "'");
    return params_[rest];
  }
  if (root == "item") {
    if (!inst || inst->index < 0) return Status::Error("'" + ref + "' is only known inside a for_each step");
    if (rest.empty()) return inst->item;
    if (!inst->item.is_object() || !inst->item.contains(rest))
      return Status::Error("item " + inst->item.dump() + " has no key '" + rest + "'");
    return inst->item[rest];
  }
  if (root == "workflow") {
    if (rest == "name") return Value(wf_.name);
    if (rest == "run_id") return Value(run_id_);
    if (rest == "status") return Value(main_status_.empty() ? "Running" : main_status_);
    if (rest == "failures") {
      Value list = Value::array();
      for (const auto& f : plan_->failures())
        list.push_back({{"step", f}, {"status", to_string(plan_->status(f))}, {"message", steps_[f].message}});
      return list;
    }
    return Status::Error("unknown reference '" + ref + "'");
  }
  if (root == "steps") {
    auto d2 = rest.find('.');
    std::string name = rest.substr(0, d2);
    std::string what = d2 == std::string::npos ? "" : rest.substr(d2 + 1);
    auto it = steps_.find(name);
    if (it == steps_.end()) return Status::Error("unknown step '" + name + "'");
    const StepState& o = it->second;
    if (what == "status") return Value(to_string(o.status));
    auto d3 = what.find('.');
    std::string kind = what.substr(0, d3), key = d3 == std::string::npos ? "" : what.substr(d3 + 1);
    bool not_run = o.status == NodeStatus::Skipped || o.status == NodeStatus::Omitted;
    if (kind == "outputs") {
      if (key == "result" && !o.fan_out && o.status == NodeStatus::Succeeded) return Value(o.result);
      if (o.outputs.contains(key)) return o.outputs[key];
      if (not_run || o.status == NodeStatus::Succeeded) {
        auto d = o.step->output_params.find(key);
        if (d != o.step->output_params.end() && d->second.default_value) return *d->second.default_value;
      }
      return Status::Error("steps." + name + ".outputs." + key + ": step '" + name + "' " +
                           to_string(o.status) + (not_run ? " and the output has no default" : " without this output"));
    }
    if (kind == "artifacts") {
      if (o.artifacts.contains(key)) return o.artifacts[key]["path"];
      return Status::Error("steps." + name + ".artifacts." + key + ": step '" + name + "' " + to_string(o.status) +
                           " without this artifact");
    }
    return Status::Error("unknown reference '" + ref + "'");
  }
  (void)s;
  return Status::Error("unknown reference '" + ref + "'");
}

std::string Scheduler::Impl::cache_key(const Instance& inst, const Value& with, const std::vector<std::string>& argv,
                                       const std::string& image) const {
  const Step& st = *inst.step->step;
  Value key = {{"v", 1}, {"kind", to_string(st.kind)}, {"with", with}, {"image", image}};
  if (st.kind == StepKind::Plugin) {
    const PluginInfo* p = plugins_.find(st.uses);
    key["plugin"] = st.uses;
    key["version"] = p ? p->version : "";
  } else {
    key["argv"] = argv;
    Value outs = Value::object();
    for (const auto& [n, d] : st.output_params) outs[n] = d.path;
    for (const auto& [n, d] : st.output_artifacts) outs["artifact:" + n] = d.path;
    key["outputs"] = outs;
  }
  return "sha256:" + Sha256::hex_of(json_text(key));
}

// ---------------------------------------------------------------- attempts

void Scheduler::Impl::start_attempt(Instance& inst) {
  const Step& st = *inst.step->step;
  StepState& s = *inst.step;
  ++inst.attempt;
  inst.timed_out = false;
  inst.status = NodeStatus::Running;
  inst.attempt_started_at = now_ms();
  if (inst.attempt == 1) inst.started_at = inst.attempt_started_at;

  // Resume: an instance of a fan-out that Succeeded before keeps its result.
  if (inst.attempt == 1 && s.fan_out) {
    auto prev = previous_.find(inst.name);
    if (prev != previous_.end() && prev->second.status == "Succeeded") {
      inst.outputs = prev->second.outputs;
      inst.cached = prev->second.cached;
      finish_instance(inst, NodeStatus::Succeeded, "kept from the earlier attempt of this run");
      return;
    }
  }

  auto with = render(s, &inst, st.with);
  if (!with) return attempt_ended(inst, NodeStatus::Errored, with.message());
  std::vector<std::string> argv;
  for (const auto& a : st.run) {
    auto v = render(s, &inst, Value(a));
    if (!v) return attempt_ended(inst, NodeStatus::Errored, v.message());
    argv.push_back(value_text(*v));
  }
  std::string script;
  if (st.kind == StepKind::Shell) {
    auto v = render(s, &inst, Value(st.shell));
    if (!v) return attempt_ended(inst, NodeStatus::Errored, v.message());
    script = value_text(*v);
    argv = {"/bin/sh", "-c", script};
  }
  std::string image;
  if (!st.image.empty()) {
    auto v = render(s, &inst, Value(st.image));
    if (!v) return attempt_ended(inst, NodeStatus::Errored, v.message());
    image = value_text(*v);
  }
  const PluginInfo* plugin = nullptr;
  if (st.kind == StepKind::Plugin) {
    plugin = plugins_.find(st.uses);
    if (!plugin) return attempt_ended(inst, NodeStatus::Errored, "unknown plugin '" + st.uses + "'");
  }
  inst.inputs = {{"with", *with}, {"kind", to_string(st.kind)}};
  if (plugin) {
    inst.inputs["plugin"] = plugin->name;
    inst.inputs["version"] = plugin->version;
  } else {
    inst.inputs["argv"] = argv;
  }
  if (!image.empty()) inst.inputs["image"] = image;
  if (inst.attempt == 1) {
    record_inputs(inst, *with);
    if (!plugin) record_inputs(inst, Value(argv));
  }

  bool use_cache = st.cache_enabled() && !opt_.no_cache;
  if (use_cache) inst.cache_key = cache_key(inst, *with, argv, image);
  if (use_cache && inst.attempt == 1) {
    flush();  // an entry this run just made is pending in writes_
    auto hit = store_.cache_lookup(inst.cache_key);
    if (hit && hit->has_value()) {
      const CacheEntry& e = **hit;
      bool intact = true;
      Value arts = Value::object();
      for (auto it = e.artifacts.begin(); it != e.artifacts.end(); ++it) {
        auto blob = artifacts_.get(it.value().value("digest", ""));
        if (!blob) {
          intact = false;
          break;
        }
        arts[it.key()] = {{"digest", blob->digest}, {"size", blob->size}, {"kind", blob->kind},
                          {"path", blob->path.string()}};
      }
      if (intact) {
        inst.outputs = e.outputs;
        if (e.outputs.contains("result")) inst.result = value_text(e.outputs["result"]);
        inst.artifacts = arts;
        note_artifacts(arts);
        inst.cached = true;
        for (auto it = arts.begin(); it != arts.end(); ++it) {
          ArtifactRecord a{run_id_, inst.name, it.key(), it.value()["digest"], it.value()["size"], it.value()["kind"], "output", ""};
          record([a](RunStore& db) { return db.add_artifact(a); });
        }
        finish_instance(inst, NodeStatus::Succeeded, "cache hit: outputs of run " + e.run_id + " step " + e.step);
        return;
      }
    }
  }

  // A fresh working directory and the log. An in-process plugin step gets
  // them when it first uses them (host_work_dir, a log line): a step that
  // writes nothing costs no folder and no file.
  const bool in_process = st.kind == StepKind::Plugin && st.isolation == Isolation::None && image.empty();
  const std::string dir_name = instance_dir_name(inst.name);
  fs::path base = run_work_dir_ / dir_name;
  inst.work_dir = base / "work";
  inst.out_dir = base / "out";
  std::error_code ec;
  if (in_process) {
    if (inst.attempt > 1 || opt_.resume) fs::remove_all(base, ec);  // an earlier attempt's files
  } else {
    ec = fresh_dir(base);
    if (!ec && ::mkdir(inst.work_dir.c_str(), 0755) != 0) ec.assign(errno, std::generic_category());
    // out/ holds a plugin's params and result; a container mounts it.
    if (!ec && (st.kind == StepKind::Plugin || !image.empty()) && ::mkdir(inst.out_dir.c_str(), 0755) != 0)
      ec.assign(errno, std::generic_category());
  }
  if (ec) return attempt_ended(inst, NodeStatus::Errored, "cannot create the working directory " + base.string() + ": " + ec.message());
  inst.log_path = (run_logs_dir_ / (dir_name + ".log")).string();
  inst.log = std::make_shared<LogFile>(inst.log_path);
  if (!in_process && inst.log->open() < 0)
    return attempt_ended(inst, NodeStatus::Errored, "cannot open the log " + inst.log_path + ": " + std::strerror(errno));
  if (inst.attempt > 1) inst.log->write("--- attempt " + std::to_string(inst.attempt) + " ---\n");
  record_instance(inst);
  emit(inst.name, NodeStatus::Running, inst.attempt > 1 ? "attempt " + std::to_string(inst.attempt) : "", 0, false);

  if (st.timeout_s > 0) {
    inst.timeout_timer = std::make_unique<asio::steady_timer>(strand_, std::chrono::milliseconds(static_cast<int64_t>(st.timeout_s * 1000)));
    inst.timeout_timer->async_wait([this, &inst](const boost::system::error_code& e) {
      if (e || inst.status != NodeStatus::Running) return;
      inst.timed_out = true;
      kill_attempt(inst);
    });
  }

  int cpus = std::max(1, static_cast<int>(std::ceil(st.resources.cpu > 0 ? st.resources.cpu : 1)));
  std::vector<std::string> env;
  if (in_process) return launch_plugin_inprocess(inst, *plugin, *with);
  if (st.kind == StepKind::Plugin) {
    fs::path spec = inst.out_dir / "params.json";
    std::ofstream(spec) << json_text(*with);
    argv = {opt_.ctflow_binary.string(), "step", "--plugin", st.uses, "--params", spec.string(),
            "--out", inst.out_dir.string(), "--work", inst.work_dir.string(), "--store", store_dir_.string(),
            "--run-id", run_id_, "--step", inst.name, "--cpus", std::to_string(cpus),
            "--gpus", std::to_string(st.resources.gpu)};
  } else {
    for (auto it = with->begin(); it != with->end(); ++it) {
      std::string key = it.key();
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::isalnum(c) ? std::toupper(c) : '_'; });
      env.push_back("CTFLOW_PARAM_" + key + "=" + value_text(it.value()));
    }
  }
  for (const auto& [k, v] : st.env) env.push_back(k + "=" + v);
  env.push_back("CTFLOW_RUN_ID=" + run_id_);
  env.push_back("CTFLOW_STEP=" + inst.name);
  env.push_back("OMP_NUM_THREADS=" + std::to_string(cpus));
  if (!image.empty()) {
    ContainerSpec c;
    c.image = image;
    c.argv = argv;
    c.env = env;
    c.work_dir = inst.work_dir;
    c.mounts_rw = {inst.work_dir, inst.out_dir};
    c.mounts_ro = {fs::absolute(store_.blobs_dir())};
    if (st.kind == StepKind::Plugin) c.mounts_rw.push_back(store_dir_);
    c.network = st.network;
    c.gpus = st.resources.gpu;
    c.name = "ctflow-" + run_id_ + "-" + instance_dir_name(inst.name) + "-" + std::to_string(inst.attempt);
    auto cmd = container_command(c);
    if (!cmd) return attempt_ended(inst, NodeStatus::Errored, cmd.message());
    argv = *cmd;
    env.clear();
  }
  launch_process(inst, std::move(argv), std::move(env), st.kind != StepKind::Plugin);
}

void Scheduler::Impl::launch_plugin_inprocess(Instance& inst, const PluginInfo& p, const Value& with) {
  const Step& st = *inst.step->step;
  inst.cancel_flag = std::make_shared<std::atomic<bool>>(false);
  auto inv = std::make_shared<PluginInvocation>();
  inv->plugin = &p;
  inv->params = with;
  inv->out_dir = inst.out_dir;
  inv->work_dir = inst.work_dir;
  inv->store_dir = store_dir_;
  inv->run_id = run_id_;
  inv->step = inst.name;
  inv->cpu_threads = std::max(1, static_cast<int>(std::ceil(st.resources.cpu)));
  inv->gpus = st.resources.gpu;
  inv->cancel = inst.cancel_flag.get();
  inv->log = [log = inst.log](int level, const std::string& m) {
    static const char* kLevels[] = {"debug", "info", "warn", "error"};
    log->write(std::string("[") + kLevels[std::clamp(level, 0, 3)] + "] " + m + "\n");
  };
  auto flag = inst.cancel_flag;
  const int attempt = inst.attempt;
  start_job([this, &inst, inv, flag, attempt] {
    PluginOutcome out = invoke_plugin(*inv);
    asio::dispatch(strand_, [this, &inst, attempt, out = std::move(out)]() mutable {
      job_done();
      // Already ended (timeout); a retry of it may be running by now, and this
      // (old) attempt's result must not end that one.
      if (inst.status != NodeStatus::Running || inst.attempt != attempt) return;
      if (inst.cancelled) return attempt_ended(inst, NodeStatus::Cancelled, "cancelled by the user");
      inst.outputs = out.outputs;
      record_metrics(inst, out.metrics, out.confusions);
      if (!out.ok) return attempt_ended(inst, NodeStatus::Failed, out.error);
      commit_artifacts(inst, out.artifacts, [this, &inst](NodeStatus result, std::string msg) {
        attempt_ended(inst, result, std::move(msg));
      });
    });
  });
}

void Scheduler::Impl::launch_process(Instance& inst, std::vector<std::string> argv, std::vector<std::string> env,
                                     bool capture_stdout) {
  SpawnOptions so;
  so.argv = std::move(argv);
  so.env = environment_with(env);
  so.cwd = inst.work_dir;
  const int log_fd = inst.log->open();
  so.stderr_fd = log_fd;
  int pipefd[2] = {-1, -1};
  if (capture_stdout) {
    if (::pipe2(pipefd, O_CLOEXEC) != 0)
      return attempt_ended(inst, NodeStatus::Errored, std::string("cannot create a pipe: ") + std::strerror(errno));
    so.stdout_fd = pipefd[1];
  } else {
    so.stdout_fd = log_fd;
  }
  auto pid = spawn_process(so);
  if (pipefd[1] >= 0) ::close(pipefd[1]);
  if (!pid) {
    if (pipefd[0] >= 0) ::close(pipefd[0]);
    return attempt_ended(inst, NodeStatus::Errored, pid.message());
  }
  inst.pid = *pid;
  inst.reaped = false;
  by_pid_[inst.pid] = &inst;
  inst.tail.clear();
  if (capture_stdout) {
    if (!inst.buf) inst.buf = std::make_unique<std::array<char, 16384>>();
    inst.out_pipe = std::make_unique<asio::posix::stream_descriptor>(strand_, pipefd[0]);
    read_pipe(inst);
  }
}

void Scheduler::Impl::append_output(Instance& inst, const char* data, size_t n) {
  if (inst.log) inst.log->write(data, n);
  inst.tail.append(data, n);
  if (inst.tail.size() > 2 * kResultTail) inst.tail.erase(0, inst.tail.size() - kResultTail);
}

// The child's stdout is read until EOF; when the child is reaped first, the
// read in flight is cancelled, and its handler (which may still bring data the
// reactor read on another thread) drains what is left and ends the attempt. A
// grandchild that keeps the pipe open does not hold the step up.
void Scheduler::Impl::read_pipe(Instance& inst) {
  inst.out_pipe->async_read_some(asio::buffer(*inst.buf), [this, &inst](const boost::system::error_code& ec, size_t n) {
    if (n > 0) append_output(inst, inst.buf->data(), n);
    if (inst.reaped) {
      int fd = inst.out_pipe->native_handle();
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      ssize_t got;
      while ((got = ::read(fd, inst.buf->data(), inst.buf->size())) > 0) append_output(inst, inst.buf->data(), static_cast<size_t>(got));
    }
    if (ec || inst.reaped) {
      boost::system::error_code ignored;
      inst.out_pipe->close(ignored);
      inst.out_pipe.reset();
      if (inst.reaped) child_done(inst);
      return;
    }
    read_pipe(inst);
  });
}

void Scheduler::Impl::on_child_exit(pid_t pid, int wait_status) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return;
  Instance& inst = *it->second;
  by_pid_.erase(it);
  inst.pid = 0;
  inst.reaped = true;
  inst.wait_status = wait_status;
  if (inst.out_pipe) {
    inst.out_pipe->cancel();  // the read's handler calls child_done
    return;
  }
  child_done(inst);
}

void Scheduler::Impl::child_done(Instance& inst) {
  const int wait_status = inst.wait_status;
  if (inst.tail.size() > kResultTail) inst.tail.erase(0, inst.tail.size() - kResultTail);
  if (!inst.tail.empty() && inst.tail.back() == '\n') inst.tail.pop_back();
  inst.result = inst.tail;
  inst.exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  const Step& st = *inst.step->step;
  if (inst.cancelled) return attempt_ended(inst, NodeStatus::Cancelled, "cancelled by the user");
  if (inst.timed_out)
    return attempt_ended(inst, NodeStatus::Failed,
                         "timed out after " + fmt_seconds(st.timeout_s) + " (attempt " + std::to_string(inst.attempt) + ")");
  if (st.kind == StepKind::Plugin) {
    std::ifstream in(inst.out_dir / "result.json");
    Value r = in ? Value::parse(in, nullptr, false) : Value();
    if (r.is_discarded() || !r.is_object()) {
      std::string why = WIFSIGNALED(wait_status)
                            ? "the plugin process crashed: " + describe_wait_status(wait_status)
                            : "the plugin process ended without a result (" + describe_wait_status(wait_status) + ")";
      return attempt_ended(inst, NodeStatus::Failed, why + " (see 'ctflow logs " + run_id_ + " " + inst.name + "')");
    }
    PluginOutcome out = PluginOutcome::from_json(r);
    inst.outputs = out.outputs;
    record_metrics(inst, out.metrics, out.confusions);
    if (!out.ok) return attempt_ended(inst, NodeStatus::Failed, out.error);
    return commit_artifacts(inst, out.artifacts, [this, &inst](NodeStatus s, std::string m) { attempt_ended(inst, s, std::move(m)); });
  }
  if (!(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0))
    return attempt_ended(inst, NodeStatus::Failed, describe_wait_status(wait_status));
  collect_outputs(inst, [this, &inst](NodeStatus s, std::string m) { attempt_ended(inst, s, std::move(m)); });
}

void Scheduler::Impl::collect_outputs(Instance& inst, std::function<void(NodeStatus, std::string)> done) {
  const Step& st = *inst.step->step;
  inst.outputs = Value::object();
  for (const auto& [name, decl] : st.output_params) {
    std::ifstream in(inst.work_dir / decl.path, std::ios::binary);
    if (!in) {
      if (decl.default_value) {
        inst.outputs[name] = *decl.default_value;
        continue;
      }
      return done(NodeStatus::Failed, "output parameter '" + name + "': the step did not write '" + decl.path + "'");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    inst.outputs[name] = text;
  }
  std::map<std::string, fs::path> paths;
  for (const auto& [name, decl] : st.output_artifacts) {
    fs::path p = inst.work_dir / decl.path;
    std::error_code ec;
    if (!fs::exists(p, ec))
      return done(NodeStatus::Failed, "output artifact '" + name + "': the step did not write '" + decl.path + "'");
    paths[name] = p;
  }
  commit_artifacts(inst, std::move(paths), std::move(done));
}

void Scheduler::Impl::commit_artifacts(Instance& inst, std::map<std::string, fs::path> paths,
                                       std::function<void(NodeStatus, std::string)> done) {
  if (paths.empty()) return done(NodeStatus::Succeeded, "");
  const int attempt = inst.attempt;
  start_job([this, &inst, attempt, paths = std::move(paths), done = std::move(done)]() mutable {
    Value arts = Value::object();
    std::string error;
    for (const auto& [name, p] : paths) {
      auto stored = artifacts_.put(p);
      if (!stored) {
        error = "output artifact '" + name + "': " + stored.message();
        break;
      }
      arts[name] = {{"digest", stored->digest}, {"size", stored->size}, {"kind", stored->kind},
                    {"path", stored->path.string()}};
    }
    asio::dispatch(strand_, [this, &inst, attempt, arts, error, done = std::move(done)] {
      job_done();
      // An in-process attempt can time out while its artifacts are committed.
      if (inst.status != NodeStatus::Running || inst.attempt != attempt) return;
      if (!error.empty()) return done(NodeStatus::Failed, error);
      inst.artifacts = arts;
      note_artifacts(arts);
      for (auto it = arts.begin(); it != arts.end(); ++it) {
        ArtifactRecord a{run_id_, inst.name, it.key(), it.value()["digest"], it.value()["size"], it.value()["kind"], "output", ""};
        record([a](RunStore& db) { return db.add_artifact(a); });
      }
      done(NodeStatus::Succeeded, "");
    });
  });
}

void Scheduler::Impl::kill_attempt(Instance& inst) {
  if (inst.cancel_flag) inst.cancel_flag->store(true);
  if (inst.pid > 0) {
    signal_group(inst.pid, SIGTERM);
    pid_t pid = inst.pid;
    inst.kill_timer = std::make_unique<asio::steady_timer>(strand_, std::chrono::milliseconds(static_cast<int64_t>(opt_.kill_grace_s * 1000)));
    inst.kill_timer->async_wait([this, pid](const boost::system::error_code& e) {
      if (e) return;
      if (by_pid_.count(pid)) signal_group(pid, SIGKILL);
    });
  } else if (inst.cancel_flag && inst.timed_out) {
    // An in-process plugin cannot be killed: the attempt ends now; its thread
    // finishes in the background and its result is dropped.
    attempt_ended(inst, NodeStatus::Failed, "timed out after " + fmt_seconds(inst.step->step->timeout_s));
  }
}

void Scheduler::Impl::attempt_ended(Instance& inst, NodeStatus status, std::string message) {
  if (inst.status != NodeStatus::Running) return;
  if (inst.timeout_timer) inst.timeout_timer->cancel();
  if (inst.kill_timer) inst.kill_timer->cancel();
  if (inst.log) {
    if (!message.empty() && status != NodeStatus::Succeeded) inst.log->write("ctflow: " + message + "\n");
    inst.log->close();
    inst.log.reset();
  }
  const Step& st = *inst.step->step;
  int64_t now = now_ms();
  AttemptRecord a{run_id_, inst.name, inst.attempt, to_string(status), inst.attempt_started_at, now,
                  inst.exit_code, message, inst.log_path};
  record([a](RunStore& db) { return db.add_attempt(a); });
  const RetryPolicy& r = st.retry;
  bool retryable = (status == NodeStatus::Failed && (inst.timed_out ? r.on_timeout : r.on_failed)) ||
                   (status == NodeStatus::Errored && r.on_error);
  if (retryable && inst.attempt <= r.limit && !cancelling_) {
    double delay = r.delay_before(inst.attempt + 1);
    inst.status = NodeStatus::Pending;
    inst.message = message;
    release(inst);
    emit(inst.name, NodeStatus::Pending, "attempt " + std::to_string(inst.attempt) + " " + to_string(status) + ": " +
                                             message + "; retrying in " + fmt_seconds(delay), 0, false);
    record_instance(inst);
    inst.retry_timer = std::make_unique<asio::steady_timer>(strand_, std::chrono::milliseconds(static_cast<int64_t>(delay * 1000)));
    ++waiting_retry_;
    inst.retry_timer->async_wait([this, &inst](const boost::system::error_code& e) {
      inst.retry_timer.reset();
      --waiting_retry_;
      if (e || cancelling_) {
        finish_instance(inst, NodeStatus::Cancelled, "cancelled while waiting to retry");
        return;
      }
      queue_.push_front(&inst);
      try_dispatch();
      maybe_finish();  // the run stopped (fail-fast) meanwhile: it never starts; end the run
    });
    return;
  }
  inst.status = NodeStatus::Running;  // finish_instance records the final status
  finish_instance(inst, status, std::move(message));
}

void Scheduler::Impl::release(Instance& inst) {
  if (!inst.holds_slot) return;
  inst.holds_slot = false;
  used_cpu_ -= inst.cpu;
  used_gpu_ -= inst.gpu;
  used_mem_ -= inst.mem;
  --running_;
  --inst.step->running;
}

void Scheduler::Impl::finish_instance(Instance& inst, NodeStatus status, std::string message) {
  release(inst);
  inst.status = status;
  inst.message = std::move(message);
  inst.finished_at = now_ms();
  if (inst.started_at == 0) inst.started_at = inst.finished_at;
  StepState& s = *inst.step;
  if (status == NodeStatus::Succeeded && !inst.cached && s.step->cache_enabled() && !opt_.no_cache && !inst.cache_key.empty()) {
    CacheEntry e;
    e.key = inst.cache_key;
    e.run_id = run_id_;
    e.step = inst.name;
    e.outputs = inst.outputs;
    if (s.step->kind != StepKind::Plugin) e.outputs["result"] = inst.result;
    for (auto it = inst.artifacts.begin(); it != inst.artifacts.end(); ++it)
      e.artifacts[it.key()] = {{"digest", it.value()["digest"]}, {"size", it.value()["size"]}, {"kind", it.value()["kind"]}};
    e.created_at = inst.finished_at;
    record([e](RunStore& db) { return db.cache_store(e); });
  }
  if (s.step->kind != StepKind::Plugin && status == NodeStatus::Succeeded && !inst.outputs.contains("result") && s.fan_out)
    inst.outputs["result"] = inst.result;
  record_instance(inst);
  emit(inst.name, status, inst.message, (inst.finished_at - inst.started_at) / 1000.0, inst.cached);
  if (--s.remaining > 0) {
    try_dispatch();
    maybe_finish();
    return;
  }
  NodeStatus agg = NodeStatus::Succeeded;
  std::string msg;
  int failed = 0;
  for (auto& i : s.instances) {
    if (i->status == NodeStatus::Cancelled) agg = NodeStatus::Cancelled;
    if (is_failure(i->status)) {
      ++failed;
      if (agg != NodeStatus::Cancelled && agg != NodeStatus::Failed) agg = i->status;
      if (msg.empty()) msg = s.fan_out ? i->name + ": " + i->message : i->message;
    }
    if (i->status == NodeStatus::Omitted && agg == NodeStatus::Succeeded) {
      agg = NodeStatus::Omitted;
      msg = i->message;
    }
  }
  if (s.fan_out && failed > 0) msg = std::to_string(failed) + " of " + std::to_string(s.instances.size()) + " instances failed; first: " + msg;
  if (!s.fan_out) msg = s.instances[0]->message;
  finish_step(s, agg, msg);
}

void Scheduler::Impl::do_cancel(const std::string& why) {
  if (cancelling_ || finished_) return;
  cancelling_ = true;
  plan().stop(why, true);
  for (auto& [name, s] : steps_)
    for (auto& inst : s.instances) {
      if (inst->status == NodeStatus::Running) {
        inst->cancelled = true;
        if (inst->pid > 0) kill_attempt(*inst);
        else if (inst->cancel_flag) inst->cancel_flag->store(true);
      }
      if (inst->retry_timer) inst->retry_timer->cancel();
    }
  pump();
}

// ---------------------------------------------------------------- recording

// Writes are committed in one transaction at the end of the current io tick,
// and at most once every kFlushEvery: a burst of short steps costs one commit
// per interval, not one or more per step, and the store is never more than
// kFlushEvery behind. The run's end flushes what is left.
void Scheduler::Impl::record(std::function<Status(RunStore&)> write) {
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
  if (flush_posted_) return;
  flush_posted_ = true;
  auto since = std::chrono::steady_clock::now() - last_flush_;
  if (since >= kFlushEvery) {
    asio::defer(strand_, [this] { flush(); });
    return;
  }
  flush_timer_.expires_after(kFlushEvery - since);
  flush_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) flush();
  });
}

void Scheduler::Impl::flush() {
  flush_posted_ = false;
  last_flush_ = std::chrono::steady_clock::now();
  if (writes_.empty()) return;
  std::vector<Write> writes;
  writes.swap(writes_);
  writes_.reserve(writes.size());  // the next batch is likely as big
  pending_step_.clear();
  RunStore::Transaction tx(store_);
  for (auto& w : writes)
    if (auto st = w.step ? store_.upsert_step(*w.step) : w.fn(store_); !st.ok()) spdlog::warn("store: {}", st.message());
  if (auto st = tx.commit(); !st.ok()) spdlog::warn("store: {}", st.message());
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
  if (inst.step->step->kind != StepKind::Plugin && inst.status == NodeStatus::Succeeded) r.outputs["result"] = inst.result;
  r.message = inst.message;
  r.log_path = inst.log_path;
  r.exit_code = inst.exit_code;
  r.cache_key = inst.cache_key;
  r.inputs = inst.inputs;
  record(std::move(r));
}

void Scheduler::Impl::record_metrics(const Instance& inst, const Value& metrics, const Value& confusions) {
  if (!metrics.empty()) {
    std::vector<MetricPoint> pts;
    int64_t ts = now_ms();
    for (const auto& m : metrics)
      pts.push_back({run_id_, inst.name, m.value("name", ""), m.value("kind", "scalar"), m.value("index", int64_t{0}),
                     m.value("value", 0.0), ts});
    record([pts](RunStore& db) { return db.add_metrics(pts); });
  }
  for (const auto& c : confusions) {
    ConfusionRecord r{run_id_, inst.name, c.value("name", ""), c["labels"].get<std::vector<std::string>>(),
                      c["counts"].get<std::vector<int64_t>>()};
    record([r](RunStore& db) { return db.add_confusion(r); });
  }
}

void Scheduler::Impl::emit(const std::string& name, NodeStatus st, const std::string& msg, double secs, bool cached) {
  if (on_event_) on_event_(StepEvent{name, to_string(st), msg, secs, cached});
}

// ---------------------------------------------------------------- facade

Scheduler::Scheduler(const Workflow& wf, Value params, RunStore& store, PluginRegistry& plugins, RunOptions options)
    : impl_(std::make_unique<Impl>(wf, std::move(params), store, plugins, std::move(options))) {}
Scheduler::~Scheduler() = default;
std::string Scheduler::run(const std::string& run_id) { return impl_->run(run_id); }
void Scheduler::cancel() { impl_->cancel(); }
void Scheduler::on_event(std::function<void(const StepEvent&)> callback) { impl_->on_event_ = std::move(callback); }
void Scheduler::on_settled(std::function<void()> callback) { impl_->on_settled_ = std::move(callback); }

}  // namespace ctflow

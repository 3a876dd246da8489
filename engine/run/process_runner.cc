// The process runner: a child per attempt (posix_spawn, a process group of its
// own), its stdout read through a pipe (the step's result, also in the log) and
// its stderr through another into the log, which is made on the first byte: a
// step that prints nothing costs one folder (its working folder) and no file. The child is reaped by pid: a pidfd becomes readable when it exits, then
// waitpid(pid). There is no SIGCHLD handler and no waitpid(-1), so the engine
// never takes a child that is not its own (one an in-process plugin waits for).
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "engine/process.h"
#include "engine/run/log_file.h"
#include "engine/run/step_runner.h"

namespace ctflow {
namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

constexpr size_t kResultTail = 256 * 1024;

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// An attempt that could not start: its result is the error.
class NotStarted final : public RunningAttempt {
 public:
  bool stop() override { return true; }
  void kill() override {}
  void close_log(const std::string&) override {}
};

class ProcessAttempt final : public RunningAttempt, public std::enable_shared_from_this<ProcessAttempt> {
 public:
  ProcessAttempt(const AttemptSpec& spec, const RunnerContext& ctx, AttemptDone done)
      : spec_(spec), ctx_(ctx), done_(std::move(done)), kill_timer_(ctx.strand) {}

  // Makes the folders and the log and spawns the child; an error is the result.
  void start();
  bool stop() override;
  void kill() override {
    if (pid_ > 0 && !reaped_) signal_group(pid_, SIGKILL);
  }
  void note(const std::string& line) override {
    if (log_) log_->write("ctflow: " + line + "\n");
  }
  void close_log(const std::string& note) override {
    if (!log_) return;
    if (!note.empty()) log_->write("ctflow: " + note + "\n");
    log_->close();
  }

 private:
  void fail(std::string message) {
    asio::post(ctx_.strand, [self = shared_from_this(), m = std::move(message)]() mutable {
      self->deliver(AttemptResult::error(std::move(m)));
    });
  }
  void deliver(AttemptResult r) {
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(r));
  }
  Status prepare_files();
  void wait_exit();
  void poll_exit();
  void exited(int wait_status);
  // A pipe from the child: its stdout (the result, also logged) or its stderr (logged).
  struct Pipe {
    std::unique_ptr<asio::posix::stream_descriptor> fd;
    std::unique_ptr<std::array<char, 16384>> buf;
    bool result = false;
  };
  void read_pipe(Pipe& p);
  void append_output(const Pipe& p, const char* data, size_t n) {
    log_->write(data, n);
    if (!p.result) return;
    tail_.append(data, n);
    if (tail_.size() > 2 * kResultTail) tail_.erase(0, tail_.size() - kResultTail);
  }
  void child_done();
  void plugin_outcome(AttemptResult& r);
  void collect_outputs(AttemptResult& r);

  AttemptSpec spec_;
  RunnerContext ctx_;
  AttemptDone done_;
  std::shared_ptr<LogFile> log_;
  pid_t pid_ = 0;
  bool reaped_ = false;  // the child has exited; its stdout may still be read
  int wait_status_ = 0;
  std::unique_ptr<asio::posix::stream_descriptor> pidfd_;
  std::array<Pipe, 2> pipes_;  // stdout (when captured), stderr
  int open_pipes_ = 0;
  std::string tail_;
  asio::steady_timer kill_timer_;  // SIGKILL after the grace period; also the reaping poll without a pidfd
};

Status ProcessAttempt::prepare_files() {
  std::error_code ec = fresh_dir(spec_.work_dir);
  if (!ec && spec_.make_out_dir) ec = fresh_dir(spec_.out_dir);
  if (ec) return Status::Error("cannot create the working directory " + spec_.work_dir.string() + ": " + ec.message());
  if (!spec_.metrics_path.empty()) {  // an earlier attempt's; the folder once per run
    const fs::path dir = fs::path(spec_.metrics_path).parent_path();
    if (::unlink(spec_.metrics_path.c_str()) != 0 && errno == ENOENT && ::mkdir(dir.c_str(), 0755) != 0 &&
        errno != EEXIST)
      fs::create_directories(dir, ec);
    if (ec) return Status::Error("cannot create the folder " + dir.string() + ": " + ec.message());
  }
  log_ = std::make_shared<LogFile>(spec_.log_path);
  if (spec_.attempt > 1) log_->write("--- attempt " + std::to_string(spec_.attempt) + " ---\n");
  if (spec_.params_json) std::ofstream(spec_.out_dir / "params.json") << *spec_.params_json;
  return Status::Ok();
}

void ProcessAttempt::start() {
  if (auto st = prepare_files(); !st.ok()) return fail(st.message());
  SpawnOptions so;
  so.argv = spec_.argv;
  so.env = environment_with(spec_.env);
  so.cwd = spec_.work_dir;
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
  };
  if ((spec_.capture_stdout && ::pipe2(out, O_CLOEXEC) != 0) || ::pipe2(err, O_CLOEXEC) != 0) {
    std::string m = std::string("cannot create a pipe: ") + std::strerror(errno);
    close_all();
    return fail(m);
  }
  so.stdout_fd = spec_.capture_stdout ? out[1] : err[1];
  so.stderr_fd = err[1];
  auto pid = spawn_process(so);
  ::close(err[1]);
  if (out[1] >= 0) ::close(out[1]);
  err[1] = out[1] = -1;
  if (!pid) {
    close_all();
    return fail(pid.message());
  }
  pid_ = *pid;
  pipes_[0].result = true;
  for (int i = 0; i < 2; ++i) {
    const int fd = i == 0 ? out[0] : err[0];
    if (fd < 0) continue;
    pipes_[i].fd = std::make_unique<asio::posix::stream_descriptor>(ctx_.strand, fd);
    pipes_[i].buf = std::make_unique<std::array<char, 16384>>();
    ++open_pipes_;
  }
  for (auto& p : pipes_)
    if (p.fd) read_pipe(p);
  wait_exit();
}

void ProcessAttempt::wait_exit() {
  const int fd = open_pidfd(pid_);
  if (fd < 0) return poll_exit();  // a kernel without pidfd_open (before Linux 5.3)
  pidfd_ = std::make_unique<asio::posix::stream_descriptor>(ctx_.strand, fd);
  pidfd_->async_wait(asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (ec) return;
                       int status = 0;
                       pid_t got;
                       while ((got = ::waitpid(self->pid_, &status, 0)) < 0 && errno == EINTR) {
                       }
                       // Reaped by someone else (a plugin's waitpid(-1)): the status is lost.
                       self->exited(got == self->pid_ ? status : 255 << 8);
                     });
}

void ProcessAttempt::poll_exit() {
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) return exited(status);
  auto timer = std::make_shared<asio::steady_timer>(ctx_.strand, std::chrono::milliseconds(20));
  timer->async_wait([self = shared_from_this(), timer](const boost::system::error_code& ec) {
    if (!ec) self->poll_exit();
  });
}

void ProcessAttempt::exited(int wait_status) {
  reaped_ = true;
  wait_status_ = wait_status;
  kill_timer_.cancel();
  if (pidfd_) {
    boost::system::error_code ignored;
    pidfd_->close(ignored);
  }
  if (open_pipes_ == 0) return child_done();
  for (auto& p : pipes_)  // each read's handler drains its pipe; the last calls child_done
    if (p.fd) p.fd->cancel();
}

bool ProcessAttempt::stop() {
  if (pid_ <= 0 || reaped_) return true;
  signal_group(pid_, SIGTERM);
  kill_timer_.expires_after(std::chrono::milliseconds(static_cast<int64_t>(ctx_.kill_grace_s * 1000)));
  kill_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && !self->reaped_) signal_group(self->pid_, SIGKILL);
  });
  return true;
}

// The child's pipes are read until EOF; when the child is reaped first, the
// read in flight is cancelled, and its handler (which may still bring data the
// reactor read on another thread) drains what is left; the last pipe to close
// ends the attempt. A grandchild that keeps a pipe open does not hold the step up.
void ProcessAttempt::read_pipe(Pipe& p) {
  p.fd->async_read_some(asio::buffer(*p.buf), [self = shared_from_this(), &p](const boost::system::error_code& ec,
                                                                             size_t n) {
    if (n > 0) self->append_output(p, p.buf->data(), n);
    if (self->reaped_) {
      int fd = p.fd->native_handle();
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      ssize_t got;
      while ((got = ::read(fd, p.buf->data(), p.buf->size())) > 0)
        self->append_output(p, p.buf->data(), static_cast<size_t>(got));
    }
    if (ec || self->reaped_) {
      boost::system::error_code ignored;
      p.fd->close(ignored);
      p.fd.reset();
      p.buf.reset();
      if (--self->open_pipes_ == 0 && self->reaped_) self->child_done();
      return;
    }
    self->read_pipe(p);
  });
}

void ProcessAttempt::child_done() {
  AttemptResult r;
  if (tail_.size() > kResultTail) tail_.erase(0, tail_.size() - kResultTail);
  if (!tail_.empty() && tail_.back() == '\n') tail_.pop_back();
  r.stdout_tail = std::move(tail_);
  const int ws = wait_status_;
  r.exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  if (spec_.plugin_result) {
    plugin_outcome(r);
  } else if (!(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) {
    r.status = NodeStatus::Failed;
    r.message = describe_wait_status(ws);
  } else {
    collect_outputs(r);
  }
  deliver(std::move(r));
}

void ProcessAttempt::plugin_outcome(AttemptResult& r) {
  std::ifstream in(spec_.out_dir / "result.json");
  Value v = in ? Value::parse(in, nullptr, false) : Value();
  const int ws = wait_status_;
  if (v.is_discarded() || !v.is_object()) {
    std::string why = WIFSIGNALED(ws) ? "the plugin process crashed: " + describe_wait_status(ws)
                                      : "the plugin process ended without a result (" + describe_wait_status(ws) + ")";
    r.status = NodeStatus::Failed;
    r.message = why + " (see 'ctflow logs " + spec_.run_id + " " + spec_.instance + "')";
    return;
  }
  PluginOutcome out = PluginOutcome::from_json(v);
  r.outputs = out.outputs;
  r.metrics = out.metrics;
  r.confusions = out.confusions;
  if (!out.ok) {
    r.status = NodeStatus::Failed;
    r.message = out.error;
    return;
  }
  r.artifacts = out.artifacts;
}

void ProcessAttempt::collect_outputs(AttemptResult& r) {
  for (const auto& [name, decl] : spec_.output_params) {
    if (!decl.expression.empty()) continue;  // the scheduler evaluates it
    std::ifstream in(spec_.work_dir / decl.path, std::ios::binary);
    if (!in) {
      if (decl.default_value) {
        r.outputs[name] = *decl.default_value;
        continue;
      }
      r.status = NodeStatus::Failed;
      r.message = "output parameter '" + name + "': the step did not write '" + decl.path + "'";
      return;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    r.outputs[name] = text;
  }
  for (const auto& [name, decl] : spec_.output_artifacts) {
    fs::path p = spec_.work_dir / decl.path;
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      r.status = NodeStatus::Failed;
      r.message = "output artifact '" + name + "': the step did not write '" + decl.path + "'";
      return;
    }
    r.artifacts[name] = p;
  }
}

class ProcessRunner final : public StepRunner {
 public:
  std::shared_ptr<RunningAttempt> start(const AttemptSpec& spec, const RunnerContext& ctx, AttemptDone done) override {
    auto a = std::make_shared<ProcessAttempt>(spec, ctx, std::move(done));
    a->start();
    return a;
  }
  int stop_orphans(const std::string& run_id) override { return kill_run_orphans(run_id); }
};

class ContainerRunner final : public StepRunner {
 public:
  explicit ContainerRunner(StepRunner& process) : process_(process) {}
  std::shared_ptr<RunningAttempt> start(const AttemptSpec& spec, const RunnerContext& ctx, AttemptDone done) override {
    auto cmd = container_command(spec.container);
    if (!cmd) {
      asio::post(ctx.strand, [done = std::move(done), m = cmd.message()] { done(AttemptResult::error(m)); });
      return std::make_shared<NotStarted>();
    }
    AttemptSpec s = spec;
    s.kind = AttemptKind::Process;
    s.argv = std::move(*cmd);
    s.env.clear();  // in the container's command line
    return process_.start(s, ctx, std::move(done));
  }

 private:
  StepRunner& process_;
};

}  // namespace

std::unique_ptr<StepRunner> make_process_runner() { return std::make_unique<ProcessRunner>(); }
std::unique_ptr<StepRunner> make_container_runner(StepRunner& process) {
  return std::make_unique<ContainerRunner>(process);
}

}  // namespace ctflow

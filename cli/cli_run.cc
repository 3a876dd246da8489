// run, resume, lint, step.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "base/json_text.h"
#include "cli/cli.h"
#include "engine/frontend_v1.h"
#include "engine/junit.h"
#include "engine/params.h"
#include "engine/params_file.h"
#include "engine/plugin_host.h"
#include "engine/scheduler.h"
#include "engine/step_metrics.h"
#include "engine/step_progress.h"

namespace ctflow::cli {
namespace fs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Progress: a redrawn status line on a terminal, plain lines otherwise. Lines
// are gathered and written when the scheduler has committed a batch to the
// store (Scheduler::on_settled, at most 25 ms apart): a 10,000-step run makes
// a few dozen writes to stderr, not 20,000. A running step's own progress
// reports show in the status line ("train 63% epoch 3/4 loss 0.81, 40 s
// left"); off a terminal, as a line at most every kPlainEvery seconds a step.
class Progress {
 public:
  static constexpr double kPlainEvery = 5;
  Progress(size_t total, bool quiet) : total_(total), quiet_(quiet), tty_(isatty(2) != 0) {}
  void event(const StepEvent& e) {
    if (quiet_) return;
    const double elapsed = now();
    if (e.progress) return report(e, elapsed);
    if (e.status == "Running") {
      running_.insert(e.step);
    } else {
      running_.erase(e.step);
      board_.erase(e.step);
      plain_at_.erase(e.step);
      // Fan-out instances and the steps of called templates are not in the total.
      if (e.status != "Pending" && e.step.find_first_of("[/") == std::string::npos) ++done_;
    }
    if (e.status != "Running" || !tty_) {
      std::string line = stamp(elapsed, e.status) + e.step;
      if (e.cached) line += " (cached)";
      if (e.seconds > 0 && e.status != "Running") line += " in " + fmt(e.seconds);
      if (!e.message.empty()) line += ": " + e.message;
      pending_ += line + '\n';
    }
    changed_ = true;
  }
  // Writes what the events since the last call changed.
  void show() {
    if (quiet_ || !changed_) return;
    changed_ = false;
    std::string out;
    if (tty_) out = "\r\033[K";
    out += pending_;
    pending_.clear();
    if (tty_) {
      const double elapsed = now();
      std::string names;
      for (const auto& n : running_) {
        names += (names.empty() ? "" : ", ") + n;
        if (std::string p = board_.text(n, elapsed); !p.empty()) names += " " + p;
      }
      char head[96];
      std::snprintf(head, sizeof head, "[%zu/%zu] %s  running: ", done_, total_, fmt(elapsed).c_str());
      std::string status = head + (names.empty() ? std::string("-") : names);
      // One line, or the next redraw (\r) would leave the wrapped part behind.
      struct winsize ws {};
      if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && status.size() >= ws.ws_col) status.resize(ws.ws_col - 1);
      out += status;
    }
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
  }
  void end() {
    show();
    if (tty_ && !quiet_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  void report(const StepEvent& e, double elapsed) {
    board_.update(e.step, e.progress->done, e.progress->total, e.progress->message, elapsed);
    if (tty_) {
      changed_ = true;
      return;
    }
    auto [it, fresh] = plain_at_.try_emplace(e.step, elapsed);
    if (!fresh && elapsed - it->second < kPlainEvery) return;
    it->second = elapsed;
    pending_ += stamp(elapsed, "Progress") + e.step + " " + board_.text(e.step, elapsed) + '\n';
    changed_ = true;
  }
  double now() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  static std::string stamp(double elapsed, const std::string& status) {
    char line[64];
    std::snprintf(line, sizeof line, "%6.1fs  %-10s ", elapsed, status.c_str());
    return line;
  }
  static std::string fmt(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1fs", s);
    return b;
  }
  size_t total_, done_ = 0;
  bool quiet_, tty_;
  bool changed_ = false;
  std::string pending_;  // lines not yet written
  std::set<std::string> running_;
  ProgressBoard board_;                   // the running steps' own reports
  std::map<std::string, double> plain_at_;  // when a step's last plain progress line went out
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Ctrl-C (SIGINT) and SIGTERM while a run goes on: the first cancels the run
// (steps get SIGTERM, then SIGKILL after the grace period), a second kills
// what runs at once. The library installs no signal handler of its own.
class RunSignals {
 public:
  explicit RunSignals(Scheduler& sched) : signals_(io_, SIGINT, SIGTERM) {
    signals_.async_wait([this, &sched](const boost::system::error_code& ec, int) {
      if (ec) return;
      sched.cancel("cancelled by the user (Ctrl-C)");
      signals_.async_wait([&sched](const boost::system::error_code& ec2, int) {
        if (!ec2) sched.kill_now();
      });
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunSignals() {
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    io_.stop();
    thread_.join();
  }
  RunSignals(const RunSignals&) = delete;
  RunSignals& operator=(const RunSignals&) = delete;

 private:
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  std::thread thread_;
};

int execute(RunStore& store, const Workflow& wf, const Value& params, const std::string& run_id, RunOptions opt,
            const std::string& output) {
  PluginRegistry plugins;
  opt.ctflow_binary = self_path();
  Scheduler sched(wf, params, store, plugins, opt);
  Progress progress(wf.steps.size() + wf.on_exit.size(), output == "json");
  sched.on_event([&](const StepEvent& e) { progress.event(e); });
  sched.on_settled([&] { progress.show(); });
  std::string status;
  {
    RunSignals signals(sched);
    status = sched.run(run_id);
  }
  progress.end();
  if (output == "json") {
    std::cout << run_document(store, run_id).dump(2) << "\n";
  } else {
    auto run = store.get_run(run_id);
    double secs = run ? (run->finished_at - run->started_at) / 1000.0 : 0;
    std::fprintf(stderr, "run %s %s in %.1fs%s\n", run_id.c_str(), status.c_str(), secs,
                 run && !run->message.empty() ? (": " + run->message).c_str() : "");
  }
  if (status == "Succeeded") return kExitOk;
  if (status == "Cancelled") return kExitInterrupted;
  return kExitRunFailed;
}

HostCapacity host_with(double cpus, int gpus, const std::string& memory) {
  HostCapacity h = HostCapacity::detect();
  if (cpus > 0) h.cpus = cpus;
  if (gpus >= 0) h.gpus = gpus;
  if (!memory.empty())
    if (auto m = parse_size(memory)) h.memory = *m;
  return h;
}

}  // namespace

int cmd_lint(const std::vector<std::string>& files, double cpus, int gpus, bool strict,
             const std::vector<std::string>& params) {
  HostCapacity host = host_with(cpus, gpus, "");
  int rc = kExitOk;
  for (const auto& f : files) {
    if (!lint_file(f, host, strict, params)) rc = kExitUsage;
    else std::cerr << f << ": ok\n";
  }
  return rc;
}

namespace {

// A `path` param given with -p as a relative path names a file or folder from
// where `ctflow run` runs (each step runs in a fresh folder of its own, where
// the relative path would name nothing): it is bound as the absolute path.
void absolute_path_params(const Workflow& wf, const std::vector<std::string>& assignments, Value& params) {
  for (const auto& a : assignments) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos) continue;
    const ParamDecl* p = wf.find_param(a.substr(0, eq));
    const fs::path text = a.substr(eq + 1);
    if (!p || p->type != ParamType::Path || text.empty() || !text.is_relative()) continue;
    std::error_code ec;
    if (auto abs = fs::absolute(text, ec); !ec) params[p->name] = abs.lexically_normal().string();
  }
}

}  // namespace

int cmd_run(const Global& g, const RunArgs& a) {
  // The Argo frontend reads its executor from CTFLOW_ARGO_EXECUTOR; the flag sets it.
  if (!a.executor.empty()) ::setenv("CTFLOW_ARGO_EXECUTOR", a.executor.c_str(), 1);
  if (a.resume_suspended) ::setenv("CTFLOW_ARGO_RESUME_SUSPENDED", "1", 1);
  HostCapacity host = host_with(a.cpus, a.gpus, a.memory);
  // -f: its values first, -p after them (and so winning).
  Diagnostics file_diags;
  std::optional<ParamsFile> file;
  std::vector<std::string> assignments = a.params;
  if (!a.params_file.empty()) {
    file = read_params_file(a.params_file, file_diags);
    if (!file) {
      std::cerr << file_diags.render();
      return kExitUsage;
    }
    assignments = file->assignments();
    assignments.insert(assignments.end(), a.params.begin(), a.params.end());
  }
  auto wf = load_and_validate(a.file, host, false, assignments);
  if (!wf) return kExitUsage;
  auto params = file ? bind_params(*wf, *file, a.params, file_diags) : bind_params(*wf, a.params);
  if (!params) {
    if (!file_diags.empty()) std::cerr << file_diags.render();
    else print_error(params.message());
    return kExitUsage;
  }
  absolute_path_params(*wf, a.params, *params);
  if (!a.junit.empty())
    if (auto st = check_junit_path(a.junit); !st.ok()) {
      print_error(st.message());
      return kExitUsage;
    }
  auto store = open_store(g);
  if (!store) return kExitUsage;
  auto run_id = store->create_run(wf->name, a.file, *params, read_file(a.file));
  if (!run_id) {
    print_error(run_id.message());
    return kExitUsage;
  }
  if (!a.trigger_event.empty() && !attach_trigger_event(*store, a.trigger_event, wf->name, *run_id)) {
    (void)store->finish_run(*run_id, "Cancelled", "its trigger firing already has a run");
    return kExitUsage;
  }
  if (a.output != "json") {
    std::cout << *run_id << std::endl;
  }
  RunOptions opt;
  opt.host = host;
  opt.parallelism = a.parallelism;
  opt.no_cache = a.no_cache;
  int rc = execute(*store, *wf, *params, *run_id, opt, a.output);
  if (!a.junit.empty())
    if (auto st = write_junit(*store, *run_id, a.junit); !st.ok()) {
      print_error(st.message());
      if (rc == kExitOk) rc = kExitUsage;  // the run went well, but the report CI waits for is lost
    }
  return rc;
}

int cmd_resume(const Global& g, const std::string& ref, const std::string& output) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  auto id = resolve_run(*store, ref);
  if (!id) return kExitUsage;
  auto run = store->get_run(*id);
  if (!run) {
    print_error(run.message());
    return kExitUsage;
  }
  if (run->status == "Succeeded") {
    print_error("run " + *id + " already Succeeded: nothing to resume");
    return kExitUsage;
  }
  LoadResult r = parse_workflow_text(run->source, run->file, shape_params(run->params));
  if (!r.ok()) {
    std::cerr << r.diags.render();
    return kExitUsage;
  }
  if (auto st = store->set_run_status(*id, "Running"); !st.ok()) {
    print_error(st.message());
    return kExitUsage;
  }
  if (output != "json") std::cout << *id << std::endl;
  RunOptions opt;
  opt.resume = true;
  return execute(*store, *r.workflow, run->params, *id, opt, output);
}

namespace {
std::atomic<bool> g_step_cancel{false};
void on_term(int) { g_step_cancel.store(true); }
}  // namespace

int cmd_step(const StepArgs& a) {
  PluginRegistry plugins;
  const PluginInfo* p = plugins.find(a.plugin);
  if (!p) {
    print_error("unknown plugin '" + a.plugin + "' (see 'ctflow plugins')");
    return kExitUsage;
  }
  Value params = Value::object();
  std::string text = !a.params_json.empty() ? a.params_json : (!a.params_file.empty() ? read_file(a.params_file) : "{}");
  params = Value::parse(text, nullptr, false);
  if (params.is_discarded() || !params.is_object()) {
    print_error("--params must be a JSON object");
    return kExitUsage;
  }
  for (const auto& kv : a.param_texts) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      print_error("--param " + kv + ": write --param KEY=TEXT");
      return kExitUsage;
    }
    std::string key = kv.substr(0, eq);
    const PluginParamInfo* decl = p->find_param(key);
    if (!decl) {
      print_error("--param " + kv + ": plugin '" + p->name + "' has no parameter '" + key + "'");
      return kExitUsage;
    }
    ParamDecl d;
    d.name = key;
    d.type = decl->type;
    auto v = coerce_param_value(d, Value(kv.substr(eq + 1)));
    // A json parameter given text that is not JSON is that text (a string):
    // `--param message=hi there`, as `ctflow export argo` passes a templated value.
    if (!v && decl->type == ParamType::Json) v = Value(kv.substr(eq + 1));
    if (!v) {
      print_error("--param " + kv + ": parameter '" + key + "' is " + to_string(decl->type) + " and " + v.message());
      return kExitUsage;
    }
    params[key] = *v;
  }
  if (a.out.empty()) {
    print_error("--out DIR is required");
    return kExitUsage;
  }
  std::error_code ec;
  fs::create_directories(a.out, ec);
  fs::path work = a.work.empty() ? fs::path(a.out) / "work" : fs::path(a.work);
  fs::create_directories(work, ec);
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  PluginInvocation inv;
  inv.plugin = p;
  inv.params = params;
  inv.out_dir = a.out;
  inv.work_dir = work;
  inv.store_dir = a.store.empty() ? (fs::current_path() / ".ctflow") : fs::path(a.store);
  inv.run_id = a.run_id;
  inv.step = a.step.empty() ? a.plugin : a.step;
  inv.cpu_threads = a.cpus;
  inv.gpus = a.gpus;
  inv.cancel = &g_step_cancel;
  if (const char* m = std::getenv("CTFLOW_METRICS")) inv.metrics_path = m;  // the plugin's progress goes there
  PluginOutcome out = invoke_plugin(inv);
  // An exported sweep trial (engine/export/sweep_fold.h): its objective, the
  // last value of that metric, as output `objective` ("" when it reported none),
  // a file as the others and published (--publish-param) as they are.
  if (const char* objective = std::getenv("CTFLOW_OBJECTIVE"); objective && *objective) {
    std::optional<double> last;
    for (const auto& m : out.metrics)
      if (m.value("name", "") == objective && m.contains("value") && m["value"].is_number())
        last = m["value"].get<double>();
    if (!inv.metrics_path.empty()) {
      const MetricsBatch lines = MetricsFileReader(inv.metrics_path).finish();
      for (const auto& point : lines.points)
        if (point.name == objective) last = point.value;
    }
    out.outputs["objective"] = last ? Value(*last) : Value("");
  }
  // Output parameters also as one file each (Argo reads them with valueFrom.path).
  fs::create_directories(fs::path(a.out) / "outputs", ec);
  for (auto it = out.outputs.begin(); it != out.outputs.end(); ++it)
    std::ofstream(fs::path(a.out) / "outputs" / it.key()) << (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  auto publish = [&](const std::vector<std::string>& specs, bool artifact) {
    for (const auto& spec : specs) {
      size_t eq = spec.find('=');
      if (eq == std::string::npos) continue;
      std::string name = spec.substr(0, eq);
      fs::path dest = spec.substr(eq + 1);
      fs::create_directories(dest.parent_path(), ec);
      if (artifact) {
        auto it = out.artifacts.find(name);
        if (it != out.artifacts.end())
          fs::copy(it->second, dest, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
      } else if (out.outputs.contains(name)) {
        const Value& v = out.outputs[name];
        std::ofstream(dest) << (v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
  };
  if (out.ok) {
    publish(a.publish_params, false);
    publish(a.publish_artifacts, true);
  }
  fs::path tmp = fs::path(a.out) / "result.json.tmp";
  {
    std::ofstream f(tmp);
    f << out.to_json().dump();
  }
  fs::rename(tmp, fs::path(a.out) / "result.json", ec);
  if (!out.ok) std::cerr << "ctflow: step failed: " << out.error << "\n";
  return out.ok ? kExitOk : kExitRunFailed;
}

}  // namespace ctflow::cli

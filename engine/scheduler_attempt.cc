// One attempt of an instance: its values rendered, its spec for the runner,
// its result, its timeout, and the retry that may follow it.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "engine/scheduler_impl.h"
#include "engine/template.h"

#include <spdlog/spdlog.h>

namespace ctflow {
namespace fs = std::filesystem;

namespace {

std::string instance_dir_name(const std::string& instance) {
  std::string out;
  for (char c : instance) {
    if (c == '[' || c == '/') out += '.';  // caller[2]/child -> caller.2.child
    else if (c != ']') out += c;
  }
  return out;
}

// The devices a step's process sees for the GPU slots it holds: slot I is the
// engine's own I-th visible device (its CUDA_VISIBLE_DEVICES list when set, so
// `CUDA_VISIBLE_DEVICES=2,3 ctflow run` hands out 2 and 3), else device I.
std::vector<std::string> gpu_devices(const std::vector<int>& slots) {
  std::vector<std::string> visible;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES"); v != nullptr && *v != '\0') {
    std::string item;
    for (const char* p = v;; ++p) {
      if (*p == ',' || *p == '\0') {
        if (!item.empty()) visible.push_back(item);
        item.clear();
        if (*p == '\0') break;
      } else if (*p != ' ') {
        item += *p;
      }
    }
  }
  std::vector<std::string> out;
  for (int s : slots)
    out.push_back(static_cast<size_t>(s) < visible.size() ? visible[static_cast<size_t>(s)] : std::to_string(s));
  return out;
}

std::string join_commas(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

}  // namespace

Result<Scheduler::Impl::Rendered> Scheduler::Impl::render_attempt(StepState& s, Instance& inst) {
  const Step& st = *s.step;
  Rendered r;
  auto with = render(s, &inst, st.with);
  if (!with) return with.status();
  r.with = std::move(*with);
  for (const auto& a : st.run) {
    auto v = render(s, &inst, Value(a));
    if (!v) return v.status();
    r.argv.push_back(value_text(*v));
  }
  if (st.kind == StepKind::Shell) {
    auto v = render(s, &inst, Value(st.shell));
    if (!v) return v.status();
    r.argv = {"/bin/sh", "-c", value_text(*v)};
  }
  if (!st.image.empty()) {
    auto v = render(s, &inst, Value(st.image));
    if (!v) return v.status();
    r.image = value_text(*v);
  }
  if (st.kind == StepKind::Plugin) {
    r.plugin = svc_.find_plugin ? svc_.find_plugin(st.uses) : nullptr;
    if (!r.plugin) return Status::Error("unknown plugin '" + st.uses + "'");
  }
  return r;
}

void Scheduler::Impl::start_attempt(Instance& inst) {
  StepState& s = *inst.step;
  ++inst.attempt;
  inst.timed_out = false;
  inst.status = NodeStatus::Running;
  inst.attempt_started_at = clock_.now_ms();
  if (inst.attempt == 1) inst.started_at = inst.attempt_started_at;
  if (inst.attempt == 1 && keep_previous(inst)) return;

  auto r = render_attempt(s, inst);
  if (!r) return attempt_ended(inst, NodeStatus::Errored, r.message());
  const Step& st = *s.step;
  inst.inputs = {{"with", r->with}, {"kind", to_string(st.kind)}};
  if (inst.trial >= 0) inst.inputs["trial"] = inst.trial_params;
  if (r->plugin) {
    inst.inputs["plugin"] = r->plugin->name;
    inst.inputs["version"] = r->plugin->version;
  } else {
    inst.inputs["argv"] = r->argv;
  }
  if (!r->image.empty()) inst.inputs["image"] = r->image;
  if (inst.attempt == 1) {
    record_inputs(inst, r->with);
    if (!r->plugin) record_inputs(inst, Value(r->argv));
  }
  if (st.cache_enabled() && !opt_.no_cache) {
    inst.cache_key = cache_key(inst, *r);
    if (inst.attempt == 1 && use_cached(inst)) return;
  }

  AttemptSpec spec = attempt_spec(inst, *r);
  inst.log_path = spec.log_path;
  watch_metrics(inst, spec.metrics_path);
  record_instance(inst);
  emit(inst.name, NodeStatus::Running, inst.attempt > 1 ? "attempt " + std::to_string(inst.attempt) : "", 0, false);
  if (st.timeout_s > 0)
    inst.timeout_timer = clock_.after(strand_, st.timeout_s, [this, &inst] { guarded(&inst, nullptr, [&] { on_timeout(inst); }); });
  const int attempt = inst.attempt;
  inst.running = runner_.start(spec, runner_ctx_, [this, &inst, attempt](AttemptResult res) {
    guarded(&inst, nullptr, [&] { on_result(inst, attempt, std::move(res)); });
  });
}

// What the runner needs for this attempt: folders, log, command line or plugin call.
AttemptSpec Scheduler::Impl::attempt_spec(Instance& inst, const Rendered& r) {
  const Step& st = *inst.step->step;
  AttemptSpec spec;
  spec.run_id = run_id_;
  spec.instance = inst.name;
  spec.attempt = inst.attempt;
  const std::string dir_name = instance_dir_name(inst.name);
  spec.work_dir = run_work_dir_ / dir_name;
  spec.out_dir = run_work_dir_ / ".out" / dir_name;
  spec.metrics_path = (run_work_dir_ / ".metrics" / (dir_name + ".jsonl")).string();
  spec.log_path = (run_logs_dir_ / (dir_name + ".log")).string();
  const int cpus = std::max(1, static_cast<int>(std::ceil(st.resources.cpu > 0 ? st.resources.cpu : 1)));
  if (in_process(st) && r.image.empty()) {
    // Its folders and log are made when it first uses them: a step that
    // writes nothing costs no folder and no file.
    spec.kind = AttemptKind::InProcess;
    spec.clear_files = inst.attempt > 1 || opt_.resume;
    PluginInvocation& inv = spec.invocation;
    inv.plugin = r.plugin;
    inv.params = r.with;
    inv.out_dir = spec.out_dir;
    inv.work_dir = spec.work_dir;
    inv.store_dir = journal_.dir();
    inv.run_id = run_id_;
    inv.step = inst.name;
    inv.cpu_threads = std::max(1, static_cast<int>(std::ceil(st.resources.cpu)));
    inv.gpus = st.resources.gpu;
    inv.metrics_path = spec.metrics_path;
    return spec;
  }
  spec.make_out_dir = st.kind == StepKind::Plugin || !r.image.empty();
  spec.capture_stdout = st.kind != StepKind::Plugin;
  spec.argv = r.argv;
  if (st.kind == StepKind::Plugin) {
    spec.params_json = json_text(r.with);
    spec.plugin_result = true;
    spec.argv = {opt_.ctflow_binary.string(), "step", "--plugin", st.uses, "--params",
                 (spec.out_dir / "params.json").string(), "--out", spec.out_dir.string(), "--work",
                 spec.work_dir.string(), "--store", journal_.dir().string(), "--run-id", run_id_, "--step", inst.name,
                 "--cpus", std::to_string(cpus), "--gpus", std::to_string(st.resources.gpu)};
  } else {
    spec.output_params = st.output_params;
    spec.output_artifacts = st.output_artifacts;
    for (auto it = r.with.begin(); it != r.with.end(); ++it) {
      std::string key = it.key();
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return std::isalnum(c) ? std::toupper(c) : '_'; });
      spec.env.push_back("CTFLOW_PARAM_" + key + "=" + value_text(it.value()));
    }
  }
  for (const auto& [k, v] : st.env) spec.env.push_back(k + "=" + v);
  spec.env.push_back("CTFLOW_RUN_ID=" + run_id_);
  spec.env.push_back("CTFLOW_STEP=" + inst.name);
  if (r.image.empty()) spec.env.push_back("CTFLOW_METRICS=" + spec.metrics_path);
  spec.env.push_back("OMP_NUM_THREADS=" + std::to_string(cpus));
  // A container is given its devices by the runtime, where they are numbered from 0.
  if (!inst.gpus.empty() && r.image.empty())
    spec.env.push_back("CUDA_VISIBLE_DEVICES=" + join_commas(gpu_devices(inst.gpus)));
  if (!r.image.empty()) {
    spec.kind = AttemptKind::Container;  // the metrics file is under out/, which the container sees
    spec.metrics_path = (spec.out_dir / "metrics.jsonl").string();
    spec.env.push_back("CTFLOW_METRICS=" + spec.metrics_path);
    container_spec(spec, inst, r);
  }
  return spec;
}

void Scheduler::Impl::container_spec(AttemptSpec& spec, Instance& inst, const Rendered& r) {
  const Step& st = *inst.step->step;
  spec.kind = AttemptKind::Container;
  ContainerSpec& c = spec.container;
  c.image = r.image;
  c.argv = spec.argv;
  c.env = spec.env;
  c.work_dir = spec.work_dir;
  c.mounts_rw = {spec.work_dir, spec.out_dir};
  c.mounts_ro = {journal_.blobs_dir()};
  if (st.kind == StepKind::Plugin) c.mounts_rw.push_back(journal_.dir());
  c.network = st.network;
  c.gpus = st.resources.gpu;
  c.gpu_devices = gpu_devices(inst.gpus);
  c.name = "ctflow-" + run_id_ + "-" + instance_dir_name(inst.name) + "-" + std::to_string(inst.attempt);
}

// The step's outputs given by an expression (OutputParamDecl::expression), as text.
Status Scheduler::Impl::output_expressions(Instance& inst) {
  for (const auto& [name, d] : inst.step->step->output_params) {
    if (d.expression.empty()) continue;
    auto parsed = expr::Expr::parse(d.expression, expr::Syntax::ExprLang);
    if (auto* err = std::get_if<expr::ParseError>(&parsed))
      return Status::Error("output '" + name + "' (" + d.expression + "): " + err->message);
    auto v = std::get<expr::Expr>(parsed).eval([&](const std::string& ref) { return resolve(*inst.step, &inst, ref); });
    if (!v) return Status::Error("output '" + name + "' (" + d.expression + "): " + v.message());
    inst.outputs[name] = v->is_string() ? *v : Value(v->is_null() ? "" : v->dump());
  }
  return Status::Ok();
}

void Scheduler::Impl::on_result(Instance& inst, int attempt, AttemptResult r) {
  // Already ended (a timeout of an in-process call); a retry of it may be
  // running by now, and this (old) attempt's result must not end that one.
  if (inst.status != NodeStatus::Running || inst.attempt != attempt) return;
  inst.result = std::move(r.stdout_tail);
  inst.exit_code = r.exit_code;
  if (inst.cancelled) return attempt_ended(inst, NodeStatus::Cancelled, "cancelled by the user");
  if (inst.stopping) return attempt_ended(inst, NodeStatus::Stopped, inst.stop_message);
  if (inst.timed_out)
    return attempt_ended(inst, NodeStatus::Failed, "timed out after " + fmt_seconds(inst.step->step->timeout_s) +
                                                       " (attempt " + std::to_string(inst.attempt) + ")");
  inst.outputs = std::move(r.outputs);
  if (!inst.outputs.is_object()) inst.outputs = Value::object();
  record_metrics(inst, r.metrics, r.confusions);
  if (r.status != NodeStatus::Succeeded) return attempt_ended(inst, r.status, std::move(r.message));
  if (Status st = output_expressions(inst); !st.ok()) return attempt_ended(inst, NodeStatus::Failed, st.message());
  commit_artifacts(inst, std::move(r.artifacts));
}

// Stores the attempt's output artifacts (hashing them is a job off the strand).
void Scheduler::Impl::commit_artifacts(Instance& inst, std::map<std::string, fs::path> paths) {
  if (paths.empty()) return attempt_ended(inst, NodeStatus::Succeeded, "");
  const int attempt = inst.attempt;
  auto arts = std::make_shared<Value>(Value::object());
  auto error = std::make_shared<std::string>();
  run(
      [this, paths = std::move(paths), arts, error] {
        for (const auto& [name, p] : paths) {
          auto stored = journal_.put_blob(p);
          if (!stored) {
            *error = "output artifact '" + name + "': " + stored.message();
            return;
          }
          (*arts)[name] = {{"digest", stored->digest}, {"size", stored->size}, {"kind", stored->kind},
                           {"path", stored->path.string()}};
        }
      },
      [this, &inst, attempt, arts, error] {
        guarded(&inst, nullptr, [&] {
          // An in-process attempt can time out while its artifacts are committed.
          if (inst.status != NodeStatus::Running || inst.attempt != attempt) return;
          if (!error->empty()) return attempt_ended(inst, NodeStatus::Failed, *error);
          inst.artifacts = *arts;
          note_artifacts(inst.artifacts);
          record_artifacts(inst, inst.artifacts);
          attempt_ended(inst, NodeStatus::Succeeded, "");
        });
      });
}

void Scheduler::Impl::on_timeout(Instance& inst) {
  if (inst.status != NodeStatus::Running) return;
  inst.timed_out = true;
  // An in-process plugin cannot be killed: the attempt ends now; its thread
  // finishes in the background and its result is dropped.
  if (inst.running && !inst.running->stop())
    attempt_ended(inst, NodeStatus::Failed, "timed out after " + fmt_seconds(inst.step->step->timeout_s));
}

void Scheduler::Impl::attempt_ended(Instance& inst, NodeStatus status, std::string message) {
  if (inst.status != NodeStatus::Running) return;
  inst.timeout_timer.reset();
  end_metrics(inst);
  if (inst.running) {
    inst.running->close_log(status != NodeStatus::Succeeded ? message : "");
    inst.running.reset();
  }
  record_attempt(inst, status, message);
  if (retry(inst, status, message)) return;
  finish_instance(inst, status, std::move(message));
}

// A retry policy's expression, over the attempt that just ended; false (no
// retry) where it does not hold or cannot be read, which the step's log tells.
bool Scheduler::Impl::retry_expression_holds(Instance& inst, NodeStatus status, const std::string& message) {
  const std::string& written = inst.step->step->retry.expression;
  auto pasted = tmpl::render(written, [&](const std::string& ref) -> Result<Value> {
    auto v = resolve(*inst.step, &inst, ref);
    if (!v) return v;
    return Value(value_text(*v));
  });
  std::string why;
  bool holds = false;
  if (!pasted) {
    why = pasted.message();
  } else {
    const std::string text = value_text(*pasted);
    auto parsed = expr::Expr::parse(text);
    if (auto* err = std::get_if<expr::ParseError>(&parsed)) {
      why = "'" + text + "': " + err->message;
    } else {
      const double took = (clock_.now_ms() - inst.attempt_started_at) / 1000.0;
      auto v = std::get<expr::Expr>(parsed).eval_bool([&](const std::string& ref) -> Result<Value> {
        if (ref == "lastRetry.exitCode") return Value(std::to_string(inst.exit_code));
        if (ref == "lastRetry.status") return Value(status == NodeStatus::Errored ? "Error" : "Failed");
        if (ref == "lastRetry.duration") return Value(std::to_string(static_cast<int64_t>(took)));
        if (ref == "lastRetry.message") return Value(message);
        return Status::Error("unknown reference '" + ref + "' (a retry expression reads lastRetry.exitCode, "
                             "lastRetry.status, lastRetry.duration and lastRetry.message)");
      });
      if (v) holds = *v;
      else why = v.message();
    }
  }
  if (!why.empty()) spdlog::warn("step '{}': retry expression: {}; not retrying", inst.name, why);
  return holds;
}

// Starts the backoff before the next attempt when the policy allows one.
bool Scheduler::Impl::retry(Instance& inst, NodeStatus status, const std::string& message) {
  const RetryPolicy& r = inst.step->step->retry;
  bool retryable = (status == NodeStatus::Failed && (inst.timed_out ? r.on_timeout : r.on_failed)) ||
                   (status == NodeStatus::Errored && r.on_error);
  if (!retryable || inst.attempt > r.limit || cancelling_) return false;
  if (!r.expression.empty() && !retry_expression_holds(inst, status, message)) return false;
  double delay = r.delay_before(inst.attempt + 1);
  inst.status = NodeStatus::Pending;
  inst.message = message;
  release(inst);
  emit(inst.name, NodeStatus::Pending,
       "attempt " + std::to_string(inst.attempt) + " " + to_string(status) + ": " + message + "; retrying in " +
           fmt_seconds(delay),
       0, false);
  record_instance(inst);
  ++waiting_retry_;
  inst.retry_timer = clock_.after(strand_, delay, [this, &inst] {
    guarded(&inst, nullptr, [&] {
      inst.retry_timer.reset();
      --waiting_retry_;
      queue_.push_front(&inst);
      try_dispatch();
      maybe_finish();  // the run stopped (fail-fast) meanwhile: it never starts; end the run
    });
  });
  return true;
}

}  // namespace ctflow

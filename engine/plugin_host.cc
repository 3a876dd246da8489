#include "engine/plugin_host.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>

#include "base/json_text.h"
#include "engine/registry_host.h"
#include "engine/step_progress.h"

namespace ctflow {
namespace fs = std::filesystem;

}  // namespace ctflow

// The opaque context the plugin sees: it must live in the global namespace to
// match the C declaration in ctflow/plugin.h.
struct ctflow_ctx {
  const ctflow::PluginInvocation* inv;
  ctflow::PluginOutcome* out;
  std::map<std::string, std::string> param_text;  // JSON text handed out
  std::map<std::string, std::string> artifact_paths;
  std::string work_dir, store_dir;
  bool work_dir_made = false;
  std::unique_ptr<ctflow::ProgressWriter> progress;  // made on the first report
  std::deque<std::string> handed_out;  // strings returned to the plugin, valid until run returns
  std::mutex mu;  // plugins may call from worker threads
};

namespace ctflow {
namespace {

const char* host_param(ctflow_ctx* c, const char* name) {
  std::lock_guard<std::mutex> lock(c->mu);
  auto it = c->param_text.find(name);
  return it == c->param_text.end() ? nullptr : it->second.c_str();
}

int host_set_output(ctflow_ctx* c, const char* name, const char* json) {
  const PluginOutputInfo* o = c->inv->plugin->find_output(name);
  if (o == nullptr || o->artifact) return -1;
  Value v = Value::parse(json ? json : "", nullptr, false);
  if (v.is_discarded()) return -1;
  std::lock_guard<std::mutex> lock(c->mu);
  c->out->outputs[name] = std::move(v);
  return 0;
}

const char* host_artifact_path(ctflow_ctx* c, const char* name) {
  const PluginOutputInfo* o = c->inv->plugin->find_output(name);
  if (o == nullptr || !o->artifact) return nullptr;
  std::lock_guard<std::mutex> lock(c->mu);
  auto it = c->artifact_paths.find(name);
  if (it == c->artifact_paths.end()) {
    fs::path p = c->inv->out_dir / "artifacts" / name;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    it = c->artifact_paths.emplace(name, p.string()).first;
  }
  return it->second.c_str();
}

// The working folder is made when a plugin first asks for it: most plugins never
// do, and an in-process step then costs no folder at all.
const char* host_work_dir(ctflow_ctx* c) {
  std::lock_guard<std::mutex> lock(c->mu);
  if (!c->work_dir_made && !c->work_dir.empty()) {
    std::error_code ec;
    fs::create_directories(c->work_dir, ec);
    c->work_dir_made = true;
  }
  return c->work_dir.c_str();
}
const char* host_store_dir(ctflow_ctx* c) { return c->store_dir.c_str(); }
const char* host_run_id(ctflow_ctx* c) { return c->inv->run_id.c_str(); }
const char* host_step_name(ctflow_ctx* c) { return c->inv->step.c_str(); }

void host_log(ctflow_ctx* c, int level, const char* message) {
  if (c->inv->log) {
    c->inv->log(level, message ? message : "");
    return;
  }
  static const char* kLevels[] = {"debug", "info", "warn", "error"};
  std::fprintf(stderr, "[%s] %s\n", kLevels[std::clamp(level, 0, 3)], message ? message : "");
  std::fflush(stderr);
}

int host_metric_scalar(ctflow_ctx* c, const char* name, double value) {
  if (name == nullptr || !std::isfinite(value)) return -1;
  std::lock_guard<std::mutex> lock(c->mu);
  c->out->metrics.push_back({{"name", name}, {"kind", "scalar"}, {"index", 0}, {"value", value}});
  return 0;
}

// A series point goes to the step's CTFLOW_METRICS file at once, so that the
// engine reads it while the plugin runs (a sweep's early stopping needs the
// per-epoch values live); without that file, or when it cannot be written,
// it comes back with the outcome at the end.
int host_metric_series(ctflow_ctx* c, const char* name, int64_t step, double value) {
  if (name == nullptr || !std::isfinite(value)) return -1;
  try {  // nothing may cross the C ABI
    if (!c->inv->metrics_path.empty() && append_line(c->inv->metrics_path, metric_line(name, step, value))) return 0;
  } catch (const std::exception&) {
  }
  std::lock_guard<std::mutex> lock(c->mu);
  c->out->metrics.push_back({{"name", name}, {"kind", "series"}, {"index", step}, {"value", value}});
  return 0;
}

int host_metric_confusion(ctflow_ctx* c, const char* name, int n, const char* const* labels, const int64_t* counts) {
  if (name == nullptr || n <= 0 || labels == nullptr || counts == nullptr) return -1;
  Value l = Value::array(), k = Value::array();
  for (int i = 0; i < n; ++i) l.push_back(labels[i] ? labels[i] : "");
  for (int i = 0; i < n * n; ++i) k.push_back(counts[i]);
  std::lock_guard<std::mutex> lock(c->mu);
  c->out->confusions.push_back({{"name", name}, {"labels", l}, {"counts", k}});
  return 0;
}

// Keeps TEXT alive until `run` returns and hands out its characters.
const char* hand_out(ctflow_ctx* c, std::string text) {
  std::lock_guard<std::mutex> lock(c->mu);
  return c->handed_out.emplace_back(std::move(text)).c_str();
}

const char* host_model_current(ctflow_ctx* c, const char* name) {
  auto v = registry_current(c->store_dir, name ? name : "");
  if (v) return hand_out(c, json_text(*v));
  host_log(c, CTFLOW_LOG_ERROR, ("model registry: " + v.message()).c_str());
  return nullptr;
}

int host_model_register_promote(ctflow_ctx* c, const char* request_json, const char** result_json) {
  Result<Value> r = Status::Internal("model registry: unexpected failure");
  try {  // nothing may cross the C ABI
    Value request = Value::parse(request_json ? request_json : "", nullptr, false);
    r = request.is_discarded() ? Result<Value>(Status::InvalidArgument("the request is not JSON text"))
                               : registry_register_promote(c->store_dir, request, c->inv->run_id, c->inv->step);
  } catch (const std::exception& e) {
    r = Status::Internal(std::string("model registry: ") + e.what());
  }
  const char* text = hand_out(c, json_text(r ? *r : Value{{"error", r.message()}}));
  if (result_json != nullptr) *result_json = text;
  return r ? 0 : -1;
}

const char* host_artifact_digest(ctflow_ctx* c, const char* path) {
  auto d = registry_file_digest(path ? path : "");
  if (d) return hand_out(c, *d);
  host_log(c, CTFLOW_LOG_ERROR, d.message().c_str());
  return nullptr;
}

int host_data_tag(ctflow_ctx* c, const char* tag, const char* digest) {
  Status st = Status::Internal("data tag: unexpected failure");
  try {  // nothing may cross the C ABI
    st = registry_data_tag(c->store_dir, tag ? tag : "", digest ? digest : "");
  } catch (const std::exception& e) {
    st = Status::Internal(std::string("data tag: ") + e.what());
  }
  if (st.ok()) return 0;
  host_log(c, CTFLOW_LOG_ERROR, ("data tag: " + st.message()).c_str());
  return -1;
}

const char* host_data_resolve(ctflow_ctx* c, const char* ref) {
  Result<Value> v = Status::Internal("data version: unexpected failure");
  try {  // nothing may cross the C ABI
    v = registry_data_resolve(c->store_dir, ref ? ref : "");
  } catch (const std::exception& e) {
    v = Status::Internal(std::string("data version: ") + e.what());
  }
  if (v) return hand_out(c, json_text(*v));
  host_log(c, CTFLOW_LOG_ERROR, ("data version: " + v.message()).c_str());
  return nullptr;
}

int host_progress(ctflow_ctx* c, double done, double total, const char* message) {
  if (!std::isfinite(done) || !std::isfinite(total)) return -1;
  if (c->inv->metrics_path.empty()) return 0;
  ProgressWriter* w = nullptr;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    if (!c->progress) c->progress = std::make_unique<ProgressWriter>(c->inv->metrics_path);
    w = c->progress.get();
  }
  try {  // nothing may cross the C ABI
    w->report(done, total, message ? message : "");
  } catch (const std::exception&) {
  }
  return 0;
}

int host_cancelled(ctflow_ctx* c) { return c->inv->cancel != nullptr && c->inv->cancel->load() ? 1 : 0; }
int host_cpu_threads(ctflow_ctx* c) { return std::max(1, c->inv->cpu_threads); }
int host_gpus(ctflow_ctx* c) { return c->inv->gpus; }

const ctflow_host_api kHostApi = {
    CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_host_api), host_param,          host_set_output,
    host_artifact_path,        host_work_dir,           host_log,            host_metric_scalar,
    host_metric_series,        host_metric_confusion,   host_cancelled,      host_cpu_threads,
    host_gpus,                 host_store_dir,          host_run_id,         host_step_name,
    host_model_current,        host_model_register_promote, host_artifact_digest, host_progress,
    host_data_tag,             host_data_resolve};

}  // namespace

Value PluginOutcome::to_json() const {
  Value arts = Value::object();
  for (const auto& [n, p] : artifacts) arts[n] = p.string();
  return {{"ok", ok}, {"error", error}, {"outputs", outputs}, {"artifacts", arts}, {"metrics", metrics},
          {"confusions", confusions}};
}

PluginOutcome PluginOutcome::from_json(const Value& v) {
  PluginOutcome o;
  o.ok = v.value("ok", false);
  o.error = v.value("error", std::string());
  if (v.contains("outputs") && v["outputs"].is_object()) o.outputs = v["outputs"];
  if (v.contains("artifacts") && v["artifacts"].is_object())
    for (auto it = v["artifacts"].begin(); it != v["artifacts"].end(); ++it)
      o.artifacts[it.key()] = it.value().get<std::string>();
  if (v.contains("metrics") && v["metrics"].is_array()) o.metrics = v["metrics"];
  if (v.contains("confusions") && v["confusions"].is_array()) o.confusions = v["confusions"];
  return o;
}

PluginOutcome invoke_plugin(const PluginInvocation& inv) {
  PluginOutcome out;
  ctflow_ctx ctx;
  ctx.inv = &inv;
  ctx.out = &out;
  ctx.work_dir = inv.work_dir.string();
  ctx.store_dir = inv.store_dir.string();
  for (const auto& p : inv.plugin->params) {
    if (inv.params.contains(p.name)) ctx.param_text[p.name] = json_text(inv.params[p.name]);
    else if (p.default_value) ctx.param_text[p.name] = p.default_value->dump();
  }
  char* error = nullptr;
  int rc = inv.plugin->desc->run(&ctx, &kHostApi, &error);
  if (ctx.progress) ctx.progress->flush();  // the last report always lands
  out.ok = rc == 0;
  if (!out.ok) out.error = error ? error : "plugin " + inv.plugin->name + " failed (code " + std::to_string(rc) + ")";
  std::free(error);
  if (out.ok) {
    for (const auto& o : inv.plugin->outputs) {
      if (!o.artifact) continue;
      auto it = ctx.artifact_paths.find(o.name);
      std::error_code ec;
      if (it == ctx.artifact_paths.end() || !fs::exists(it->second, ec)) {
        out.ok = false;
        out.error = "plugin " + inv.plugin->name + " did not write its artifact '" + o.name + "'";
        break;
      }
      out.artifacts[o.name] = it->second;
    }
  }
  return out;
}

}  // namespace ctflow

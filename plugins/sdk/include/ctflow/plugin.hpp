// A thin C++ layer over the ctflow plugin C ABI (ctflow/plugin.h). Nothing here
// crosses the ABI: C++ exceptions thrown by a plugin body are caught in
// ctflow::sdk::run_adapter and turned into the ABI's error string.
#pragma once

#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctflow/plugin.h"

namespace ctflow::sdk {

// Thrown by a plugin body to fail the step with a message for the user.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Context {
 public:
  Context(ctflow_ctx* ctx, const ctflow_host_api* host) : ctx_(ctx), host_(host) {}

  // The parameter's JSON value, or nullopt when it was neither given nor defaulted.
  std::optional<nlohmann::json> param(const char* name) const {
    const char* text = host_->param(ctx_, name);
    if (text == nullptr) return std::nullopt;
    return nlohmann::json::parse(text);
  }
  nlohmann::json require(const char* name) const {
    auto v = param(name);
    if (!v || v->is_null()) throw PluginError(std::string("parameter '") + name + "' is required");
    return *v;
  }
  std::string str(const char* name) const {
    auto v = require(name);
    return v.is_string() ? v.get<std::string>() : v.dump();
  }
  int64_t integer(const char* name) const {
    auto v = require(name);
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
      return static_cast<int64_t>(v.get<double>());
    if (v.is_string()) {
      char* end = nullptr;
      const std::string s = v.get<std::string>();
      long long n = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0') return n;
    }
    throw PluginError(std::string("parameter '") + name + "' must be an integer, got " + v.dump());
  }
  double number(const char* name) const {
    auto v = require(name);
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
      char* end = nullptr;
      const std::string s = v.get<std::string>();
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0') return d;
    }
    throw PluginError(std::string("parameter '") + name + "' must be a number, got " + v.dump());
  }
  bool boolean(const char* name) const {
    auto v = require(name);
    if (v.is_boolean()) return v.get<bool>();
    if (v == "true") return true;
    if (v == "false") return false;
    throw PluginError(std::string("parameter '") + name + "' must be true or false, got " + v.dump());
  }

  void output(const char* name, const nlohmann::json& value) const {
    if (host_->set_output(ctx_, name, value.dump().c_str()) != 0)
      throw PluginError(std::string("output '") + name + "' is not declared by this plugin");
  }
  std::string artifact_path(const char* name) const {
    const char* p = host_->artifact_path(ctx_, name);
    if (p == nullptr) throw PluginError(std::string("artifact '") + name + "' is not declared by this plugin");
    return p;
  }
  std::string work_dir() const { return host_->work_dir(ctx_); }
  std::string store_dir() const { return host_->store_dir(ctx_); }
  std::string run_id() const { return host_->run_id(ctx_); }
  std::string step_name() const { return host_->step_name(ctx_); }
  // The model registry (host functions added after ABI version 1): each throws
  // PluginError when the host is too old to have it or the store fails.
  // The Production version of NAME (JSON, see ctflow/plugin.h); null when none.
  nlohmann::json model_current(const char* name) const {
    need(CTFLOW_HOST_HAS(host_, model_current), "model_current");
    const char* text = host_->model_current(ctx_, name);
    if (text == nullptr) throw PluginError(std::string("cannot read model '") + name + "' from the model registry");
    return nlohmann::json::parse(text);
  }
  // Registers and, when it beats Production, promotes in one transaction.
  nlohmann::json model_register_promote(const nlohmann::json& request) const {
    need(CTFLOW_HOST_HAS(host_, model_register_promote), "model_register_promote");
    const char* text = nullptr;
    const std::string req = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const int rc = host_->model_register_promote(ctx_, req.c_str(), &text);
    nlohmann::json result = nlohmann::json::parse(text != nullptr ? text : "null", nullptr, false);
    if (rc != 0)
      throw PluginError("model registry: " + (result.is_object() ? result.value("error", std::string("failed"))
                                                                 : std::string("failed")));
    return result;
  }
  // The store's digest ("sha256:<hex>") of the regular file at PATH.
  std::string artifact_digest(const std::string& path) const {
    need(CTFLOW_HOST_HAS(host_, artifact_digest), "artifact_digest");
    const char* d = host_->artifact_digest(ctx_, path.c_str());
    if (d == nullptr) throw PluginError("cannot hash '" + path + "'");
    return d;
  }
  // Names DIGEST as data version TAG ("NAME@VERSION") in the run's store.
  void data_tag(const std::string& tag, const std::string& digest) const {
    need(CTFLOW_HOST_HAS(host_, data_tag), "data_tag");
    if (host_->data_tag(ctx_, tag.c_str(), digest.c_str()) != 0)
      throw PluginError("cannot tag " + digest + " as data version '" + tag + "'");
  }
  // What REF (a data version "NAME@VERSION", or the path of a stored
  // artifact) names in the run's store (JSON, see ctflow/plugin.h); null when
  // it names nothing.
  nlohmann::json data_resolve(const std::string& ref) const {
    need(CTFLOW_HOST_HAS(host_, data_resolve), "data_resolve");
    const char* text = host_->data_resolve(ctx_, ref.c_str());
    if (text == nullptr) throw PluginError("cannot resolve data version '" + ref + "' in the run's store");
    return nlohmann::json::parse(text);
  }
  // Reports progress (see ctflow/plugin.h): DONE of TOTAL (<= 0: unknown) and a
  // short message. A host too old to show progress ignores it: progress never
  // fails a step.
  void progress(double done, double total, const std::string& message = "") const {
    if (CTFLOW_HOST_HAS(host_, progress)) host_->progress(ctx_, done, total, message.c_str());
  }
  int cpu_threads() const { return host_->cpu_threads(ctx_); }
  int gpus() const { return host_->gpus(ctx_); }
  bool cancelled() const { return host_->cancelled(ctx_) != 0; }

  void log(int level, const std::string& message) const { host_->log(ctx_, level, message.c_str()); }
  void info(const std::string& message) const { log(CTFLOW_LOG_INFO, message); }
  void warn(const std::string& message) const { log(CTFLOW_LOG_WARN, message); }

  void scalar(const char* name, double value) const { host_->metric_scalar(ctx_, name, value); }
  void series(const char* name, int64_t step, double value) const {
    host_->metric_series(ctx_, name, step, value);
  }
  void confusion(const char* name, const std::vector<std::string>& labels,
                 const std::vector<int64_t>& counts) const {
    std::vector<const char*> l;
    for (const auto& s : labels) l.push_back(s.c_str());
    host_->metric_confusion(ctx_, name, static_cast<int>(labels.size()), l.data(), counts.data());
  }

 private:
  static void need(bool has, const char* what) {
    if (!has) throw PluginError(std::string("this ctflow is too old for the plugin: its host has no ") + what);
  }
  ctflow_ctx* ctx_;
  const ctflow_host_api* host_;
};

inline char* dup_error(const char* what) {
  size_t n = std::strlen(what) + 1;
  char* s = static_cast<char*>(std::malloc(n));
  if (s != nullptr) std::memcpy(s, what, n);
  return s;
}

// Adapts `void Body(const Context&)` to the ABI's run function.
template <void (*Body)(const Context&)>
int run_adapter(ctflow_ctx* ctx, const ctflow_host_api* host, char** error) noexcept {
  try {
    Body(Context(ctx, host));
    return 0;
  } catch (const std::exception& e) {
    if (error != nullptr) *error = dup_error(e.what());
  } catch (...) {
    if (error != nullptr) *error = dup_error("unknown C++ exception in plugin");
  }
  return 1;
}

}  // namespace ctflow::sdk

// Defines the library's entry point over a list of `ctflow_plugin_desc` objects.
#define CTFLOW_EXPORT_PLUGINS(...)                                                            \
  extern "C" __attribute__((visibility("default"))) int ctflow_plugins_v1(                   \
      uint32_t host_abi, const ctflow_plugin_desc* const** plugins, size_t* count) {          \
    static const ctflow_plugin_desc* const kList[] = {__VA_ARGS__};                            \
    if (host_abi < 1u) return 1;                                                               \
    *plugins = kList;                                                                          \
    *count = sizeof(kList) / sizeof(kList[0]);                                                 \
    return 0;                                                                                  \
  }

#include "web/serve/handler_host.h"

#include "engine/plugin_registry.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "store/artifact_store.h"
#include "store/run_store.h"

namespace ctflow::serve {

namespace fs = std::filesystem;

Result<std::string> handler_config(RunStore& store, const ModelVersion& mv, int threads, bool cuda) {
  ArtifactStore blobs(store.blobs_dir());
  nlohmann::json artifacts = nlohmann::json::object();
  for (const auto& [k, digest] : mv.artifacts.items()) {
    if (!digest.is_string()) continue;
    auto a = blobs.get(digest.get<std::string>());
    if (!a) return Status::Error("artifact '" + k + "' of '" + mv.name + "' v" + std::to_string(mv.version) + ": " + a.message());
    artifacts[k] = a->path.string();
  }
  const nlohmann::json config = {{"artifacts", artifacts}, {"threads", threads}, {"cuda", cuda},
                                 {"params", mv.params}, {"metrics", mv.metrics}};
  return json_text(config);
}

HandlerRegistry::HandlerRegistry(std::vector<fs::path> search_path) : path_(std::move(search_path)) {}

HandlerRegistry::~HandlerRegistry() {
  // Handlers' code stays mapped until exit: models may still be unloading.
}

void HandlerRegistry::load_library(const fs::path& lib) {
  std::error_code ec;
  const std::string key = fs::weakly_canonical(lib, ec).string();
  if (tried_.count(key)) return;
  tried_[key] = true;
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) return;
  auto entry = reinterpret_cast<ctflow_handlers_v1_fn>(dlsym(h, CTFLOW_HANDLER_ENTRY));
  const ctflow_handler_desc* const* list = nullptr;
  size_t count = 0;
  if (entry == nullptr || entry(CTFLOW_HANDLER_ABI_VERSION, &list, &count) != 0) return;
  handles_.push_back(h);
  for (size_t i = 0; i < count; ++i) {
    const ctflow_handler_desc* d = list[i];
    if (d == nullptr || d->abi_version != CTFLOW_HANDLER_ABI_VERSION || d->size < CTFLOW_HANDLER_V1_SIZE) continue;
    handlers_.emplace(d->name, d);
  }
}

Result<const ctflow_handler_desc*> HandlerRegistry::find(const std::string& name) {
  std::lock_guard lock(mu_);
  if (auto it = handlers_.find(name); it != handlers_.end()) return it->second;
  for (const auto& lib : plugin_libraries(path_, name.substr(0, name.find('.')))) load_library(lib);
  if (auto it = handlers_.find(name); it != handlers_.end()) return it->second;
  if (!scanned_all_) {
    scanned_all_ = true;
    for (const auto& lib : plugin_libraries(path_)) load_library(lib);
  }
  if (auto it = handlers_.find(name); it != handlers_.end()) return it->second;
  std::string known;
  for (const auto& [n, d] : handlers_) known += (known.empty() ? "" : ", ") + n;
  std::string where;
  for (const auto& d : path_) where += (where.empty() ? "" : ":") + d.string();
  return Status::Error("no model handler named '" + name + "' in the plugin path (" + where + "); " +
                       (known.empty() ? "no library there has handlers" : "the handlers there: " + known) +
                       "; set CTFLOW_PLUGIN_PATH or --handler");
}

Result<std::unique_ptr<LoadedModel>> LoadedModel::load(const ctflow_handler_desc* handler, const std::string& config_json) {
  char* error = nullptr;
  ctflow_model* m = handler->load(config_json.c_str(), &error);
  if (m == nullptr) {
    std::string msg = error != nullptr ? error : "no reason given";
    std::free(error);
    return Status::Error(std::string(handler->name) + " cannot load the model: " + msg);
  }
  return std::unique_ptr<LoadedModel>(new LoadedModel(handler, m));
}

LoadedModel::~LoadedModel() { handler_->unload(model_); }

Status LoadedModel::predict(const float* inputs, int64_t n, std::vector<std::string>& answers, std::vector<int64_t>& classes,
                            std::vector<double>* distances) {
  raw_.assign(static_cast<size_t>(n), nullptr);
  classes.assign(static_cast<size_t>(n), -1);
  char* error = nullptr;
  int rc = 0;
  if (distances != nullptr) distances->assign(static_cast<size_t>(n), std::nan(""));
  if (distances != nullptr && CTFLOW_HANDLER_HAS(handler_, predict_nn))
    rc = handler_->predict_nn(model_, inputs, n, raw_.data(), classes.data(), distances->data(), &error);
  else
    rc = handler_->predict(model_, inputs, n, raw_.data(), classes.data(), &error);
  answers.resize(static_cast<size_t>(n));
  bool missing = false;
  for (size_t i = 0; i < raw_.size(); ++i) {
    if (raw_[i] == nullptr) {
      missing = true;
      answers[i].clear();
    } else {
      answers[i] = raw_[i];
      std::free(raw_[i]);
    }
  }
  if (rc != 0) {
    std::string msg = error != nullptr ? error : "no reason given";
    std::free(error);
    return Status::Error(std::string(handler_->name) + ": " + msg);
  }
  if (missing) return Status::Error(std::string(handler_->name) + " returned no answer for some inputs");
  return Status::Ok();
}

std::function<std::string(const std::string&, float*)> LoadedModel::row_decoder() const {
  const ctflow_handler_desc* h = handler_;
  return [h](const std::string& row, float* out) -> std::string {
    char* error = nullptr;
    if (h->decode_row(row.c_str(), out, &error) == 0) return "";
    std::string msg = error != nullptr ? error : "the row cannot be decoded";
    std::free(error);
    return msg;
  };
}

}  // namespace ctflow::serve

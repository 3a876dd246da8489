// Finds model handlers (plugins/sdk/include/ctflow/handler.h) in the plugin
// libraries on the plugin search path, and wraps a loaded model.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ctflow/handler.h"
#include "base/status.h"

namespace ctflow {
class RunStore;
struct ModelVersion;
}  // namespace ctflow

namespace ctflow::serve {

// The config a handler's load() gets for a registered version: its artifacts
// resolved to (verified) blob paths in STORE, the compute threads, CUDA, and
// the version's params and metrics.
Result<std::string> handler_config(RunStore& store, const ModelVersion& version, int threads, bool cuda);

class HandlerRegistry {
 public:
  explicit HandlerRegistry(std::vector<std::filesystem::path> search_path);
  ~HandlerRegistry();
  HandlerRegistry(const HandlerRegistry&) = delete;
  HandlerRegistry& operator=(const HandlerRegistry&) = delete;
  // The handler NAME ("family.name"): libctflow_<family>.so first, then every
  // library on the path. The error lists the handlers that exist.
  Result<const ctflow_handler_desc*> find(const std::string& name);

 private:
  void load_library(const std::filesystem::path& lib);
  std::mutex mu_;
  std::vector<std::filesystem::path> path_;
  std::vector<void*> handles_;
  std::map<std::string, bool> tried_;
  std::map<std::string, const ctflow_handler_desc*> handlers_;
  bool scanned_all_ = false;
};

// A model loaded by a handler. predict() from one thread at a time.
class LoadedModel {
 public:
  static Result<std::unique_ptr<LoadedModel>> load(const ctflow_handler_desc* handler, const std::string& config_json);
  ~LoadedModel();
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;
  // N inputs; fills one JSON answer and one class per input, and with DISTANCES
  // each input's distance to its nearest training example (NaN when the
  // handler does not say: it predates predict_nn, or the model has none).
  Status predict(const float* inputs, int64_t n, std::vector<std::string>& answers, std::vector<int64_t>& classes,
                 std::vector<double>* distances = nullptr);
  // For a tabular handler (one with decode_row): the row decoder of input.h.
  std::function<std::string(const std::string&, float*)> row_decoder() const;
  int height() const { return handler_->input_height; }
  int width() const { return handler_->input_width; }
  const ctflow_handler_desc& handler() const { return *handler_; }

 private:
  LoadedModel(const ctflow_handler_desc* h, ctflow_model* m) : handler_(h), model_(m) {}
  const ctflow_handler_desc* handler_;
  ctflow_model* model_;
  std::vector<char*> raw_;
};

}  // namespace ctflow::serve

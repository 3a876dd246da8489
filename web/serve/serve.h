// `ctflow serve`: the inference server. HTTP/1.1 on Boost.Beast over Asio, an
// API after TorchServe's:
//   POST /predictions/{model}[/{version}]   PNG, {"data": [...]}, {"instances": [...]}
//   GET  /ping                               {"status": "Healthy"} once a model is warm
//   GET  /models, GET /models/{model}        what is loaded
//   POST /models/{model}/{version}           load a version from the model registry, warm it
//   PUT  /models/{model}/{version}/set-default   switch traffic to it (atomic)
//   DELETE /models/{model}/{version}         unload it
//   GET  /models/{model}/drift               the drift window against the version's profile
//   GET  /metrics                            Prometheus text (ctflow_serve_drift_* included)
// Models come from the store's model registry (mnist.deploy registers them)
// and run in a model handler from a plugin library (ctflow/handler.h).
//
// Rollouts lose no request: a version takes traffic only once loaded and
// warmed up; set-default swaps a pointer under a lock; a request keeps the
// version it started on until its answer is written; an unloaded version
// finishes its queue before it goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace ctflow::serve {

struct ServeOptions {
  std::string addr = "127.0.0.1:8081";  // HOST:PORT; port 0 picks a free one
  std::filesystem::path store_dir = ".ctflow";
  std::vector<std::string> models;      // NAME or NAME:VERSION to load at start; empty: every Production model
  std::string handler;                  // overrides the handler the registry records
  std::string token;                    // management token; empty: generated when bound off loopback
  std::optional<bool> require_token;    // unset: exactly when not on loopback, or a token was given
  int64_t max_batch = 32;               // inputs per forward pass
  std::chrono::microseconds max_delay{2000};
  int64_t max_request_batch = 256;      // inputs in one request ("instances")
  size_t max_body = 8u << 20;           // bytes; more gets 413
  int threads = 1;                      // compute threads per model
  int io_threads = 1;                   // HTTP threads
  int warmup = 3;                       // warm-up passes before a version takes traffic
  int64_t drift_window = 500;           // inputs per model in the drift window (GET /models/{model}/drift)
  bool cuda = false;
  bool quiet = false;
  std::vector<std::filesystem::path> plugin_path;  // empty: the default plugin search path
};

class Server {
 public:
  explicit Server(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Binds, then loads the models asked for at start.
  Status start();
  uint16_t port() const;
  const std::string& token() const;
  bool token_required() const;
  // A model is loaded and warm: /ping answers Healthy.
  bool healthy() const;
  // Serves until stop() or, with handle_signals, SIGINT/SIGTERM.
  void run(bool handle_signals);
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// `ctflow serve`. Returns the exit code.
int run_serve(const ServeOptions& options);

}  // namespace ctflow::serve

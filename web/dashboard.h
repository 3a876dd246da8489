// The dashboard: `ctflow ui`. An HTTP server (Boost.Beast over Asio, one thread)
// that serves the dashboard's static files (built into the binary) and a JSON
// API over the store (web/api.h), with live updates as server-sent events.
//
// Safety: binds to loopback by default. When bound to any other address every
// POST needs "Authorization: Bearer TOKEN" (the token from --token, or one made
// up at start and printed, as Jupyter does). Artifacts are served by digest
// only: no path taken from a request ever reaches the filesystem.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace ctflow {
class RunStore;
}

namespace ctflow::web {

// Builds the run document of the CLI spec (cli/: run_document). The
// dashboard adds the DAG and the attempts to it.
using RunDocumentFn = std::function<nlohmann::json(RunStore&, const std::string&)>;

struct DashboardOptions {
  std::string addr = "127.0.0.1:8080";      // HOST:PORT; port 0 picks a free one
  std::string token;                        // empty: generated when one is required
  // Require the bearer token on POSTs. Unset: required exactly when ADDR is not loopback.
  std::optional<bool> require_token;
  std::filesystem::path store_dir = ".ctflow";
  std::filesystem::path workflows_dir = "workflows";
  std::string ctflow_bin;                   // the binary to spawn for submit/resume
  RunDocumentFn run_document;               // empty: a built-in equivalent
  int poll_ms = 300;                        // how often event streams look at the store
  bool quiet = false;                       // no banner on stdout
};

class DashboardServer {
 public:
  explicit DashboardServer(DashboardOptions options);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // Opens the store and binds. After it succeeds, port() and token() are known.
  Status start();
  uint16_t port() const;
  const std::string& token() const;
  bool token_required() const;
  // Serves until stop() (callable from any thread) or SIGINT/SIGTERM when
  // handle_signals is set.
  void run(bool handle_signals = false);
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// `ctflow ui`: starts, prints where to point a browser, serves until Ctrl-C.
// Returns the exit code (0, or 2 when it cannot start).
int run_dashboard(const DashboardOptions& options);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

}  // namespace ctflow::web

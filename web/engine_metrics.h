// The engine's Prometheus metrics, from the store: served on /metrics by
// `ctflow ui` and `ctflow daemon`.
//   ctflow_runs_total{workflow,status}                      counter
//   ctflow_step_duration_seconds{workflow}                  histogram
//   ctflow_trigger_firings_total{workflow,trigger,outcome}  counter
//   ctflow_workflow_last_success_timestamp_seconds{workflow} gauge
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/io_context.hpp>

#include "base/status.h"

namespace ctflow {
class RunStore;
}

namespace ctflow::web {

// The text exposition format (version 0.0.4).
std::string engine_metrics_text(RunStore& store);

// A small HTTP server for `ctflow daemon`: POST /hooks/{workflow}/{trigger}
// and GET /metrics, on the caller's io_context.
struct SmallRequest {
  std::string method, path, body, authorization;
};
struct SmallResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};
class SmallServer {
 public:
  using Handler = std::function<SmallResponse(const SmallRequest&)>;
  SmallServer(boost::asio::io_context& ioc, Handler handler);
  ~SmallServer();
  Status listen(const std::string& addr);
  uint16_t port() const;
  bool loopback() const;
  void close();
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ctflow::web

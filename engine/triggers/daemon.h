// `ctflow daemon`: runs the triggers of workflows until stopped. One Asio
// io_context, timers for schedules, watch polls and drift polls, no busy
// loops. Each firing is recorded in the store, keyed by (workflow, trigger,
// slot), before anything starts; a run is a child `ctflow run` process in its
// own session (a run survives the daemon's stop or crash, the daemon survives
// a run's crash), told its firing with --trigger-event.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
#include <vector>

#include <boost/asio/io_context.hpp>

#include "base/status.h"
#include "engine/ir.h"
#include "store/run_store.h"

namespace ctflow::triggers {

struct DaemonOptions {
  std::vector<Workflow> workflows;       // validated, with their file names
  std::filesystem::path store_dir = ".ctflow";
  std::string ctflow_bin;                // what runs `ctflow run`
  int64_t watch_poll_ms = 0;             // 0: from each watch's settle (at most 1s)
  std::function<void(const std::string&)> log;  // one line per event; empty: stderr
};

struct WebhookReply {
  int status = 200;
  Value body = Value::object();
};

class Daemon {
 public:
  Daemon(DaemonOptions options, boost::asio::io_context& ioc);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Opens the store, settles firings a previous daemon left pending, catches
  // up on missed schedule slots and arms every trigger.
  Status start();
  // Cancels the timers; runs already started go on as their own processes.
  void stop();
  // POST /hooks/{workflow}/{trigger}. TOKEN_REQUIRED: the server is reachable
  // beyond loopback (then a trigger without token_env needs DAEMON_TOKEN).
  WebhookReply webhook(const std::string& workflow, const std::string& trigger, const std::string& body,
                       const std::string& authorization, bool token_required, const std::string& daemon_token);
  RunStore& store() { return *store_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<RunStore> store_;
};

}  // namespace ctflow::triggers

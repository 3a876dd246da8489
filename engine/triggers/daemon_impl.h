// The daemon's state, shared by daemon.cc (firings, processes, schedules,
// webhooks) and daemon_sources.cc (watched folders, drift polls).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio.hpp>

#include "engine/triggers/daemon.h"
#include "engine/triggers/logic.h"

namespace ctflow::triggers {

namespace asio = boost::asio;

struct Armed {
  const Workflow* wf = nullptr;
  const Trigger* t = nullptr;
  std::vector<CronSchedule> crons;        // schedule
  int64_t last_s = 0;                     // schedule: the last slot handled
  std::unique_ptr<asio::system_timer> timer;
  SettleTracker settle;                   // watch
  std::filesystem::path watch_dir;        // watch
  int64_t baseline_ms = 0;                // watch: entries older than this were there before
  bool drift_down = false;                // drift: the last poll failed (logged once)
  std::string drift_seen;                 // drift: the last answer recorded as a sample
  int64_t drift_seen_ms = 0;
};

struct Daemon::Impl {
  Impl(DaemonOptions o, asio::io_context& c) : options(std::move(o)), ioc(c), sigchld(c, SIGCHLD) {}
  DaemonOptions options;
  asio::io_context& ioc;
  RunStore* store = nullptr;
  std::vector<std::unique_ptr<Armed>> armed;
  std::map<int64_t, std::pair<std::string, std::string>> children;  // pid -> (workflow, trigger/slot key)
  std::map<int64_t, TriggerFiring> child_firing;
  asio::signal_set sigchld;
  bool stopped = false;

  void log(const std::string& line) const;
  // Decides and records one firing (F has workflow, trigger, slot, slot_time,
  // event); starts its run when the policies allow. The outcome is in F.
  void fire(Armed& a, TriggerFiring& f);
  void spawn(Armed& a, TriggerFiring& f, const std::map<std::string, std::string>& params);
  std::vector<std::string> active_runs(const std::string& workflow);
  void recover();
  void reap();
  void wait_child();
  void arm_schedule(Armed& a);
  void tick_schedule(Armed& a);
  void arm_watch(Armed& a);
  void poll_watch(Armed& a);
  void arm_drift(Armed& a);
  void poll_drift(Armed& a);
  void on_drift(Armed& a, const std::string& error, const Value& answer);
  void record_drift_sample(Armed& a, const Value& answer, int64_t now);
  Value base_event(const Armed& a, const std::string& type, const std::string& slot, int64_t time_ms) const;
};

// True when PID is a live process.
bool process_alive(int64_t pid);

}  // namespace ctflow::triggers

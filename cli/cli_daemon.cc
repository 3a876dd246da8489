// daemon, triggers: running a workflow's triggers, and what they did.
#include <iostream>
#include <set>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio.hpp>

#include "base/json_text.h"
#include "base/time.h"
#include "cli/cli.h"
#include "engine/triggers/daemon.h"
#include "engine/triggers/logic.h"
#include "web/engine_metrics.h"
#include "web/listen.h"

namespace ctflow::cli {

bool attach_trigger_event(RunStore& store, const std::string& event_json, const std::string& workflow,
                          const std::string& run_id) {
  Value ev = Value::parse(event_json, nullptr, false);
  if (ev.is_discarded() || !ev.is_object() || !ev.value("trigger", Value()).is_string() ||
      !ev.value("slot", Value()).is_string()) {
    print_error("--trigger-event takes a JSON object with \"trigger\" and \"slot\" (ctflow daemon writes it)");
    return false;
  }
  ev["workflow"] = workflow;
  const std::string trigger = ev["trigger"], slot = ev["slot"];
  TriggerFiring f;
  f.workflow = workflow;
  f.trigger = trigger;
  f.slot = slot;
  f.slot_time = now_ms();
  f.event = ev;
  f.outcome = "pending";
  (void)store.record_firing(f);  // a run started by hand with an event: record the firing it names
  auto ok = store.attach_firing_run(workflow, trigger, slot, run_id);
  if (!ok || !*ok) {
    print_error("the firing " + workflow + "/" + trigger + " " + slot + " already has a run; not running it twice");
    return false;
  }
  return true;
}

namespace {

std::vector<Workflow> load_all(const std::vector<std::string>& files, bool& ok) {
  std::vector<Workflow> out;
  std::set<std::string> names;
  ok = true;
  for (const auto& f : files) {
    auto wf = load_and_validate(f, HostCapacity::detect());
    if (!wf) {
      ok = false;
      continue;
    }
    if (!names.insert(wf->name).second) {
      print_error(f + ": a second workflow named '" + wf->name + "': each workflow the daemon runs needs its own name");
      ok = false;
      continue;
    }
    out.push_back(std::move(*wf));
  }
  return out;
}

web::SmallResponse handle(triggers::Daemon& d, const web::SmallRequest& q, bool token_required, const std::string& token) {
  if (q.path == "/metrics") {
    if (q.method != "GET" && q.method != "HEAD") return {405, "application/json", R"({"error":"use GET"})"};
    return {200, "text/plain; version=0.0.4", web::engine_metrics_text(d.store())};
  }
  if (q.path.rfind("/hooks/", 0) == 0) {
    const std::string rest = q.path.substr(7);
    const size_t slash = rest.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 >= rest.size() || rest.find('/', slash + 1) != std::string::npos)
      return {404, "application/json", json_text(Value{{"error", "webhooks are at POST /hooks/{workflow}/{trigger}"}})};
    if (q.method != "POST")
      return {405, "application/json", json_text(Value{{"error", "a webhook takes POST with a JSON body"}})};
    auto r = d.webhook(rest.substr(0, slash), rest.substr(slash + 1), q.body, q.authorization, token_required, token);
    return {r.status, "application/json", json_text(r.body)};
  }
  return {404, "application/json",
          json_text(Value{{"error", "not found: this daemon serves POST /hooks/{workflow}/{trigger} and GET /metrics"}})};
}

}  // namespace

int cmd_daemon(const Global& g, const std::vector<std::string>& files, const std::string& addr) {
  bool ok = true;
  triggers::DaemonOptions opt;
  opt.workflows = load_all(files, ok);
  if (!ok) return kExitUsage;
  size_t count = 0;
  for (const auto& wf : opt.workflows) {
    if (wf.triggers.empty()) std::cerr << "ctflow daemon: " << wf.file << " has no triggers: it never runs here\n";
    count += wf.triggers.size();
  }
  opt.store_dir = g.store_dir();
  opt.ctflow_bin = self_path();
  boost::asio::io_context ioc(1);
  triggers::Daemon daemon(std::move(opt), ioc);
  if (auto st = daemon.start(); !st) {
    print_error(st.message());
    return kExitUsage;
  }
  std::string token;
  bool token_required = false;
  web::SmallServer server(ioc, [&](const web::SmallRequest& q) { return handle(daemon, q, token_required, token); });
  if (auto st = server.listen(addr); !st) {
    print_error(st.message());
    daemon.stop();
    return kExitUsage;
  }
  token_required = !server.loopback();
  if (token_required) {
    const char* env = std::getenv("CTFLOW_DAEMON_TOKEN");
    token = env && *env ? env : web::make_token();
  }
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    std::cerr << "ctflow daemon: " << (sig == SIGINT ? "interrupted" : "terminated")
              << ": stopping; the runs it started go on (see ctflow list)" << std::endl;
    daemon.stop();
    server.close();
    ioc.stop();
  });
  const std::string host = addr.substr(0, addr.rfind(':'));
  std::cout << "ctflow daemon: " << count << " trigger(s) of " << files.size() << " workflow(s); store "
            << g.store_dir().string() << "; webhooks and /metrics on http://" << (host.empty() ? "127.0.0.1" : host)
            << ":" << server.port() << "/" << std::endl;
  if (token_required)
    std::cout << "ctflow daemon: webhooks without token_env need 'Authorization: Bearer " << token << "'" << std::endl;
  ioc.run();
  return kExitOk;
}

namespace {

Value trigger_row(const Workflow& wf, const Trigger& t, int64_t now_s) {
  Value row = {{"workflow", wf.name}, {"trigger", t.name}, {"type", to_string(t.kind)}, {"file", wf.file}};
  if (t.kind == TriggerKind::Schedule) {
    row["schedule"] = t.schedules;
    row["timezone"] = t.timezone.empty() ? "UTC" : t.timezone;
    if (triggers::compile_schedules(t)) row["next"] = triggers::next_firings(t, now_s);
  } else if (t.kind == TriggerKind::Watch) {
    row["watch"] = t.watch;
  } else if (t.kind == TriggerKind::Drift) {
    row["drift"] = {{"server", t.drift_server}, {"model", t.drift_model}, {"above", t.drift_above}};
  } else {
    row["webhook"] = "/hooks/" + wf.name + "/" + t.name;
  }
  return row;
}

Value firing_json(const TriggerFiring& f) {
  return {{"slot", f.slot}, {"time", iso8601(f.slot_time)}, {"outcome", f.outcome}, {"reason", f.reason},
          {"run_id", f.run_id}, {"event", f.event}};
}

}  // namespace

int cmd_triggers(const Global& g, const std::vector<std::string>& files, const std::string& output, int limit) {
  bool ok = true;
  auto workflows = load_all(files, ok);
  if (!ok) return kExitUsage;
  std::unique_ptr<RunStore> store;
  if (files.empty() || std::filesystem::exists(g.store_dir() / "ctflow.db")) {
    store = open_store(g);
    if (!store) return kExitUsage;
  }
  const int64_t now_s = now_ms() / 1000;
  Value rows = Value::array();
  std::set<std::pair<std::string, std::string>> listed;
  for (const auto& wf : workflows)
    for (const auto& t : wf.triggers) {
      rows.push_back(trigger_row(wf, t, now_s));
      listed.insert({wf.name, t.name});
    }
  if (store && files.empty())
    if (auto all = store->list_firings("", "", 100000))
      for (const auto& f : *all)
        if (listed.insert({f.workflow, f.trigger}).second)
          rows.push_back({{"workflow", f.workflow}, {"trigger", f.trigger}, {"type", f.event.value("type", "")}});
  for (auto& row : rows) {
    row["history"] = Value::array();
    if (store)
      if (auto h = store->list_firings(row["workflow"], row["trigger"], limit))
        for (const auto& f : *h) row["history"].push_back(firing_json(f));
  }
  if (output == "json") {
    std::cout << rows.dump(2) << "\n";
    return kExitOk;
  }
  if (rows.empty()) std::cout << "no triggers (give workflow files, or a store where a daemon ran)\n";
  for (const auto& row : rows) {
    std::cout << row["workflow"].get<std::string>() << "/" << row["trigger"].get<std::string>() << "  ("
              << row["type"].get<std::string>();
    if (row.contains("schedule")) std::cout << " " << row["schedule"].dump() << " in " << row["timezone"].get<std::string>();
    if (row.contains("watch")) std::cout << " " << row["watch"].get<std::string>();
    if (row.contains("webhook")) std::cout << " POST " << row["webhook"].get<std::string>();
    if (row.contains("drift")) std::cout << " " << row["drift"].dump();
    std::cout << ")\n";
    for (const auto& n : row.value("next", Value::array()))
      std::cout << "  next: " << n["local"].get<std::string>() << "  =  " << n["utc"].get<std::string>() << "\n";
    for (const auto& h : row["history"])
      std::cout << "  " << h["time"].get<std::string>() << "  " << h["outcome"].get<std::string>() << "  "
                << (h["run_id"].get<std::string>().empty() ? "" : h["run_id"].get<std::string>() + "  ")
                << h["reason"].get<std::string>() << "  [" << h["slot"].get<std::string>() << "]\n";
  }
  return kExitOk;
}

}  // namespace ctflow::cli

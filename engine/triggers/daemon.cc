#include "engine/triggers/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <random>

#include "base/json_text.h"
#include "base/time.h"
#include "engine/triggers/daemon_impl.h"

extern char** environ;

namespace ctflow::triggers {

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

void Daemon::Impl::log(const std::string& line) const {
  if (options.log) options.log(line);
  else std::cerr << "ctflow daemon: " << line << std::endl;
}

Value Daemon::Impl::base_event(const Armed& a, const std::string& type, const std::string& slot, int64_t time_ms) const {
  return Value{{"workflow", a.wf->name}, {"trigger", a.t->name}, {"type", type}, {"slot", slot},
               {"time", iso8601(time_ms)}};
}

std::vector<std::string> Daemon::Impl::active_runs(const std::string& workflow) {
  reap();  // a child that just ended is not a run still going
  std::vector<std::string> out;
  auto open = store->open_firings(workflow);
  if (!open) {
    log("cannot read the firings of " + workflow + ": " + open.message());
    return out;
  }
  for (const auto& f : *open) {
    if (!f.run_id.empty()) {
      auto run = store->get_run(f.run_id);
      if (run && (run->status == "Running" || run->status == "Pending") &&
          (process_alive(run->owner_pid) || process_alive(f.pid)))
        out.push_back(f.run_id);
    } else if (process_alive(f.pid)) {
      out.push_back("(starting, pid " + std::to_string(f.pid) + ")");
    }
  }
  return out;
}

void Daemon::Impl::fire(Armed& a, TriggerFiring& f) {
  const Trigger& t = *a.t;
  f.workflow = a.wf->name;
  f.trigger = t.name;
  f.fired_at = now_ms();
  auto record = [&](const char* outcome, std::string reason) {
    f.outcome = outcome;
    f.reason = std::move(reason);
    auto r = store->record_firing(f);
    if (!r) log("cannot record the firing " + f.workflow + "/" + f.trigger + " " + f.slot + ": " + r.message());
    else if (*r) log(f.workflow + "/" + f.trigger + " " + f.slot + ": " + f.outcome + (f.reason.empty() ? "" : " (" + f.reason + ")"));
    return r.ok() && *r;
  };
  if (auto seen = store->get_firing(f.workflow, f.trigger, f.slot); seen && *seen) {
    f = **seen;  // handled before (by this daemon or one before it): never twice
    return;
  }
  if (t.cooldown_s > 0) {
    auto last = store->latest_firing(f.workflow, t.name, "started");
    if (last && *last && f.slot_time - (*last)->slot_time < static_cast<int64_t>(t.cooldown_s * 1000)) {
      // One record per cooldown window, however often the condition holds in it.
      if (t.kind == TriggerKind::Drift) f.slot = "cooldown-after:" + (*last)->slot;
      record("skipped", "cooldown: run " + (*last)->run_id + " started at " + iso8601((*last)->slot_time));
      return;
    }
  }
  auto params = render_params(t, f.event);
  if (!params) {
    record("failed", params.message());
    return;
  }
  auto active = active_runs(f.workflow);
  const ConcurrencyDecision d = decide_concurrency(t, active);
  if (d.action == ConcurrencyDecision::Action::Skip) {
    record("skipped", d.reason);
    return;
  }
  if (!record("pending", d.action == ConcurrencyDecision::Action::Replace ? d.reason : "")) return;
  if (d.action == ConcurrencyDecision::Action::Replace)
    for (const auto& id : active)
      if (auto run = store->get_run(id); run && run->owner_pid > 0)
        ::kill(static_cast<pid_t>(run->owner_pid), SIGTERM);  // `ctflow run` cancels its run on SIGTERM
  spawn(a, f, *params);
}

void Daemon::Impl::spawn(Armed& a, TriggerFiring& f, const std::map<std::string, std::string>& params) {
  std::vector<std::string> args = {options.ctflow_bin, "--store", options.store_dir.string(), "run", a.wf->file};
  for (const auto& [k, v] : params) {
    args.push_back("-p");
    args.push_back(k + "=" + v);
  }
  args.push_back("--trigger-event");
  args.push_back(json_text(f.event));
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::error_code ec;
  const auto log_dir = options.store_dir / "logs" / "triggers";
  std::filesystem::create_directories(log_dir, ec);
  const std::string log_path = (log_dir / (a.wf->name + "." + a.t->name + ".log")).string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGHUP}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  // Its own session: Ctrl-C on the daemon's terminal does not reach the run.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    f.outcome = "failed";
    f.reason = "cannot start " + options.ctflow_bin + ": " + std::strerror(rc);
  } else {
    f.pid = pid;
    children[pid] = {f.workflow, f.trigger};
    child_firing[pid] = f;
    log(f.workflow + "/" + f.trigger + " " + f.slot + ": started ctflow run (pid " + std::to_string(pid) + ", log " +
        log_path + ")");
  }
  // The child may have named its run already: keep what it wrote.
  if (auto now = store->get_firing(f.workflow, f.trigger, f.slot); now && *now && !(*now)->run_id.empty()) {
    f.run_id = (*now)->run_id;
    f.outcome = (*now)->outcome;
  }
  if (auto st = store->update_firing(f); !st) log("cannot record the firing's process: " + st.message());
}

void Daemon::Impl::reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    auto it = child_firing.find(pid);
    if (it == child_firing.end()) continue;
    TriggerFiring f = it->second;
    child_firing.erase(it);
    children.erase(pid);
    auto now = store->get_firing(f.workflow, f.trigger, f.slot);
    if (!now || !*now) continue;
    if ((*now)->run_id.empty() && (*now)->outcome == "pending") {
      TriggerFiring g = **now;
      g.outcome = "failed";
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      g.reason = "ctflow run ended (exit " + std::to_string(code) + ") before its run started; see " +
                 (options.store_dir / "logs" / "triggers" / (f.workflow + "." + f.trigger + ".log")).string();
      (void)store->update_firing(g);
      log(f.workflow + "/" + f.trigger + " " + f.slot + ": failed (" + g.reason + ")");
    }
  }
}

void Daemon::Impl::wait_child() {
  sigchld.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    reap();
    wait_child();
  });
}

void Daemon::Impl::recover() {
  for (auto& a : armed) {
    auto open = store->open_firings(a->wf->name);
    if (!open) continue;
    for (auto f : *open) {
      if (f.trigger != a->t->name || !f.run_id.empty() || f.outcome != "pending") continue;
      if (process_alive(f.pid)) continue;  // still starting: it names its run itself
      if (f.pid == 0) {
        // Recorded, then the daemon stopped before the run began: start it now (not lost).
        auto params = render_params(*a->t, f.event);
        if (!params) {
          f.outcome = "failed";
          f.reason = params.message();
          (void)store->update_firing(f);
          continue;
        }
        log(f.workflow + "/" + f.trigger + " " + f.slot + ": recorded before the daemon stopped; starting it now");
        spawn(*a, f, *params);
      } else {
        f.outcome = "failed";
        f.reason = "its ctflow run (pid " + std::to_string(f.pid) + ") ended before its run started";
        (void)store->update_firing(f);
      }
    }
  }
}

void Daemon::Impl::arm_schedule(Armed& a) {
  auto last = store->latest_firing(a.wf->name, a.t->name);
  const int64_t now_s = now_ms() / 1000;
  a.last_s = last && *last ? (*last)->slot_time / 1000 : now_s;
  if (a.last_s > now_s) a.last_s = now_s;
  a.timer = std::make_unique<asio::system_timer>(ioc);
  tick_schedule(a);
}

void Daemon::Impl::tick_schedule(Armed& a) {
  if (stopped) return;
  const int64_t now_s = now_ms() / 1000;
  int64_t older = 0;
  auto due = plan_due_slots(*a.t, a.crons, a.last_s, now_s, 1000, &older);
  if (older > 0 && !due.empty()) {
    TriggerFiring gap;
    gap.workflow = a.wf->name;
    gap.trigger = a.t->name;
    gap.slot = "gap:" + slot_key(a.last_s) + "/" + slot_key(due.front().slot_s);
    gap.slot_time = due.front().slot_s * 1000 - 1;
    gap.event = base_event(a, "schedule", gap.slot, gap.slot_time);
    gap.outcome = "missed";
    gap.reason = std::to_string(older) + " slots after " + slot_key(a.last_s) + " missed while no daemon ran";
    (void)store->record_firing(gap);
  }
  for (const auto& d : due) {
    TriggerFiring f;
    f.slot = slot_key(d.slot_s);
    f.slot_time = d.slot_s * 1000;
    f.event = base_event(a, "schedule", f.slot, f.slot_time);
    if (d.fire) {
      fire(a, f);
    } else {
      f.workflow = a.wf->name;
      f.trigger = a.t->name;
      f.outcome = "missed";
      f.reason = d.reason;
      if (auto r = store->record_firing(f); r && *r) log(f.workflow + "/" + f.trigger + " " + f.slot + ": " + d.reason);
    }
  }
  a.last_s = std::max(a.last_s, now_s);
  auto next = next_slot(a.crons, a.last_s);
  if (!next) {
    log(a.wf->name + "/" + a.t->name + ": no firing within ten years");
    return;
  }
  a.timer->expires_at(std::chrono::system_clock::from_time_t(static_cast<time_t>(*next)));
  a.timer->async_wait([this, &a](const boost::system::error_code& ec) {
    if (!ec) tick_schedule(a);
  });
}

Daemon::Daemon(DaemonOptions options, asio::io_context& ioc) : impl_(std::make_unique<Impl>(std::move(options), ioc)) {}
Daemon::~Daemon() = default;

Status Daemon::start() {
  auto& s = *impl_;
  auto store = RunStore::open(s.options.store_dir);
  if (!store) return store.status();
  store_ = std::move(*store);
  s.store = store_.get();
  for (const auto& wf : s.options.workflows)
    for (const auto& t : wf.triggers) {
      auto a = std::make_unique<Armed>();
      a->wf = &wf;
      a->t = &t;
      if (t.kind == TriggerKind::Schedule) {
        auto c = compile_schedules(t);
        if (!c) return Status::InvalidArgument(wf.file + ": trigger '" + t.name + "': " + c.message());
        a->crons = std::move(*c);
      }
      s.armed.push_back(std::move(a));
    }
  s.wait_child();
  s.recover();
  for (auto& a : s.armed) {
    switch (a->t->kind) {
      case TriggerKind::Schedule: s.arm_schedule(*a); break;
      case TriggerKind::Watch: s.arm_watch(*a); break;
      case TriggerKind::Drift: s.arm_drift(*a); break;
      case TriggerKind::Webhook: break;
    }
  }
  return Status::Ok();
}

void Daemon::stop() {
  auto& s = *impl_;
  s.stopped = true;
  boost::system::error_code ec;
  s.sigchld.cancel(ec);
  for (auto& a : s.armed)
    if (a->timer) a->timer->cancel();
}

WebhookReply Daemon::webhook(const std::string& workflow, const std::string& trigger, const std::string& body,
                             const std::string& authorization, bool token_required, const std::string& daemon_token) {
  auto& s = *impl_;
  Armed* hit = nullptr;
  std::string workflows, hooks;
  for (auto& a : s.armed) {
    if (a->t->kind != TriggerKind::Webhook) continue;
    workflows += (workflows.empty() ? "" : ", ") + a->wf->name;
    if (a->wf->name == workflow) hooks += (hooks.empty() ? "" : ", ") + a->t->name;
    if (a->wf->name == workflow && a->t->name == trigger) hit = a.get();
  }
  if (!hit) {
    const std::string msg = hooks.empty() ? "no workflow '" + workflow + "' with webhooks in this daemon (webhooks: " +
                                                (workflows.empty() ? "none" : workflows) + ")"
                                          : "workflow '" + workflow + "' has no webhook trigger '" + trigger +
                                                "' (its webhooks: " + hooks + ")";
    return {404, {{"error", msg}}};
  }
  std::string want;
  if (!hit->t->token_env.empty()) {
    const char* v = std::getenv(hit->t->token_env.c_str());
    if (!v || !*v)
      return {503, {{"error", "this webhook needs a token and the daemon has none: set $" + hit->t->token_env +
                                  " where ctflow daemon runs"}}};
    want = v;
  } else if (token_required) {
    want = daemon_token;
  }
  if (!want.empty()) {
    const std::string got = authorization.rfind("Bearer ", 0) == 0 ? authorization.substr(7) : "";
    unsigned diff = got.size() == want.size() ? 0u : 1u;
    for (size_t i = 0; i < got.size() && i < want.size(); ++i) diff |= static_cast<unsigned>(got[i] ^ want[i]);
    if (diff != 0)
      return {401, {{"error", std::string(got.empty() ? "missing" : "wrong") + " token: send 'Authorization: Bearer " +
                                  (hit->t->token_env.empty() ? "TOKEN' (printed when the daemon started)"
                                                             : "$" + hit->t->token_env + "'")}}};
  }
  Value parsed = body.empty() ? Value::object() : Value::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return {400, {{"error", "the body must be a JSON object, like {\"data\": \"/srv/incoming/new\"}"}}};
  static std::mt19937_64 rng{std::random_device{}()};
  const int64_t now = now_ms();
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(rng() & 0xffff));
  TriggerFiring f;
  f.slot = "hook:" + iso8601(now) + ":" + std::to_string(now % 1000) + ":" + suffix;
  f.slot_time = now;
  f.event = s.base_event(*hit, "webhook", f.slot, now);
  f.event["body"] = parsed;
  if (auto p = render_params(*hit->t, f.event); !p) return {400, {{"error", p.message()}}};
  s.fire(*hit, f);
  return {202, {{"workflow", workflow}, {"trigger", trigger}, {"slot", f.slot}, {"outcome", f.outcome},
                {"reason", f.reason}, {"run_id", f.run_id}}};
}

}  // namespace ctflow::triggers

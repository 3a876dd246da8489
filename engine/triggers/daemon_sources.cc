// The daemon's event sources besides schedules and webhooks: watched folders
// (polled on a timer; an entry fires once it has settled) and drift (GET
// {server}/models/{model}/drift on a timer; fires when score > above).
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio.hpp>

#include "base/json_text.h"
#include "base/time.h"
#include "engine/triggers/daemon_impl.h"

namespace ctflow::triggers {

namespace {

using tcp = asio::ip::tcp;

// One HTTP/1.0 GET on loopback or a LAN: the answer's status and body, or an error.
struct HttpGet : std::enable_shared_from_this<HttpGet> {
  HttpGet(asio::io_context& ioc, std::function<void(std::string, int, std::string)> done)
      : resolver(ioc), socket(ioc), deadline(ioc), done(std::move(done)) {}
  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer deadline;
  std::function<void(std::string, int, std::string)> done;  // error, status, body
  std::string request, host, port, path;
  asio::streambuf answer;
  bool finished = false;

  void finish(const std::string& error) {
    if (finished) return;
    finished = true;
    deadline.cancel();
    boost::system::error_code ec;
    socket.close(ec);
    if (!error.empty()) return done(error, 0, "");
    std::string text(asio::buffers_begin(answer.data()), asio::buffers_end(answer.data()));
    const size_t head = text.find("\r\n\r\n");
    int status = 0;
    if (text.rfind("HTTP/", 0) == 0 && text.size() > 12) status = std::atoi(text.c_str() + text.find(' ') + 1);
    if (head == std::string::npos || status == 0) return done("not an HTTP answer", 0, "");
    done("", status, text.substr(head + 4));
  }

  void start(const std::string& url, const std::string& target) {
    // http://HOST[:PORT][/prefix]
    std::string rest = url.substr(7);
    const size_t slash = rest.find('/');
    std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    std::string hostport = rest.substr(0, slash);
    const size_t colon = hostport.rfind(':');
    host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
    port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
    path = prefix + target;
    request = "GET " + path + " HTTP/1.0\r\nHost: " + hostport + "\r\nAccept: application/json\r\n\r\n";
    deadline.expires_after(std::chrono::seconds(10));
    deadline.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->finish("no answer within 10s");
    });
    resolver.async_resolve(host, port, [self = shared_from_this()](const boost::system::error_code& ec,
                                                                   const tcp::resolver::results_type& r) {
      if (ec) return self->finish("cannot resolve " + self->host + ": " + ec.message());
      asio::async_connect(self->socket, r, [self](const boost::system::error_code& ec2, const tcp::endpoint&) {
        if (ec2) return self->finish("cannot connect: " + ec2.message());
        asio::async_write(self->socket, asio::buffer(self->request), [self](const boost::system::error_code& ec3, size_t) {
          if (ec3) return self->finish("cannot send: " + ec3.message());
          self->read();
        });
      });
    });
  }

  void read() {
    asio::async_read(socket, answer, asio::transfer_at_least(1),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec == asio::error::eof) return self->finish("");
                       if (ec) return self->finish("cannot read: " + ec.message());
                       if (self->answer.size() > (1u << 20)) return self->finish("answer larger than 1 MiB");
                       self->read();
                     });
  }
};

}  // namespace

void Daemon::Impl::arm_watch(Armed& a) {
  namespace fs = std::filesystem;
  fs::path dir = a.t->watch;
  if (dir.is_relative()) dir = fs::absolute(fs::path(a.wf->file).parent_path() / dir);
  a.watch_dir = dir.lexically_normal();
  auto base = store->get_firing(a.wf->name, a.t->name, "baseline");
  if (base && *base) {
    a.baseline_ms = (*base)->slot_time;
  } else {
    // The first time this trigger is watched: what is there now is not new.
    TriggerFiring b;
    b.workflow = a.wf->name;
    b.trigger = a.t->name;
    b.slot = "baseline";
    b.slot_time = a.baseline_ms = now_ms();
    b.outcome = "baseline";
    b.event = base_event(a, "watch", b.slot, b.slot_time);
    (void)store->record_firing(b);
  }
  std::error_code ec;
  if (!fs::is_directory(a.watch_dir, ec))
    log(a.wf->name + "/" + a.t->name + ": " + a.watch_dir.string() + " is not a folder (yet); watching for it");
  a.timer = std::make_unique<asio::system_timer>(ioc);
  poll_watch(a);
}

void Daemon::Impl::poll_watch(Armed& a) {
  if (stopped) return;
  std::map<std::string, int64_t> newest;
  const auto entries = scan_watched(a.watch_dir.string(), &newest);
  const int64_t now = now_ms();
  std::vector<std::string> names;
  for (const auto& [name, sig] : entries) {
    a.settle.observe(name, sig, now);
    names.push_back(name);
  }
  a.settle.forget_missing(names);
  const auto settle_ms = static_cast<int64_t>(a.t->settle_s * 1000);
  for (const auto& name : a.settle.settled(now, settle_ms)) {
    const int64_t changed = newest[name];
    if (changed / 1000000 < a.baseline_ms) continue;  // there before the trigger was first watched
    TriggerFiring f;
    f.slot = name + "@" + std::to_string(changed);
    f.slot_time = now;
    f.event = base_event(a, "watch", f.slot, now);
    f.event["path"] = (a.watch_dir / name).string();
    f.event["name"] = name;
    fire(a, f);
  }
  int64_t every = options.watch_poll_ms > 0 ? options.watch_poll_ms : std::clamp<int64_t>(settle_ms / 4, 100, 1000);
  a.timer->expires_after(std::chrono::milliseconds(every));
  a.timer->async_wait([this, &a](const boost::system::error_code& ec) {
    if (!ec) poll_watch(a);
  });
}

void Daemon::Impl::arm_drift(Armed& a) {
  a.timer = std::make_unique<asio::system_timer>(ioc);
  poll_drift(a);
}

void Daemon::Impl::poll_drift(Armed& a) {
  if (stopped) return;
  auto get = std::make_shared<HttpGet>(ioc, [this, &a](std::string error, int status, std::string body) {
    if (stopped) return;
    Value answer = Value::parse(body, nullptr, false);
    if (error.empty() && status != 200)
      error = "HTTP " + std::to_string(status) + (answer.is_object() && answer.contains("error")
                                                       ? ": " + answer["error"].dump()
                                                       : "");
    if (error.empty() && (!answer.is_object() || !answer.contains("score") || !answer["score"].is_number()))
      error = "the answer has no numeric 'score'";
    on_drift(a, error, answer);
    a.timer->expires_after(std::chrono::milliseconds(static_cast<int64_t>(a.t->drift_every_s * 1000)));
    a.timer->async_wait([this, &a](const boost::system::error_code& ec) {
      if (!ec) poll_drift(a);
    });
  });
  get->start(a.t->drift_server, "/models/" + a.t->drift_model + "/drift");
}

void Daemon::Impl::on_drift(Armed& a, const std::string& error, const Value& answer) {
  const std::string where = a.wf->name + "/" + a.t->name;
  if (!error.empty()) {
    // The serve answers, but has no score yet, and says why (no version
    // loaded, no profile, too few inputs in the window).
    const bool waiting = answer.is_object() && answer.contains("score") && answer["score"].is_null() &&
                         answer.contains("reason") && answer["reason"].is_string();
    if (!a.drift_down)
      log(where + (waiting ? ": no drift score of " + a.t->drift_model + " yet from " + a.t->drift_server + ": " +
                                 answer["reason"].get<std::string>()
                           : ": cannot read the drift of " + a.t->drift_model + " from " + a.t->drift_server + ": " + error));
    a.drift_down = true;
    return;
  }
  if (a.drift_down) log(where + ": " + a.t->drift_server + " gives a drift score of " + a.t->drift_model + " again");
  a.drift_down = false;
  const double score = answer["score"].get<double>();
  const int64_t now = now_ms();
  record_drift_sample(a, answer, now);
  if (!(score > a.t->drift_above)) return;
  TriggerFiring f;
  f.slot = "drift:" + iso8601(now) + ":" + std::to_string(now % 1000);
  f.slot_time = now;
  f.event = base_event(a, "drift", f.slot, now);
  f.event["score"] = score;
  f.event["above"] = a.t->drift_above;
  f.event["model"] = answer.value("model", a.t->drift_model);
  if (answer.contains("version")) f.event["version"] = answer["version"];
  if (answer.contains("window")) f.event["window"] = answer["window"];
  if (answer.contains("signals")) f.event["signals"] = answer["signals"];
  fire(a, f);
}

// The answer as a drift sample for the dashboard, when it differs from the
// last one recorded (new inputs, another version, other scores: once the
// window is full its count stays and the signals' scores still move) or a
// minute has passed.
void Daemon::Impl::record_drift_sample(Armed& a, const Value& answer, int64_t now) {
  const std::string seen = answer.dump();
  if (seen == a.drift_seen && now - a.drift_seen_ms < 60'000) return;
  DriftSample d;
  d.workflow = a.wf->name;
  d.trigger = a.t->name;
  d.model = answer.value("model", a.t->drift_model);
  if (answer.contains("version") && answer["version"].is_number_integer()) d.version = answer["version"].get<int>();
  d.at = now;
  d.score = answer["score"].get<double>();
  d.above = a.t->drift_above;
  if (answer.contains("signals") && answer["signals"].is_object())
    for (auto it = answer["signals"].begin(); it != answer["signals"].end(); ++it)
      if (it.value().is_object() && it.value().contains("score")) d.signals[it.key()] = it.value();
  if (Status st = store->record_drift_sample(d); !st) {
    log(a.wf->name + "/" + a.t->name + ": cannot record a drift sample: " + st.message());
    return;
  }
  a.drift_seen = seen;
  a.drift_seen_ms = now;
}

}  // namespace ctflow::triggers

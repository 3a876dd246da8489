// The dashboard's HTTP server: Boost.Beast over one Asio thread. Carries
// requests to the Api (web/api.h), serves the embedded static files, and keeps
// server-sent event streams that poll the store (other `ctflow run` processes
// write to it) and push what changed.
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/json_text.h"
#include "store/run_store.h"
#include "web/api.h"
#include "web/dashboard.h"
#include "web/engine_metrics.h"
#include "web/listen.h"
#include "web/static_assets.h"

namespace ctflow::web {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;

bool split_addr(const std::string& addr, std::string& host, uint16_t& port) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "127.0.0.1";
  try {
    size_t used = 0;
    const int p = std::stoi(addr.substr(colon + 1), &used);
    if (p < 0 || p > 65535 || used != addr.size() - colon - 1) return false;
    port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

bool host_header_allowed(bool loopback, std::string host) {
  if (!loopback || host.empty()) return true;
  size_t colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']') != std::string::npos && colon < host.find(']'))
    colon = std::string::npos;  // "[::1]" without a port
  if (colon != std::string::npos) host = host.substr(0, colon);
  return is_loopback_host(host);
}

std::string make_token() {
  std::random_device rd;
  std::string t;
  const char* hex = "0123456789abcdef";
  for (int i = 0; i < 48; ++i) t += hex[rd() % 16];
  return t;
}

Status listen_on(tcp::acceptor& acceptor, const std::string& addr, bool& loopback, uint16_t& port) {
  std::string host;
  uint16_t want = 0;
  if (!split_addr(addr, host, want)) return Status::Error("--addr takes HOST:PORT, like 127.0.0.1:8080, not '" + addr + "'");
  loopback = is_loopback_host(host);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status::Error("cannot use address '" + host + "': " + ec.message());
  tcp::endpoint ep(address, want);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Error("cannot listen on " + addr + ": " + ec.message());
  port = acceptor.local_endpoint().port();
  return Status::Ok();
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

namespace {

constexpr size_t kMaxBody = 1 << 20;

void common_headers(http::fields& f) {
  f.set(http::field::server, "ctflow");
  f.set("X-Content-Type-Options", "nosniff");
  f.set("X-Frame-Options", "DENY");
  f.set("Referrer-Policy", "no-referrer");
  f.set("Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'");
}

}  // namespace

struct DashboardServer::Impl {
  DashboardOptions options;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<RunStore> store;
  std::unique_ptr<Api> api;
  std::string token;
  bool require_token = false;
  bool loopback = true;
  uint16_t port = 0;
  asio::steady_timer reaper{ioc};

  void accept();
  void reap();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, DashboardServer::Impl& server) : stream_(std::move(socket)), server_(server) {}
  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->on_request(self->parser_->release());
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  template <class Response>
  void send(std::shared_ptr<Response> res) {
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(60));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) return self->close();
      self->read();
    });
  }

  void send_text(const http::request<http::string_body>& req, int status, std::string_view type, std::string body,
                 bool no_store) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), req.version());
    common_headers(res->base());
    res->set(http::field::content_type, std::string(type));
    res->set(http::field::cache_control, no_store ? "no-store" : "no-cache");
    res->keep_alive(req.keep_alive());
    if (req.method() != http::verb::head) res->body() = std::move(body);
    send(res);
  }

  bool host_allowed(const http::request<http::string_body>& req) {
    return host_header_allowed(server_.loopback, std::string(req[http::field::host]));
  }

  void on_request(http::request<http::string_body> req) {
    std::string target(req.target());
    ApiRequest ar;
    split_target(target, ar.path, ar.query);
    if (!host_allowed(req)) return send_text(req, 403, "application/json", R"({"error":"unexpected Host header"})", true);
    if (ar.path == "/api/v1/events" && req.method() == http::verb::get) return start_events(ar);
    if (ar.path == "/metrics" && req.method() == http::verb::get)
      return send_text(req, 200, "text/plain; version=0.0.4", engine_metrics_text(*server_.store), true);
    if (ar.path.rfind("/api/", 0) == 0) {
      ar.method = std::string(req.method_string());
      ar.body = req.body();
      ar.authorization = std::string(req[http::field::authorization]);
      ar.content_type = std::string(req[http::field::content_type]);
      ApiResponse r = server_.api->handle(ar);
      if (!r.file.empty()) return send_file(req, r);
      return send_text(req, r.status, r.content_type, std::move(r.body), true);
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return send_text(req, 405, "application/json", R"({"error":"method not allowed"})", true);
    const StaticAsset* a = find_static_asset(ar.path);
    if (!a) return send_text(req, 404, "application/json", R"({"error":"not found"})", true);
    send_text(req, 200, a->content_type, std::string(a->data), false);
  }

  void send_file(const http::request<http::string_body>& req, const ApiResponse& r) {
    beast::error_code ec;
    http::file_body::value_type body;
    body.open(r.file.c_str(), beast::file_mode::scan, ec);
    if (ec) return send_text(req, 500, "application/json", R"({"error":"cannot read the blob"})", true);
    auto res = std::make_shared<http::response<http::file_body>>(http::status::ok, req.version());
    common_headers(res->base());
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "private, max-age=31536000, immutable");  // content-addressed
    res->set(http::field::content_disposition, "attachment; filename=\"" + r.download_name + "\"");
    res->keep_alive(req.keep_alive());
    if (req.method() != http::verb::head) res->body() = std::move(body);
    send(res);
  }

  // --- server-sent events ---
  void start_events(const ApiRequest& ar) {
    auto it = ar.query.find("run");
    if (it != ar.query.end()) {
      auto id = server_.store->resolve_run_id(it->second);
      if (!id || it->second.size() > 100) {
        auto res = std::make_shared<http::response<http::string_body>>(http::status::not_found, 11);
        common_headers(res->base());
        res->set(http::field::content_type, "application/json");
        res->body() = json_text(Json{{"error", "no such run: " + it->second}});
        res->keep_alive(false);
        return send(res);
      }
      run_id_ = *id;
    }
    stream_.expires_never();
    auto header = std::make_shared<std::string>(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "Connection: close\r\nX-Content-Type-Options: nosniff\r\n\r\nretry: 1000\n\n");
    asio::async_write(stream_.socket(), asio::buffer(*header),
                      [self = shared_from_this(), header](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        self->watch_close();
                        self->poll();
                      });
  }

  void watch_close() {
    // Any read completing (data or EOF) ends the stream: clients send nothing.
    stream_.socket().async_read_some(asio::buffer(sink_), [self = shared_from_this()](beast::error_code, size_t) {
      self->closed_ = true;
      self->timer_.cancel();
      self->close();
    });
  }

  void poll() {
    if (closed_) return;
    std::string event;
    try {
      std::string f = run_id_.empty() ? server_.api->runs_fingerprint() : server_.api->run_fingerprint(run_id_);
      if (f != fingerprint_) {
        fingerprint_ = f;
        Json data = run_id_.empty() ? Json{{"type", "runs"}} : server_.api->run_view(run_id_);
        event = std::string(run_id_.empty() ? "event: runs\n" : "event: run\n") + "data: " +
                json_text(data) + "\n\n";
        idle_polls_ = 0;
      } else if (++idle_polls_ * server_.options.poll_ms >= 15000) {
        event = ": ping\n\n";
        idle_polls_ = 0;
      }
    } catch (const std::exception&) {
      event = ": error\n\n";
    }
    if (event.empty()) return schedule();
    auto buf = std::make_shared<std::string>(std::move(event));
    asio::async_write(stream_.socket(), asio::buffer(*buf), [self = shared_from_this(), buf](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->schedule();
    });
  }

  void schedule() {
    if (closed_) return;
    timer_.expires_after(std::chrono::milliseconds(server_.options.poll_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->poll();
    });
  }

  beast::tcp_stream stream_;
  DashboardServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // events
  asio::steady_timer timer_{stream_.get_executor()};
  std::string run_id_, fingerprint_;
  int idle_polls_ = 0;
  bool closed_ = false;
  char sink_[256];
};

}  // namespace

void DashboardServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), *this)->start();
    accept();
  });
}

void DashboardServer::Impl::reap() {
  reaper.expires_after(std::chrono::seconds(1));
  reaper.async_wait([this](beast::error_code ec) {
    if (ec) return;
    api->reap_children();
    reap();
  });
}

DashboardServer::DashboardServer(DashboardOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

DashboardServer::~DashboardServer() = default;

Status DashboardServer::start() {
  auto& s = *impl_;
  if (auto st = listen_on(s.acceptor, s.options.addr, s.loopback, s.port); !st) return st;
  s.require_token = s.options.require_token.value_or(!s.loopback);
  s.token = s.options.token.empty() && s.require_token ? make_token() : s.options.token;
  auto store = RunStore::open(s.options.store_dir);
  if (!store) return store.status();
  s.store = std::move(*store);
  s.api = std::make_unique<Api>(*s.store, s.options, s.token, s.require_token);
  s.accept();
  s.reap();
  return Status::Ok();
}

uint16_t DashboardServer::port() const { return impl_->port; }
const std::string& DashboardServer::token() const { return impl_->token; }
bool DashboardServer::token_required() const { return impl_->require_token; }

void DashboardServer::run(bool handle_signals) {
  std::optional<asio::signal_set> signals;
  if (handle_signals) {
    signals.emplace(impl_->ioc, SIGINT, SIGTERM);
    signals->async_wait([this](beast::error_code ec, int) {
      if (!ec) impl_->ioc.stop();
    });
  }
  impl_->ioc.run();
}

void DashboardServer::stop() {
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->reaper.cancel();
    impl_->ioc.stop();
  });
}

int run_dashboard(const DashboardOptions& options) {
  DashboardServer server(options);
  if (auto st = server.start(); !st) {
    std::cerr << "ctflow: error: " << st.message() << "\n";
    return 2;
  }
  std::string host = options.addr.substr(0, options.addr.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") host = "127.0.0.1";
  std::string url = "http://" + host + ":" + std::to_string(server.port()) + "/";
  if (!options.quiet) {
    std::cout << "ctflow ui: serving the store " << options.store_dir.string() << " on " << url << "\n";
    if (server.token_required())
      std::cout << "ctflow ui: changes need the token; open " << url << "?token=" << server.token() << "\n";
    std::cout << "ctflow ui: press Ctrl-C to stop" << std::endl;
  }
  server.run(true);
  return 0;
}

}  // namespace ctflow::web

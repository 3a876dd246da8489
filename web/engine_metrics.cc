#include "web/engine_metrics.h"

#include <cstdio>
#include <optional>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "store/run_store.h"
#include "web/dashboard.h"
#include "web/listen.h"

namespace ctflow::web {

namespace {

std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string num(double v, bool short_form = false) {
  char buf[64];
  std::snprintf(buf, sizeof buf, short_form ? "%g" : "%.17g", v);
  return buf;
}

}  // namespace

std::string engine_metrics_text(RunStore& store) {
  static const std::vector<double> kBuckets = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600};
  auto c = store.engine_counts(kBuckets);
  std::string out;
  if (!c) return "# ctflow: cannot read the store: " + c.message() + "\n";
  out += "# HELP ctflow_runs_total Runs in the store by workflow and status.\n# TYPE ctflow_runs_total counter\n";
  for (const auto& r : c->runs)
    out += "ctflow_runs_total{workflow=\"" + label(r.workflow) + "\",status=\"" + label(r.status) + "\"} " +
           std::to_string(r.count) + "\n";
  out += "# HELP ctflow_step_duration_seconds How long finished steps ran.\n"
         "# TYPE ctflow_step_duration_seconds histogram\n";
  for (const auto& d : c->step_durations) {
    const std::string wf = "workflow=\"" + label(d.workflow) + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i)
      out += "ctflow_step_duration_seconds_bucket{" + wf + ",le=\"" + num(kBuckets[i], true) + "\"} " +
             std::to_string(d.le[i]) + "\n";
    out += "ctflow_step_duration_seconds_bucket{" + wf + ",le=\"+Inf\"} " + std::to_string(d.count) + "\n";
    out += "ctflow_step_duration_seconds_sum{" + wf + "} " + num(d.sum_s) + "\n";
    out += "ctflow_step_duration_seconds_count{" + wf + "} " + std::to_string(d.count) + "\n";
  }
  out += "# HELP ctflow_trigger_firings_total Trigger firings by outcome (started, skipped, missed, failed, pending).\n"
         "# TYPE ctflow_trigger_firings_total counter\n";
  for (const auto& f : c->firings)
    out += "ctflow_trigger_firings_total{workflow=\"" + label(f.workflow) + "\",trigger=\"" + label(f.trigger) +
           "\",outcome=\"" + label(f.outcome) + "\"} " + std::to_string(f.count) + "\n";
  out += "# HELP ctflow_workflow_last_success_timestamp_seconds When a run of the workflow last succeeded.\n"
         "# TYPE ctflow_workflow_last_success_timestamp_seconds gauge\n";
  for (const auto& l : c->last_success)
    out += "ctflow_workflow_last_success_timestamp_seconds{workflow=\"" + label(l.workflow) + "\"} " +
           num(static_cast<double>(l.finished_at) / 1000.0, false) + "\n";
  return out;
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct SmallServer::Impl {
  Impl(asio::io_context& c, Handler h) : ioc(c), acceptor(c), handler(std::move(h)) {}
  asio::io_context& ioc;
  tcp::acceptor acceptor;
  Handler handler;
  bool loopback = true;
  uint16_t port = 0;
  void accept();
};

namespace {

class SmallSession : public std::enable_shared_from_this<SmallSession> {
 public:
  SmallSession(tcp::socket s, SmallServer::Impl& server) : stream_(std::move(s)), server_(server) {}
  void read() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->respond(self->parser_->release());
    });
  }

 private:
  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }
  void respond(http::request<http::string_body> req) {
    SmallResponse r;
    if (!host_header_allowed(server_.loopback, std::string(req[http::field::host]))) {
      r = {403, "application/json", R"({"error":"unexpected Host header"})"};
    } else {
      SmallRequest q{std::string(req.method_string()), std::string(req.target()), req.body(),
                     std::string(req[http::field::authorization])};
      if (auto qm = q.path.find('?'); qm != std::string::npos) q.path.resize(qm);
      r = server_.handler(q);
    }
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), req.version());
    res->set(http::field::server, "ctflow");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    res->keep_alive(req.keep_alive());
    res->body() = std::move(r.body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) return self->close();
      self->read();
    });
  }
  beast::tcp_stream stream_;
  SmallServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void SmallServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) std::make_shared<SmallSession>(std::move(socket), *this)->read();
    accept();
  });
}

SmallServer::SmallServer(asio::io_context& ioc, Handler handler) : impl_(std::make_unique<Impl>(ioc, std::move(handler))) {}
SmallServer::~SmallServer() = default;

Status SmallServer::listen(const std::string& addr) {
  if (auto st = listen_on(impl_->acceptor, addr, impl_->loopback, impl_->port); !st) return st;
  impl_->accept();
  return Status::Ok();
}
uint16_t SmallServer::port() const { return impl_->port; }
bool SmallServer::loopback() const { return impl_->loopback; }
void SmallServer::close() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace ctflow::web

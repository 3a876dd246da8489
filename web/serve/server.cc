// The inference server (serve.h): HTTP sessions, the table of loaded model
// versions, loading from the registry, and the management API.
#include <array>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "engine/plugin_registry.h"
#include "store/run_store.h"
#include "web/dashboard.h"  // is_loopback_host
#include "web/listen.h"
#include "web/serve/batcher.h"
#include "web/serve/drift_window.h"
#include "web/serve/handler_host.h"
#include "web/serve/input.h"
#include "web/serve/metrics.h"
#include "web/serve/route.h"
#include "web/serve/serve.h"

namespace ctflow::serve {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

Json error_doc(int code, const std::string& type, const std::string& message) {
  return {{"code", code}, {"type", type}, {"message", message}};
}

bool equal_consttime(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

}  // namespace

// One loaded model version. Destroyed on an HTTP thread or the management path,
// never on its own batcher's worker (see Session::respond_later).
struct Version {
  std::string name;
  int version = 0;
  std::string handler, stage;
  Json record;  // what the registry holds: run, metrics, artifacts
  Json profile;  // the reference profile for drift (null: profile_reason says why)
  std::string profile_reason;
  std::shared_ptr<LoadedModel> model;
  std::unique_ptr<Batcher> batcher;
  std::chrono::system_clock::time_point loaded_at;
  double load_seconds = 0;
  std::atomic<uint64_t> answered{0};
  ~Version() { batcher.reset(); }  // runs what is queued first
};

struct ModelEntry {
  std::map<int, std::shared_ptr<Version>> versions;
  int default_version = 0;
  std::set<int> loading;
};

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  ServeOptions options;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<HandlerRegistry> handlers;
  Metrics metrics;
  std::string token;
  bool require_token = false, loopback = true;
  uint16_t port = 0;

  std::mutex mu;  // models
  std::map<std::string, ModelEntry> models;
  struct Loader {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::mutex loaders_mu;
  std::vector<Loader> loaders;  // finished ones are joined when the next starts
  std::atomic<bool> stopping{false};

  ~Impl() {
    std::vector<Loader> ls;
    {
      std::lock_guard lock(loaders_mu);
      ls.swap(loaders);
    }
    for (auto& l : ls) {
      if (l.thread.get_id() == std::this_thread::get_id()) l.thread.detach();  // the last reference was a loader's
      else l.thread.join();
    }
    std::lock_guard lock(mu);
    models.clear();
  }

  void accept();
  Result<std::shared_ptr<Version>> load_version(const std::string& name, int version);
  // Loads NAME vVERSION on a thread of its own; DONE runs there when it is in the table.
  void load_async(const std::string& name, int version, std::function<void(int status, Json)> done);
  Status install(const std::shared_ptr<Version>& v, bool make_default);
  std::shared_ptr<Version> pick(const std::string& name, int version, int& status, std::string& message);
  bool healthy();
  Json describe(const std::string& name, int only_version);
  std::string versions_metrics();
};

// ------------------------------------------------------------- loading

Result<std::shared_ptr<Version>> Server::Impl::load_version(const std::string& name, int version) {
  const auto t0 = Clock::now();
  auto store = RunStore::open(options.store_dir);
  if (!store)
    return Status::WithCode(store.code(), "cannot open the model registry in " + options.store_dir.string() + ": " +
                                              store.message());
  auto mv = (*store)->get_model(name, version);
  if (!mv && !mv.status().is_not_found())  // the registry failed to answer: not the caller's mistake
    return Status::WithCode(mv.code(), "cannot read the model registry in " + options.store_dir.string() + ": " +
                                           mv.message());
  if (!mv) {
    std::string have;
    if (auto all = (*store)->list_models(name); all)
      for (const auto& m : *all) have += (have.empty() ? "" : ", ") + std::to_string(m.version) + " (" + m.stage + ")";
    return Status::NotFound("the model registry in " + options.store_dir.string() + " has no " +
                         (version > 0 ? "version " + std::to_string(version) + " of '" + name + "'"
                                      : "model named '" + name + "'") +
                         (have.empty() ? "; run a workflow that registers it (mnist.deploy)" : "; its versions: " + have));
  }
  std::string handler_name = options.handler;
  if (handler_name.empty() && mv->params.contains("handler") && mv->params["handler"].is_string())
    handler_name = mv->params["handler"].get<std::string>();
  if (handler_name.empty())
    return Status::Error("'" + name + "' v" + std::to_string(mv->version) +
                         " does not say which handler serves it; start the server with --handler NAME (e.g. mnist.knn)");
  auto handler = handlers->find(handler_name);
  if (!handler) return handler.status();
  auto config = handler_config(**store, *mv, options.threads, options.cuda);
  if (!config) return config.status();
  auto model = LoadedModel::load(*handler, *config);
  if (!model) return model.status();
  auto v = std::make_shared<Version>();
  v->name = name;
  v->version = mv->version;
  v->handler = handler_name;
  v->stage = mv->stage;
  v->record = {{"run_id", mv->run_id}, {"step", mv->step}, {"metrics", mv->metrics}, {"artifacts", mv->artifacts},
               {"created_at", mv->created_at}};
  std::tie(v->profile, v->profile_reason) = load_profile(**store, *mv);
  v->model = std::shared_ptr<LoadedModel>(std::move(*model));
  v->batcher = std::make_unique<Batcher>(v->model, BatchOptions{options.max_batch, options.max_delay}, metrics, name,
                                         v->version);
  // Warm-up: the first passes allocate and pick kernels; callers must not pay for them.
  const size_t px = static_cast<size_t>(v->model->height()) * static_cast<size_t>(v->model->width());
  std::vector<float> zeros(px * static_cast<size_t>(std::max<int64_t>(1, options.max_batch)), 0.0f);
  for (int i = 0; i < options.warmup; ++i) {
    for (int64_t n : {int64_t{1}, options.max_batch}) {
      if (auto st = v->batcher->run_direct(zeros.data(), std::max<int64_t>(1, n)); !st)
        return Status::Error("warm-up of '" + name + "' v" + std::to_string(v->version) + " failed: " + st.message());
    }
  }
  v->loaded_at = std::chrono::system_clock::now();
  v->load_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return v;
}

Status Server::Impl::install(const std::shared_ptr<Version>& v, bool make_default) {
  std::lock_guard lock(mu);
  auto& e = models[v->name];
  e.loading.erase(v->version);
  e.versions[v->version] = v;
  if (make_default || e.default_version == 0) e.default_version = v->version;
  metrics.drift.set_profile(v->name, v->version, v->profile, v->profile_reason);
  metrics.drift.set_default(v->name, e.default_version);
  return Status::Ok();
}

void Server::Impl::load_async(const std::string& name, int version, std::function<void(int, Json)> done) {
  auto self = shared_from_this();
  std::lock_guard lock(loaders_mu);
  for (auto it = loaders.begin(); it != loaders.end();) {
    if (it->finished->load()) {
      it->thread.join();
      it = loaders.erase(it);
    } else {
      ++it;
    }
  }
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::thread t([self, name, version, finished, done = std::move(done)] {
    struct Mark {
      std::atomic<bool>& f;
      ~Mark() { f = true; }
    } mark{*finished};
    auto v = self->load_version(name, version);
    if (!v) {
      {
        std::lock_guard l(self->mu);
        auto it = self->models.find(name);
        if (it != self->models.end()) {
          it->second.loading.erase(version);
          if (it->second.versions.empty() && it->second.loading.empty()) self->models.erase(it);
        }
      }
      const bool missing = v.status().is_not_found();
      return done(missing ? 404 : 500, error_doc(missing ? 404 : 500, missing ? "ModelNotFoundException" : "ModelLoadException",
                                                 v.message()));
    }
    self->install(*v, false);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f", (*v)->load_seconds);
    done(200, {{"status", "Model \"" + name + "\" version " + std::to_string((*v)->version) + " loaded and warm in " + secs + " s"}});
  });
  loaders.push_back({std::move(t), std::move(finished)});
}

std::shared_ptr<Version> Server::Impl::pick(const std::string& name, int version, int& status, std::string& message) {
  std::lock_guard lock(mu);
  auto it = models.find(name);
  if (it == models.end() || (it->second.versions.empty() && it->second.loading.empty())) {
    std::string have;
    for (const auto& [n, e] : models) have += (have.empty() ? "" : ", ") + n;
    status = 404;
    message = "Model not found: " + name + (have.empty() ? " (no model is loaded)" : " (loaded: " + have + ")");
    return nullptr;
  }
  auto& e = it->second;
  const int want = version > 0 ? version : e.default_version;
  auto v = e.versions.find(want);
  if (v == e.versions.end()) {
    if (version > 0) {
      std::string have;
      for (const auto& [n, x] : e.versions) have += (have.empty() ? "" : ", ") + std::to_string(n);
      status = 404;
      message = "Model version not found: " + name + " v" + std::to_string(version) + " (loaded: " + (have.empty() ? "none" : have) + ")";
    } else {
      status = 503;
      message = "Model " + name + " is still loading";
    }
    return nullptr;
  }
  return v->second;
}

bool Server::Impl::healthy() {
  std::lock_guard lock(mu);
  for (const auto& [n, e] : models)
    if (e.versions.count(e.default_version)) return true;
  return false;
}

Json Server::Impl::describe(const std::string& name, int only_version) {
  std::lock_guard lock(mu);
  Json out = Json::array();
  auto it = models.find(name);
  if (it == models.end()) return out;
  auto& e = it->second;
  for (const auto& [n, v] : e.versions) {
    if (only_version > 0 && n != only_version) continue;
    const auto t = std::chrono::system_clock::to_time_t(v->loaded_at);
    char iso[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    out.push_back({{"modelName", name}, {"modelVersion", std::to_string(n)}, {"isDefault", n == e.default_version},
                   {"status", "READY"}, {"handler", v->handler}, {"stage", v->stage}, {"loadedAt", iso},
                   {"loadSeconds", v->load_seconds}, {"answered", v->answered.load()},
                   {"batchSize", options.max_batch}, {"maxBatchDelay", options.max_delay.count()},
                   {"registry", v->record}});
  }
  for (int n : e.loading)
    if (only_version <= 0 || n == only_version)
      out.push_back({{"modelName", name}, {"modelVersion", std::to_string(n)}, {"isDefault", false}, {"status", "LOADING"}});
  return out;
}

std::string Server::Impl::versions_metrics() {
  std::string o =
      "# HELP ctflow_serve_model_default_version The version that takes a model's traffic.\n"
      "# TYPE ctflow_serve_model_default_version gauge\n";
  std::string loaded =
      "# HELP ctflow_serve_model_answers_total Inputs answered, by model version.\n"
      "# TYPE ctflow_serve_model_answers_total counter\n";
  std::lock_guard lock(mu);
  for (const auto& [n, e] : models) {
    o += "ctflow_serve_model_default_version{model=\"" + label_escape(n) + "\"} " + std::to_string(e.default_version) + "\n";
    for (const auto& [ver, v] : e.versions)
      loaded += "ctflow_serve_model_answers_total{model=\"" + label_escape(n) + "\",version=\"" + std::to_string(ver) + "\"} " +
                std::to_string(v->answered.load()) + "\n";
  }
  return o + loaded;
}

// ------------------------------------------------------------- HTTP

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Server::Impl> server) : stream_(std::move(socket)), server_(std::move(server)) {}
  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  using Request = http::request<http::string_body>;

  void read() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec == http::error::body_limit) return self->reject(413, "PayloadTooLarge", "the request body is over the limit of " +
                                                                 std::to_string(self->server_->options.max_body) + " bytes (--max-body)");
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset ||
          ec == asio::error::eof || ec == asio::error::operation_aborted)
        return self->close();
      if (ec) return self->reject(400, "BadRequest", "malformed HTTP request: " + ec.message());
      self->req_ = self->parser_->release();
      self->started_ = Clock::now();
      self->on_request();
    });
  }

  // An answer for a request that could not be read: then the connection closes.
  void reject(int status, const std::string& type, const std::string& message) {
    req_ = {};
    req_.version(11);
    req_.keep_alive(false);
    started_ = Clock::now();
    send_json(status, error_doc(status, type, message));
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  // Closes after an answer the client may still be sending a body to: stop
  // sending, then read and drop what comes for up to 2 s, so that the client
  // reads the answer instead of a connection reset.
  void linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    drain_ = std::make_shared<std::array<char, 16384>>();
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(*drain_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  void send(int status, std::string_view type, std::string body, int version = 0) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), req_.version());
    res->set(http::field::server, "ctflow");
    res->set(http::field::content_type, std::string(type));
    res->set(http::field::cache_control, "no-store");
    if (version > 0) res->set("X-Model-Version", std::to_string(version));
    if (status == 401) res->set(http::field::www_authenticate, "Bearer");
    res->keep_alive(req_.keep_alive() && !server_->stopping.load());
    res->body() = std::move(body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(60));
    http::async_write(stream_, *res, [self = shared_from_this(), res, status](beast::error_code ec, size_t) {
      self->server_->metrics.request(status, std::chrono::duration<double>(Clock::now() - self->started_).count());
      self->version_.reset();  // the version this request used, released on this thread
      if (ec) return self->close();
      if (!res->keep_alive()) return self->linger_close();
      self->read();
    });
  }

  void send_json(int status, const Json& j, int version = 0) { send(status, "application/json", json_text(j) + "\n", version); }
  void error(int status, const std::string& type, const std::string& message) {
    send_json(status, error_doc(status, type, message));
  }

  bool host_allowed() { return web::host_header_allowed(server_->loopback, std::string(req_[http::field::host])); }

  bool authorized() {
    if (!server_->require_token) return true;
    const std::string auth(req_[http::field::authorization]);
    const std::string prefix = "Bearer ";
    return auth.rfind(prefix, 0) == 0 && equal_consttime(auth.substr(prefix.size()), server_->token);
  }

  void on_request() {
    const auto m = req_.method_string();
    const auto t = req_.target();
    const Route r = route(std::string_view(m.data(), m.size()), std::string_view(t.data(), t.size()));
    if (r.management) {
      if (!host_allowed()) return error(403, "Forbidden", "unexpected Host header");
      if (req_.method() != http::verb::get && !authorized())
        return error(401, "Unauthorized", "the management API needs \"Authorization: Bearer TOKEN\" (the token ctflow serve printed)");
    }
    switch (r.endpoint) {
      case Endpoint::kPing: {
        const bool ok = server_->healthy();
        return send_json(ok ? 200 : 503, {{"status", ok ? "Healthy" : "Unhealthy"}});
      }
      case Endpoint::kMetrics:
        return send(200, "text/plain; version=0.0.4", server_->metrics.render(server_->versions_metrics()));
      case Endpoint::kPredict:
        return predict(r.model, r.version);
      case Endpoint::kListModels:
        return list_models();
      case Endpoint::kDescribe: {
        Json d = server_->describe(r.model, r.version);
        if (d.empty())
          return error(404, "ModelNotFoundException",
                       r.version > 0 ? "Model version not found: " + r.model + " v" + std::to_string(r.version)
                                     : "Model not found: " + r.model);
        return send_json(200, d);
      }
      case Endpoint::kDrift:
        return drift(r.model);
      case Endpoint::kLoad:
        return load(r.model, r.version);
      case Endpoint::kSetDefault:
        return set_default(r.model, r.version);
      case Endpoint::kUnload:
        return unload(r.model, r.version);
      case Endpoint::kError:
        break;
    }
    error(r.status, r.type, r.message);
  }

  void predict(const std::string& name, int version) {
    int status = 0;
    std::string message;
    version_ = server_->pick(name, version, status, message);
    if (!version_) return error(status, status == 404 ? "ModelNotFoundException" : "ServiceUnavailableException", message);
    const auto& model = *version_->model;
    Inputs in;
    DecodeError err;
    const size_t max_rows = static_cast<size_t>(server_->options.max_request_batch);
    const bool rows = CTFLOW_HANDLER_HAS(&model.handler(), decode_row);
    if (rows ? !decode_rows(req_.body(), model.width(), max_rows, model.row_decoder(), in, err)
             : !decode_inputs(std::string(req_[http::field::content_type]), req_.body(), model.height(), model.width(),
                              max_rows, in, err))
      return error(err.status, err.status == 415 ? "UnsupportedMediaType" : "BadRequest", err.message);
    Job job;
    job.n = in.n;
    job.pixels = std::move(in.pixels);
    const bool batch = in.batch;
    const int served_by = version_->version;
    // The callback runs on the batcher's thread. It moves its only reference to
    // this session into the handler it posts, so the session (and the version
    // it holds) are released on an HTTP thread, never on the batcher's.
    job.done = [self = shared_from_this(), batch, served_by](const Status& st, std::vector<std::string> answers) mutable {
      auto s = std::move(self);
      auto ex = s->stream_.get_executor();
      asio::post(ex, [s = std::move(s), st, answers = std::move(answers), batch, served_by]() {
        if (!st) return s->error(500, "InternalServerException", st.message());
        s->version_->answered += answers.size();
        std::string body;
        if (!batch) {
          body = answers[0];
        } else {
          body = "{\"predictions\":[";
          for (size_t i = 0; i < answers.size(); ++i) body += (i ? "," : "") + answers[i];
          body += "]}";
        }
        body += "\n";
        s->send(200, "application/json", std::move(body), served_by);
      });
    };
    version_->batcher->submit(std::move(job));
  }

  void drift(const std::string& name) {
    Json d = server_->metrics.drift.report(name);
    if (d.is_null()) {
      int status = 0;
      std::string message;
      server_->pick(name, 0, status, message);
      return error(404, "ModelNotFoundException", message.empty() ? "Model not found: " + name : message);
    }
    send_json(200, d);
  }

  void list_models() {
    Json models = Json::array();
    {
      std::lock_guard lock(server_->mu);
      for (const auto& [n, e] : server_->models)
        models.push_back({{"modelName", n}, {"modelUrl", "registry://" + n}, {"defaultVersion", e.default_version},
                          {"versions", e.versions.size() + e.loading.size()}});
    }
    send_json(200, {{"models", models}});
  }

  void load(const std::string& name, int version) {
    {
      std::lock_guard lock(server_->mu);
      auto& e = server_->models[name];
      if (e.versions.count(version))
        return send_json(200, {{"status", "Model \"" + name + "\" version " + std::to_string(version) + " is already loaded"}});
      if (e.loading.count(version))
        return error(409, "ConflictStatusException", "Model \"" + name + "\" version " + std::to_string(version) + " is being loaded");
      e.loading.insert(version);
    }
    server_->load_async(name, version, [self = shared_from_this()](int status, Json doc) mutable {
      auto s = std::move(self);
      auto ex = s->stream_.get_executor();
      asio::post(ex, [s = std::move(s), status, doc = std::move(doc)] { s->send_json(status, doc); });
    });
  }

  void set_default(const std::string& name, int version) {
    {
      std::lock_guard lock(server_->mu);
      auto it = server_->models.find(name);
      if (it == server_->models.end() || !it->second.versions.count(version))
        return error(404, "ModelVersionNotFoundException",
                     "Model \"" + name + "\" version " + std::to_string(version) + " is not loaded; POST /models/" + name + "/" +
                         std::to_string(version) + " first");
      it->second.default_version = version;  // the switch: new requests pick this version from now on
    }
    server_->metrics.drift.set_default(name, version);  // its own window, against its own profile
    send_json(200, {{"status", "Default version of \"" + name + "\" is now " + std::to_string(version)}});
  }

  void unload(const std::string& name, int version) {
    std::shared_ptr<Version> gone;
    {
      std::lock_guard lock(server_->mu);
      auto it = server_->models.find(name);
      if (it == server_->models.end() || !it->second.versions.count(version))
        return error(404, "ModelVersionNotFoundException", "Model \"" + name + "\" version " + std::to_string(version) + " is not loaded");
      auto& e = it->second;
      if (e.default_version == version && e.versions.size() > 1)
        return error(409, "ConflictStatusException", "version " + std::to_string(version) + " is the default version of \"" + name +
                                                          "\"; set another version as default first");
      gone = e.versions[version];
      e.versions.erase(version);
      server_->metrics.drift.forget(name, version);
      if (e.versions.empty()) {
        e.default_version = 0;
        if (e.loading.empty()) server_->models.erase(it);
      }
    }
    // Requests still queued on it hold it and finish on it; it goes with the last.
    gone.reset();
    send_json(200, {{"status", "Model \"" + name + "\" version " + std::to_string(version) + " unloaded"}});
  }

  beast::tcp_stream stream_;
  std::shared_ptr<Server::Impl> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  Clock::time_point started_;
  std::shared_ptr<Version> version_;
  std::shared_ptr<std::array<char, 16384>> drain_;
};

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), self)->start();
    }
    self->accept();
  });
}

// ------------------------------------------------------------- Server

Server::Server(ServeOptions options) : impl_(std::make_shared<Impl>()) { impl_->options = std::move(options); }

Server::~Server() {
  impl_->stopping = true;
  impl_->ioc.stop();
}

Status Server::start() {
  auto& s = *impl_;
  if (s.options.max_batch < 1) return Status::Error("--max-batch must be at least 1");
  if (s.options.threads < 1 || s.options.io_threads < 1) return Status::Error("--threads and --io-threads must be at least 1");
  if (s.options.drift_window < 1) return Status::Error("--drift-window must be at least 1");
  s.metrics.drift.set_window(static_cast<size_t>(s.options.drift_window));
  s.handlers = std::make_unique<HandlerRegistry>(s.options.plugin_path.empty() ? PluginRegistry::default_search_path()
                                                                                : s.options.plugin_path);
  // The models asked for: NAME[:VERSION], or every model with a Production version.
  std::vector<std::pair<std::string, int>> wanted;
  for (const auto& m : s.options.models) {
    const size_t colon = m.rfind(':');
    int v = 0;
    if (colon != std::string::npos && !parse_version(m.substr(colon + 1), v))
      return Status::Error("--model takes NAME or NAME:VERSION, not '" + m + "'");
    wanted.emplace_back(colon == std::string::npos ? m : m.substr(0, colon), v);
  }
  if (s.options.models.empty()) {
    auto store = RunStore::open(s.options.store_dir);
    if (!store) return store.status();
    auto all = (*store)->list_models();
    if (!all) return all.status();
    for (const auto& m : *all)
      if (m.stage == "Production") wanted.emplace_back(m.name, m.version);
  }
  if (auto st = web::listen_on(s.acceptor, s.options.addr, s.loopback, s.port); !st) return st;
  s.require_token = s.options.require_token.value_or(!s.loopback || !s.options.token.empty());
  s.token = s.options.token.empty() && s.require_token ? web::make_token() : s.options.token;
  for (const auto& [name, version] : wanted) {
    auto v = s.load_version(name, version);
    if (!v) return v.status();
    s.install(*v, true);
    if (!s.options.quiet)
      std::cout << "ctflow serve: loaded " << name << " v" << (*v)->version << " (" << (*v)->handler << ", " << (*v)->stage
                << ") in " << static_cast<int>((*v)->load_seconds * 1000) << " ms" << std::endl;
  }
  s.accept();
  return Status::Ok();
}

uint16_t Server::port() const { return impl_->port; }
const std::string& Server::token() const { return impl_->token; }
bool Server::token_required() const { return impl_->require_token; }
bool Server::healthy() const { return impl_->healthy(); }

void Server::run(bool handle_signals) {
  std::optional<asio::signal_set> signals;
  if (handle_signals) {
    signals.emplace(impl_->ioc, SIGINT, SIGTERM);
    signals->async_wait([this](beast::error_code ec, int) {
      if (!ec) stop();
    });
  }
  std::vector<std::thread> extra;
  for (int i = 1; i < impl_->options.io_threads; ++i) extra.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : extra) t.join();
}

void Server::stop() {
  auto self = impl_;
  asio::post(self->ioc, [self] {
    self->stopping = true;
    beast::error_code ec;
    self->acceptor.close(ec);
    // Answers in flight get written; then the loop ends.
    auto timer = std::make_shared<asio::steady_timer>(self->ioc, std::chrono::milliseconds(300));
    timer->async_wait([self, timer](beast::error_code) { self->ioc.stop(); });
  });
}

int run_serve(const ServeOptions& options) {
  Server server(options);
  if (auto st = server.start(); !st) {
    std::cerr << "ctflow: error: " << st.message() << "\n";
    return 2;
  }
  if (!options.quiet) {
    std::string host = options.addr.substr(0, options.addr.rfind(':'));
    if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") host = "127.0.0.1";
    std::cout << "ctflow serve: listening on http://" << host << ":" << server.port() << " (store " << options.store_dir.string()
              << ")\n";
    if (server.token_required())
      std::cout << "ctflow serve: the management API needs \"Authorization: Bearer " << server.token() << "\"\n";
    if (!server.healthy())
      std::cout << "ctflow serve: no model loaded: the registry has no Production version yet; "
                   "POST /models/{model}/{version} loads one, or a workflow's deploy step with server=URL\n";
    std::cout << "ctflow serve: press Ctrl-C to stop" << std::endl;
  }
  server.run(true);
  return 0;
}

}  // namespace ctflow::serve

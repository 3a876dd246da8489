#include "mnist_deploy.h"

#include <cstdlib>
#include <regex>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ctflow::mnist {

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// The content digest of an artifact: taken from its blob path when it lies in the
// store (".../trees/<hex>" or ".../sha256/ab/<rest>"), else computed from the file.
std::string digest_of(const DeployOptions& o, const fs::path& p, const std::string& main_file) {
  static const std::regex tree(R"(/trees/([0-9a-f]{64})(/|$))"), file(R"(/sha256/([0-9a-f]{2})/([0-9a-f]{62})x?$)");
  std::smatch m;
  const std::string s = p.string();
  if (std::regex_search(s, m, tree)) return "sha256:" + m[1].str();
  if (std::regex_search(s, m, file)) return "sha256:" + m[1].str() + m[2].str();
  const fs::path f = resolve_in(p, main_file);
  std::error_code ec;
  if (!fs::is_regular_file(f, ec)) throw DataError("artifact " + q(f) + " does not exist");
  return o.digest_file(f);
}

// One HTTP/1.1 request to the inference server; returns {status, body}.
std::pair<int, std::string> http_call(const std::string& base, const std::string& method, const std::string& path) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  static const std::regex url(R"(^http://([^/:]+|\[[^\]]+\]):([0-9]{1,5})/?$)");
  std::smatch m;
  if (!std::regex_match(base, m, url))
    throw DataError("parameter 'server' must be http://HOST:PORT (a running `ctflow serve`), not '" + base + "'");
  std::string host = m[1].str();
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  auto results = asio::ip::tcp::resolver(ioc).resolve(host, m[2].str(), ec);
  if (!ec) stream.expires_after(std::chrono::seconds(10));
  if (!ec) stream.connect(results, ec);
  if (ec) throw DataError("cannot reach the inference server at " + base + ": " + ec.message() + "; is `ctflow serve` running?");
  http::request<http::string_body> req(method == "POST" ? http::verb::post : method == "PUT" ? http::verb::put
                                       : method == "DELETE" ? http::verb::delete_ : http::verb::get, path, 11);
  req.set(http::field::host, host + ":" + m[2].str());
  if (const char* t = std::getenv("CTFLOW_SERVE_TOKEN"); t != nullptr && *t != 0)
    req.set(http::field::authorization, std::string("Bearer ") + t);
  req.prepare_payload();
  // Loading a version includes its warm-up: allow it time.
  stream.expires_after(std::chrono::seconds(300));
  http::write(stream, req, ec);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  if (!ec) http::read(stream, buf, res, ec);
  if (ec) throw DataError("the inference server at " + base + " did not answer " + method + " " + path + ": " + ec.message());
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return {static_cast<int>(res.result_int()), res.body()};
}

// Loads VERSION into the server, makes it the default, and unloads the versions
// before the one it replaces (that one stays loaded: set-default back is an
// instant rollback).
void roll_out(const std::string& server, const std::string& name, int version) {
  const std::string base = "/models/" + name + "/" + std::to_string(version);
  auto check = [&](const std::pair<int, std::string>& r, const std::string& what) {
    if (r.first != 200) {
      std::string msg = r.second;
      try {
        msg = Json::parse(r.second).value("message", r.second);
      } catch (...) {
      }
      throw DataError("registered " + name + " v" + std::to_string(version) + " but the inference server at " + server +
                      " refused to " + what + " (HTTP " + std::to_string(r.first) + "): " + msg);
    }
  };
  Json before = Json::array();
  if (auto r = http_call(server, "GET", "/models/" + name); r.first == 200) before = Json::parse(r.second, nullptr, false);
  check(http_call(server, "POST", base), "load it");
  check(http_call(server, "PUT", base + "/set-default"), "make it the default");
  int previous = 0;
  if (before.is_array())
    for (const auto& v : before)
      if (v.value("isDefault", false)) previous = std::stoi(v.value("modelVersion", std::string("0")));
  if (before.is_array())
    for (const auto& v : before) {
      const int n = std::stoi(v.value("modelVersion", std::string("0")));
      if (n != version && n != previous && v.value("status", "") == "READY")
        http_call(server, "DELETE", "/models/" + name + "/" + std::to_string(n));
    }
}

}  // namespace

Json deploy(const DeployOptions& o) {
  if (!o.digest_file || !o.register_promote) throw DataError("mnist.deploy: no model registry to register with");
  Json artifacts = {{"model", digest_of(o, o.model, "model.pt")}, {"index", digest_of(o, o.index, "index.faiss")}};
  if (!o.report.empty()) artifacts["report"] = digest_of(o, o.report, "report.json");
  if (!o.profile.empty()) artifacts["profile"] = digest_of(o, o.profile, "profile.json");
  Json metrics = {{"accuracy", o.accuracy}};
  std::error_code ec;
  if (!o.report.empty() && fs::is_regular_file(o.report, ec)) {
    Json rep = read_json(o.report);
    if (rep.contains("per_class_accuracy")) metrics["per_class_accuracy"] = rep["per_class_accuracy"];
    if (rep.contains("k")) metrics["k"] = rep["k"];
  }
  Json lineage = o.params;
  lineage["run_id"] = o.run_id;
  lineage["handler"] = "mnist.knn";  // what `ctflow serve` runs it with
  lineage["step"] = o.step;
  lineage["paths"] = {{"model", o.model.string()}, {"index", o.index.string()}, {"report", o.report.string()}, {"profile", o.profile.string()}};
  if (!o.dataset.empty()) lineage["dataset"] = o.dataset.string();
  const fs::path meta = resolve_in(o.model, "meta.json").parent_path() / "meta.json";
  if (fs::is_regular_file(meta, ec)) {
    Json mm = read_json(meta);
    if (mm.contains("params")) lineage["train_params"] = mm["params"];
  }

  // Compare with Production, register, promote: one transaction in the host.
  Json r = o.register_promote({{"name", o.model_name},
                               {"artifacts", artifacts},
                               {"metrics", metrics},
                               {"params", lineage},
                               {"compare", {{"metric", "accuracy"}, {"higher_is_better", true}}}});
  const int version = r.value("version", 0);
  const bool promote = r.value("promoted", false);
  Json out = {{"name", o.model_name}, {"version", version}, {"stage", r.value("stage", std::string())},
              {"promoted", promote}};
  if (r.contains("previous") && r["previous"].is_object()) {
    const Json& prev = r["previous"];
    out["previous"] = {{"version", prev.value("version", 0)},
                       {"accuracy", prev.contains("metrics") && prev["metrics"].is_object()
                                        ? prev["metrics"].value("accuracy", 0.0) : 0.0}};
  }
  out["served"] = nullptr;
  if (!o.server.empty() && promote) {
    roll_out(o.server, o.model_name, version);
    out["served"] = version;
  }
  return out;
}

}  // namespace ctflow::mnist

#include "base/serve_rollout.h"

#include <cstdlib>
#include <regex>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace ctflow::rollout {

std::pair<int, std::string> http_call(const std::string& base, const std::string& method, const std::string& path) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  static const std::regex url(R"(^http://([^/:]+|\[[^\]]+\]):([0-9]{1,5})/?$)");
  std::smatch m;
  if (!std::regex_match(base, m, url))
    throw RolloutError("parameter 'server' must be http://HOST:PORT (a running `ctflow serve`), not '" + base + "'");
  std::string host = m[1].str();
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  auto results = asio::ip::tcp::resolver(ioc).resolve(host, m[2].str(), ec);
  if (!ec) stream.expires_after(std::chrono::seconds(10));
  if (!ec) stream.connect(results, ec);
  if (ec)
    throw RolloutError("cannot reach the inference server at " + base + ": " + ec.message() +
                       "; is `ctflow serve` running?");
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
  if (ec)
    throw RolloutError("the inference server at " + base + " did not answer " + method + " " + path + ": " +
                       ec.message());
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return {static_cast<int>(res.result_int()), res.body()};
}

void roll_out(const std::string& server, const std::string& name, int version) {
  const std::string base = "/models/" + name + "/" + std::to_string(version);
  auto check = [&](const std::pair<int, std::string>& r, const std::string& what) {
    if (r.first != 200) {
      std::string msg = r.second;
      try {
        msg = nlohmann::json::parse(r.second).value("message", r.second);
      } catch (...) {
      }
      throw RolloutError("the inference server at " + server + " refused to " + what + ", " + name + " v" +
                         std::to_string(version) + " (HTTP " + std::to_string(r.first) + "): " + msg);
    }
  };
  nlohmann::json before = nlohmann::json::array();
  if (auto r = http_call(server, "GET", "/models/" + name); r.first == 200)
    before = nlohmann::json::parse(r.second, nullptr, false);
  check(http_call(server, "POST", base), "load");
  check(http_call(server, "PUT", base + "/set-default"), "make the default");
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

}  // namespace ctflow::rollout

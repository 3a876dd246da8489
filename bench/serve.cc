// bench/serve: the parts of the serving benchmark that are not wrk (bench/serve.sh
// drives it all and prints the JSON).
//   serve bare STORE MODEL [ITERS]   the bare model: handler predict in a loop, no HTTP
//   serve rate URL BODY_FILE RPS SECONDS   open-loop client at a fixed rate, one
//                                    keep-alive connection: latency p50/p99
// Both print one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "engine/plugin_registry.h"
#include "store/run_store.h"
#include "web/serve/handler_host.h"

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int bare(const std::string& store_dir, const std::string& name, int iters) {
  auto store = ctflow::RunStore::open(store_dir);
  if (!store) return std::cerr << store.message() << "\n", 2;
  auto mv = (*store)->get_model(name, 0);
  if (!mv) return std::cerr << mv.message() << "\n", 2;
  auto config = ctflow::serve::handler_config(**store, *mv, 1, false);
  if (!config) return std::cerr << config.message() << "\n", 2;
  ctflow::serve::HandlerRegistry reg(ctflow::PluginRegistry::default_search_path());
  auto h = reg.find(mv->params.value("handler", std::string("mnist.knn")));
  if (!h) return std::cerr << h.message() << "\n", 2;
  auto m = ctflow::serve::LoadedModel::load(*h, *config);
  if (!m) return std::cerr << m.message() << "\n", 2;
  std::vector<float> img(784 * 32);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>((i * 37) % 256) / 255.0f;
  std::vector<std::string> ans;
  std::vector<int64_t> cls;
  for (int i = 0; i < 50; ++i) (void)(*m)->predict(img.data(), 1, ans, cls);
  std::vector<double> lat;
  const auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) {
    const auto a = Clock::now();
    (void)(*m)->predict(img.data(), 1, ans, cls);
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  const double s1 = std::chrono::duration<double>(Clock::now() - t0).count();
  // The same single image at 100 per second, as the light-load client sends
  // them: between calls the caches and the CPU cool down, as they do for a server.
  std::vector<double> paced;
  const auto p0 = Clock::now();
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_until(p0 + std::chrono::milliseconds(10) * i);
    const auto a = Clock::now();
    (void)(*m)->predict(img.data(), 1, ans, cls);
    paced.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  const int b_iters = std::max(1, iters / 32);
  const auto t1 = Clock::now();
  for (int i = 0; i < b_iters; ++i) (void)(*m)->predict(img.data(), 32, ans, cls);
  const double s32 = std::chrono::duration<double>(Clock::now() - t1).count();
  std::cout << Json{{"single_p50_us", pct(lat, 0.5)}, {"single_p99_us", pct(lat, 0.99)},
                    {"single_100rps_p50_us", pct(paced, 0.5)}, {"single_100rps_p99_us", pct(paced, 0.99)},
                    {"batch1_per_s", iters / s1}, {"batch32_per_s", 32.0 * b_iters / s32}}
                   .dump()
            << std::endl;
  return 0;
}

int rate(const std::string& url, const std::string& body_file, double rps, double seconds) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  std::ifstream in(body_file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  const auto colon = url.rfind(':'), slash = url.find('/', colon);
  const std::string host = url.substr(7, colon - 7), port = url.substr(colon + 1, slash - colon - 1);
  const std::string target = url.substr(slash);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::resolver(ioc).resolve(host, port));
  stream.socket().set_option(asio::ip::tcp::no_delay(true));
  beast::flat_buffer buf;
  std::vector<double> lat;
  int bad = 0;
  const auto period = std::chrono::duration<double>(1.0 / rps);
  const auto start = Clock::now();
  for (int i = 0; std::chrono::duration<double>(Clock::now() - start).count() < seconds; ++i) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(period * i);
    std::this_thread::sleep_until(due);
    http::request<http::string_body> req(http::verb::post, target, 11);
    req.set(http::field::host, host);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    const auto a = Clock::now();
    http::write(stream, req);
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    // Measured from the moment the request was due (open loop: no coordinated omission).
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - std::max(a, due)).count());
    bad += res.result_int() != 200;
  }
  std::cout << Json{{"rps", rps}, {"requests", lat.size()}, {"non_200", bad}, {"p50_us", pct(lat, 0.5)},
                    {"p99_us", pct(lat, 0.99)}}
                   .dump()
            << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() >= 3 && a[0] == "bare") return bare(a[1], a[2], a.size() > 3 ? std::stoi(a[3]) : 3000);
  if (a.size() == 5 && a[0] == "rate") return rate(a[1], a[2], std::stod(a[3]), std::stod(a[4]));
  std::cerr << "usage: serve bare STORE MODEL [ITERS] | serve rate URL BODY_FILE RPS SECONDS\n";
  return 2;
}

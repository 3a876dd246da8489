// Adaptive batching (web/serve/batcher.h) with a real handler table: a handler
// defined here whose answer is the sum of an input's pixels, and which records
// the batch sizes it is called with.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "web/serve/batcher.h"

using namespace ctflow::serve;
using namespace std::chrono_literals;

namespace {

std::mutex g_mu;
std::vector<int64_t> g_batches;
std::atomic<int> g_sleep_ms{0};

ctflow_model* load(const char*, char**) noexcept { return reinterpret_cast<ctflow_model*>(new int(0)); }
int predict(ctflow_model*, const float* in, int64_t n, char** out, int64_t* classes, char**) noexcept {
  {
    std::lock_guard lock(g_mu);
    g_batches.push_back(n);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(g_sleep_ms.load()));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < 4; ++j) s += in[i * 4 + j];
    const std::string a = std::to_string(static_cast<int>(s));
    out[i] = static_cast<char*>(std::malloc(a.size() + 1));
    std::memcpy(out[i], a.c_str(), a.size() + 1);
    classes[i] = static_cast<int64_t>(s) % 10;
  }
  return 0;
}
void unload(ctflow_model* m) noexcept { delete reinterpret_cast<int*>(m); }
const ctflow_handler_desc kSum = {CTFLOW_HANDLER_ABI_VERSION, sizeof(ctflow_handler_desc), "test.sum", "", 2, 2, load, predict, unload, nullptr};

std::shared_ptr<LoadedModel> model() {
  auto m = LoadedModel::load(&kSum, "{}");
  REQUIRE(m.ok());
  return std::shared_ptr<LoadedModel>(std::move(m.value()));
}

std::future<std::string> submit(Batcher& b, float v) {
  auto p = std::make_shared<std::promise<std::string>>();
  Job j;
  j.pixels = {v, v, v, v};
  j.n = 1;
  j.done = [p](const ctflow::Status& st, std::vector<std::string> a) { p->set_value(st ? a.at(0) : st.message()); };
  b.submit(std::move(j));
  return p->get_future();
}

}  // namespace

TEST_CASE("concurrent requests share forward passes, and each gets its own answer") {
  g_batches.clear();
  g_sleep_ms = 20;  // while one batch runs, the others queue up
  Metrics m;
  Batcher b(model(), {8, 0us}, m, "sum", 1);
  // 40 callers at once, as 40 connections would be.
  std::vector<std::string> got(40);
  std::vector<std::thread> callers;
  for (int i = 0; i < 40; ++i)
    callers.emplace_back([&, i] { got[static_cast<size_t>(i)] = submit(b, static_cast<float>(i)).get(); });
  for (auto& t : callers) t.join();
  for (int i = 0; i < 40; ++i) CHECK(got[static_cast<size_t>(i)] == std::to_string(4 * i));
  std::lock_guard lock(g_mu);
  int64_t total = 0, biggest = 0;
  for (auto n : g_batches) {
    total += n;
    biggest = std::max(biggest, n);
    CHECK(n <= 8);
  }
  CHECK(total == 40);
  CHECK(biggest == 8);
  CHECK(g_batches.size() < 40);
}

TEST_CASE("a request that arrives alone is not kept waiting for a batch") {
  g_sleep_ms = 0;
  Metrics m;
  Batcher b(model(), {32, std::chrono::microseconds(2'000'000)}, m, "sum", 1);  // a 2 s delay, never used
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(submit(b, 1.0f).get() == "4");
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
    std::this_thread::sleep_for(50ms);
  }
}

TEST_CASE("under a stream of requests the batcher waits up to max_delay to fill a batch") {
  g_batches.clear();
  g_sleep_ms = 0;
  Metrics m;
  Batcher b(model(), {16, std::chrono::microseconds(200'000)}, m, "sum", 1);
  std::vector<std::future<std::string>> f;
  for (int i = 0; i < 64; ++i) f.push_back(submit(b, 0.0f));  // back to back: gaps far below 200 ms
  for (auto& x : f) x.get();
  std::lock_guard lock(g_mu);
  int64_t full = 0;
  for (auto n : g_batches) full += n == 16;
  CHECK(full >= 3);
}

TEST_CASE("destroying a batcher runs what is queued first") {
  g_sleep_ms = 5;
  Metrics m;
  std::vector<std::future<std::string>> f;
  {
    Batcher b(model(), {2, 0us}, m, "sum", 1);
    for (int i = 0; i < 10; ++i) f.push_back(submit(b, 1.0f));
  }
  for (auto& x : f) CHECK(x.get() == "4");
}

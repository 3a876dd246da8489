// Adaptive batching, one Batcher per loaded model version: requests are queued
// and a worker thread runs them through the model in batches of up to
// max_batch inputs. The worker waits up to max_delay for a batch to fill only
// while requests arrive faster than that (an average of the gaps between
// arrivals); a request that arrives alone runs at once, on the caller's thread.
// Under load the batches
// fill by themselves while the previous one runs, as in TorchServe and Triton.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "web/serve/handler_host.h"
#include "web/serve/metrics.h"

namespace ctflow::serve {

struct BatchOptions {
  int64_t max_batch = 32;
  std::chrono::microseconds max_delay{2000};
};

struct Job {
  std::vector<float> pixels;  // n inputs
  int64_t n = 0;
  // Called on the worker thread: it must only hand the answers on (post them).
  std::function<void(const Status&, std::vector<std::string> answers)> done;
  std::chrono::steady_clock::time_point enqueued{};
};

class Batcher {
 public:
  Batcher(std::shared_ptr<LoadedModel> model, BatchOptions options, Metrics& metrics, std::string model_name,
          int version);
  // Runs what is queued, then stops the worker.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;
  void submit(Job job);
  // Runs N inputs now, on the caller's thread, bypassing the queue (warm-up).
  Status run_direct(const float* pixels, int64_t n);

 private:
  void loop();
  // One forward pass (one caller at a time), counted in the metrics.
  Status run_batch(const float* pixels, int64_t n, std::vector<std::string>& answers, std::vector<int64_t>& classes);
  std::shared_ptr<LoadedModel> model_;
  BatchOptions options_;
  Metrics& metrics_;
  std::string model_name_;
  int version_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  int64_t queued_ = 0;  // inputs in queue_
  bool stop_ = false;
  bool busy_ = false;  // a batch is running (on the worker, or inline in submit)
  double light_gap_us_;  // arrivals further apart than this: light load
  double gap_ewma_us_;
  std::chrono::steady_clock::time_point last_arrival_{};
  std::mutex model_mu_;  // predict: one caller at a time
  std::thread worker_;
};

}  // namespace ctflow::serve

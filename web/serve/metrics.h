// The inference server's Prometheus metrics (text exposition format 0.0.4):
// counters and histograms with atomics, so the request path takes no lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "web/serve/drift_window.h"

namespace ctflow::serve {

// A label value with \, " and newline escaped.
std::string label_escape(const std::string& v);

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Appends NAME_bucket{le=...}, NAME_sum and NAME_count lines.
  void render(std::string& out, const std::string& name) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // one per bound, then +Inf (not cumulative)
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // sum * 1e6, to stay in integers
};

class Metrics {
 public:
  Metrics();
  void request(int status, double seconds);
  void batch(int64_t size) { batch_size_.observe(static_cast<double>(size)); }
  void queue_add(int64_t n) { queue_depth_ += n; }
  // Per input: summary statistics for drift checks, and the predicted class.
  // NN (may be NULL): each input's distance to its nearest training example.
  void inputs(const std::string& model, int version, const float* pixels, int64_t n, int64_t per_input,
              const int64_t* classes, const double* nn = nullptr);
  // The drift windows the inputs fill (rendered with the rest).
  DriftWindows drift;
  // EXTRA: lines the server adds (the versions it serves).
  std::string render(const std::string& extra) const;

 private:
  std::array<std::atomic<uint64_t>, 600> by_code_{};
  Histogram latency_, batch_size_;
  std::atomic<int64_t> queue_depth_{0};
  mutable std::mutex mu_;  // the input statistics (taken once per batch)
  uint64_t inputs_ = 0;
  double mean_sum_ = 0, mean_sumsq_ = 0, ink_sum_ = 0;
  std::map<std::tuple<std::string, int, int64_t>, uint64_t> predictions_;
};

}  // namespace ctflow::serve

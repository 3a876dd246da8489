#include "web/serve/metrics.h"

#include <cmath>
#include <cstdio>

namespace ctflow::serve {

namespace {
std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}
}  // namespace

std::string label_escape(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<uint64_t>(std::llround(std::max(0.0, v) * 1e6)), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name) const {
  uint64_t cum = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cum += counts_[i].load(std::memory_order_relaxed);
    out += name + "_bucket{le=\"" + (i < bounds_.size() ? num(bounds_[i]) : "+Inf") + "\"} " + std::to_string(cum) + "\n";
  }
  out += name + "_sum " + num(static_cast<double>(sum_micro_.load()) / 1e6) + "\n";
  out += name + "_count " + std::to_string(count_.load()) + "\n";
}

Metrics::Metrics()
    : latency_({0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      batch_size_({1, 2, 4, 8, 16, 32, 64, 128, 256}) {}

void Metrics::request(int status, double seconds) {
  if (status >= 100 && status < 600) by_code_[static_cast<size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  latency_.observe(seconds);
}

void Metrics::inputs(const std::string& model, int version, const float* pixels, int64_t n, int64_t per_input,
                     const int64_t* classes, const double* nn) {
  drift.add(model, version, pixels, n, per_input, classes, nn);
  double ms = 0, ms2 = 0, ink = 0;
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    int64_t on = 0;
    const float* p = pixels + i * per_input;
    for (int64_t j = 0; j < per_input; ++j) {
      s += p[j];
      on += p[j] > 0.5f;
    }
    const double m = per_input ? s / static_cast<double>(per_input) : 0.0;
    ms += m;
    ms2 += m * m;
    ink += per_input ? static_cast<double>(on) / static_cast<double>(per_input) : 0.0;
  }
  std::lock_guard lock(mu_);
  inputs_ += static_cast<uint64_t>(n);
  mean_sum_ += ms;
  mean_sumsq_ += ms2;
  ink_sum_ += ink;
  for (int64_t i = 0; i < n; ++i)
    if (classes[i] >= 0) ++predictions_[{model, version, classes[i]}];
}

std::string Metrics::render(const std::string& extra) const {
  std::string o;
  o += "# HELP ctflow_serve_requests_total Inference and management requests answered, by HTTP status.\n";
  o += "# TYPE ctflow_serve_requests_total counter\n";
  for (size_t c = 100; c < by_code_.size(); ++c)
    if (auto v = by_code_[c].load(std::memory_order_relaxed))
      o += "ctflow_serve_requests_total{code=\"" + std::to_string(c) + "\"} " + std::to_string(v) + "\n";
  o += "# HELP ctflow_serve_request_duration_seconds Time from a request read to its answer written.\n";
  o += "# TYPE ctflow_serve_request_duration_seconds histogram\n";
  latency_.render(o, "ctflow_serve_request_duration_seconds");
  o += "# HELP ctflow_serve_batch_size Inputs per forward pass.\n# TYPE ctflow_serve_batch_size histogram\n";
  batch_size_.render(o, "ctflow_serve_batch_size");
  o += "# HELP ctflow_serve_queue_depth Inputs waiting for a forward pass.\n# TYPE ctflow_serve_queue_depth gauge\n";
  o += "ctflow_serve_queue_depth " + std::to_string(queue_depth_.load()) + "\n";
  std::lock_guard lock(mu_);
  const double n = static_cast<double>(inputs_);
  const double mean = n > 0 ? mean_sum_ / n : 0, var = n > 0 ? std::max(0.0, mean_sumsq_ / n - mean * mean) : 0;
  o += "# HELP ctflow_serve_inputs_total Inputs seen (for drift checks against the training data).\n";
  o += "# TYPE ctflow_serve_inputs_total counter\nctflow_serve_inputs_total " + std::to_string(inputs_) + "\n";
  o += "# HELP ctflow_serve_input_intensity_mean Mean over inputs of each input's mean pixel intensity (0..1).\n";
  o += "# TYPE ctflow_serve_input_intensity_mean gauge\nctflow_serve_input_intensity_mean " + num(mean) + "\n";
  o += "# HELP ctflow_serve_input_intensity_stddev Standard deviation over inputs of the mean pixel intensity.\n";
  o += "# TYPE ctflow_serve_input_intensity_stddev gauge\nctflow_serve_input_intensity_stddev " + num(std::sqrt(var)) + "\n";
  o += "# HELP ctflow_serve_input_ink_ratio Mean fraction of pixels above 0.5.\n";
  o += "# TYPE ctflow_serve_input_ink_ratio gauge\nctflow_serve_input_ink_ratio " + num(n > 0 ? ink_sum_ / n : 0) + "\n";
  o += "# HELP ctflow_serve_predictions_total Answers by predicted class (label shift shows here).\n";
  o += "# TYPE ctflow_serve_predictions_total counter\n";
  for (const auto& [k, v] : predictions_)
    o += "ctflow_serve_predictions_total{model=\"" + label_escape(std::get<0>(k)) + "\",version=\"" + std::to_string(std::get<1>(k)) +
         "\",class=\"" + std::to_string(std::get<2>(k)) + "\"} " + std::to_string(v) + "\n";
  o += drift.render();
  o += extra;
  return o;
}

}  // namespace ctflow::serve

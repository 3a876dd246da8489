// Drift in `ctflow serve`: per model, a sliding window of the last N inputs its
// default version answered (their pixel-intensity histograms, predicted classes
// and distances to the nearest training example), compared with the reference
// profile registered with that version (profile.json, written by mnist.analyze)
// by the tests of base/drift.h. Served as JSON at GET /models/{model}/drift and
// as ctflow_serve_drift_* on /metrics.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctflow {
class RunStore;
struct ModelVersion;
}  // namespace ctflow

namespace ctflow::serve {

// The profile registered with a version: {profile, ""}, or {null, why none}.
std::pair<nlohmann::json, std::string> load_profile(RunStore& store, const ModelVersion& version);

class DriftWindows {
 public:
  void set_window(size_t n);
  size_t window() const;
  // A version was loaded with PROFILE (null: REASON says why there is none).
  void set_profile(const std::string& model, int version, nlohmann::json profile, std::string reason);
  // The version whose inputs fill the window; a new one starts an empty window.
  void set_default(const std::string& model, int version);
  void forget(const std::string& model, int version);  // unloaded
  // N inputs of PER pixels answered by MODEL vVERSION; NN may be NULL.
  void add(const std::string& model, int version, const float* pixels, int64_t n, int64_t per, const int64_t* classes,
           const double* nn);
  // GET /models/{model}/drift; null when MODEL is not known.
  nlohmann::json report(const std::string& model) const;
  // ctflow_serve_drift_* lines for /metrics.
  std::string render() const;
  // Fewer inputs than this in the window: no score yet.
  size_t min_inputs() const;

 private:
  struct Entry {
    std::vector<uint16_t> hist;
    int64_t cls = -1;
    double nn = 0;
  };
  struct Model {
    int version = 0;  // the default version: its inputs fill the window
    std::deque<Entry> entries;
    std::vector<double> hist, classes;  // sums over entries
    std::map<int, std::pair<nlohmann::json, std::string>> profiles;
  };
  nlohmann::json report_locked(const std::string& name, const Model& m) const;
  mutable std::mutex mu_;
  size_t window_ = 500;
  std::map<std::string, Model> models_;
};

}  // namespace ctflow::serve

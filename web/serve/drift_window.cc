#include "web/serve/drift_window.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/drift.h"
#include "base/json_text.h"
#include "store/artifact_store.h"
#include "store/run_store.h"
#include "web/serve/metrics.h"  // label_escape

namespace ctflow::serve {

using Json = nlohmann::json;

std::pair<Json, std::string> load_profile(RunStore& store, const ModelVersion& mv) {
  const std::string who = "'" + mv.name + "' v" + std::to_string(mv.version);
  if (!mv.artifacts.contains("profile") || !mv.artifacts["profile"].is_string())
    return {nullptr, who + " was registered without a reference profile (a 'profile' artifact; mnist.deploy registers "
                           "the one mnist.analyze writes when the workflow passes it: profile: "
                           "\"{{steps.analyze.artifacts.profile}}\")"};
  ArtifactStore blobs(store.blobs_dir());
  auto a = blobs.get(mv.artifacts["profile"].get<std::string>());
  if (!a) return {nullptr, "the profile of " + who + " cannot be read: " + a.message()};
  std::filesystem::path p = a->path;
  if (std::filesystem::is_directory(p)) p /= "profile.json";
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  Json j = json_parse(ss.str());
  if (!in || j.is_discarded()) return {nullptr, "the profile of " + who + " (" + p.string() + ") is not JSON text"};
  if (std::string bad = drift::check_profile(j); !bad.empty()) return {nullptr, who + ": " + bad};
  return {std::move(j), ""};
}

void DriftWindows::set_window(size_t n) {
  std::lock_guard lock(mu_);
  window_ = std::max<size_t>(1, n);
}

size_t DriftWindows::window() const {
  std::lock_guard lock(mu_);
  return window_;
}

size_t DriftWindows::min_inputs() const { return std::min<size_t>(window_, 100); }

void DriftWindows::set_profile(const std::string& model, int version, Json profile, std::string reason) {
  std::lock_guard lock(mu_);
  models_[model].profiles[version] = {std::move(profile), std::move(reason)};
}

void DriftWindows::set_default(const std::string& model, int version) {
  std::lock_guard lock(mu_);
  Model& m = models_[model];
  if (m.version == version) return;
  m.version = version;
  m.entries.clear();
  m.hist.assign(drift::kIntensityBins, 0.0);
  m.classes.clear();
}

void DriftWindows::forget(const std::string& model, int version) {
  std::lock_guard lock(mu_);
  auto it = models_.find(model);
  if (it == models_.end()) return;
  it->second.profiles.erase(version);
  if (it->second.profiles.empty()) models_.erase(it);
}

void DriftWindows::add(const std::string& model, int version, const float* pixels, int64_t n, int64_t per,
                       const int64_t* classes, const double* nn) {
  constexpr int kBins = drift::kIntensityBins;
  std::vector<Entry> fresh(static_cast<size_t>(std::max<int64_t>(0, n)));
  for (int64_t i = 0; i < n; ++i) {  // outside the lock
    Entry& e = fresh[static_cast<size_t>(i)];
    e.hist.assign(kBins, 0);
    const float* p = pixels + i * per;
    for (int64_t j = 0; j < per; ++j) ++e.hist[static_cast<size_t>(drift::intensity_bin(p[j], kBins))];
    e.cls = classes != nullptr ? classes[i] : -1;
    e.nn = nn != nullptr ? nn[i] : std::nan("");
  }
  std::lock_guard lock(mu_);
  auto it = models_.find(model);
  if (it == models_.end() || it->second.version != version) return;  // only the default version's traffic counts
  Model& m = it->second;
  if (m.hist.size() != static_cast<size_t>(kBins)) m.hist.assign(kBins, 0.0);
  for (auto& e : fresh) {
    if (m.entries.size() >= window_) {
      const Entry& old = m.entries.front();
      for (int b = 0; b < kBins; ++b) m.hist[static_cast<size_t>(b)] -= old.hist[static_cast<size_t>(b)];
      if (old.cls >= 0) m.classes[static_cast<size_t>(old.cls)] -= 1;
      m.entries.pop_front();
    }
    for (int b = 0; b < kBins; ++b) m.hist[static_cast<size_t>(b)] += e.hist[static_cast<size_t>(b)];
    if (e.cls >= 0) {
      if (m.classes.size() <= static_cast<size_t>(e.cls)) m.classes.resize(static_cast<size_t>(e.cls) + 1, 0.0);
      m.classes[static_cast<size_t>(e.cls)] += 1;
    }
    m.entries.push_back(std::move(e));
  }
}

Json DriftWindows::report_locked(const std::string& name, const Model& m) const {
  Json out = {{"model", name}, {"version", m.version}, {"window", window_}, {"count", m.entries.size()}};
  auto pit = m.profiles.find(m.version);
  auto none = [&](std::string reason) {
    out["score"] = nullptr;
    out["drifted"] = nullptr;
    out["signals"] = Json::object();
    out["reason"] = std::move(reason);
    return out;
  };
  if (m.version == 0) return none("no version of '" + name + "' is loaded");
  if (pit == m.profiles.end() || pit->second.first.is_null())
    return none(pit == m.profiles.end() ? "no profile for v" + std::to_string(m.version) : pit->second.second);
  if (m.entries.size() < min_inputs())
    return none("the window holds " + std::to_string(m.entries.size()) + " inputs; a score needs at least " +
                std::to_string(min_inputs()));
  drift::Observed ob;
  ob.count = static_cast<int64_t>(m.entries.size());
  ob.intensity = m.hist;
  ob.classes = m.classes;
  for (const auto& e : m.entries)
    if (!std::isnan(e.nn)) ob.neighbor_distance.push_back(e.nn);
  Json r = drift::compare(pit->second.first, ob, "predicted");
  for (auto& [k, v] : r.items()) out[k] = v;
  return out;
}

Json DriftWindows::report(const std::string& model) const {
  std::lock_guard lock(mu_);
  auto it = models_.find(model);
  if (it == models_.end()) return nullptr;
  return report_locked(model, it->second);
}

std::string DriftWindows::render() const {
  auto num = [](double v) {
    char b[40];
    std::snprintf(b, sizeof b, "%.9g", v);
    return std::string(b);
  };
  std::string score, drifted, overall, detected, inputs;
  std::lock_guard lock(mu_);
  for (const auto& [name, m] : models_) {
    const std::string l = "model=\"" + label_escape(name) + "\"";
    inputs += "ctflow_serve_drift_window_inputs{" + l + "} " + std::to_string(m.entries.size()) + "\n";
    const Json r = report_locked(name, m);
    if (r["score"].is_null()) continue;
    overall += "ctflow_serve_drift_overall{" + l + "} " + num(r["score"].get<double>()) + "\n";
    detected += "ctflow_serve_drift_detected{" + l + "} " + (r["drifted"].get<bool>() ? "1" : "0") + "\n";
    for (const auto& [sig, s] : r["signals"].items()) {
      const std::string ls = l + ",signal=\"" + sig + "\"";
      score += "ctflow_serve_drift_score{" + ls + "} " + num(s["score"].get<double>()) + "\n";
      drifted += "ctflow_serve_drift_signal_drifted{" + ls + "} " + (s["drifted"].get<bool>() ? "1" : "0") + "\n";
    }
  }
  return "# HELP ctflow_serve_drift_window_inputs Inputs in the drift window of the default version.\n"
         "# TYPE ctflow_serve_drift_window_inputs gauge\n" + inputs +
         "# HELP ctflow_serve_drift_score Drift of one signal against the version's profile (PSI; KS: the statistic D).\n"
         "# TYPE ctflow_serve_drift_score gauge\n" + score +
         "# HELP ctflow_serve_drift_signal_drifted 1 when the signal drifts (PSI >= 0.1; KS p-value < 0.05).\n"
         "# TYPE ctflow_serve_drift_signal_drifted gauge\n" + drifted +
         "# HELP ctflow_serve_drift_overall Share of the signals that drift (Evidently's dataset drift share).\n"
         "# TYPE ctflow_serve_drift_overall gauge\n" + overall +
         "# HELP ctflow_serve_drift_detected 1 when at least half the signals drift.\n"
         "# TYPE ctflow_serve_drift_detected gauge\n" + detected;
}

}  // namespace ctflow::serve

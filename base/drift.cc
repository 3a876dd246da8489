#include "base/drift.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ctflow::drift {

using Json = nlohmann::json;

double psi(const std::vector<double>& reference, const std::vector<double>& current) {
  const double sr = std::accumulate(reference.begin(), reference.end(), 0.0);
  const double sc = std::accumulate(current.begin(), current.end(), 0.0);
  if (sr <= 0 || sc <= 0) return 0;
  double v = 0;
  for (size_t i = 0; i < reference.size() && i < current.size(); ++i) {
    double r = reference[i] / sr, c = current[i] / sc;
    if (r == 0) r = kPsiZeroShare;
    if (c == 0) c = kPsiZeroShare;
    v += (c - r) * std::log(c / r);
  }
  return v;
}

double kolmogorov_sf(double lambda) {
  if (lambda <= 0) return 1;
  if (lambda < 0.2) return 1;  // the series converges slowly there; Q(0.2) = 1 - 1e-11
  double sum = 0;
  for (int k = 1; k <= 100; ++k) {
    const double term = std::exp(-2.0 * k * k * lambda * lambda);
    sum += (k % 2 ? 1.0 : -1.0) * term;
    if (term < 1e-16) break;
  }
  return std::clamp(2.0 * sum, 0.0, 1.0);
}

KsResult ks_2samp(std::vector<double> a, std::vector<double> b) {
  KsResult r;
  if (a.empty() || b.empty()) return r;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const double n = static_cast<double>(a.size()), m = static_cast<double>(b.size());
  size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);  // step past every value equal to x in both
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / n - static_cast<double>(j) / m));
  }
  r.statistic = d;
  r.p_value = kolmogorov_sf(std::sqrt(n * m / (n + m)) * d);
  return r;
}

void add_intensity(const float* pixels, int64_t n, int64_t per, std::vector<double>& hist) {
  if (hist.empty()) hist.assign(kIntensityBins, 0.0);
  const int bins = static_cast<int>(hist.size());
  for (int64_t i = 0; i < n * per; ++i) hist[static_cast<size_t>(intensity_bin(pixels[i], bins))] += 1;
}

std::vector<double> quantile_sample(std::vector<double> values, size_t max) {
  std::sort(values.begin(), values.end());
  if (values.size() <= max || max == 0) return values;
  std::vector<double> out(max);
  for (size_t i = 0; i < max; ++i) {
    // the (i + 0.5) / max quantile
    const size_t at = static_cast<size_t>((static_cast<double>(i) + 0.5) * static_cast<double>(values.size()) / static_cast<double>(max));
    out[i] = values[std::min(at, values.size() - 1)];
  }
  return out;
}

namespace {

std::vector<double> numbers(const Json& j) {
  std::vector<double> out;
  if (!j.is_array()) return out;
  for (const auto& v : j)
    if (v.is_number()) out.push_back(v.get<double>());
  return out;
}

Json psi_signal(const std::vector<double>& ref, const std::vector<double>& cur) {
  const double s = psi(ref, cur);
  return {{"method", "psi"}, {"score", s}, {"threshold", kPsiThreshold}, {"drifted", s >= kPsiThreshold}};
}

}  // namespace

std::string check_profile(const Json& p) {
  if (!p.is_object()) return "the profile is not a JSON object";
  if (p.value("format", std::string()) != kProfileFormat)
    return std::string("the profile's \"format\" is not \"") + kProfileFormat + "\"";
  if (p.contains("intensity") && numbers(p["intensity"].value("counts", Json())).empty())
    return "the profile's intensity histogram has no counts";
  return "";
}

Json compare(const Json& profile, const Observed& ob, const std::string& class_key) {
  Json signals = Json::object();
  if (const std::string bad = check_profile(profile); !bad.empty())
    return {{"score", nullptr}, {"drifted", nullptr}, {"signals", signals}, {"reason", bad}};
  if (profile.contains("intensity") && !ob.intensity.empty()) {
    const auto ref = numbers(profile["intensity"]["counts"]);
    if (ref.size() == ob.intensity.size()) signals["intensity"] = psi_signal(ref, ob.intensity);
  }
  if (profile.contains("class_balance") && !ob.classes.empty()) {
    auto ref = numbers(profile["class_balance"].value(class_key, Json()));
    if (!ref.empty()) {
      auto cur = ob.classes;
      const size_t k = std::max(ref.size(), cur.size());
      ref.resize(k, 0.0);
      cur.resize(k, 0.0);
      signals["class_balance"] = psi_signal(ref, cur);
    }
  }
  if (profile.contains("neighbor_distance") && !ob.neighbor_distance.empty()) {
    const auto ref = numbers(profile["neighbor_distance"].value("sample", Json()));
    if (!ref.empty()) {
      const KsResult ks = ks_2samp(ref, ob.neighbor_distance);
      signals["neighbor_distance"] = {{"method", "ks"}, {"score", ks.statistic}, {"p_value", ks.p_value},
                                      {"threshold", kKsPValue}, {"drifted", ks.p_value < kKsPValue}};
    }
  }
  if (signals.empty())
    return {{"score", nullptr}, {"drifted", nullptr}, {"signals", signals},
            {"reason", "no signal to compare: the profile and what was observed share none"}};
  int drifted = 0;
  for (const auto& [name, s] : signals.items()) drifted += s["drifted"].get<bool>() ? 1 : 0;
  const double share = static_cast<double>(drifted) / static_cast<double>(signals.size());
  return {{"score", share}, {"drifted", share >= kDriftShare}, {"method", "share of drifted signals"},
          {"threshold", kDriftShare}, {"signals", signals}};
}

}  // namespace ctflow::drift

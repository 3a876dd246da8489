// Drift statistics shared by `ctflow serve` (a sliding window of what a model
// sees) and mnist.validate (a new dataset): each compares what it observed with
// a model version's reference profile (profile.json, written by mnist.analyze).
// The tests and thresholds are Evidently's published defaults:
//   - PSI for histograms and categories, drift when PSI >= 0.1; an empty bin
//     counts as a share of 0.0001 (Evidently's fill for zeros);
//   - a two-sample Kolmogorov-Smirnov test for a numeric signal whose reference
//     sample holds at most 1,000 values, drift when the p-value < 0.05;
//   - the overall ("dataset") score: the share of signals that drift; the whole
//     drifts when that share is >= 0.5.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctflow::drift {

inline constexpr double kPsiThreshold = 0.1;
inline constexpr double kKsPValue = 0.05;
inline constexpr double kDriftShare = 0.5;
inline constexpr double kPsiZeroShare = 0.0001;
inline constexpr int kIntensityBins = 30;          // Evidently's n_bins for PSI
inline constexpr size_t kReferenceSample = 1000;   // reference values kept for KS
inline constexpr const char* kProfileFormat = "ctflow-drift-profile-v1";

// PSI = sum over bins of (cur - ref) * ln(cur / ref), shares of each total.
// Both vectors are counts (or shares) over the same bins.
double psi(const std::vector<double>& reference, const std::vector<double>& current);

struct KsResult {
  double statistic = 0;  // D: the largest gap between the two empirical CDFs
  double p_value = 1;    // asymptotic (Kolmogorov): Q(sqrt(n m / (n + m)) D)
};
// Two-sided two-sample KS test. Copies and sorts.
KsResult ks_2samp(std::vector<double> a, std::vector<double> b);
// Q_KS(lambda) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2), the Kolmogorov
// distribution's survival function.
double kolmogorov_sf(double lambda);

// Adds N images of PER pixels in [0, 1] to HIST (BINS equal-width bins over
// [0, 1]; 1.0 falls in the last).
void add_intensity(const float* pixels, int64_t n, int64_t per, std::vector<double>& hist);
inline int intensity_bin(double v, int bins) {
  const int b = static_cast<int>(v * bins);
  return b < 0 ? 0 : b >= bins ? bins - 1 : b;
}

// At most MAX evenly spaced order statistics of VALUES (a sample for KS).
std::vector<double> quantile_sample(std::vector<double> values, size_t max = kReferenceSample);

// What was observed (a window, or a dataset), to compare with a profile.
struct Observed {
  int64_t count = 0;                     // inputs
  std::vector<double> intensity;         // pixel counts per bin (empty: not observed)
  std::vector<double> classes;           // inputs per class (empty: not observed)
  std::vector<double> neighbor_distance; // one per input (empty: not observed)
};

// The drift report: {"score", "drifted", "signals": {"intensity": {"method":
// "psi", "score", "threshold", "drifted"}, "class_balance": {...},
// "neighbor_distance": {"method": "ks", "score": D, "p_value", "threshold",
// "drifted"}}}. A signal the profile or the observation lacks is left out;
// with none left, "score" is null and "reason" says why. CLASS_KEY: the
// profile's class-balance field to compare with ("predicted" for served
// answers, "labels" for a dataset's labels).
nlohmann::json compare(const nlohmann::json& profile, const Observed& observed, const std::string& class_key);

// Checks a profile's shape; an error message, or empty when it is usable.
std::string check_profile(const nlohmann::json& profile);

}  // namespace ctflow::drift

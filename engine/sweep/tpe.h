// The Tree-structured Parzen Estimator, as Optuna's default sampler
// (TPESampler, independent mode): after n_startup_trials random trials, the
// finished trials are split by objective into the best gamma(n) ("good") and
// the rest ("bad"); for each parameter a Parzen estimator (a mixture of
// truncated normals, one per trial plus a prior over the whole range; in log
// space on a log scale; for values, a weighted histogram with a prior) is fit
// to each group, n_ei_candidates are drawn from the good one, and the one with
// the highest l(x)/g(x) is suggested.
#pragma once

#include <vector>

#include "engine/sweep/sampler.h"

namespace ctflow::sweep {

struct TpeOptions {
  SweepGoal goal = SweepGoal::Maximize;
  int n_startup_trials = 10;   // Optuna's defaults
  int n_ei_candidates = 24;
  double prior_weight = 1.0;
};

// gamma(n) = min(ceil(0.1 n), 25): how many of n finished trials are "good".
int tpe_gamma(int n);
// Optuna's default_weights: 1 for each of n < 25 trials; from 25 on the
// older trials weigh less (a ramp from 1/n to 1), the newest 25 weigh 1.
std::vector<double> tpe_weights(int n);

class TpeSampler : public Sampler {
 public:
  TpeSampler(std::vector<SweepParam> params, uint64_t seed, TpeOptions options = {})
      : params_(std::move(params)), seed_(seed), options_(options) {}
  std::optional<Value> suggest(const std::vector<TrialRecord>& history) const override;

 private:
  std::vector<SweepParam> params_;
  uint64_t seed_;
  TpeOptions options_;
};

// A mixture of normals truncated to [lo, hi] (weights sum to 1).
struct Parzen {
  std::vector<double> mus, sigmas, weights;
  double lo = 0, hi = 1;
  // Fit to OBSERVATIONS (with their WEIGHTS) as Optuna does: each sigma the
  // larger gap to a neighbour, clipped to [(hi-lo)/min(100, kernels+1), hi-lo],
  // plus a prior kernel at the middle with sigma hi-lo and weight PRIOR_WEIGHT.
  static Parzen fit(const std::vector<double>& observations, const std::vector<double>& weights, double lo,
                    double hi, double prior_weight);
  double sample(Rng& rng) const;
  double log_pdf(double x) const;
};

}  // namespace ctflow::sweep

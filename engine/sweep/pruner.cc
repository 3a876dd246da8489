#include "engine/sweep/pruner.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ctflow::sweep {
namespace {

// VALUE as "higher is better"; not finite: the worst.
double signed_value(SweepGoal goal, double value) {
  if (!std::isfinite(value)) return -std::numeric_limits<double>::infinity();
  return goal == SweepGoal::Maximize ? value : -value;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

}  // namespace

Decision MedianPruner::report(int trial, int64_t step, double value) {
  if (stopped_.count(trial)) return Decision::Stop;
  auto& mine = values_[trial];
  mine[step] = signed_value(goal_, value);
  if (step < min_steps_) return Decision::Continue;
  std::vector<double> others;
  for (const auto& [t, steps] : values_) {
    if (t == trial) continue;
    if (auto it = steps.find(step); it != steps.end()) others.push_back(it->second);
  }
  if (others.empty() || static_cast<int>(others.size()) < warmup_trials_) return Decision::Continue;
  double best = -std::numeric_limits<double>::infinity();
  for (auto it = mine.begin(); it != mine.end() && it->first <= step; ++it) best = std::max(best, it->second);
  if (best < median(others)) {
    stopped_.insert(trial);
    return Decision::Stop;
  }
  return Decision::Continue;
}

int64_t AshaPruner::rung_step(size_t k) const {
  int64_t s = min_steps_;
  for (size_t i = 0; i < k; ++i) {
    if (s > std::numeric_limits<int64_t>::max() / reduction_) return std::numeric_limits<int64_t>::max();
    s *= reduction_;
  }
  return s;
}

Decision AshaPruner::report(int trial, int64_t step, double value) {
  if (stopped_.count(trial)) return Decision::Stop;
  const double v = signed_value(goal_, value);
  size_t& k = next_rung_[trial];
  while (rung_step(k) <= step && rung_step(k) != std::numeric_limits<int64_t>::max()) {
    if (rungs_.size() <= k) rungs_.resize(k + 1);
    auto& rung = rungs_[k];
    rung.push_back(v);
    const size_t keep = std::max<size_t>(1, rung.size() / static_cast<size_t>(reduction_));
    const auto better = static_cast<size_t>(std::count_if(rung.begin(), rung.end(), [&](double x) { return x > v; }));
    if (better >= keep) {
      stopped_.insert(trial);
      return Decision::Stop;
    }
    ++k;
  }
  return Decision::Continue;
}

std::unique_ptr<Pruner> make_pruner(const SweepSpec& spec) {
  if (!spec.early_stop) return nullptr;
  const EarlyStopSpec& e = *spec.early_stop;
  if (e.method == EarlyStopMethod::Median)
    return std::make_unique<MedianPruner>(spec.goal, e.min_steps, e.warmup_trials);
  return std::make_unique<AshaPruner>(spec.goal, e.min_steps, e.reduction);
}

}  // namespace ctflow::sweep

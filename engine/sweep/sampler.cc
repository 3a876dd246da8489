#include "engine/sweep/sampler.h"

#include <algorithm>
#include <cmath>

#include "engine/sweep/tpe.h"

namespace ctflow::sweep {

std::optional<Value> GridSampler::suggest(const std::vector<TrialRecord>& history) const {
  const uint64_t next = history.size();
  if (next >= grid_.size() || (cap_ > 0 && next >= cap_)) return std::nullopt;
  return grid_.point(next);
}

std::optional<Value> RandomSampler::suggest(const std::vector<TrialRecord>& history) const {
  Rng rng = Rng::for_trial(seed_, history.size());
  Value out = Value::object();
  for (const auto& p : params_) out[p.name] = sample_uniform(p, rng);
  return out;
}

Result<std::unique_ptr<Sampler>> make_sampler(const SweepSpec& spec) {
  if (spec.parameters.empty()) return Status::InvalidArgument("a sweep needs at least one parameter");
  switch (spec.method) {
    case SweepMethod::Grid: {
      auto grid = Grid::make(spec.parameters);
      if (!grid.ok()) return grid.status();
      return std::unique_ptr<Sampler>(new GridSampler(std::move(*grid), static_cast<uint64_t>(std::max(spec.trials, 0))));
    }
    case SweepMethod::Random:
      return std::unique_ptr<Sampler>(new RandomSampler(spec.parameters, spec.seed));
    case SweepMethod::Tpe: {
      TpeOptions options;
      options.goal = spec.goal;
      return std::unique_ptr<Sampler>(new TpeSampler(spec.parameters, spec.seed, options));
    }
  }
  return Status::InvalidArgument("unknown sweep method");
}

std::optional<size_t> best_trial(const std::vector<TrialRecord>& history, SweepGoal goal) {
  std::optional<size_t> best;
  for (size_t i = 0; i < history.size(); ++i) {
    const auto& t = history[i];
    if (t.status != TrialStatus::Succeeded || !t.objective || std::isnan(*t.objective)) continue;
    const double v = *t.objective, b = best ? *history[*best].objective : 0;
    if (!best || (goal == SweepGoal::Maximize ? v > b : v < b)) best = i;
  }
  return best;
}

Result<uint64_t> trial_budget(const SweepSpec& spec) {
  if (spec.method != SweepMethod::Grid) {
    if (spec.trials < 1) return Status::InvalidArgument("a random or tpe sweep needs 'trials' (at least 1)");
    return static_cast<uint64_t>(spec.trials);
  }
  auto grid = Grid::make(spec.parameters);
  if (!grid.ok()) return grid.status();
  if (spec.trials > 0) return std::min<uint64_t>(grid->size(), static_cast<uint64_t>(spec.trials));
  return grid->size();
}

}  // namespace ctflow::sweep

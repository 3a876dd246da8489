// Samplers: what a sweep's next trial tries, from the trials so far. Pure:
// a suggestion depends only on the spec (seed included) and the history, so
// the same history gives the same suggestion, and a resumed sweep goes on
// with the trials the first run would have tried.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "engine/ir.h"
#include "base/status.h"
#include "engine/sweep/space.h"

namespace ctflow::sweep {

enum class TrialStatus { Running, Succeeded, Stopped, Failed };

// One trial of the history, in the order the trials were started (trial
// number = index). OBJECTIVE: the trial's objective metric (for a Stopped
// trial, its value when it was stopped); none when it never reported one.
struct TrialRecord {
  Value params = Value::object();
  std::optional<double> objective;
  TrialStatus status = TrialStatus::Running;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The parameters of trial number history.size() (an object, parameter
  // name -> value); none when the search space is exhausted (a grid).
  virtual std::optional<Value> suggest(const std::vector<TrialRecord>& history) const = 0;
};

// Every combination of the grid in Grid's order (the last parameter varies fastest).
class GridSampler : public Sampler {
 public:
  explicit GridSampler(Grid grid, uint64_t cap = 0) : grid_(std::move(grid)), cap_(cap) {}
  std::optional<Value> suggest(const std::vector<TrialRecord>& history) const override;

 private:
  Grid grid_;
  uint64_t cap_;  // 0: no cap
};

// Each parameter drawn uniformly (log-uniformly on a log scale), seeded.
class RandomSampler : public Sampler {
 public:
  RandomSampler(std::vector<SweepParam> params, uint64_t seed) : params_(std::move(params)), seed_(seed) {}
  std::optional<Value> suggest(const std::vector<TrialRecord>& history) const override;

 private:
  std::vector<SweepParam> params_;
  uint64_t seed_;
};

// The sampler SPEC asks for; an error when its space cannot be searched that
// way (a grid over a float range without step or count).
Result<std::unique_ptr<Sampler>> make_sampler(const SweepSpec& spec);

// The trial a sweep reports as its best: the Succeeded trial with the best
// objective for GOAL (the first of equals); a Stopped trial's value is not
// final and does not count. None when no trial succeeded with an objective.
std::optional<size_t> best_trial(const std::vector<TrialRecord>& history, SweepGoal goal);

// How many trials SPEC runs: `trials`, or for a grid every combination
// (capped by `trials` when given).
Result<uint64_t> trial_budget(const SweepSpec& spec);

}  // namespace ctflow::sweep

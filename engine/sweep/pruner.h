// Early stopping over the trials' live metrics: the median rule and ASHA.
// A pruner is told each value of the objective metric as it arrives and
// answers at once whether that trial goes on. Deterministic: no clock, no
// I/O; replaying the same reports in the same order rebuilds its state (for
// resume). Steps are the metric's `step`; for points without one the caller
// numbers a trial's points 1, 2, 3, ...
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "engine/ir.h"

namespace ctflow::sweep {

enum class Decision { Continue, Stop };

class Pruner {
 public:
  virtual ~Pruner() = default;
  // TRIAL reported VALUE at STEP. Stop: end the trial (it ends Stopped). A
  // trial once stopped gets Stop for every later report. A value that is not
  // finite (NaN, inf) counts as the worst possible value.
  virtual Decision report(int trial, int64_t step, double value) = 0;
};

// The median stopping rule (Optuna's MedianPruner, Vizier's rule): at step s
// (from min_steps on), a trial whose best value up to s is worse than the
// median of the values the other trials reported at s is stopped, once at
// least warmup_trials other trials have reported at s. Every trial's values
// count, finished or running or stopped: decisions come as reports arrive.
class MedianPruner : public Pruner {
 public:
  MedianPruner(SweepGoal goal, int64_t min_steps, int warmup_trials)
      : goal_(goal), min_steps_(min_steps), warmup_trials_(warmup_trials) {}
  Decision report(int trial, int64_t step, double value) override;

 private:
  SweepGoal goal_;
  int64_t min_steps_;
  int warmup_trials_;
  std::map<int, std::map<int64_t, double>> values_;  // trial -> step -> value (goal-signed: higher is better)
  std::set<int> stopped_;
};

// Asynchronous successive halving (ASHA; Li et al. 2020, Optuna's
// SuccessiveHalvingPruner): rungs at steps min_steps * reduction^k. When a
// trial first reports at or past a rung, that value joins the rung's values
// and the trial goes on only if it is among the best max(1, floor(n /
// reduction)) of the n values the rung holds by then (ties go on). Early
// arrivals at a rung are judged against fewer trials: that is the price of
// never waiting. A report that passes several rungs is judged at each.
class AshaPruner : public Pruner {
 public:
  AshaPruner(SweepGoal goal, int64_t min_steps, int reduction)
      : goal_(goal), min_steps_(min_steps < 1 ? 1 : min_steps), reduction_(reduction < 2 ? 2 : reduction) {}
  Decision report(int trial, int64_t step, double value) override;
  // The step of rung K.
  int64_t rung_step(size_t k) const;

 private:
  SweepGoal goal_;
  int64_t min_steps_;
  int reduction_;
  std::vector<std::vector<double>> rungs_;  // rung -> values (goal-signed: higher is better)
  std::map<int, size_t> next_rung_;         // trial -> the first rung it has not passed
  std::set<int> stopped_;
};

// The pruner SPEC's early_stop asks for; null when it has none.
std::unique_ptr<Pruner> make_pruner(const SweepSpec& spec);

}  // namespace ctflow::sweep

// The dashboard's view of a run's sweeps (`sweep:` steps): for each, its
// search space as the workflow text gives it (each parameter's range or
// values and scale), its objective and goal, the best trial, and every trial
// with its parameters, status, objective and steps reached.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "engine/ir.h"
#include "store/run_store.h"

namespace ctflow::web {

// STEPS: the run document's steps (a trial carries "trial", its parameters).
// WORKFLOW: the run's parsed workflow text, or null (then the parameters are
// the trials' keys, on a linear scale). METRICS: the run's metric points.
// One entry per sweep step, in the order its first trial appears:
//   {"step", "method", "metric", "goal", "parameters": [{"name", "kind",
//    "scale", "min", "max" | "values"}], "best_trial", "best_value", "best",
//    "trials": [{"index", "name", "status", "params", "objective", "live",
//    "steps_reached", "message"}]}
// A trial's objective is its output once it ended (a failed trial has none,
// as in `ctflow get`), or while it runs (live) the latest value of the
// objective metric it recorded; steps reached is the highest
// metric step it recorded (its objective's step when the store has none).
nlohmann::json sweeps_view(const nlohmann::json& steps, const Workflow* workflow,
                           const std::vector<MetricPoint>& metrics);

}  // namespace ctflow::web

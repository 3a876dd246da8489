// A sweep whose trials come from a param (`trials: "{{params.trials}}"`) that
// is 0 in the export's params runs no trial, as `ctflow run` would not: the
// export leaves the step out, its dependents take its own needs, and
// `{{steps.S.outputs.best.NAME}}` becomes the parameter's `default` (every
// parameter of such a sweep must have one). workflows/mnist-ct.yaml exports
// this way by default (trials 0).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "engine/ir.h"

namespace ctflow {

// WF without those sweeps; LEFT_OUT gets their names.
Workflow without_untried_sweeps(const Workflow& wf, const Value& params, std::vector<std::string>* left_out);

}  // namespace ctflow

namespace ctflow {

// How `ctflow export` compiles the sweeps left: each becomes a fan-out over
// trials sampled now (grid order, or seeded random draws: the trials `ctflow
// run` would start) and a step that picks the best.
//
//   S-trials  the step itself, for_each over the trials ({{trial.X}} becomes
//             {{item.X}}), at the sweep's parallelism; each trial writes its
//             objective (the last value of the objective metric it appended
//             to $CTFLOW_METRICS) as output `objective`
//   S         a shell step reading every trial's objective that outputs
//             best_trial, best_value, best (JSON) and best_NAME for each
//             parameter; {{steps.S.outputs.best.NAME}} downstream becomes
//             {{steps.S.outputs.best_NAME}}
//
// TPE (each trial drawn from the finished ones) and early stopping (live
// metrics) have no fan-out form: an error at the sweep, unless PLAIN (the
// --sweep-as-fanout flag) accepts seeded random draws run to the end; NOTES
// then says what changed. Reading the best trial's other outputs or its
// artifacts is an error at the reading step. Argo reads the trials'
// objectives as its aggregated output of the fan-out, Kubeflow v2 as the
// for-loop's collected output (dsl.Collected).
struct SweepFanout {
  bool plain = false;                 // accept TPE as random draws, early stopping dropped
  std::vector<std::string>* notes = nullptr;
};
Result<Workflow> sweeps_as_fanout(const Workflow& wf, const Value& params, const SweepFanout& opt);

// The shell script of the picking step: reads $CTFLOW_PARAM_OBJECTIVES (the
// trials' objectives as a JSON list of strings, "" for a trial that reported
// none) and writes the files best_trial, best_value, best and best_NAME.
std::string sweep_pick_script(const std::vector<Value>& trials, SweepGoal goal);

}  // namespace ctflow

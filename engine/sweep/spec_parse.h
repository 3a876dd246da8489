// Reads a step's `sweep:` block (ctflow/v1) into a SweepSpec:
//   sweep:
//     parameters:
//       lr:     {min: 1.0e-4, max: 1.0e-2, scale: log}
//       margin: {min: 0.1, max: 0.5}
//       dim:    {values: [32, 64, 128]}
//     method: tpe            # grid | random | tpe
//     trials: 16
//     parallelism: 2
//     seed: 7
//     objective: {metric: val_accuracy, goal: maximize}
//     early_stop: {method: asha, min_steps: 1, reduction: 3}
// Every problem is reported at its place with the fix; what could be read is
// returned either way.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "engine/diag.h"
#include "engine/ir.h"

namespace ctflow::sweep {

// Grids bigger than this need `trials` to cap them.
constexpr uint64_t kMaxGridTrials = 100000;

SweepSpec parse_sweep_block(const YAML::Node& node, const std::string& file, Diagnostics& diags);

}  // namespace ctflow::sweep

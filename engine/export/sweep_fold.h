// A sweep whose trials come from a param (`trials: "{{params.trials}}"`) that
// is 0 in the export's params runs no trial, as `ctflow run` would not: the
// export leaves the step out, its dependents take its own needs, and
// `{{steps.S.outputs.best.NAME}}` becomes the parameter's `default` (every
// parameter of such a sweep must have one). workflows/mnist-ct.yaml exports
// this way by default (trials 0).
#pragma once

#include <string>
#include <vector>

#include "engine/ir.h"

namespace ctflow {

// WF without those sweeps; LEFT_OUT gets their names.
Workflow without_untried_sweeps(const Workflow& wf, const Value& params, std::vector<std::string>* left_out);

}  // namespace ctflow

// Whole-workflow checks that follow parsing: the dependency graph (Boost.Graph:
// cycles named step by step, unknown steps), references in templates and
// expressions (unknown params, steps that are not upstream, undeclared outputs),
// plugin parameters, and resources the host cannot give.
#pragma once

#include <string>
#include <vector>

#include "engine/diag.h"
#include "engine/graph.h"  // topological_order, direct_dependencies: callers of validate use them too
#include "engine/ir.h"
#include "engine/plugin_registry.h"

namespace ctflow {

struct HostCapacity {
  double cpus = 1;
  int gpus = 0;
  int64_t memory = 0;  // bytes
  static HostCapacity detect();
};

struct ValidateOptions {
  PluginRegistry* plugins = nullptr;  // null: plugin checks are skipped
  HostCapacity host = HostCapacity::detect();
};

void validate_workflow(const Workflow& wf, const ValidateOptions& options, Diagnostics& diags);

// Resolves params: defaults, then "-p NAME=VALUE" assignments, typed. Errors
// name the assignment and say what is expected. Missing required params are errors.
Result<Value> bind_params(const Workflow& wf, const std::vector<std::string>& assignments);

}  // namespace ctflow

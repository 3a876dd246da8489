// The dependency graph of a workflow, read from its steps' needs and depends:
// what validation, the Plan and the exporters share.
#pragma once

#include <string>
#include <vector>

#include "engine/ir.h"

namespace ctflow {

// Names of the steps that STEP depends on directly (needs, or those named in depends).
std::vector<std::string> direct_dependencies(const Step& step);

// Step names in an order where every step comes after what it depends on
// (needs and depends). Requires a workflow without cycles.
std::vector<std::string> topological_order(const Workflow& wf);

}  // namespace ctflow

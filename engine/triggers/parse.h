// The `triggers:` block of a ctflow/v1 workflow (docs/workflow-format.md,
// "Triggers"): read into Workflow::triggers, every mistake reported with its
// place, a schedule that can never fire included.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/diag.h"
#include "engine/ir.h"

namespace ctflow::triggers {

// Reads NODE (the value of `triggers:`) into WF.triggers; WF.params must be read.
void parse_triggers(const YAML::Node& node, const std::string& file, Workflow& wf, Diagnostics& d);

// The {{event.X}} names a trigger of KIND offers to its params.
bool event_ref_allowed(TriggerKind kind, const std::string& ref);

}  // namespace ctflow::triggers

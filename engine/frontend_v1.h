// The ctflow/v1 frontend: YAML text -> Workflow IR. Reports every problem it
// finds (unknown keys with a "did you mean", duplicate keys, wrong types, bad
// names, malformed expressions and templates) with its file position. Checks
// that need the whole workflow or the plugins live in validate.h.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/diag.h"
#include "engine/ir.h"
#include "base/status.h"

namespace ctflow {

struct LoadResult {
  std::optional<Workflow> workflow;  // set when the text could be read at all
  Diagnostics diags;
  bool ok() const { return workflow.has_value() && diags.empty(); }
};

// The run's parameters by name, as text, for what shapes a workflow when it
// is read: the Argo frontend's dag.target, withSequence bounds and withParam
// over a template (see ArgoOptions::params). ctflow/v1 workflows ignore them.
using ShapeParams = std::map<std::string, std::string>;
ShapeParams shape_params(const std::vector<std::string>& assignments);  // -p NAME=VALUE
ShapeParams shape_params(const Value& params);                          // a run's stored params

// Parses TEXT as a ctflow/v1 (or Argo) workflow; FILE names it in messages.
LoadResult parse_workflow_text(const std::string& text, const std::string& file, const ShapeParams& params = {});
// Reads and parses FILE.
LoadResult load_workflow_file(const std::string& file, const ShapeParams& params = {});

}  // namespace ctflow

// Helpers shared by the YAML frontends: typed scalars and positions.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "engine/ir.h"

namespace ctflow {

// A YAML node as a typed value: plain scalars become bool/int/float/null when
// they read as one; quoted scalars stay strings.
Value yaml_to_value(const YAML::Node& node);
SourcePos yaml_pos(const std::string& file, const YAML::Node& node);
SourcePos yaml_pos(const std::string& file, const YAML::Mark& mark);
// "a string", "a number", "a list", "a map", "null".
std::string yaml_kind(const YAML::Node& node);
bool yaml_is_quoted(const YAML::Node& node);

}  // namespace ctflow

// Helpers shared by the YAML frontends: typed scalars and positions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// A map's entries read once, for many lookups by key. yaml-cpp's operator[]
// is a linear search too, but a key that is not there costs it a
// std::stringstream (for an error message it never shows), and most of a
// step's optional keys are not there. A missing key gives an undefined node,
// false in a test, as operator[] does. A duplicate key gives the first entry.
class MapView {
 public:
  explicit MapView(const YAML::Node& map) {
    if (!map.IsMap()) return;
    entries_.reserve(map.size());
    for (const auto& kv : map)
      if (kv.first.IsScalar()) entries_.emplace_back(kv.first.Scalar(), kv.second);
  }
  YAML::Node operator[](std::string_view key) const {
    for (const auto& [k, v] : entries_)
      if (k == key) return v;
    return YAML::Node(YAML::NodeType::Undefined);
  }

 private:
  std::vector<std::pair<std::string_view, YAML::Node>> entries_;  // views into the document's nodes
};

}  // namespace ctflow

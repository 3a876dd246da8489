#include "engine/yaml_util.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>

namespace ctflow {

bool yaml_is_quoted(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "!"; }

Value yaml_to_value(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return s;
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      if (s == "null" || s == "Null" || s == "NULL" || s == "~") return nullptr;
      static const std::regex kInt("[-+]?[0-9]+");
      static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
      if (std::regex_match(s, kInt)) {
        errno = 0;
        long long v = std::strtoll(s.c_str(), nullptr, 10);
        if (errno != ERANGE) return static_cast<int64_t>(v);
      }
      if (std::regex_match(s, kFloat)) return std::strtod(s.c_str(), nullptr);
      if (s == ".inf" || s == ".Inf") return INFINITY;
      if (s == "-.inf" || s == "-.Inf") return -INFINITY;
      return s;
    }
    case YAML::NodeType::Sequence: {
      Value out = Value::array();
      for (const auto& item : node) out.push_back(yaml_to_value(item));
      return out;
    }
    case YAML::NodeType::Map: {
      Value out = Value::object();
      for (const auto& kv : node) out[kv.first.Scalar()] = yaml_to_value(kv.second);
      return out;
    }
  }
  return nullptr;
}

SourcePos yaml_pos(const std::string& file, const YAML::Mark& mark) {
  if (mark.line < 0) return {file, 0, 0};
  return {file, mark.line + 1, mark.column + 1};
}

SourcePos yaml_pos(const std::string& file, const YAML::Node& node) { return yaml_pos(file, node.Mark()); }

std::string yaml_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return "nothing";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Scalar: {
      Value v = yaml_to_value(node);
      if (v.is_boolean()) return "a boolean";
      if (v.is_number()) return "a number";
      return "a string";
    }
  }
  return "?";
}

}  // namespace ctflow

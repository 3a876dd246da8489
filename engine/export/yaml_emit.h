// Deterministic YAML text from a JSON document, for the exporters.
//
// Keys are written in the document's insertion order (nlohmann::ordered_json), so
// the exporter decides the layout and golden files stay stable. Output is block
// style, two-space indents, and every string is written so that a YAML 1.1 or 1.2
// reader (yaml-cpp, PyYAML, Go's yaml.v2/v3 in Argo and Kubeflow) reads back the
// same string: plain when that is unambiguous, 'single-quoted' when it fits on one
// line, a literal block (|) for multi-line text, "double-quoted" with escapes
// otherwise.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace ctflow::yaml_emit {

using Doc = nlohmann::ordered_json;

// The whole document, ending with a newline.
std::string to_yaml(const Doc& doc);

// One scalar as it would appear after "key: " (for tests and for comments).
std::string scalar(const Doc& value);

// True when `s` may be written without quotes and still read back as this string.
bool is_plain_safe(const std::string& s);

}  // namespace ctflow::yaml_emit

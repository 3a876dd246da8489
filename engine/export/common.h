// Small pieces both exporters share: Kubernetes-safe names, messages with source
// positions, the text form of values, Kubernetes quantities and Go durations.
#pragma once

#include <map>
#include <set>
#include <string>

#include "engine/ir.h"
#include "base/status.h"

namespace ctflow::export_detail {

// "FILE:LINE:COL: error: MESSAGE" (LINE:COL left out when unknown, FILE too).
Status error_at(const SourcePos& pos, const std::string& file_fallback, const std::string& message);

// Hands out names that match [a-z0-9]([-a-z0-9]*[a-z0-9])? (DNS labels, as Argo
// wants for template and task names), unique within one allocator.
class NameAllocator {
 public:
  // A name for `wanted`: '_' and other characters become '-', a leading digit
  // gets "s-", a taken name gets "-2", "-3"...
  std::string allocate(const std::string& wanted);
  void reserve(const std::string& name) { used_.insert(name); }
  bool taken(const std::string& name) const { return used_.count(name) > 0; }

 private:
  std::set<std::string> used_;
};

// The text of a value where a string is wanted: a string as itself, anything
// else as compact JSON (1, 0.5, true, [1,2], {"a":1}).
std::string value_text(const Value& v);

// Call steps and sweeps grow the DAG while it runs: an export refuses them,
// with the position and what to do instead.
Status no_calls(const Workflow& wf, const std::string& target);

// CTFLOW_PARAM_<NAME>: upper-cased, anything but [A-Z0-9_] becomes '_'.
std::string param_env_name(const std::string& with_key);

// Kubernetes quantities: cpu 2 -> "2", 0.5 -> "500m"; bytes -> "4Gi", "512Mi", "1000".
std::string cpu_quantity(double cores);
std::string memory_quantity(int64_t bytes);

// Go durations as Argo reads them: 2 -> "2s", 90 -> "90s", 0.5 -> "500ms".
std::string go_duration(double seconds);

// google.protobuf.Duration in the proto3 JSON mapping (what Kubeflow's API server
// reads): seconds with up to 9 fractional digits and an "s": 0.5 -> "0.5s",
// 2 -> "2s", 0.001 -> "0.001s". Never "500ms".
std::string proto_duration(double seconds);

// A number as short text: 2 -> "2", 1.5 -> "1.5".
std::string number_text(double v);

// Every stated param value: resolved_params over the declared defaults.
std::map<std::string, Value> param_values(const Workflow& wf, const Value& resolved_params);

}  // namespace ctflow::export_detail

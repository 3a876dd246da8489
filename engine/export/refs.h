// What the exporters need to read out of a ctflow workflow's strings: the
// {{ref}} placeholders of templated strings, and `when` expressions, parsed into
// small values that each backend prints in its own dialect (Argo's {{tasks...}}
// and govaluate, Kubeflow's {{$.inputs...}} and CEL).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/ir.h"
#include "base/status.h"

namespace ctflow::export_detail {

// One reference, as written between {{ and }} (or bare, in an expression).
struct Ref {
  enum class Kind { Param, StepOutput, StepArtifact, StepStatus, Item, Workflow };
  Kind kind = Kind::Param;
  std::string name;   // param name, step name, workflow field ("name", "run_id", ...)
  std::string field;  // output or artifact name; for Item: the key path after "item." or ""
  std::string text;   // the reference as written, trimmed ("steps.a.outputs.p")
};

// Parses "params.x", "steps.a.outputs.p", "steps.a.artifacts.m", "steps.a.status",
// "item", "item.k", "workflow.name" / run_id / status / failures.
Result<Ref> parse_ref(const std::string& text);

// Every {{ref}} in `text`, in order.
Result<std::vector<Ref>> refs_in(const std::string& text);

// `text` with each {{ref}} replaced by render(ref). Text outside placeholders is
// copied unchanged. Errors: an unclosed "{{", an unknown reference, or render's own.
Result<std::string> rewrite(const std::string& text, const std::function<Result<std::string>(const Ref&)>& render);

// True when `text` is exactly one placeholder (so the value keeps its type).
bool is_single_ref(const std::string& text);

// Every string inside a JSON value (keys excluded), depth first, in order.
void for_each_string(const Value& v, const std::function<void(const std::string&)>& f);

// A parsed `when` expression (see workflow-format.md, "Expressions").
struct Expr {
  enum class Kind { Or, And, Not, Compare, In, Literal, RefValue, List };
  Kind kind = Kind::Literal;
  std::string op;                      // Compare: == != < <= > >=
  std::vector<std::unique_ptr<Expr>> args;
  Value literal;                       // Literal
  Ref ref;                             // RefValue
};

Result<std::unique_ptr<Expr>> parse_expr(const std::string& text);

// Calls f on every reference in an expression.
void for_each_ref(const Expr& e, const std::function<void(const Ref&)>& f);

}  // namespace ctflow::export_detail

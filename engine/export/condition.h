// One printer for `when` conditions, in the dialect of each exporter: Argo's
// govaluate (a DAG task's `when`) and Kubeflow v2's CEL (triggerPolicy.condition).
#pragma once

#include <functional>
#include <string>

#include "engine/expr.h"
#include "engine/export/refs.h"
#include "engine/ir.h"
#include "base/status.h"

namespace ctflow::export_detail {

// What is known of an operand's type before the run: a literal's, or a param's
// declared int, float or bool. Everything else (string and json params, step
// outputs, items, nested expressions) is Unknown.
enum class OperandType { Unknown, String, Number, Bool, Null };

// How one backend writes a condition. The operands of a comparison or an `in` are
// "marked" (all of them) when one has type `mark_on`, or, with `mark_unknown_pair`,
// when a comparison has two operands of Unknown type. A marked reference is wrapped
// in marked_ref_open/close, a marked integer literal gets marked_integer_suffix.
struct ConditionDialect {
  const char* in_open;    // value + in_open + item, item... + in_close
  const char* in_close;
  bool escape_newline;    // in a string literal ('...': quote and backslash always escaped)
  OperandType mark_on;
  bool mark_unknown_pair;
  const char* marked_ref_open;
  const char* marked_ref_close;
  const char* marked_integer_suffix;
  const char* null_error;  // the message for a null literal
  // Spelled alike in both dialects so far.
  const char* or_op = " || ";
  const char* and_op = " && ";
  const char* not_open = "!(";  // a negation: not_open + expression + not_close
  const char* not_close = ")";
  const char* list_sep = ", ";
  bool match_method = false;  // a =~ b as a.matches(b) (CEL), else as a =~ b (govaluate)
};

// Argo: `'{{tasks.a.outputs.result}}' == 'ok' && {{workflow.parameters.n}} > 2`;
// values are pasted in before govaluate reads them, so a comparison with a string,
// or of two values of unknown type, quotes its references.
extern const ConditionDialect kGovaluate;
// Kubeflow: `double(inputs.parameter_values['pipelinechannel--n']) > 2.0`; values
// are strings unless declared, so a comparison with a number converts them.
extern const ConditionDialect kCel;

// A `when` as an expression, or "in expression 'TEXT': MESSAGE at offset N".
Result<expr::Expr> parse_condition(const std::string& text);

// `e` (a parsed `when`) as `dialect` writes it; `ref` gives a reference's text
// (before marking). An n-ary && or || is written as its left-nested pairs
// ("(a && b) && c"), as both backends read it.
Result<std::string> print_condition(const expr::Expr& e, const ConditionDialect& dialect, const Workflow& wf,
                                    const RefRenderer& ref);

}  // namespace ctflow::export_detail

// The expression language of `when:` and `depends:` (spec: "Expressions").
//
//   expr    := or
//   or      := and ('||' and)*
//   and     := not ('&&' not)*
//   not     := '!' not | cmp
//   cmp     := value (('=='|'!='|'<'|'<='|'>'|'>='|'=~'|'matches') value | 'in' list)?
//   value   := NUMBER | STRING | true | false | null | REF | '{{' REF '}}' | '(' expr ')'
//            | FUNC '(' (expr (',' expr)*)? ')'
//   list    := '[' (value (',' value)*)? ']'
//
// FUNC is one of expr-lang's functions as Argo's expressions use them
// (engine/expr_funcs.cc): asInt(x), asFloat(x), string(x), toJson(x),
// jsonpath(json, path) (path: $, .key, ['key'], [n], [a:b], [*],
// [?(@.key OP value && ...)]); another name before '(' is a parse error.
//
// Expressions are evaluated on typed values (ctflow::Value), never on pasted
// text: a string holding spaces, quotes or '-' is always one value.
//
// Comparison rules:
//  - numbers compare as numbers (int with float is fine);
//  - strings compare as strings (bytewise);
//  - a number and a string that is fully a number literal compare as numbers;
//  - null == x is true only when x is null, and null != x is its negation
//    (so `steps.a.outputs.x == null` works); ordering a null is an error;
//  - same-typed bools, lists and objects support == and != only;
//  - any other mixed comparison, with any operator, is an error that names both
//    operands and their types: cannot compare "abc" (string) with 3 (int) using <
// `a =~ b` (also written `a matches b`, as in expr-lang) is true when the
// regular expression b (ECMAScript syntax, which covers RE2's common subset)
// matches somewhere in a; numbers are matched as their text; a literal b that
// is not a regular expression is a parse error.
// `&&`, `||` and `!` need booleans and short-circuit; `in` is membership by `==`.
//
// An Expr is immutable and cheap to copy (the tree is shared); eval() is safe
// to call from several threads at once if the resolver is.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/ir.h"
#include "base/status.h"

namespace ctflow::expr {

struct ParseError {
  size_t offset = 0;     // 0-based byte offset into the text
  std::string message;   // e.g. "expected a value after '&&'"
};

// The syntax tree, for readers that print or inspect an expression (the
// exporters): And/Or are n-ary, so `a && b && c` is one And of three; `(a &&
// b) && c` is an And whose first operand is an And. Parentheses leave no node.
enum class Kind { Literal, Ref, Not, And, Or, Cmp, In, Call,
                  // Syntax::ExprLang only:
                  Arith, Ternary, Coalesce, Index, Member, List, Object, Closure };
enum class CmpOp { Eq, Ne, Lt, Le, Gt, Ge, Match };

// "==", "!=", "<", "<=", ">", ">=", "=~".
const char* op_text(CmpOp op);

struct Node {
  Kind kind = Kind::Literal;
  Value literal;                            // Literal; Object: its keys (a list of strings)
  std::string ref;                          // Ref: the REF (without braces); Call: the function;
                                            // Arith: "+", "-", "*", "/", "%" ("-" with one kid: negation);
                                            // Member: the key
  CmpOp op = CmpOp::Eq;                     // Cmp
  std::vector<std::unique_ptr<Node>> kids;  // Not: 1; And/Or: n; Cmp: 2; In: lhs, then the list; Call: the arguments;
                                            // Arith: 2 (or 1); Ternary: cond, then, else; Coalesce: 2;
                                            // Index: value, index; Member: 1; List, Object: the values; Closure: 1
};

// Which language a text is read in. Ctflow: the grammar above (`when:`,
// `depends:`, the exporters). ExprLang: also the parts of expr-lang that Argo's
// expressions use: `c ? a : b`, `a ?? b` (b when a is null or cannot be read,
// such as the output of a step that did not run), + - * / % (`/` gives a float;
// + joins strings), `x[i]` and `x.key` on any value, `NAME['key']` in a REF
// (`tasks['flip-coin'].outputs.result` is the REF tasks.flip-coin.outputs.result),
// list `[a, b]` and object `{key: v}` literals, and closures over `#` as the
// last argument of map, filter, all, any and count: `map(xs, {# * 2})`.
enum class Syntax { Ctflow, ExprLang };

// Where a REF is written in the text: [offset, offset + length) covers the REF
// itself, without the braces of a `{{ REF }}`.
struct RefSpan {
  size_t offset = 0;
  size_t length = 0;
};

class Expr {
 public:
  // Nesting deeper than this ('(' and '!') is a parse error, not a stack overflow.
  static constexpr int kMaxDepth = 200;

  static std::variant<Expr, ParseError> parse(std::string_view text, Syntax syntax = Syntax::Ctflow);

  // Every REF in the expression, in order of first appearance, without
  // duplicates: "steps.a.outputs.x", "params.n", "a.Succeeded". A `{{ REF }}`
  // contributes its REF.
  const std::vector<std::string>& refs() const { return refs_; }

  // REF -> typed value, or an error Status (e.g. "unknown param 'x'"); an error
  // is returned from eval() unchanged.
  using Resolver = std::function<Result<Value>(const std::string& ref)>;
  Result<Value> eval(const Resolver& r) const;
  // Like eval(), and the result must be a bool:
  // "expression must be a boolean, got int 3".
  Result<bool> eval_bool(const Resolver& r) const;

  // Every REF as written, each occurrence, in order (refs() has each once).
  const std::vector<RefSpan>& ref_spans() const { return spans_; }

  const std::string& text() const { return text_; }
  const Node& root() const { return *root_; }

 private:
  Expr() = default;
  std::string text_;
  std::vector<std::string> refs_;
  std::vector<RefSpan> spans_;
  std::shared_ptr<const Node> root_;
};

// True when `text` is a REF: dot-separated segments of letters, digits, '_' and
// '-', the first starting with a letter or '_' ("steps.make-data.outputs.n").
// The words true, false, null and in are not REFs.
bool is_ref(std::string_view text);

// Length of the REF-shaped prefix of `text` (0 when none); used by the
// templating module to share the same REF syntax. Stops before a trailing '.'.
size_t scan_ref(std::string_view text);

// "string", "int", "float", "bool", "null", "list", "object".
const char* type_name(const Value& v);

// The functions a Call may name, and calling one (engine/expr_funcs.cc).
// Under Syntax::ExprLang also sprig's (sprig.add, ...) and expr-lang's
// closures' (map, filter, all, any, count, evaluated by the caller).
bool is_function(std::string_view name, Syntax syntax = Syntax::Ctflow);
bool takes_closure(std::string_view name);  // map, filter, all, any, count
const char* function_names(Syntax syntax = Syntax::Ctflow);  // "asInt, asFloat, string, toJson, jsonpath"
Result<Value> call_function(const std::string& name, const std::vector<Value>& args);
// A value for messages: strings quoted, everything else compact JSON; long
// texts are shortened with "...". Never throws (invalid UTF-8 is replaced).
std::string describe(const Value& v);

}  // namespace ctflow::expr

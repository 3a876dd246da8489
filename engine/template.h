// `{{ REF }}` substitution in strings (spec: "References and templating").
//
// A REF is the same dotted name as in expressions (expr::is_ref); whitespace
// is allowed inside the braces: "{{params.n}}", "{{ steps.a.outputs.x }}".
// There is no escape: every "{{" starts a reference.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/expr.h"
#include "engine/ir.h"
#include "base/status.h"

namespace ctflow::tmpl {

struct TemplateError {
  size_t offset = 0;     // 0-based byte offset into the text
  std::string message;   // "unclosed '{{'", "empty reference '{{}}'", ...
};

// One "{{ REF }}" in a text: [begin, end) covers the braces; `ref` is the
// REF without the blanks around it.
struct Placeholder {
  size_t begin = 0;
  size_t end = 0;
  std::string ref;
};

// Every placeholder in `text`, in order, or the first syntax error.
std::variant<std::vector<Placeholder>, TemplateError> placeholders(std::string_view text);

// A syntax error as a Status: "<message> at offset N in '<text>'".
Status error_status(const TemplateError& e, std::string_view text);

// True when `text` is one "{{...}}" and nothing else: it starts with "{{",
// ends with the first "}}" and holds no other "{{". Only the braces are
// looked at (what is between them is checked by placeholders()).
bool is_single_placeholder(std::string_view text);

// Checks the syntax (an unclosed "{{", an empty "{{}}", a REF that is not a
// dotted identifier path) and returns every REF in order of appearance,
// duplicates included.
std::variant<std::vector<std::string>, TemplateError> refs(std::string_view text);

using Resolver = expr::Expr::Resolver;

// A string that is exactly one {{ref}} (nothing before "{{" or after "}}")
// keeps the value's type: "{{params.n}}" -> 3. Otherwise each {{ref}} is
// replaced by the value's text: a string as-is, anything else as compact JSON
// ("n={{params.n}}" -> "n=3", "xs={{params.xs}}" -> "xs=[1,2]").
// Errors: a syntax error as "<message> at offset N in '<text>'"; a resolver
// error is returned unchanged.
Result<Value> render(const std::string& text, const Resolver& r);

// Renders every string inside `v`, recursively (object values and array
// elements; object keys are left as they are). Other values are unchanged.
Result<Value> render_value(const Value& v, const Resolver& r);

}  // namespace ctflow::tmpl

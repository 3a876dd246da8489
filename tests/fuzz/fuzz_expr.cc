// Expr::parse on arbitrary bytes, then evaluation of what parses.
// Invariants: no crash, no exception, no sanitizer report; errors have an
// offset inside the text and a message; refs are REFs without duplicates;
// eval_bool agrees with eval; wrapping in "!( )" negates a boolean result.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "engine/expr.h"
#include "fuzz_values.h"

using ctflow::Result;
using ctflow::Status;
using ctflow::Value;
using ctflow::expr::Expr;
using ctflow::expr::ParseError;

namespace {

Result<Value> resolve(const std::string& ref) {
  if (ref.size() % 7 == 6) return Status::Error("unknown reference '" + ref + "'");
  return ctflow::fuzz::value_for(ref);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = Expr::parse(text);
  if (const auto* err = std::get_if<ParseError>(&parsed)) {
    if (err->offset > text.size() || err->message.empty()) __builtin_trap();
    return 0;
  }
  const Expr& e = std::get<Expr>(parsed);
  if (e.text() != text) __builtin_trap();
  std::set<std::string> seen;
  for (const std::string& ref : e.refs()) {
    if (!ctflow::expr::is_ref(ref) || !seen.insert(ref).second) __builtin_trap();
  }

  Result<Value> v = e.eval(resolve);
  Result<bool> b = e.eval_bool(resolve);
  if (v.ok() != b.ok() && !(v.ok() && !v->is_boolean())) __builtin_trap();
  if (v.ok() && v->is_boolean() && (!b.ok() || *b != v->get<bool>())) __builtin_trap();
  if (!v.ok() && v.message().empty()) __builtin_trap();

  auto negated = Expr::parse("!(" + std::string(text) + ")");
  if (const auto* n = std::get_if<Expr>(&negated)) {
    Result<bool> nb = n->eval_bool(resolve);
    if (b.ok() && (!nb.ok() || *nb == *b)) __builtin_trap();
  } else if (std::get<ParseError>(negated).message.find("nested too deeply") == std::string::npos) {
    __builtin_trap();  // a valid expression stays valid in parentheses
  }
  return 0;
}

// tmpl::refs / render / render_value on arbitrary bytes.
// Invariants: no crash, no exception, no sanitizer report; render fails on
// syntax exactly when refs() does (the resolver here never fails); a text
// without references renders to itself; error offsets lie inside the text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/template.h"
#include "fuzz_values.h"

using ctflow::Result;
using ctflow::Value;
namespace tmpl = ctflow::tmpl;

namespace {

Result<Value> resolve(const std::string& ref) { return ctflow::fuzz::value_for(ref); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto refs = tmpl::refs(text);
  Result<Value> rendered = tmpl::render(text, resolve);
  if (const auto* err = std::get_if<tmpl::TemplateError>(&refs)) {
    if (err->offset >= text.size() || err->message.empty() || rendered.ok()) __builtin_trap();
  } else {
    const auto& names = std::get<std::vector<std::string>>(refs);
    for (const std::string& ref : names) {
      if (!ctflow::expr::is_ref(ref)) __builtin_trap();
    }
    if (!rendered.ok()) __builtin_trap();
    if (names.empty() && *rendered != Value(text)) __builtin_trap();
    if (names.size() > 1 && !rendered->is_string()) __builtin_trap();
  }

  const Value nested = {{"k", text}, {"l", Value::array({text, 1, Value{{"m", text}}})}};
  Result<Value> whole = tmpl::render_value(nested, resolve);
  if (whole.ok() != rendered.ok()) __builtin_trap();
  if (whole.ok() && (*whole)["k"] != *rendered) __builtin_trap();
  return 0;
}

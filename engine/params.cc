#include "engine/params.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "base/json_text.h"

namespace ctflow {

Result<Value> coerce_param_value(const ParamDecl& p, const Value& v) {
  auto fail = [&](const std::string& what) -> Result<Value> {
    return Status::Error("must be " + what + "; got " + (v.is_string() ? "'" + v.get<std::string>() + "'" : json_text(v)));
  };
  switch (p.type) {
    case ParamType::String:
    case ParamType::Path:
      if (v.is_string()) return v;
      if (v.is_number() || v.is_boolean()) return Value(json_text(v));
      return fail("a string");
    case ParamType::Int:
      if (v.is_number_integer()) return v;
      if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
        return Value(static_cast<int64_t>(v.get<double>()));
      if (v.is_string()) {
        const std::string s = v.get<std::string>();
        char* end = nullptr;
        errno = 0;
        long long n = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && *end == '\0' && errno != ERANGE) return Value(static_cast<int64_t>(n));
      }
      return fail("an integer");
    case ParamType::Float:
      if (v.is_number()) return Value(v.get<double>());
      if (v.is_string()) {
        const std::string s = v.get<std::string>();
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && *end == '\0') return Value(d);
      }
      return fail("a number");
    case ParamType::Bool:
      if (v.is_boolean()) return v;
      if (v == "true") return Value(true);
      if (v == "false") return Value(false);
      return fail("true or false");
    case ParamType::Json:
      if (v.is_string()) {
        Value parsed = Value::parse(v.get<std::string>(), nullptr, false);
        if (parsed.is_discarded()) return fail("JSON");
        return parsed;
      }
      return v;
  }
  return v;
}

}  // namespace ctflow

// Typed parameter values: what a value given as text (-p NAME=VALUE) or as
// YAML becomes for a param's declared type. The frontends, validation and the
// CLI share it.
#pragma once

#include "base/status.h"
#include "engine/ir.h"

namespace ctflow {

// Converts V to param P's type ("3" to 3 for an int); the error says what was expected.
Result<Value> coerce_param_value(const ParamDecl& p, const Value& v);

}  // namespace ctflow

// What the exporters read out of a ctflow workflow's templated strings: each
// {{REF}}, as a typed Reference (engine/reference.h), for each backend to print
// in its own dialect (Argo's {{tasks...}}, Kubeflow's {{$.inputs...}}). The
// placeholders are found by the templating module (engine/template.h), and
// `when` expressions are read as expr syntax trees (engine/expr.h): there is no
// second parser here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/ir.h"
#include "engine/reference.h"

namespace ctflow::export_detail {

using RefRenderer = std::function<Result<std::string>(const Reference&)>;

// Every {{REF}} in `text`, in order.
Result<std::vector<Reference>> refs_in(const std::string& text);

// `text` with each {{REF}} replaced by render(ref). Text outside placeholders is
// copied unchanged. Errors: a template syntax error, an unknown reference, or
// render's own.
Result<std::string> rewrite(const std::string& text, const RefRenderer& render);

// True when `text` (blanks around it aside) is exactly one placeholder, so the
// value keeps its type.
bool is_single_ref(const std::string& text);

// Every string inside a JSON value (keys excluded), depth first, in order.
void for_each_string(const Value& v, const std::function<void(const std::string&)>& f);

}  // namespace ctflow::export_detail

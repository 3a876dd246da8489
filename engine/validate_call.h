// Static checks of `call` steps and templates (docs/dag-growth.md): the
// template exists, `with` gives only declared params and every required one,
// literal values have the param's type, and a template's outputs name its own
// steps. What a template's steps refer to is checked by validate.cc, with the
// template's params in place of the workflow's.
#pragma once

#include <string>
#include <vector>

#include "engine/diag.h"
#include "engine/ir.h"

namespace ctflow {

void check_call(const Workflow& root, const Step& caller, Diagnostics& d);
// Whether the template CALLER calls has output NAME (DECLARED gets its outputs);
// true when the template is unknown (check_call reports that).
bool call_output_known(const Workflow& root, const Step& caller, const std::string& name,
                       std::vector<std::string>& declared);
void check_template_outputs(const TemplateDef& t, Diagnostics& d);

}  // namespace ctflow

// Warnings: what is valid but most likely not what the author meant. `ctflow
// lint` prints them; `ctflow lint --strict` (for pre-merge checks) fails on them.
#pragma once

#include "engine/diag.h"
#include "engine/ir.h"

namespace ctflow {

// Adds to `d` (as warnings, with positions), for ctflow/v1 workflows:
//  - a param that no step reads (not in any template, `when`, `for_each`, `with`,
//    `env` or `image`);
//  - a `run:` whose program has a space and no '/' ("echo hi" is one program
//    name: run is argv, not a shell line);
//  - a `retry` that can never happen (no `on` reason left, or only `timeout`
//    on a step without one).
void lint_warnings(const Workflow& wf, Diagnostics& d);

}  // namespace ctflow

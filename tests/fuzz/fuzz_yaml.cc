// Fuzzes the ctflow/v1 frontend and validation: any text must give a workflow
// or diagnostics, never a crash, a hang or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/frontend_v1.h"
#include "engine/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  ctflow::LoadResult r = ctflow::parse_workflow_text(text, "fuzz.yaml");
  if (r.workflow) {
    ctflow::ValidateOptions opt;
    opt.plugins = nullptr;
    ctflow::validate_workflow(*r.workflow, opt, r.diags);
    if (r.diags.empty()) (void)ctflow::topological_order(*r.workflow);
  }
  (void)r.diags.render();
  return 0;
}

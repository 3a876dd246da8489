// For the frontend tests: the "LINE:COL: MESSAGE" lines of a parse's
// diagnostics, without the file, the source lines and the carets.
#pragma once

#include <string>

#include "engine/frontend_v1.h"

inline std::string diag_lines(const ctflow::LoadResult& r) {
  std::string out;
  for (const auto& d : r.diags.items())
    out += std::to_string(d.pos.line) + ":" + std::to_string(d.pos.col) + ": " + d.message + "\n";
  return out;
}

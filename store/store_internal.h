// Internal to the store: small helpers shared by the RunStore source files.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace ctflow {

bool is_run_status(std::string_view s);           // Pending, Running, or a final one
bool is_terminal_run_status(std::string_view s);  // Succeeded, Failed, Errored, Cancelled
bool is_step_status(std::string_view s);
bool is_model_stage(std::string_view s);          // None, Staging, Production, Archived

// "no run matches 'REF' (see 'ctflow list')"
Status no_run_error(const std::string& ref);

// A JSON column's text as JSON; text that does not parse comes back as a string.
nlohmann::json parse_json_column(const std::string& text);

}  // namespace ctflow

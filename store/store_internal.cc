#include "store/store_internal.h"

#include <array>

namespace ctflow {

namespace {
template <size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& set) {
  for (auto v : set)
    if (v == s) return true;
  return false;
}
}  // namespace

bool is_run_status(std::string_view s) {
  return one_of(s, std::array<std::string_view, 6>{"Pending", "Running", "Succeeded", "Failed", "Errored",
                                                   "Cancelled"});
}

bool is_terminal_run_status(std::string_view s) {
  return one_of(s, std::array<std::string_view, 4>{"Succeeded", "Failed", "Errored", "Cancelled"});
}

bool is_step_status(std::string_view s) {
  return one_of(s, std::array<std::string_view, 9>{"Pending", "Running", "Succeeded", "Failed", "Errored", "Skipped",
                                                   "Omitted", "Cancelled", "Stopped"});
}

bool is_model_stage(std::string_view s) {
  return one_of(s, std::array<std::string_view, 4>{"None", "Staging", "Production", "Archived"});
}

Status no_run_error(const std::string& ref) {
  return Status::NotFound("no run matches '" + ref + "' (see 'ctflow list')");
}

nlohmann::json parse_json_column(const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return text;
  return j;
}

}  // namespace ctflow

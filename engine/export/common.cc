#include "engine/export/common.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace ctflow::export_detail {

Status error_at(const SourcePos& pos, const std::string& file_fallback, const std::string& message) {
  std::string where = pos.file.empty() ? file_fallback : pos.file;
  if (!where.empty() && pos.line > 0) where += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col);
  return Status::Error(where.empty() ? "error: " + message : where + ": error: " + message);
}

std::string NameAllocator::allocate(const std::string& wanted) {
  std::string base;
  for (unsigned char c : wanted) {
    if (std::isalnum(c)) base += static_cast<char>(std::tolower(c));
    else if (!base.empty() && base.back() != '-') base += '-';
  }
  while (!base.empty() && base.back() == '-') base.pop_back();
  if (base.empty()) base = "step";
  if (std::isdigit(static_cast<unsigned char>(base[0]))) base = "s-" + base;
  std::string name = base;
  for (int n = 2; used_.count(name); ++n) name = base + "-" + std::to_string(n);
  used_.insert(name);
  return name;
}

std::string value_text(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string param_env_name(const std::string& with_key) {
  std::string out = "CTFLOW_PARAM_";
  for (unsigned char c : with_key) out += std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

std::string number_text(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string cpu_quantity(double cores) {
  if (std::floor(cores) == cores) return number_text(cores);
  return std::to_string(static_cast<long long>(std::ceil(cores * 1000))) + "m";
}

std::string memory_quantity(int64_t bytes) {
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"Ti", int64_t{1} << 40}, {"Gi", int64_t{1} << 30}, {"Mi", int64_t{1} << 20}, {"Ki", int64_t{1} << 10}};
  for (const auto& [unit, size] : kUnits)
    if (bytes >= size && bytes % size == 0) return std::to_string(bytes / size) + unit;
  return std::to_string(bytes);
}

std::string go_duration(double seconds) {
  if (std::floor(seconds) == seconds) return number_text(seconds) + "s";
  return std::to_string(static_cast<long long>(std::llround(seconds * 1000))) + "ms";
}

std::string proto_duration(double seconds) {
  const long long nanos_total = std::llround(std::fabs(seconds) * 1e9);
  std::string out = (seconds < 0 && nanos_total > 0 ? "-" : "") + std::to_string(nanos_total / 1000000000LL);
  if (long long nanos = nanos_total % 1000000000LL; nanos > 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%09lld", nanos);
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + "s";
}

std::map<std::string, Value> param_values(const Workflow& wf, const Value& resolved_params) {
  std::map<std::string, Value> out;
  for (const auto& p : wf.params)
    if (p.default_value) out[p.name] = *p.default_value;
  if (resolved_params.is_object())
    for (auto it = resolved_params.begin(); it != resolved_params.end(); ++it) out[it.key()] = it.value();
  return out;
}

Status no_calls(const Workflow& wf, const std::string& target) {
  for (const auto* list : {&wf.steps, &wf.on_exit})
    for (const auto& s : *list)
      if (s.kind == StepKind::Call)
        return error_at(s.kind_pos, wf.file,
                        "step '" + s.name + "' calls template '" + s.call + "': a call is expanded when it runs, " +
                            "which the " + target + " export does not translate yet; run it with 'ctflow run'");
      else if (s.sweep)
        return error_at(s.sweep->pos, wf.file,
                        "step '" + s.name + "' is a sweep: its trials are sampled while it runs, which the " + target +
                            " export does not translate yet; run the sweep with 'ctflow run' and export the "
                            "workflow with the best parameters as params");
  return Status::Ok();
}

}  // namespace ctflow::export_detail

#include "engine/ir.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace ctflow {

const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::String: return "string";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::Bool: return "bool";
    case ParamType::Path: return "path";
    case ParamType::Json: return "json";
  }
  return "?";
}

std::optional<ParamType> param_type_from_string(const std::string& s) {
  static const std::pair<const char*, ParamType> kTypes[] = {
      {"string", ParamType::String}, {"int", ParamType::Int},   {"float", ParamType::Float},
      {"bool", ParamType::Bool},     {"path", ParamType::Path}, {"json", ParamType::Json}};
  for (const auto& [n, t] : kTypes)
    if (s == n) return t;
  return std::nullopt;
}

const char* to_string(StepKind k) {
  switch (k) {
    case StepKind::Plugin: return "plugin";
    case StepKind::Run: return "run";
    case StepKind::Shell: return "shell";
    case StepKind::Call: return "call";
  }
  return "?";
}

double RetryPolicy::delay_before(int attempt) const {
  if (attempt <= 1) return 0;
  double d = backoff_s * std::pow(factor, attempt - 2);
  if (max_backoff_s > 0) d = std::min(d, max_backoff_s);
  return d;
}

const Step* Workflow::find_step(const std::string& n) const {
  for (const auto& s : steps)
    if (s.name == n) return &s;
  for (const auto& s : on_exit)
    if (s.name == n) return &s;
  return nullptr;
}

const ParamDecl* Workflow::find_param(const std::string& n) const {
  for (const auto& p : params)
    if (p.name == n) return &p;
  return nullptr;
}

const ParamDecl* TemplateDef::find_param(const std::string& n) const {
  for (const auto& p : params)
    if (p.name == n) return &p;
  return nullptr;
}

std::optional<double> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const char* p = text.c_str();
  double total = 0;
  bool any = false;
  while (*p) {
    char* end = nullptr;
    double v = std::strtod(p, &end);
    if (end == p || v < 0 || !std::isfinite(v)) return std::nullopt;
    p = end;
    double mult = 1;
    if (p[0] == 'm' && p[1] == 's') { mult = 0.001; p += 2; }
    else if (*p == 's') { mult = 1; ++p; }
    else if (*p == 'm') { mult = 60; ++p; }
    else if (*p == 'h') { mult = 3600; ++p; }
    else if (*p == 'd') { mult = 86400; ++p; }
    else if (*p == '\0' && !any) { mult = 1; }
    else return std::nullopt;
    total += v * mult;
    any = true;
  }
  return total;
}

std::optional<int64_t> parse_size(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v < 0 || !std::isfinite(v)) return std::nullopt;
  std::string unit(end);
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},          {"k", 1e3},         {"K", 1e3},          {"M", 1e6},
      {"G", 1e9},       {"T", 1e12},        {"Ki", 1024.0},      {"Mi", 1048576.0},
      {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}};
  for (const auto& [u, m] : kUnits)
    if (unit == u) return static_cast<int64_t>(v * m);
  return std::nullopt;
}

}  // namespace ctflow

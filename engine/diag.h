// Diagnostics: problems in a user's file, reported as
//   FILE:LINE:COL: error: MESSAGE
//     the offending line
//     ^
// All problems in a file are collected; none stops the frontend early.
// Warnings (FILE:LINE:COL: warning: MESSAGE) are kept apart: they never make a
// workflow invalid, except under `ctflow lint --strict`.
#pragma once

#include <string>
#include <vector>

#include "engine/ir.h"

namespace ctflow {

struct Diagnostic {
  SourcePos pos;
  std::string message;
  bool warning = false;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string source = "") : source_(std::move(source)) {}
  void error(const SourcePos& pos, std::string message) { items_.push_back({pos, std::move(message)}); }
  void warning(const SourcePos& pos, std::string message) { warnings_.push_back({pos, std::move(message), true}); }
  bool empty() const { return items_.empty(); }  // no errors (warnings do not count)
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  const std::vector<Diagnostic>& warnings() const { return warnings_; }
  void set_source(std::string source) { source_ = std::move(source); }
  const std::string& source() const { return source_; }
  // Each error and warning in file order, with its line and a caret.
  std::string render() const;
  void append(const Diagnostics& other);

 private:
  std::string source_;
  std::vector<Diagnostic> items_;
  std::vector<Diagnostic> warnings_;
};

// The closest candidate within a small edit distance, or "" when none is close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace ctflow

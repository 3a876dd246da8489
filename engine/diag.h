// Diagnostics: problems in a user's file, reported as
//   FILE:LINE:COL: error: MESSAGE
//     the offending line
//     ^
// All problems in a file are collected; none stops the frontend early.
#pragma once

#include <string>
#include <vector>

#include "engine/ir.h"

namespace ctflow {

struct Diagnostic {
  SourcePos pos;
  std::string message;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string source = "") : source_(std::move(source)) {}
  void error(const SourcePos& pos, std::string message) { items_.push_back({pos, std::move(message)}); }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  void set_source(std::string source) { source_ = std::move(source); }
  const std::string& source() const { return source_; }
  // Each diagnostic in file order, with its line and a caret.
  std::string render() const;
  void append(const Diagnostics& other);

 private:
  std::string source_;
  std::vector<Diagnostic> items_;
};

// The closest candidate within a small edit distance, or "" when none is close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace ctflow

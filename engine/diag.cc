#include "engine/diag.h"

#include <algorithm>
#include <sstream>

namespace ctflow {
namespace {

std::string line_of(const std::string& source, int line) {
  int current = 1;
  size_t start = 0;
  while (current < line) {
    size_t nl = source.find('\n', start);
    if (nl == std::string::npos) return "";
    start = nl + 1;
    ++current;
  }
  size_t end = source.find('\n', start);
  std::string text = source.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string Diagnostics::render() const {
  std::vector<Diagnostic> sorted = items_;
  sorted.insert(sorted.end(), warnings_.begin(), warnings_.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.line, a.pos.col) < std::tie(b.pos.line, b.pos.col);
  });
  std::ostringstream out;
  for (const auto& d : sorted) {
    if (d.pos.line > 0) {
      out << d.pos.file << ':' << d.pos.line << ':' << d.pos.col << (d.warning ? ": warning: " : ": error: ") << d.message << '\n';
      std::string text = line_of(source_, d.pos.line);
      if (!text.empty()) {
        out << "  " << text << '\n';
        out << "  ";
        for (int i = 1; i < d.pos.col && i <= static_cast<int>(text.size()); ++i)
          out << (text[i - 1] == '\t' ? '\t' : ' ');
        out << "^\n";
      }
    } else {
      out << (d.pos.file.empty() ? "ctflow" : d.pos.file) << (d.warning ? ": warning: " : ": error: ") << d.message << '\n';
    }
  }
  return out.str();
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  warnings_.insert(warnings_.end(), other.warnings_.begin(), other.warnings_.end());
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  // One edit for names of up to 3 letters, two up to 8, three beyond: a short
  // unknown name is not "corrected" to an unrelated one.
  size_t best_d = (word.size() <= 3 ? 1 : word.size() <= 8 ? 2 : 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string m = closest_match(word, candidates);
  return m.empty() ? "" : " (did you mean '" + m + "'?)";
}

}  // namespace ctflow

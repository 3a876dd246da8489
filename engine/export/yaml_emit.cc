#include "engine/export/yaml_emit.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace ctflow::yaml_emit {
namespace {

bool is_word_char(unsigned char c) {
  return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == '+' || c == '=' ||
         c == '$' || c == '(' || c == ')' || c == ' ' || c == ':';
}

// Words that some YAML reader (1.1 or 1.2) turns into a bool, null or float.
bool is_reserved_word(const std::string& s) {
  static const char* const kWords[] = {"y",    "n",     "yes",  "no",   "on",    "off", "true",
                                       "false", "null", "~",    ".inf", "-.inf", "+.inf", ".nan",
                                       "="};
  std::string lower;
  for (unsigned char c : s) lower += static_cast<char>(std::tolower(c));
  for (const char* w : kWords)
    if (lower == w) return true;
  return false;
}

// Anything that might read as a number, a date or a sexagesimal in YAML 1.1.
bool looks_numeric(const std::string& s) {
  const unsigned char c0 = static_cast<unsigned char>(s[0]);
  if (!(std::isdigit(c0) || c0 == '+' || c0 == '-' || c0 == '.')) return false;
  bool digit = false;
  for (unsigned char c : s) digit = digit || std::isdigit(c);
  if (!digit) return false;
  for (unsigned char c : s)
    if (!(std::isxdigit(c) || c == 'x' || c == 'X' || c == 'o' || c == 'O' || c == '.' || c == '_' ||
          c == '+' || c == '-' || c == ':'))
      return false;
  return true;
}

bool has_control(const std::string& s, bool allow_newline) {
  for (unsigned char c : s) {
    if (c == '\n' && allow_newline) continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string double_quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string single_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  return out + "'";
}

// A literal block (|) keeps multi-line text readable (shell scripts). Used only
// where it reads back exactly: no control characters, no line that starts with a
// space (that would need an indentation indicator), some visible text.
bool fits_literal_block(const std::string& s) {
  if (s.find('\n') == std::string::npos || has_control(s, true)) return false;
  if (s.find_first_not_of('\n') == std::string::npos) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    if (end > start && s[start] == ' ') return false;
    // Trailing spaces on a line are kept by readers, but editors strip them: quote.
    if (end > start && s[end - 1] == ' ') return false;
    start = end + 1;
  }
  return true;
}

std::string literal_block(const std::string& s, int indent) {
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  std::string out = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  const std::string pad(static_cast<size_t>(indent), ' ');
  const std::string body = s.substr(0, s.size() - trailing);
  size_t start = 0;
  while (true) {
    size_t end = body.find('\n', start);
    const std::string line = body.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out += "\n";
    if (!line.empty()) out += pad + line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  for (size_t i = 1; i < trailing; ++i) out += "\n";
  return out;
}

std::string number_text(const Doc& v) {
  if (v.is_number_integer()) return v.dump();
  const double d = v.get<double>();
  if (std::isnan(d)) return ".nan";
  if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  std::string t = v.dump();
  // YAML 1.1 readers (PyYAML) want a '.' in a float's mantissa and a signed exponent.
  const size_t e = t.find_first_of("eE");
  std::string mant = t.substr(0, e);
  std::string exp = e == std::string::npos ? "" : t.substr(e + 1);
  if (mant.find('.') == std::string::npos) mant += ".0";
  if (!exp.empty() && exp[0] != '+' && exp[0] != '-') exp = "+" + exp;
  return exp.empty() ? mant : mant + "e" + exp;
}

// A scalar as text; `indent` is where a literal block's lines would start.
std::string scalar_text(const Doc& v, int indent) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return number_text(v);
  if (v.is_object()) return "{}";
  if (v.is_array()) return "[]";
  const std::string& s = v.get_ref<const std::string&>();
  if (is_plain_safe(s)) return s;
  if (fits_literal_block(s)) return literal_block(s, indent);
  if (!has_control(s, false)) return single_quoted(s);
  return double_quoted(s);
}

std::string key_text(const std::string& k) {
  if (is_plain_safe(k)) return k;
  if (!has_control(k, false)) return single_quoted(k);
  return double_quoted(k);
}

bool is_collection(const Doc& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

void emit(const Doc& v, int indent, bool first_inline, std::string& out);

void emit_map(const Doc& v, int indent, bool first_inline, std::string& out) {
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!(first && first_inline)) out += std::string(static_cast<size_t>(indent), ' ');
    first = false;
    out += key_text(it.key()) + ":";
    if (is_collection(it.value())) {
      out += "\n";
      emit(it.value(), indent + 2, false, out);
    } else {
      out += " " + scalar_text(it.value(), indent + 2) + "\n";
    }
  }
}

void emit_seq(const Doc& v, int indent, bool first_inline, std::string& out) {
  bool first = true;
  for (const auto& item : v) {
    if (!(first && first_inline)) out += std::string(static_cast<size_t>(indent), ' ');
    first = false;
    out += "- ";
    if (is_collection(item)) emit(item, indent + 2, true, out);
    else out += scalar_text(item, indent + 2) + "\n";
  }
}

void emit(const Doc& v, int indent, bool first_inline, std::string& out) {
  if (v.is_object()) emit_map(v, indent, first_inline, out);
  else emit_seq(v, indent, first_inline, out);
}

}  // namespace

bool is_plain_safe(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  for (unsigned char c : s)
    if (!is_word_char(c)) return false;
  const char c0 = s[0];
  if (c0 == '-' && (s.size() == 1 || s[1] == ' ' || s.rfind("---", 0) == 0)) return false;
  if (c0 == '$' || c0 == '(' || c0 == '=' || c0 == ':') return false;
  // ": " starts a mapping value and a trailing ':' ends a key; "a:b" stays plain.
  if (s.find(": ") != std::string::npos || s.back() == ':') return false;
  if (is_reserved_word(s) || looks_numeric(s)) return false;
  return true;
}

std::string scalar(const Doc& value) { return scalar_text(value, 2); }

std::string to_yaml(const Doc& doc) {
  if (!is_collection(doc)) return scalar_text(doc, 2) + "\n";
  std::string out;
  emit(doc, 0, false, out);
  return out;
}

}  // namespace ctflow::yaml_emit

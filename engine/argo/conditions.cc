// Argo's `when` (govaluate) and `depends` (enhanced depends) as ctflow
// expressions, and the needs/depends of an IR step.
#include "engine/argo/translator.h"

#include <cctype>

#include "engine/expr.h"

namespace ctflow::argo_detail {

void apply_deps(Step& s, const Deps& d) {
  if (!d.expr.empty()) {
    s.depends = d.expr;
    return;
  }
  bool simple = true;
  for (const auto& t : d.terms) simple = simple && !t.failed_ok && !t.errored_ok;
  if (simple) {
    for (const auto& t : d.terms) s.needs.push_back(t.step);
    return;
  }
  std::string e;
  for (const auto& t : d.terms) {
    std::string term = "(" + t.step + ".Succeeded || " + t.step + ".Skipped";
    if (t.failed_ok) term += " || " + t.step + ".Failed";
    if (t.errored_ok) term += " || " + t.step + ".Errored";
    e += (e.empty() ? "" : " && ") + term + ")";
  }
  s.depends = e;
}

// Argo's `when` (govaluate after substitution) -> a ctflow expression: words
// and substituted texts become string literals, references stay references.
std::optional<std::string> Translator::when_expr(const YAML::Node& n, Ctx& c) {
  const std::string s = scalar(n);
  std::string out;
  int in_list = 0;  // depth of parentheses inside an IN list
  auto value = [&](const std::string& piece) -> bool {
    if (is_single_ref(piece) || piece.find("{{") == std::string::npos) {
      if (is_single_ref(piece)) out += piece;
      else if (auto lit = expr_literal(piece)) out += *lit;
      else return false;
      return true;
    }
    unsupported(n, "a 'when' that pastes a reference inside a longer text");
    return false;
  };
  size_t i = 0;
  while (i < s.size()) {
    char ch = s[i];
    if (std::isspace(static_cast<unsigned char>(ch))) {
      out += ' ';
      ++i;
    } else if (s.compare(i, 2, "{{") == 0) {
      size_t close = s.find("}}", i);
      if (close == std::string::npos) {
        error(n, "unclosed '{{' in 'when'");
        return std::nullopt;
      }
      auto t = text(s.substr(i, close + 2 - i), n, c);
      if (!t || !value(*t)) return std::nullopt;
      i = close + 2;
    } else if (ch == '\'' || ch == '"') {
      size_t close = s.find(ch, i + 1);
      if (close == std::string::npos) {
        error(n, "unclosed string in 'when'");
        return std::nullopt;
      }
      auto t = text(s.substr(i + 1, close - i - 1), n, c);
      if (!t) return std::nullopt;
      if (is_single_ref(*t)) out += *t;
      else if (!value(*t)) return std::nullopt;
      else if (is_number(*t)) out.replace(out.size() - t->size(), t->size(), "'" + *t + "'");
      i = close + 1;
    } else if (s.compare(i, 2, "=~") == 0) {
      out += " =~ ";
      i += 2;
    } else if (s.compare(i, 2, "!~") == 0) {
      unsupported(n, "the regular expression operator '!~' in 'when': write '!(a =~ b)'");
      return std::nullopt;
    } else if (std::string("=!<>&|(),").find(ch) != std::string::npos) {
      // govaluate's `x IN (a, b)` is ctflow's `x in [a, b]`.
      if (ch == '(' && in_list == 0 && trim(out).size() >= 3 && trim(out).substr(trim(out).size() - 3) == " in") {
        in_list = 1;
        out += '[';
      } else if (ch == '(' && in_list > 0) {
        ++in_list;
        out += ch;
      } else if (ch == ')' && in_list > 0) {
        out += --in_list == 0 ? ']' : ')';
      } else {
        out += ch;
      }
      ++i;
    } else {
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) &&
             std::string("=!<>&|(),'\"").find(s[j]) == std::string::npos && s.compare(j, 2, "{{") != 0)
        ++j;
      std::string word = s.substr(i, j - i);
      if (word == "true" || word == "false" || word == "null" || is_number(word)) out += word;
      else if (word == "IN" || word == "in") out += "in";
      else if (auto lit = expr_literal(word)) out += *lit;
      i = j;
    }
  }
  // What the run will read, checked now with the one expression parser.
  std::string e = trim(out);
  if (e.empty()) return e;  // no condition
  auto parsed = expr::Expr::parse(e);
  if (auto* err = std::get_if<expr::ParseError>(&parsed)) {
    error(n, "'when' is not a condition ctflow can read (as '" + e + "': " + err->message +
                 "): compare values with ==, !=, <, <=, >, >= and combine them with &&, || and !");
    return std::nullopt;
  }
  return e;
}

std::optional<std::string> Translator::depends_expr(const YAML::Node& n, const Ctx& c) {
  const std::string s = scalar(n);
  std::string out;
  size_t i = 0;
  bool ok = true;
  while (i < s.size()) {
    char ch = s[i];
    if (std::string(" \t\n&|!()").find(ch) != std::string::npos) {
      out += ch;
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '-' || s[j] == '_' || s[j] == '.'))
      ++j;
    if (j == i) {
      error(n, std::string("unexpected '") + ch + "' in 'depends'");
      return std::nullopt;
    }
    std::string word = s.substr(i, j - i);
    i = j;
    size_t dot = word.find('.');
    std::string task = word.substr(0, dot), status = dot == std::string::npos ? "" : word.substr(dot + 1);
    auto it = c.siblings.find(task);
    if (it == c.siblings.end()) {
      std::vector<std::string> names;
      for (const auto& [k, v] : c.siblings) names.push_back(k);
      error(n, "'depends' names task '" + task + "', which is not in template '" + c.tmpl + "'" +
                   did_you_mean(task, names));
      ok = false;
      continue;
    }
    const Callee& o = it->second;
    if (o.broken) {
      ok = false;
      continue;
    }
    static const std::set<std::string> kStatuses = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted",
                                                    "AnySucceeded", "AllFailed"};
    if (status.empty()) {
      std::string e = o.flat + ".Succeeded || " + o.flat + ".Skipped";
      if (o.failed_ok) e += " || " + o.flat + ".Failed";
      if (o.errored_ok) e += " || " + o.flat + ".Errored";
      out += o.nested ? o.flat + ".Succeeded" : "(" + e + ")";
    } else if (!kStatuses.count(status)) {
      unsupported(n, "'" + word + "' in 'depends'");
      ok = false;
    } else if (o.nested && status != "Succeeded") {
      unsupported(n, "'" + word + "': the status of a task that calls a steps/dag template");
      ok = false;
    } else {
      out += o.flat + "." + status;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace ctflow::argo_detail

#include "engine/export/refs.h"

#include <cctype>
#include <cstdlib>

namespace ctflow::export_detail {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

bool is_ident(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace

Result<Ref> parse_ref(const std::string& raw) {
  const std::string text = trim(raw);
  const auto p = split_dots(text);
  for (const auto& part : p)
    if (!is_ident(part)) return Status::Error("'" + text + "' is not a reference");
  Ref r;
  r.text = text;
  if (p[0] == "params" && p.size() == 2) {
    r.kind = Ref::Kind::Param;
    r.name = p[1];
    return r;
  }
  if (p[0] == "steps" && p.size() == 4 && p[2] == "outputs") {
    r.kind = Ref::Kind::StepOutput;
    r.name = p[1];
    r.field = p[3];
    return r;
  }
  if (p[0] == "steps" && p.size() == 4 && p[2] == "artifacts") {
    r.kind = Ref::Kind::StepArtifact;
    r.name = p[1];
    r.field = p[3];
    return r;
  }
  if (p[0] == "steps" && p.size() == 3 && p[2] == "status") {
    r.kind = Ref::Kind::StepStatus;
    r.name = p[1];
    return r;
  }
  if (p[0] == "item") {
    r.kind = Ref::Kind::Item;
    r.field = text.size() > 4 ? text.substr(5) : "";
    return r;
  }
  if (p[0] == "workflow" && p.size() == 2 &&
      (p[1] == "name" || p[1] == "run_id" || p[1] == "status" || p[1] == "failures")) {
    r.kind = Ref::Kind::Workflow;
    r.name = p[1];
    return r;
  }
  return Status::Error("unknown reference '" + text +
                       "' (expected params.NAME, steps.S.outputs.NAME, steps.S.artifacts.NAME, "
                       "steps.S.status, item, item.KEY or workflow.name/run_id/status/failures)");
}

Result<std::string> rewrite(const std::string& text,
                            const std::function<Result<std::string>(const Ref&)>& render) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      out += text.substr(pos);
      return out;
    }
    size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) return Status::Error("'{{' without a closing '}}' in '" + text + "'");
    out += text.substr(pos, open - pos);
    auto ref = parse_ref(text.substr(open + 2, close - open - 2));
    if (!ref) return ref.status();
    auto rendered = render(*ref);
    if (!rendered) return rendered.status();
    out += *rendered;
    pos = close + 2;
  }
}

Result<std::vector<Ref>> refs_in(const std::string& text) {
  std::vector<Ref> refs;
  auto r = rewrite(text, [&](const Ref& ref) -> Result<std::string> {
    refs.push_back(ref);
    return std::string();
  });
  if (!r) return r.status();
  return refs;
}

bool is_single_ref(const std::string& text) {
  const std::string t = trim(text);
  return t.size() > 4 && t.rfind("{{", 0) == 0 && t.compare(t.size() - 2, 2, "}}") == 0 &&
         t.find("{{", 2) == std::string::npos && t.find("}}") == t.size() - 2;
}

void for_each_string(const Value& v, const std::function<void(const std::string&)>& f) {
  if (v.is_string()) f(v.get<std::string>());
  else if (v.is_array() || v.is_object())
    for (const auto& x : v) for_each_string(x, f);
}

// ---- expressions -------------------------------------------------------------

namespace {

struct Token {
  enum class Kind { End, Number, String, Word, Ref, Op, LParen, RParen, LBracket, RBracket, Comma };
  Kind kind = Kind::End;
  std::string text;
  Value value;
};

class ExprParser {
 public:
  explicit ExprParser(const std::string& text) : text_(text) {}

  Result<std::unique_ptr<Expr>> parse() {
    if (auto s = lex(); !s.ok()) return s;
    auto e = parse_or();
    if (!e) return e;
    if (peek().kind != Token::Kind::End) return error("unexpected '" + peek().text + "'");
    return e;
  }

 private:
  Status error(const std::string& what) const {
    return Status::Error("in expression '" + text_ + "': " + what);
  }

  Status lex() {
    size_t i = 0;
    const std::string& s = text_;
    while (i < s.size()) {
      const char c = s[i];
      if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
      Token t;
      if (c == '{' && s.compare(i, 2, "{{") == 0) {
        size_t close = s.find("}}", i + 2);
        if (close == std::string::npos) return error("'{{' without '}}'");
        t.kind = Token::Kind::Ref;
        t.text = s.substr(i + 2, close - i - 2);
        i = close + 2;
      } else if (c == '\'' || c == '"') {
        std::string v;
        size_t j = i + 1;
        while (j < s.size() && s[j] != c) {
          if (s[j] == '\\' && j + 1 < s.size()) ++j;
          v += s[j++];
        }
        if (j >= s.size()) return error("unterminated string");
        t.kind = Token::Kind::String;
        t.text = s.substr(i, j + 1 - i);
        t.value = v;
        i = j + 1;
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 (c == '-' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
        size_t j = i + 1;
        while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.' || s[j] == 'e' ||
                                s[j] == 'E'))
          ++j;
        t.kind = Token::Kind::Number;
        t.text = s.substr(i, j - i);
        const bool is_float = t.text.find_first_of(".eE") != std::string::npos;
        if (is_float) t.value = std::strtod(t.text.c_str(), nullptr);
        else t.value = std::strtoll(t.text.c_str(), nullptr, 10);
        i = j;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t j = i;
        while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '-' ||
                                s[j] == '.'))
          ++j;
        t.kind = Token::Kind::Word;
        t.text = s.substr(i, j - i);
        i = j;
      } else if (c == '(') { t.kind = Token::Kind::LParen; t.text = "("; ++i; }
      else if (c == ')') { t.kind = Token::Kind::RParen; t.text = ")"; ++i; }
      else if (c == '[') { t.kind = Token::Kind::LBracket; t.text = "["; ++i; }
      else if (c == ']') { t.kind = Token::Kind::RBracket; t.text = "]"; ++i; }
      else if (c == ',') { t.kind = Token::Kind::Comma; t.text = ","; ++i; }
      else {
        static const char* const kOps[] = {"&&", "||", "==", "!=", "<=", ">=", "<", ">", "!"};
        bool found = false;
        for (const char* op : kOps) {
          if (s.compare(i, std::char_traits<char>::length(op), op) == 0) {
            t.kind = Token::Kind::Op;
            t.text = op;
            i += t.text.size();
            found = true;
            break;
          }
        }
        if (!found) return error(std::string("unexpected character '") + c + "'");
      }
      tokens_.push_back(std::move(t));
    }
    tokens_.push_back(Token{});
    return Status::Ok();
  }

  const Token& peek() const { return tokens_[pos_]; }
  bool take_op(const char* op) {
    if (peek().kind == Token::Kind::Op && peek().text == op) { ++pos_; return true; }
    return false;
  }

  static std::unique_ptr<Expr> node(Expr::Kind k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    return e;
  }

  Result<std::unique_ptr<Expr>> parse_or() {
    auto left = parse_and();
    if (!left) return left;
    while (take_op("||")) {
      auto right = parse_and();
      if (!right) return right;
      auto e = node(Expr::Kind::Or);
      e->args.push_back(std::move(*left));
      e->args.push_back(std::move(*right));
      left = std::move(e);
    }
    return left;
  }

  Result<std::unique_ptr<Expr>> parse_and() {
    auto left = parse_not();
    if (!left) return left;
    while (take_op("&&")) {
      auto right = parse_not();
      if (!right) return right;
      auto e = node(Expr::Kind::And);
      e->args.push_back(std::move(*left));
      e->args.push_back(std::move(*right));
      left = std::move(e);
    }
    return left;
  }

  Result<std::unique_ptr<Expr>> parse_not() {
    if (take_op("!")) {
      auto inner = parse_not();
      if (!inner) return inner;
      auto e = node(Expr::Kind::Not);
      e->args.push_back(std::move(*inner));
      return e;
    }
    return parse_cmp();
  }

  Result<std::unique_ptr<Expr>> parse_cmp() {
    auto left = parse_value();
    if (!left) return left;
    if (peek().kind == Token::Kind::Op) {
      const std::string op = peek().text;
      if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=") {
        ++pos_;
        auto right = parse_value();
        if (!right) return right;
        auto e = node(Expr::Kind::Compare);
        e->op = op;
        e->args.push_back(std::move(*left));
        e->args.push_back(std::move(*right));
        return e;
      }
    }
    if (peek().kind == Token::Kind::Word && peek().text == "in") {
      ++pos_;
      if (peek().kind != Token::Kind::LBracket) return error("expected '[' after 'in'");
      ++pos_;
      auto list = node(Expr::Kind::List);
      while (peek().kind != Token::Kind::RBracket) {
        auto item = parse_value();
        if (!item) return item;
        list->args.push_back(std::move(*item));
        if (peek().kind == Token::Kind::Comma) ++pos_;
        else if (peek().kind != Token::Kind::RBracket) return error("expected ',' or ']' in a list");
      }
      ++pos_;
      auto e = node(Expr::Kind::In);
      e->args.push_back(std::move(*left));
      e->args.push_back(std::move(list));
      return e;
    }
    return left;
  }

  Result<std::unique_ptr<Expr>> parse_value() {
    const Token t = peek();
    switch (t.kind) {
      case Token::Kind::Number:
      case Token::Kind::String: {
        ++pos_;
        auto e = node(Expr::Kind::Literal);
        e->literal = t.value;
        return e;
      }
      case Token::Kind::Ref:
      case Token::Kind::Word: {
        ++pos_;
        if (t.kind == Token::Kind::Word && (t.text == "true" || t.text == "false" || t.text == "null")) {
          auto e = node(Expr::Kind::Literal);
          e->literal = t.text == "null" ? Value() : Value(t.text == "true");
          return e;
        }
        auto ref = parse_ref(t.text);
        if (!ref) return error(ref.message());
        auto e = node(Expr::Kind::RefValue);
        e->ref = *ref;
        return e;
      }
      case Token::Kind::LParen: {
        ++pos_;
        auto inner = parse_or();
        if (!inner) return inner;
        if (peek().kind != Token::Kind::RParen) return error("expected ')'");
        ++pos_;
        return inner;
      }
      case Token::Kind::End: return error("unexpected end");
      default: return error("unexpected '" + t.text + "'");
    }
  }

  std::string text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::unique_ptr<Expr>> parse_expr(const std::string& text) { return ExprParser(text).parse(); }

void for_each_ref(const Expr& e, const std::function<void(const Ref&)>& f) {
  if (e.kind == Expr::Kind::RefValue) f(e.ref);
  for (const auto& a : e.args) for_each_ref(*a, f);
}

}  // namespace ctflow::export_detail

#include "engine/expr.h"

#include <algorithm>
#include <charconv>
#include <compare>
#include <cstdint>
#include <optional>
#include <regex>
#include <unordered_set>
#include <utility>

namespace ctflow::expr {

// ---------------------------------------------------------------------------
// The tree. And/Or are n-ary so that a long chain `a && b && c ...` is one
// level deep: evaluation and destruction recurse only as deep as the nesting
// of '(' and '!', which the parser bounds by Expr::kMaxDepth.

using NodePtr = std::unique_ptr<Node>;

const char* op_text(CmpOp op) {
  switch (op) {
    case CmpOp::Eq: return "==";
    case CmpOp::Ne: return "!=";
    case CmpOp::Lt: return "<";
    case CmpOp::Le: return "<=";
    case CmpOp::Gt: return ">";
    case CmpOp::Ge: return ">=";
    case CmpOp::Match: return "=~";
  }
  return "?";
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_segment_char(char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '-'; }
bool is_keyword(std::string_view w) { return w == "true" || w == "false" || w == "null" || w == "in" || w == "matches"; }

// Length of the number literal at the start of `s`:
//   '-'? digits ('.' digits)? ([eE] [+-]? digits)?
// 0 when there is none. `is_integer` says whether it has no fraction/exponent.
size_t scan_number(std::string_view s, bool* is_integer) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t digits_from = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == digits_from) return 0;
  *is_integer = true;
  if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
    *is_integer = false;
    i += 2;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && is_digit(s[j])) {
      *is_integer = false;
      i = j;
      while (i < s.size() && is_digit(s[i])) ++i;
    }
  }
  return i;
}

// Why PATTERN is not a regular expression, or nothing when it is one.
std::optional<std::string> regex_error(const std::string& pattern) {
  try {
    std::regex re(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return "invalid regular expression '" + pattern + "': " + e.what();
  }
  return std::nullopt;
}

// The value of a complete number literal (as scanned by scan_number).
std::optional<Value> number_value(std::string_view s, bool is_integer) {
  if (is_integer) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return Value(v);
    // too large for int64: fall through to a float
  }
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return Value(d);
}

// A string that is fully a number literal, as a number.
std::optional<Value> numeric_string(const std::string& s) {
  bool is_integer = false;
  if (s.empty() || scan_number(s, &is_integer) != s.size()) return std::nullopt;
  return number_value(s, is_integer);
}

// ---------------------------------------------------------------------------
// Lexer and parser.

enum class Tok {
  End, Number, String, Ref, True, False, Null, In,
  LParen, RParen, LBracket, RBracket, Comma, LBrace2, RBrace2,
  Eq, Ne, Lt, Le, Gt, Ge, Match, And, Or, Not,
  // Syntax::ExprLang only:
  LBrace, RBrace, Plus, Minus, Star, Slash, Percent, Question, Coalesce, Colon, Dot, Hash,
};

struct Token {
  Tok kind = Tok::End;
  size_t offset = 0;
  size_t len = 0;
  Value value;  // Number, String
};

struct Failure {
  ParseError error;
};

class Parser {
 public:
  Parser(std::string_view text, Syntax syntax) : s_(text), lang_(syntax == Syntax::ExprLang) { cur_ = lex(); }

  NodePtr parse_all() {
    NodePtr root = parse_top();
    if (cur_.kind != Tok::End) {
      if (cur_.kind == Tok::RParen) fail(cur_.offset, "unexpected ')'");
      fail(cur_.offset, "unexpected text after the expression");
    }
    return root;
  }

  std::vector<std::string> take_refs() { return std::move(refs_); }
  std::vector<RefSpan> take_spans() { return std::move(spans_); }

 private:
  [[noreturn]] void fail(size_t offset, std::string message) {
    throw Failure{ParseError{offset, std::move(message)}};
  }

  std::string token_text(const Token& t) const {
    if (t.kind == Tok::End) return "end of expression";
    return std::string(s_.substr(t.offset, t.len));
  }

  // --- lexer ---
  // Whether the token before this one ends a value (then '-' is an operator, not a sign).
  static bool ends_value(Tok k) {
    return k == Tok::Number || k == Tok::String || k == Tok::Ref || k == Tok::True || k == Tok::False ||
           k == Tok::Null || k == Tok::RParen || k == Tok::RBracket || k == Tok::RBrace || k == Tok::Hash;
  }

  Token lex() {
    Token t = lex_one();
    last_ = t.kind;
    return t;
  }

  // The operators of Syntax::ExprLang, or End when C starts none.
  Tok lang_op(char c, char next, size_t* len) const {
    *len = 1;
    switch (c) {
      case '{': return Tok::LBrace;
      case '}': return Tok::RBrace;
      case '+': return Tok::Plus;
      case '*': return Tok::Star;
      case '/': return Tok::Slash;
      case '%': return Tok::Percent;
      case ':': return Tok::Colon;
      case '#': return Tok::Hash;
      case '?':
        if (next == '?') *len = 2;
        return next == '?' ? Tok::Coalesce : Tok::Question;
      case '.': return is_alpha(next) || next == '_' ? Tok::Dot : Tok::End;
      case '-': return ends_value(last_) || !is_digit(next) ? Tok::Minus : Tok::End;
      default: return Tok::End;
    }
  }

  Token lex_one() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
    Token t;
    t.offset = pos_;
    if (pos_ >= s_.size()) return t;
    const char c = s_[pos_];
    const char next = pos_ + 1 < s_.size() ? s_[pos_ + 1] : '\0';
    auto op = [&](Tok kind, size_t len) {
      t.kind = kind;
      t.len = len;
      pos_ += len;
      return t;
    };
    if (lang_) {
      size_t len = 1;
      if (Tok k = lang_op(c, next, &len); k != Tok::End) return op(k, len);
    }
    switch (c) {
      case '(': return op(Tok::LParen, 1);
      case ')': return op(Tok::RParen, 1);
      case '[': return op(Tok::LBracket, 1);
      case ']': return op(Tok::RBracket, 1);
      case ',': return op(Tok::Comma, 1);
      case '<': return next == '=' ? op(Tok::Le, 2) : op(Tok::Lt, 1);
      case '>': return next == '=' ? op(Tok::Ge, 2) : op(Tok::Gt, 1);
      case '!': return next == '=' ? op(Tok::Ne, 2) : op(Tok::Not, 1);
      case '=':
        if (next == '=') return op(Tok::Eq, 2);
        if (next == '~') return op(Tok::Match, 2);
        fail(pos_, "unknown operator '=', did you mean '=='?");
      case '&':
        if (next == '&') return op(Tok::And, 2);
        fail(pos_, "unknown operator '&', did you mean '&&'?");
      case '|':
        if (next == '|') return op(Tok::Or, 2);
        fail(pos_, "unknown operator '|', did you mean '||'?");
      case '{':
        if (next == '{') return op(Tok::LBrace2, 2);
        fail(pos_, "unexpected character '{' (a reference is written {{ name }})");
      case '}':
        if (next == '}') return op(Tok::RBrace2, 2);
        fail(pos_, "unexpected character '}'");
      case '"':
      case '\'':
        return lex_string(t);
      default:
        break;
    }
    if (is_digit(c) || (c == '-' && is_digit(next))) return lex_number(t);
    if (is_alpha(c) || c == '_') return lex_ref(t);
    if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f) {
      fail(pos_, std::string("unexpected character '") + c + "'");
    }
    static const char kHex[] = "0123456789abcdef";
    const auto b = static_cast<unsigned char>(c);
    fail(pos_, std::string("unexpected byte 0x") + kHex[b >> 4] + kHex[b & 15]);
  }

  Token lex_string(Token t) {
    const char quote = s_[pos_];
    std::string out;
    size_t i = pos_ + 1;
    for (;;) {
      if (i >= s_.size()) fail(t.offset, "unterminated string");
      char c = s_[i];
      if (c == quote) break;
      if (c == '\\' && i + 1 < s_.size()) {
        c = s_[++i];
        if (c == 'n') c = '\n';
        else if (c == 't') c = '\t';
        else if (c == 'r') c = '\r';
      }
      out.push_back(c);
      ++i;
    }
    pos_ = i + 1;
    t.kind = Tok::String;
    t.len = pos_ - t.offset;
    t.value = std::move(out);
    return t;
  }

  Token lex_number(Token t) {
    std::string_view rest = s_.substr(pos_);
    bool is_integer = false;
    size_t n = scan_number(rest, &is_integer);
    // "3abc", "1.2.3", "4-x": one word that is not a number.
    size_t end = n;
    while (end < rest.size() && (is_segment_char(rest[end]) || rest[end] == '.') && !(lang_ && rest[end] == '-')) ++end;
    if (end != n) fail(t.offset, "invalid number '" + std::string(rest.substr(0, end)) + "'");
    std::optional<Value> v = number_value(rest.substr(0, n), is_integer);
    if (!v) fail(t.offset, "number out of range '" + std::string(rest.substr(0, n)) + "'");
    pos_ += n;
    t.kind = Tok::Number;
    t.len = n;
    t.value = std::move(*v);
    return t;
  }

  Token lex_ref(Token t) {
    size_t n = scan_ref(s_.substr(pos_));
    pos_ += n;
    if (pos_ < s_.size() && s_[pos_] == '.') fail(pos_ + 1, "expected a name after '.'");
    std::string_view word = s_.substr(t.offset, n);
    t.len = n;
    if (word == "true") t.kind = Tok::True;
    else if (word == "false") t.kind = Tok::False;
    else if (word == "null") t.kind = Tok::Null;
    else if (word == "in") t.kind = Tok::In;
    else if (word == "matches") t.kind = Tok::Match;
    else t.kind = Tok::Ref;
    return t;
  }

  void advance() {
    prev_ = std::move(cur_);
    prev_set_ = true;
    cur_ = lex();
  }

  // --- parser ---
  void enter() {
    if (++depth_ > Expr::kMaxDepth) {
      fail(cur_.offset, "expression nested too deeply (more than " + std::to_string(Expr::kMaxDepth) +
                            " levels of '(' and '!')");
    }
  }
  void leave() { --depth_; }

  NodePtr parse_nary(Kind kind, Tok tok, NodePtr (Parser::*operand)()) {
    NodePtr first = (this->*operand)();
    if (cur_.kind != tok) return first;
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->kids.push_back(std::move(first));
    while (cur_.kind == tok) {
      advance();
      n->kids.push_back((this->*operand)());
    }
    return n;
  }
  NodePtr parse_or() { return parse_nary(Kind::Or, Tok::Or, &Parser::parse_and); }
  NodePtr parse_and() { return parse_nary(Kind::And, Tok::And, &Parser::parse_not); }

  NodePtr parse_not() {
    if (cur_.kind != Tok::Not) return parse_cmp();
    enter();
    advance();
    auto n = std::make_unique<Node>();
    n->kind = Kind::Not;
    n->kids.push_back(parse_not());
    leave();
    return n;
  }

  static std::optional<CmpOp> cmp_op(Tok t) {
    switch (t) {
      case Tok::Eq: return CmpOp::Eq;
      case Tok::Ne: return CmpOp::Ne;
      case Tok::Lt: return CmpOp::Lt;
      case Tok::Le: return CmpOp::Le;
      case Tok::Gt: return CmpOp::Gt;
      case Tok::Ge: return CmpOp::Ge;
      case Tok::Match: return CmpOp::Match;
      default: return std::nullopt;
    }
  }

  // The whole expression: under ExprLang a ternary, else an `or`.
  NodePtr parse_top() { return lang_ ? parse_ternary() : parse_or(); }

  NodePtr node(Kind kind, std::string ref = "") {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->ref = std::move(ref);
    return n;
  }

  // A node of KIND whose first kid is FIRST.
  NodePtr node(Kind kind, NodePtr first) {
    auto n = node(kind);
    n->kids.push_back(std::move(first));
    return n;
  }

  void expect(Tok kind, const char* text, const char* where) {
    if (cur_.kind != kind) fail(cur_.offset, std::string("expected '") + text + "' " + where);
    advance();
  }

  NodePtr parse_ternary() {
    NodePtr c = parse_or();
    if (cur_.kind != Tok::Question) return c;
    enter();
    advance();
    auto n = node(Kind::Ternary, std::move(c));
    n->kids.push_back(parse_ternary());
    expect(Tok::Colon, ":", "after the first branch of '? :'");
    n->kids.push_back(parse_ternary());
    leave();
    return n;
  }

  // A left-associative level of Arith operators OPS over OPERAND.
  NodePtr parse_arith(std::initializer_list<std::pair<Tok, const char*>> ops, NodePtr (Parser::*operand)()) {
    NodePtr l = (this->*operand)();
    for (;;) {
      const auto* op = std::find_if(ops.begin(), ops.end(), [&](const auto& o) { return o.first == cur_.kind; });
      if (op == ops.end()) return l;
      auto n = node(Kind::Arith, op->second);
      advance();
      n->kids.push_back(std::move(l));
      n->kids.push_back((this->*operand)());
      l = std::move(n);
    }
  }
  NodePtr parse_additive() { return parse_arith({{Tok::Plus, "+"}, {Tok::Minus, "-"}}, &Parser::parse_mult); }
  NodePtr parse_mult() {
    return parse_arith({{Tok::Star, "*"}, {Tok::Slash, "/"}, {Tok::Percent, "%"}}, &Parser::parse_unary);
  }

  NodePtr parse_unary() {
    if (cur_.kind != Tok::Minus) return parse_coalesce();
    enter();
    advance();
    auto n = node(Kind::Arith, "-");
    n->kids.push_back(parse_unary());
    leave();
    return n;
  }

  NodePtr parse_coalesce() {
    NodePtr l = parse_postfix();
    while (cur_.kind == Tok::Coalesce) {
      advance();
      auto n = node(Kind::Coalesce);
      n->kids.push_back(std::move(l));
      n->kids.push_back(parse_postfix());
      l = std::move(n);
    }
    return l;
  }

  NodePtr parse_postfix() {
    NodePtr v = parse_value();
    for (;;) {
      if (cur_.kind == Tok::LBracket) {
        enter();
        advance();
        auto n = node(Kind::Index, std::move(v));
        n->kids.push_back(parse_ternary());
        expect(Tok::RBracket, "]", "after an index");
        leave();
        v = std::move(n);
      } else if (cur_.kind == Tok::Dot) {
        advance();
        if (cur_.kind != Tok::Ref) fail(cur_.offset, "expected a name after '.'");
        // A dotted name after the value is one Member each.
        for (const auto& key : split_dots(token_text(cur_))) {
          auto n = node(Kind::Member, key);
          n->kids.push_back(std::move(v));
          v = std::move(n);
        }
        advance();
      } else {
        return v;
      }
    }
  }

  static std::vector<std::string> split_dots(const std::string& s) {
    std::vector<std::string> out;
    size_t at = 0;
    for (size_t d; (d = s.find('.', at)) != std::string::npos; at = d + 1) out.push_back(s.substr(at, d - at));
    out.push_back(s.substr(at));
    return out;
  }

  // ExprLang: [a, b] and {key: v, 'key': v}.
  NodePtr list_or_object(bool object) {
    enter();
    advance();
    auto n = node(object ? Kind::Object : Kind::List);
    if (object) n->literal = Value::array();
    const Tok close = object ? Tok::RBrace : Tok::RBracket;
    while (cur_.kind != close) {
      if (object) {
        if (cur_.kind != Tok::Ref && cur_.kind != Tok::String) fail(cur_.offset, "expected a key in an object");
        n->literal.push_back(cur_.kind == Tok::String ? cur_.value.get<std::string>() : token_text(cur_));
        advance();
        expect(Tok::Colon, ":", "after a key in an object");
      }
      n->kids.push_back(parse_ternary());
      if (cur_.kind != Tok::Comma) break;
      advance();
    }
    expect(close, object ? "}" : "]", object ? "at the end of an object" : "at the end of a list");
    leave();
    return n;
  }

  NodePtr parse_cmp() {
    NodePtr lhs = lang_ ? parse_additive() : parse_value();
    if (auto op = cmp_op(cur_.kind)) {
      advance();
      auto n = std::make_unique<Node>();
      n->kind = Kind::Cmp;
      n->op = *op;
      n->kids.push_back(std::move(lhs));
      const size_t rhs_at = cur_.offset;
      n->kids.push_back(lang_ ? parse_additive() : parse_value());
      const Node& rhs = *n->kids.back();
      if (*op == CmpOp::Match && rhs.kind == Kind::Literal && rhs.literal.is_string()) {
        if (auto bad = regex_error(rhs.literal.get<std::string>())) fail(rhs_at, *bad);
      }
      if (cmp_op(cur_.kind) || cur_.kind == Tok::In) {
        fail(cur_.offset, "comparisons cannot be chained; combine them with '&&'");
      }
      return n;
    }
    if (cur_.kind == Tok::In) {
      advance();
      if (cur_.kind != Tok::LBracket) fail(cur_.offset, "expected '[' after 'in'");
      advance();
      auto n = std::make_unique<Node>();
      n->kind = Kind::In;
      n->kids.push_back(std::move(lhs));
      if (cur_.kind == Tok::End) fail(cur_.offset, "expected ']'");
      if (cur_.kind != Tok::RBracket) {
        n->kids.push_back(parse_value());
        while (cur_.kind == Tok::Comma) {
          advance();
          n->kids.push_back(parse_value());
        }
        if (cur_.kind != Tok::RBracket) fail(cur_.offset, "expected ']'");
      }
      advance();
      if (cmp_op(cur_.kind) || cur_.kind == Tok::In) {
        fail(cur_.offset, "comparisons cannot be chained; combine them with '&&'");
      }
      return n;
    }
    return lhs;
  }

  NodePtr literal(Value v) {
    auto n = std::make_unique<Node>();
    n->kind = Kind::Literal;
    n->literal = std::move(v);
    advance();
    return n;
  }

  NodePtr ref_node() {
    auto n = std::make_unique<Node>();
    n->kind = Kind::Ref;
    n->ref = token_text(cur_);
    const size_t start = cur_.offset;
    // ExprLang: NAME['key'].more is the REF NAME.key.more (pos_ is just after the REF's first part).
    while (lang_ && pos_ + 1 < s_.size() && s_[pos_] == '[' && (s_[pos_ + 1] == '\'' || s_[pos_ + 1] == '"')) {
      const size_t close = s_.find(s_[pos_ + 1], pos_ + 2);
      if (close == std::string_view::npos || close + 1 >= s_.size() || s_[close + 1] != ']') break;
      const std::string key(s_.substr(pos_ + 2, close - pos_ - 2));
      if (key.empty() || scan_ref("x" + key) != key.size() + 1) break;  // not a REF segment: an Index
      n->ref += "." + key;
      pos_ = close + 2;
      if (pos_ + 1 < s_.size() && s_[pos_] == '.' && (is_alpha(s_[pos_ + 1]) || s_[pos_ + 1] == '_')) {
        const size_t m = scan_ref(s_.substr(pos_ + 1));
        n->ref += "." + std::string(s_.substr(pos_ + 1, m));
        pos_ += 1 + m;
      }
    }
    if (seen_.insert(n->ref).second) refs_.push_back(n->ref);
    spans_.push_back(RefSpan{start, pos_ - start});
    advance();
    return n;
  }

  NodePtr call_node() {
    auto n = std::make_unique<Node>();
    n->kind = Kind::Call;
    n->ref = token_text(cur_);
    const Syntax syntax = lang_ ? Syntax::ExprLang : Syntax::Ctflow;
    if (!is_function(n->ref, syntax))
      fail(cur_.offset, "unknown function '" + n->ref + "': the functions are " + function_names(syntax));
    advance();  // the name
    enter();
    advance();  // '('
    auto argument = [&]() {
      if (!(lang_ && cur_.kind == Tok::LBrace && takes_closure(n->ref) && !n->kids.empty())) return parse_top();
      advance();  // a closure: {BODY} over #
      auto c = node(Kind::Closure);
      c->kids.push_back(parse_ternary());
      expect(Tok::RBrace, "}", "at the end of a closure");
      return c;
    };
    if (cur_.kind != Tok::RParen) {
      n->kids.push_back(argument());
      while (cur_.kind == Tok::Comma) {
        advance();
        n->kids.push_back(argument());
      }
    }
    if (lang_ && takes_closure(n->ref) && (n->kids.size() != 2 || n->kids[1]->kind != Kind::Closure))
      fail(cur_.offset, n->ref + "() takes a list and a closure: " + n->ref + "(LIST, {EXPR over #})");
    if (cur_.kind != Tok::RParen) fail(cur_.offset, "expected ')' or ',' in the arguments of " + n->ref + "()");
    advance();
    leave();
    return n;
  }

  NodePtr parse_value() {
    switch (cur_.kind) {
      case Tok::Number:
      case Tok::String: return literal(std::move(cur_.value));
      case Tok::True: return literal(true);
      case Tok::False: return literal(false);
      case Tok::Null: return literal(nullptr);
      case Tok::Ref: {
        size_t i = pos_;
        while (i < s_.size() && is_space(s_[i])) ++i;
        if (i < s_.size() && s_[i] == '(') return call_node();
        return ref_node();
      }
      case Tok::Hash: {  // ExprLang: the element of a closure
        auto n = node(Kind::Ref, "#");
        advance();
        return n;
      }
      case Tok::LBracket:
        if (lang_) return list_or_object(false);
        break;
      case Tok::LBrace:
        if (lang_) return list_or_object(true);
        break;
      case Tok::LBrace2: {
        advance();
        if (cur_.kind != Tok::Ref) fail(cur_.offset, "expected a reference after '{{'");
        NodePtr n = ref_node();
        if (cur_.kind != Tok::RBrace2) fail(cur_.offset, "expected '}}'");
        advance();
        return n;
      }
      case Tok::LParen: {
        enter();
        advance();
        NodePtr n = parse_top();
        if (cur_.kind != Tok::RParen) fail(cur_.offset, "expected ')'");
        advance();
        leave();
        return n;
      }
      default:
        break;
    }
    // No value where one must be.
    if (prev_set_) fail(cur_.offset, "expected a value after '" + token_text(prev_) + "'");
    if (cur_.kind == Tok::End) fail(cur_.offset, "empty expression");
    if (cur_.kind == Tok::RParen || cur_.kind == Tok::RBracket || cur_.kind == Tok::RBrace2 ||
        cur_.kind == Tok::Comma) {
      fail(cur_.offset, "unexpected '" + token_text(cur_) + "'");
    }
    fail(cur_.offset, "expected a value before '" + token_text(cur_) + "'");
  }

  std::string_view s_;
  bool lang_ = false;  // Syntax::ExprLang
  Tok last_ = Tok::End;  // the kind of the token lexed last
  size_t pos_ = 0;
  Token cur_;
  Token prev_;
  bool prev_set_ = false;  // false until the first token is consumed
  int depth_ = 0;
  std::vector<std::string> refs_;
  std::vector<RefSpan> spans_;
  std::unordered_set<std::string> seen_;
};

// ---------------------------------------------------------------------------
// Evaluation.

using Number = std::variant<int64_t, uint64_t, double>;

std::optional<Number> as_number(const Value& v) {
  if (v.is_number_unsigned()) return Number(v.get<uint64_t>());
  if (v.is_number_integer()) return Number(v.get<int64_t>());
  if (v.is_number_float()) return Number(v.get<double>());
  return std::nullopt;
}

std::partial_ordering compare_numbers(const Number& a, const Number& b) {
  return std::visit(
      [](auto x, auto y) -> std::partial_ordering {
        using X = decltype(x);
        using Y = decltype(y);
        if constexpr (std::is_same_v<X, double> || std::is_same_v<Y, double>) {
          return static_cast<double>(x) <=> static_cast<double>(y);
        } else {
          if (std::cmp_less(x, y)) return std::partial_ordering::less;
          if (std::cmp_equal(x, y)) return std::partial_ordering::equivalent;
          return std::partial_ordering::greater;
        }
      },
      a, b);
}

bool holds(CmpOp op, std::partial_ordering o) {
  switch (op) {
    case CmpOp::Eq: return o == 0;
    case CmpOp::Ne: return !(o == 0);
    case CmpOp::Lt: return o < 0;
    case CmpOp::Le: return o <= 0;
    case CmpOp::Gt: return o > 0;
    case CmpOp::Ge: return o >= 0;
    case CmpOp::Match: return false;
  }
  return false;
}

Status mismatch(const Value& a, const Value& b, const char* op) {
  return Status::Error("cannot compare " + describe(a) + " (" + type_name(a) + ") with " + describe(b) +
                       " (" + type_name(b) + ") using " + op);
}

Result<bool> matches(const Value& a, const Value& b) {
  auto text = [](const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  if (!(a.is_string() || a.is_number()) || !b.is_string()) return mismatch(a, b, "=~");
  try {
    return std::regex_search(text(a), std::regex(b.get<std::string>(), std::regex::ECMAScript));
  } catch (const std::regex_error& e) {
    return Status::Error("invalid regular expression " + describe(b) + ": " + e.what());
  }
}

// `op_name` is what the error message calls the operator ("in" for membership).
Result<bool> compare(CmpOp op, const Value& a, const Value& b, const char* op_name) {
  if (op == CmpOp::Match) return matches(a, b);
  std::optional<Number> na = as_number(a);
  std::optional<Number> nb = as_number(b);
  // A number against a string that is fully a number literal: compare numbers.
  if (na && !nb && b.is_string()) {
    if (auto v = numeric_string(b.get_ref<const std::string&>())) nb = as_number(*v);
  } else if (nb && !na && a.is_string()) {
    if (auto v = numeric_string(a.get_ref<const std::string&>())) na = as_number(*v);
  }
  if (na && nb) return holds(op, compare_numbers(*na, *nb));
  if (a.is_string() && b.is_string()) {
    int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return holds(op, c <=> 0);
  }
  if (op == CmpOp::Eq || op == CmpOp::Ne) {
    bool equal = false;
    if (a.is_null() || b.is_null()) {
      // Our choice: null equals only null, and == / != with null never fails,
      // so `steps.a.outputs.x == null` is a usable test.
      equal = a.is_null() && b.is_null();
    } else if (a.type() == b.type() && (a.is_boolean() || a.is_array() || a.is_object())) {
      equal = a == b;
    } else {
      return mismatch(a, b, op_name);
    }
    return op == CmpOp::Eq ? equal : !equal;
  }
  return mismatch(a, b, op_name);
}

Status not_boolean(const char* op, const Node& operand, const Value& v) {
  std::string msg = std::string("operator '") + op + "' needs booleans, but ";
  if (operand.kind == Kind::Ref) msg += operand.ref + " is ";
  else msg += "got ";
  return Status::Error(msg + describe(v) + " (" + type_name(v) + ")");
}

Result<Value> eval_node(const Node& n, const Expr::Resolver& r);

// ExprLang's + - * / %: numbers (an int while both are ints, except `/`, which
// gives a float as in expr-lang); + also joins two strings.
Result<Value> arith(const Node& n, const Expr::Resolver& r) {
  std::vector<Value> v;
  for (const NodePtr& k : n.kids) {
    Result<Value> x = eval_node(*k, r);
    if (!x.ok()) return x;
    v.push_back(std::move(*x));
  }
  const std::string& op = n.ref;
  if (v.size() == 1) {
    if (v[0].is_number_integer()) return Value(-v[0].get<int64_t>());
    if (v[0].is_number()) return Value(-v[0].get<double>());
    return Status::Error("cannot negate " + describe(v[0]) + " (" + type_name(v[0]) + ")");
  }
  const Value& a = v[0];
  const Value& b = v[1];
  if (op == "+" && a.is_string() && b.is_string()) return Value(a.get<std::string>() + b.get<std::string>());
  if (!a.is_number() || !b.is_number())
    return Status::Error("cannot compute " + describe(a) + " (" + type_name(a) + ") " + op + " " + describe(b) + " (" +
                         type_name(b) + "): " + op + " needs numbers" + (op == "+" ? " or two strings" : "") +
                         " (asInt() or asFloat() read a number from a string)");
  const bool ints = a.is_number_integer() && b.is_number_integer();
  if ((op == "/" || op == "%") && (b.is_number_integer() ? b.get<int64_t>() == 0 : b.get<double>() == 0))
    return Status::Error("division by zero in " + describe(a) + " " + op + " " + describe(b));
  if (op == "%") {
    if (!ints) return Status::Error("% needs integers, got " + describe(a) + " and " + describe(b));
    return Value(a.get<int64_t>() % b.get<int64_t>());
  }
  if (op == "/") return Value(a.get<double>() / b.get<double>());
  if (ints) {
    const int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
    return Value(op == "+" ? x + y : op == "-" ? x - y : x * y);
  }
  const double x = a.get<double>(), y = b.get<double>();
  return Value(op == "+" ? x + y : op == "-" ? x - y : x * y);
}

// x[i] (a list, from the end when negative; an object by key) and x.key.
Result<Value> index(const Node& n, const Expr::Resolver& r) {
  Result<Value> x = eval_node(*n.kids[0], r);
  if (!x.ok()) return x;
  Value key(n.ref);
  if (n.kind == Kind::Index) {
    Result<Value> k = eval_node(*n.kids[1], r);
    if (!k.ok()) return k;
    key = std::move(*k);
  }
  if (x->is_array() && key.is_number_integer()) {
    const int64_t size = static_cast<int64_t>(x->size());
    int64_t i = key.get<int64_t>();
    if (i < 0) i += size;
    if (i < 0 || i >= size)
      return Status::Error("index " + key.dump() + " out of range for a list of " + std::to_string(size));
    return (*x)[static_cast<size_t>(i)];
  }
  if (x->is_object() && key.is_string()) {
    auto it = x->find(key.get<std::string>());
    return it == x->end() ? Value(nullptr) : *it;  // a missing key is nil, as in expr-lang
  }
  return Status::Error("cannot index " + describe(*x) + " (" + type_name(*x) + ") with " + describe(key) + " (" +
                       type_name(key) + ")");
}

// map, filter, all, any, count: the closure (the second argument) over each element `#` of the list.
Result<Value> closure_call(const Node& n, const Expr::Resolver& r) {
  Result<Value> list = eval_node(*n.kids[0], r);
  if (!list.ok()) return list;
  if (!list->is_array()) return Status::Error(n.ref + "() needs a list, got " + describe(*list));
  const Node& body = *n.kids[1]->kids[0];
  Value out = Value::array();
  int64_t count = 0;
  for (const Value& el : *list) {
    Result<Value> v = eval_node(body, [&](const std::string& ref) -> Result<Value> {
      if (ref == "#") return el;
      return r(ref);
    });
    if (!v.ok()) return v;
    if (n.ref == "map") {
      out.push_back(std::move(*v));
      continue;
    }
    if (!v->is_boolean()) return Status::Error("the closure of " + n.ref + "() must give a boolean, got " + describe(*v));
    const bool yes = v->get<bool>();
    if (n.ref == "filter" && yes) out.push_back(el);
    if (n.ref == "all" && !yes) return Value(false);
    if (n.ref == "any" && yes) return Value(true);
    count += yes ? 1 : 0;
  }
  if (n.ref == "all") return Value(true);
  if (n.ref == "any") return Value(false);
  if (n.ref == "count") return Value(count);
  return out;
}

Result<Value> eval_node(const Node& n, const Expr::Resolver& r) {
  switch (n.kind) {
    case Kind::Literal:
      return n.literal;
    case Kind::Ref:
      if (!r) return Status::Error("cannot resolve '" + n.ref + "': no resolver");
      return r(n.ref);
    case Kind::Not: {
      Result<Value> v = eval_node(*n.kids[0], r);
      if (!v.ok()) return v;
      if (!v->is_boolean()) return not_boolean("!", *n.kids[0], *v);
      return Value(!v->get<bool>());
    }
    case Kind::And:
    case Kind::Or: {
      const bool is_and = n.kind == Kind::And;
      for (const NodePtr& k : n.kids) {
        Result<Value> v = eval_node(*k, r);
        if (!v.ok()) return v;
        if (!v->is_boolean()) return not_boolean(is_and ? "&&" : "||", *k, *v);
        if (v->get<bool>() != is_and) return Value(!is_and);  // short-circuit
      }
      return Value(is_and);
    }
    case Kind::Cmp: {
      Result<Value> a = eval_node(*n.kids[0], r);
      if (!a.ok()) return a;
      Result<Value> b = eval_node(*n.kids[1], r);
      if (!b.ok()) return b;
      Result<bool> c = compare(n.op, *a, *b, op_text(n.op));
      if (!c.ok()) return c.status();
      return Value(*c);
    }
    case Kind::In: {
      Result<Value> a = eval_node(*n.kids[0], r);
      if (!a.ok()) return a;
      for (size_t i = 1; i < n.kids.size(); ++i) {
        Result<Value> b = eval_node(*n.kids[i], r);
        if (!b.ok()) return b;
        Result<bool> c = compare(CmpOp::Eq, *a, *b, "in");
        if (!c.ok()) return c.status();
        if (*c) return Value(true);
      }
      return Value(false);
    }
    case Kind::Arith: return arith(n, r);
    case Kind::Ternary: {
      Result<Value> c = eval_node(*n.kids[0], r);
      if (!c.ok()) return c;
      if (!c->is_boolean()) return not_boolean("? :", *n.kids[0], *c);
      return eval_node(*n.kids[c->get<bool>() ? 1 : 2], r);
    }
    case Kind::Coalesce: {
      Result<Value> a = eval_node(*n.kids[0], r);
      if (a.ok() && !a->is_null()) return a;
      return eval_node(*n.kids[1], r);
    }
    case Kind::Index:
    case Kind::Member: return index(n, r);
    case Kind::List:
    case Kind::Object: {
      Value out = n.kind == Kind::List ? Value::array() : Value::object();
      for (size_t i = 0; i < n.kids.size(); ++i) {
        Result<Value> v = eval_node(*n.kids[i], r);
        if (!v.ok()) return v;
        if (n.kind == Kind::List) out.push_back(std::move(*v));
        else out[n.literal[i].get<std::string>()] = std::move(*v);
      }
      return out;
    }
    case Kind::Closure: return Status::Error("a closure {...} is only an argument of map, filter, all, any or count");
    case Kind::Call: {
      if (takes_closure(n.ref) && n.kids.size() == 2 && n.kids[1]->kind == Kind::Closure) return closure_call(n, r);
      std::vector<Value> args;
      for (const NodePtr& k : n.kids) {
        Result<Value> v = eval_node(*k, r);
        if (!v.ok()) return v;
        args.push_back(std::move(*v));
      }
      return call_function(n.ref, args);
    }
  }
  return Status::Error("internal error: unknown expression node");
}

}  // namespace

// ---------------------------------------------------------------------------

std::variant<Expr, ParseError> Expr::parse(std::string_view text, Syntax syntax) {
  try {
    Parser p(text, syntax);
    NodePtr root = p.parse_all();
    Expr e;
    e.text_ = std::string(text);
    e.refs_ = p.take_refs();
    e.spans_ = p.take_spans();
    e.root_ = std::shared_ptr<const Node>(std::move(root));
    return e;
  } catch (Failure& f) {
    return std::move(f.error);
  }
}

Result<Value> Expr::eval(const Resolver& r) const {
  if (!root_) return Status::Error("empty expression");
  return eval_node(*root_, r);
}

Result<bool> Expr::eval_bool(const Resolver& r) const {
  Result<Value> v = eval(r);
  if (!v.ok()) return v.status();
  if (!v->is_boolean()) {
    return Status::Error(std::string("expression must be a boolean, got ") + type_name(*v) + " " + describe(*v));
  }
  return v->get<bool>();
}

size_t scan_ref(std::string_view text) {
  size_t i = 0;
  if (text.empty() || !(is_alpha(text[0]) || text[0] == '_')) return 0;
  while (i < text.size() && is_segment_char(text[i])) ++i;
  while (i + 1 < text.size() && text[i] == '.' && is_segment_char(text[i + 1])) {
    ++i;
    while (i < text.size() && is_segment_char(text[i])) ++i;
  }
  return i;
}

bool is_ref(std::string_view text) {
  return !text.empty() && scan_ref(text) == text.size() && !is_keyword(text);
}

const char* type_name(const Value& v) {
  switch (v.type()) {
    case Value::value_t::null: return "null";
    case Value::value_t::boolean: return "bool";
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned: return "int";
    case Value::value_t::number_float: return "float";
    case Value::value_t::string: return "string";
    case Value::value_t::array: return "list";
    case Value::value_t::object: return "object";
    case Value::value_t::binary: return "binary";
    case Value::value_t::discarded: return "discarded";
  }
  return "unknown";
}

std::string describe(const Value& v) {
  constexpr size_t kMax = 80;
  std::string s = v.dump(-1, ' ', false, Value::error_handler_t::replace);
  if (s.size() <= kMax) return s;
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
  return s.substr(0, cut) + "...";
}

}  // namespace ctflow::expr

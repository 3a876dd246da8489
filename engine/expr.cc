#include "engine/expr.h"

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
  explicit Parser(std::string_view text) : s_(text) { cur_ = lex(); }

  NodePtr parse_all() {
    NodePtr root = parse_or();
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
  Token lex() {
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
    while (end < rest.size() && (is_segment_char(rest[end]) || rest[end] == '.')) ++end;
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

  NodePtr parse_cmp() {
    NodePtr lhs = parse_value();
    if (auto op = cmp_op(cur_.kind)) {
      advance();
      auto n = std::make_unique<Node>();
      n->kind = Kind::Cmp;
      n->op = *op;
      n->kids.push_back(std::move(lhs));
      const size_t rhs_at = cur_.offset;
      n->kids.push_back(parse_value());
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
    if (seen_.insert(n->ref).second) refs_.push_back(n->ref);
    spans_.push_back(RefSpan{cur_.offset, cur_.len});
    advance();
    return n;
  }

  NodePtr call_node() {
    auto n = std::make_unique<Node>();
    n->kind = Kind::Call;
    n->ref = token_text(cur_);
    if (!is_function(n->ref))
      fail(cur_.offset, "unknown function '" + n->ref + "': the functions are " + function_names());
    advance();  // the name
    enter();
    advance();  // '('
    if (cur_.kind != Tok::RParen) {
      n->kids.push_back(parse_or());
      while (cur_.kind == Tok::Comma) {
        advance();
        n->kids.push_back(parse_or());
      }
    }
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
        NodePtr n = parse_or();
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
    case Kind::Call: {
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

std::variant<Expr, ParseError> Expr::parse(std::string_view text) {
  try {
    Parser p(text);
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

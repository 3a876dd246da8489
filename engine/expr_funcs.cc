// The functions of expressions (engine/expr.h): expr-lang's, as Argo's
// expressions use them. jsonpath() reads the subset of JSONPath Argo's
// examples write; its filters are expressions of this language over `@`.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/expr.h"

namespace ctflow::expr {
namespace {

std::string text_of(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Result<Value> as_int(const Value& v) {
  if (v.is_number_integer()) return v;
  if (v.is_number_float()) return Value(static_cast<int64_t>(std::trunc(v.get<double>())));
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    try {
      size_t used = 0;
      long long n = std::stoll(s, &used);
      if (used == s.size()) return Value(static_cast<int64_t>(n));
    } catch (const std::exception&) {
    }
  }
  return Status::Error("asInt: " + describe(v) + " (" + type_name(v) + ") is not an integer");
}

Result<Value> as_float(const Value& v) {
  if (v.is_number()) return Value(v.get<double>());
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return Value(d);
    } catch (const std::exception&) {
    }
  }
  return Status::Error("asFloat: " + describe(v) + " (" + type_name(v) + ") is not a number");
}

// One step of a JSONPath over the current matches.
class JsonPath {
 public:
  explicit JsonPath(const std::string& p) : p_(p) {}

  Result<Value> run(const Value& root) {
    if (p_.empty() || p_[0] != '$') return bad("a path starts with '$'");
    std::vector<Value> at{root};
    i_ = 1;
    while (i_ < p_.size()) {
      std::vector<Value> next;
      if (p_[i_] == '.') {
        ++i_;
        if (i_ < p_.size() && p_[i_] == '*') {
          ++i_;
          many_ = true;
          for (const auto& v : at) children(v, next);
        } else {
          std::string key = word();
          if (key.empty()) return bad("expected a key after '.'");
          for (const auto& v : at)
            if (v.is_object() && v.contains(key)) next.push_back(v[key]);
        }
      } else if (p_[i_] == '[') {
        size_t close = p_[i_ + 1] == '?' ? filter_end() : p_.find(']', i_);
        if (close == std::string::npos) return bad("unclosed '['");
        std::string inner = p_.substr(i_ + 1, close - i_ - 1);
        i_ = close + 1;
        if (auto st = bracket(inner, at, next); !st.ok()) return st;
      } else {
        return bad(std::string("unexpected '") + p_[i_] + "'");
      }
      at = std::move(next);
    }
    if (many_) return Value(at);
    if (at.empty()) return Status::Error("jsonpath: '" + p_ + "' matches nothing");
    return at[0];
  }

 private:
  Status bad(const std::string& why) const {
    return Status::Error("jsonpath: '" + p_ + "' at offset " + std::to_string(i_) + ": " + why);
  }
  std::string word() {
    size_t b = i_;
    while (i_ < p_.size() && p_[i_] != '.' && p_[i_] != '[') ++i_;
    return p_.substr(b, i_ - b);
  }
  size_t filter_end() const {
    int depth = 0;
    char quote = 0;
    for (size_t j = i_; j < p_.size(); ++j) {
      char c = p_[j];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '[' || c == '(') {
        ++depth;
      } else if (c == ']' || c == ')') {
        if (--depth == 0 && c == ']') return j;
      }
    }
    return std::string::npos;
  }
  static void children(const Value& v, std::vector<Value>& out) {
    if (v.is_array() || v.is_object())
      for (const auto& c : v) out.push_back(c);
  }

  Status bracket(const std::string& inner, const std::vector<Value>& at, std::vector<Value>& next) {
    if (inner == "*") {
      many_ = true;
      for (const auto& v : at) children(v, next);
      return Status::Ok();
    }
    if (inner.size() >= 2 && (inner[0] == '\'' || inner[0] == '"')) {
      std::string key = inner.substr(1, inner.size() - 2);
      for (const auto& v : at)
        if (v.is_object() && v.contains(key)) next.push_back(v[key]);
      return Status::Ok();
    }
    if (!inner.empty() && inner[0] == '?') return filter(inner, at, next);
    many_ = many_ || inner.find(':') != std::string::npos;
    for (const auto& v : at) {
      if (!v.is_array()) continue;
      const long long n = static_cast<long long>(v.size());
      auto index = [&](const std::string& t, long long dflt) -> std::optional<long long> {
        if (t.empty()) return dflt;
        try {
          size_t used = 0;
          long long k = std::stoll(t, &used);
          if (used != t.size()) return std::nullopt;
          return k < 0 ? k + n : k;
        } catch (const std::exception&) {
          return std::nullopt;
        }
      };
      size_t colon = inner.find(':');
      if (colon == std::string::npos) {
        auto k = index(inner, 0);
        if (!k) return bad("'[" + inner + "]' is not an index, a slice, '*', a key or a filter");
        if (*k >= 0 && *k < n) next.push_back(v[static_cast<size_t>(*k)]);
        continue;
      }
      auto a = index(inner.substr(0, colon), 0), b = index(inner.substr(colon + 1), n);
      if (!a || !b) return bad("'[" + inner + "]' is not a slice");
      for (long long k = std::max(0LL, *a); k < std::min(n, *b); ++k) next.push_back(v[static_cast<size_t>(k)]);
    }
    return Status::Ok();
  }

  // [?(COND)]: COND over @ (the element), read by this expression language.
  Status filter(const std::string& inner, const std::vector<Value>& at, std::vector<Value>& next) {
    many_ = true;
    std::string cond = inner.substr(1);
    if (cond.size() < 2 || cond.front() != '(' || cond.back() != ')') return bad("a filter is written [?(...)]");
    std::string e;
    for (size_t j = 1; j + 1 < cond.size(); ++j) {
      if (cond[j] == '@') e += "at";
      else e += cond[j];
    }
    auto parsed = Expr::parse(e);
    if (auto* err = std::get_if<ParseError>(&parsed)) return bad("filter '" + e + "': " + err->message);
    const Expr& x = std::get<Expr>(parsed);
    std::vector<Value> items;
    for (const auto& v : at) children(v, items);
    for (const auto& el : items) {
      auto ok = x.eval_bool([&](const std::string& ref) -> Result<Value> {
        if (ref == "at") return el;
        if (ref.rfind("at.", 0) != 0) return Status::Error("unknown reference '" + ref + "' in a filter");
        Value cur = el;
        size_t b = 3;
        for (;;) {
          size_t d = ref.find('.', b);
          std::string k = ref.substr(b, d == std::string::npos ? std::string::npos : d - b);
          if (!cur.is_object() || !cur.contains(k)) return Value(nullptr);
          cur = Value(cur[k]);
          if (d == std::string::npos) return cur;
          b = d + 1;
        }
      });
      if (ok.ok() && *ok) next.push_back(el);
    }
    return Status::Ok();
  }

  std::string p_;
  size_t i_ = 0;
  bool many_ = false;
};

Result<Value> jsonpath(const Value& doc, const Value& path) {
  if (!path.is_string()) return Status::Error("jsonpath: the path must be a string, got " + describe(path));
  Value root = doc;
  if (doc.is_string()) {
    root = Value::parse(doc.get<std::string>(), nullptr, false);
    if (root.is_discarded()) return Status::Error("jsonpath: " + describe(doc) + " is not JSON");
  }
  return JsonPath(path.get<std::string>()).run(root);
}

}  // namespace

namespace {

// sprig's number functions read their arguments as int64 (cast.ToInt64): a float is truncated, a
// string is parsed.
Result<int64_t> sprig_int(const std::string& fn, const Value& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) return static_cast<int64_t>(std::trunc(v.get<double>()));
  if (v.is_string()) {
    auto n = as_int(v);
    if (n.ok()) return n->get<int64_t>();
  }
  return Status::Error(fn + ": " + describe(v) + " (" + type_name(v) + ") is not a number");
}

constexpr const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64enc(const std::string& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kB64[(v >> k) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> b64dec(const std::string& in) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    const char* at = std::strchr(kB64, c);
    if (!at || c == '\0') return Status::Error("sprig.b64dec: " + describe(Value(in)) + " is not base64");
    acc = (acc << 6) | static_cast<unsigned>(at - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The functions of Syntax::ExprLang beyond the five: sprig's and expr-lang's own that Argo's examples use.
const std::vector<std::string> kSprig = {"sprig.add", "sprig.sub", "sprig.mul", "sprig.div", "sprig.mod", "sprig.max",
                                         "sprig.min", "sprig.b64enc", "sprig.b64dec", "sprig.trim", "sprig.upper",
                                         "sprig.lower", "sprig.toString"};
const std::vector<std::string> kClosures = {"map", "filter", "all", "any", "count"};

bool listed(const std::vector<std::string>& v, std::string_view name) {
  return std::find(v.begin(), v.end(), name) != v.end();
}

Result<Value> sprig(const std::string& name, const std::vector<Value>& args) {
  const std::string fn = name.substr(6);
  if (fn == "add" || fn == "mul" || fn == "max" || fn == "min" || fn == "sub" || fn == "div" || fn == "mod") {
    const bool two = fn == "sub" || fn == "div" || fn == "mod";
    if (two ? args.size() != 2 : args.empty())
      return Status::Error(name + "() takes " + (two ? "2 arguments" : "1 or more arguments") + ", got " +
                           std::to_string(args.size()));
    std::vector<int64_t> n;
    for (const Value& a : args) {
      auto x = sprig_int(name, a);
      if (!x.ok()) return x.status();
      n.push_back(*x);
    }
    if ((fn == "div" || fn == "mod") && n[1] == 0) return Status::Error(name + "(): division by zero");
    int64_t out = n[0];
    for (size_t i = 1; i < n.size(); ++i) {
      if (fn == "add") out += n[i];
      else if (fn == "mul") out *= n[i];
      else if (fn == "max") out = std::max(out, n[i]);
      else if (fn == "min") out = std::min(out, n[i]);
      else if (fn == "sub") out -= n[i];
      else if (fn == "div") out /= n[i];
      else out %= n[i];
    }
    return Value(out);
  }
  if (args.size() != 1) return Status::Error(name + "() takes 1 argument, got " + std::to_string(args.size()));
  const std::string t = text_of(args[0]);
  if (fn == "b64enc") return Value(b64enc(t));
  if (fn == "b64dec") {
    auto d = b64dec(t);
    if (!d.ok()) return d.status();
    return Value(*d);
  }
  if (fn == "trim") {
    const size_t b = t.find_first_not_of(" \t\r\n"), e = t.find_last_not_of(" \t\r\n");
    return Value(b == std::string::npos ? "" : t.substr(b, e - b + 1));
  }
  if (fn == "upper") return Value(upper(t));
  if (fn == "lower") return Value(lower(t));
  return Value(t);  // toString
}

}  // namespace

bool is_function(std::string_view name, Syntax syntax) {
  if (name == "asInt" || name == "asFloat" || name == "string" || name == "toJson" || name == "jsonpath") return true;
  return syntax == Syntax::ExprLang && (listed(kSprig, name) || listed(kClosures, name));
}

bool takes_closure(std::string_view name) { return listed(kClosures, name); }

const char* function_names(Syntax syntax) {
  return syntax == Syntax::ExprLang
             ? "asInt, asFloat, string, toJson, jsonpath, map, filter, all, any, count and sprig's add, sub, mul, "
               "div, mod, max, min, b64enc, b64dec, trim, upper, lower, toString"
             : "asInt, asFloat, string, toJson, jsonpath";
}

Result<Value> call_function(const std::string& name, const std::vector<Value>& args) {
  if (name.rfind("sprig.", 0) == 0 && listed(kSprig, name)) return sprig(name, args);
  const size_t want = name == "jsonpath" ? 2 : 1;
  if (args.size() != want)
    return Status::Error(name + "() takes " + std::to_string(want) + " argument" + (want == 1 ? "" : "s") + ", got " +
                         std::to_string(args.size()));
  if (name == "asInt") return as_int(args[0]);
  if (name == "asFloat") return as_float(args[0]);
  if (name == "string") return Value(text_of(args[0]));
  if (name == "toJson") return Value(args[0].dump());
  return jsonpath(args[0], args[1]);
}

}  // namespace ctflow::expr

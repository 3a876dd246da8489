#include "engine/template.h"

#include <utility>

namespace ctflow::tmpl {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string shorten(std::string_view s) {
  constexpr size_t kMax = 60;
  if (s.size() <= kMax) return std::string(s);
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
  return std::string(s.substr(0, cut)) + "...";
}

}  // namespace

std::variant<std::vector<Placeholder>, TemplateError> placeholders(std::string_view text) {
  std::vector<Placeholder> out;
  size_t i = 0;
  for (;;) {
    const size_t open = text.find("{{", i);
    if (open == std::string_view::npos) return out;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) return TemplateError{open, "unclosed '{{'"};
    size_t b = open + 2;
    size_t e = close;
    while (b < e && is_space(text[b])) ++b;
    while (e > b && is_space(text[e - 1])) --e;
    const std::string_view name = text.substr(b, e - b);
    if (name.empty()) return TemplateError{open, "empty reference '" + std::string(text.substr(open, close + 2 - open)) + "'"};
    if (!expr::is_ref(name)) {
      return TemplateError{b, "invalid reference '" + shorten(name) +
                                  "': expected a dotted name like params.x or steps.s.outputs.y"};
    }
    out.push_back(Placeholder{open, close + 2, std::string(name)});
    i = close + 2;
  }
}

bool is_single_placeholder(std::string_view text) {
  return text.size() > 4 && text.substr(0, 2) == "{{" && text.find("{{", 2) == std::string_view::npos &&
         text.find("}}") == text.size() - 2;
}

Status error_status(const TemplateError& e, std::string_view text) {
  return Status::Error(e.message + " at offset " + std::to_string(e.offset) + " in '" + shorten(text) + "'");
}

namespace {

constexpr int kMaxValueDepth = 512;

Result<Value> render_at_depth(const Value& v, const Resolver& r, int depth) {
  if (depth > kMaxValueDepth) return Status::Error("value nested too deeply to render");
  if (v.is_string()) return render(v.get_ref<const std::string&>(), r);
  if (v.is_object()) {
    Value out = Value::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      Result<Value> x = render_at_depth(it.value(), r, depth + 1);
      if (!x.ok()) return x;
      out[it.key()] = std::move(*x);
    }
    return out;
  }
  if (v.is_array()) {
    Value out = Value::array();
    for (const Value& e : v) {
      Result<Value> x = render_at_depth(e, r, depth + 1);
      if (!x.ok()) return x;
      out.push_back(std::move(*x));
    }
    return out;
  }
  return v;
}

}  // namespace

std::variant<std::vector<std::string>, TemplateError> refs(std::string_view text) {
  auto scanned = placeholders(text);
  if (auto* err = std::get_if<TemplateError>(&scanned)) return std::move(*err);
  std::vector<std::string> out;
  for (Placeholder& p : std::get<std::vector<Placeholder>>(scanned)) out.push_back(std::move(p.ref));
  return out;
}

Result<Value> render(const std::string& text, const Resolver& r) {
  auto scanned = placeholders(text);
  if (auto* err = std::get_if<TemplateError>(&scanned)) return error_status(*err, text);
  const auto& holes = std::get<std::vector<Placeholder>>(scanned);
  if (holes.empty()) return Value(text);
  if (!r) return Status::Error("cannot resolve '" + holes.front().ref + "': no resolver");
  // Exactly one reference and nothing else: keep the value's type.
  if (holes.size() == 1 && holes[0].begin == 0 && holes[0].end == text.size()) return r(holes[0].ref);
  std::string out;
  size_t at = 0;
  for (const Placeholder& p : holes) {
    out.append(text, at, p.begin - at);
    Result<Value> v = r(p.ref);
    if (!v.ok()) return v;
    if (v->is_string()) out += v->get_ref<const std::string&>();
    else out += v->dump(-1, ' ', false, Value::error_handler_t::replace);
    at = p.end;
  }
  out.append(text, at, std::string::npos);
  return Value(std::move(out));
}

Result<Value> render_value(const Value& v, const Resolver& r) { return render_at_depth(v, r, 0); }

}  // namespace ctflow::tmpl

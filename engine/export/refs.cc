#include "engine/export/refs.h"

#include "engine/template.h"

namespace ctflow::export_detail {

Result<std::string> rewrite(const std::string& text, const RefRenderer& render) {
  auto scanned = tmpl::placeholders(text);
  if (auto* err = std::get_if<tmpl::TemplateError>(&scanned)) return tmpl::error_status(*err, text);
  std::string out;
  size_t at = 0;
  for (const tmpl::Placeholder& p : std::get<std::vector<tmpl::Placeholder>>(scanned)) {
    auto ref = parse_reference(p.ref);
    if (!ref) return ref.status();
    auto rendered = render(*ref);
    if (!rendered) return rendered.status();
    out.append(text, at, p.begin - at);
    out += *rendered;
    at = p.end;
  }
  out.append(text, at, std::string::npos);
  return out;
}

Result<std::vector<Reference>> refs_in(const std::string& text) {
  std::vector<Reference> refs;
  auto r = rewrite(text, [&](const Reference& ref) -> Result<std::string> {
    refs.push_back(ref);
    return std::string();
  });
  if (!r) return r.status();
  return refs;
}

bool is_single_ref(const std::string& text) {
  const size_t b = text.find_first_not_of(" \t");
  if (b == std::string::npos) return false;
  return tmpl::is_single_placeholder(std::string_view(text).substr(b, text.find_last_not_of(" \t") - b + 1));
}

void for_each_string(const Value& v, const std::function<void(const std::string&)>& f) {
  if (v.is_string()) f(v.get<std::string>());
  else if (v.is_array() || v.is_object())
    for (const auto& x : v) for_each_string(x, f);
}

}  // namespace ctflow::export_detail

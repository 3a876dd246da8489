#include "engine/params_file.h"

#include <fstream>
#include <set>
#include <sstream>

#include "engine/frontend_v1.h"
#include "engine/params.h"
#include "engine/validate.h"
#include "engine/yaml_util.h"

namespace ctflow {

std::vector<std::string> ParamsFile::assignments() const {
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const auto& e : entries)
    out.push_back(e.name + "=" + (e.value.is_string() ? e.value.get<std::string>() : e.value.dump(-1, ' ', false, Value::error_handler_t::replace)));
  return out;
}

std::optional<ParamsFile> read_params_file(const std::string& path, Diagnostics& d) {
  ParamsFile f;
  f.path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    d.error({path, 0, 0}, "cannot read the params file: no such file or not readable");
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  f.source = ss.str();
  d.set_source(f.source);
  YAML::Node root;
  try {
    root = YAML::Load(f.source);
  } catch (const YAML::Exception& e) {
    d.error(yaml_pos(path, e.mark), "params file: YAML/JSON syntax: " + e.msg);
    return std::nullopt;
  }
  if (!root.IsMap()) {
    SourcePos pos = root.IsDefined() && !root.IsNull() ? yaml_pos(path, root) : SourcePos{path, 1, 1};
    d.error(pos, "a params file is a mapping of param name to value (NAME: VALUE lines, or a JSON object); got " +
                     (root.IsNull() ? std::string("an empty document") : yaml_kind(root)));
    return std::nullopt;
  }
  std::set<std::string> seen;
  const size_t before = d.size();
  for (const auto& kv : root) {
    if (!kv.first.IsScalar()) {
      d.error(yaml_pos(path, kv.first), "a param name must be a string; got " + yaml_kind(kv.first));
      continue;
    }
    ParamsFile::Entry e;
    e.name = kv.first.Scalar();
    e.key_pos = yaml_pos(path, kv.first);
    e.value_pos = kv.second.IsNull() && kv.second.Mark().line < 0 ? e.key_pos : yaml_pos(path, kv.second);
    if (!seen.insert(e.name).second) {
      d.error(e.key_pos, "param '" + e.name + "' is given twice in the params file");
      continue;
    }
    e.structured = kv.second.IsSequence() || kv.second.IsMap();
    e.value = kv.second.IsScalar() ? Value(kv.second.Scalar()) : yaml_to_value(kv.second);
    f.entries.push_back(std::move(e));
  }
  if (d.size() > before) return std::nullopt;
  return f;
}

Result<Value> bind_params(const Workflow& wf, const ParamsFile& file, const std::vector<std::string>& assignments,
                          Diagnostics& d) {
  d.set_source(file.source);
  std::vector<std::string> names;
  for (const auto& p : wf.params) names.push_back(p.name);
  // The file's values become the defaults of a copy of the declarations; -p then
  // binds over them as it does over the workflow's own defaults.
  Workflow decls;
  decls.name = wf.name;
  decls.file = wf.file;
  decls.params = wf.params;
  for (const auto& e : file.entries) {
    ParamDecl* p = nullptr;
    for (auto& x : decls.params)
      if (x.name == e.name) p = &x;
    if (!p) {
      d.error(e.key_pos, "workflow '" + wf.name + "' has no param '" + e.name + "'" + did_you_mean(e.name, names) +
                             (names.empty() ? " (it declares none)" : ""));
      continue;
    }
    // A json param written as a plain scalar (3, true, null) is that typed value.
    Value v = p->type == ParamType::Json && !e.structured && e.value.is_string()
                  ? Value::parse(e.value.get<std::string>(), nullptr, false)
                  : e.value;
    if (v.is_discarded()) v = e.value;
    // Argo's --parameter-file gives a list or map to a (string) Argo parameter as its JSON text.
    if (e.structured && p->type == ParamType::String && wf.api_version != "ctflow/v1")
      v = e.value.dump(-1, ' ', false, Value::error_handler_t::replace);
    auto typed = coerce_param_value(*p, v);
    if (!typed) {
      d.error(e.value_pos, "param '" + e.name + "' is " + to_string(p->type) + " and " + typed.message());
      continue;
    }
    p->default_value = *typed;
  }
  if (!d.empty()) return Status::Error("the params file " + file.path + " has errors");
  return bind_params(decls, assignments);
}

}  // namespace ctflow

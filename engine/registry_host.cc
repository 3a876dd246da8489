#include "engine/registry_host.h"

#include "store/artifact_store.h"
#include "store/run_store.h"

namespace ctflow {
namespace {

Json version_json(const ModelVersion& m) {
  return {{"name", m.name},           {"version", m.version}, {"stage", m.stage},   {"run_id", m.run_id},
          {"step", m.step},           {"artifacts", m.artifacts}, {"metrics", m.metrics}, {"params", m.params},
          {"created_at", m.created_at}};
}

Result<std::unique_ptr<RunStore>> open_registry(const std::filesystem::path& store_dir) {
  if (store_dir.empty()) return Status::FailedPrecondition("this step has no store: the model registry is not available");
  auto store = RunStore::open(store_dir);
  if (!store) return Status::WithCode(store.code(), "cannot open the model registry in " + store_dir.string() + ": " +
                                                        store.message());
  return store;
}

// An object member of REQUEST, {} when absent; an error when it is not an object.
Result<Json> object_field(const Json& request, const char* key) {
  if (!request.contains(key) || request[key].is_null()) return Json::object();
  if (!request[key].is_object()) return Status::InvalidArgument(std::string("'") + key + "' must be a JSON object");
  return request[key];
}

Result<PromotionRule> promotion_rule(const Json& request) {
  PromotionRule rule;
  if (!request.contains("compare")) return rule;
  const Json& c = request["compare"];
  if (!c.is_object()) return Status::InvalidArgument("'compare' must be {\"metric\": NAME, \"higher_is_better\": BOOL}");
  if (c.contains("metric")) {
    if (!c["metric"].is_string() || c["metric"].get<std::string>().empty())
      return Status::InvalidArgument("'compare.metric' must be the name of a metric");
    rule.metric = c["metric"].get<std::string>();
  }
  if (c.contains("higher_is_better")) {
    if (!c["higher_is_better"].is_boolean()) return Status::InvalidArgument("'compare.higher_is_better' must be true or false");
    rule.higher_is_better = c["higher_is_better"].get<bool>();
  }
  return rule;
}

}  // namespace

Result<Json> registry_current(const std::filesystem::path& store_dir, const std::string& name) {
  auto store = open_registry(store_dir);
  if (!store) return store.status();
  auto prod = (*store)->production_model(name);
  if (!prod) return prod.status();
  if (!*prod) return Json(nullptr);
  return version_json(**prod);
}

Result<Json> registry_register_promote(const std::filesystem::path& store_dir, const Json& request,
                                       const std::string& run_id, const std::string& step) {
  if (!request.is_object()) return Status::InvalidArgument("the request must be a JSON object");
  if (!request.contains("name") || !request["name"].is_string() || request["name"].get<std::string>().empty())
    return Status::InvalidArgument("the request needs \"name\": the model's name");
  ModelVersion mv;
  mv.name = request["name"].get<std::string>();
  mv.run_id = run_id;
  mv.step = step;
  const std::pair<const char*, Json*> fields[] = {{"artifacts", &mv.artifacts}, {"metrics", &mv.metrics}, {"params", &mv.params}};
  for (const auto& [key, field] : fields) {
    auto v = object_field(request, key);
    if (!v) return v.status();
    *field = std::move(*v);
  }
  auto rule = promotion_rule(request);
  if (!rule) return rule.status();
  auto store = open_registry(store_dir);
  if (!store) return store.status();
  auto p = (*store)->register_and_promote(std::move(mv), *rule);
  if (!p) return p.status();
  Json out = {{"name", p->version.name}, {"version", p->version.version}, {"stage", p->version.stage},
              {"promoted", p->promoted}, {"previous", nullptr}};
  if (p->previous) out["previous"] = {{"version", p->previous->version}, {"metrics", p->previous->metrics}};
  return out;
}

Status registry_data_tag(const std::filesystem::path& store_dir, const std::string& tag, const std::string& digest) {
  auto store = open_registry(store_dir);
  if (!store) return store.status();
  return (*store)->tag_data(tag, digest);
}

Result<Json> registry_data_resolve(const std::filesystem::path& store_dir, const std::string& ref) {
  if (ref.empty()) return Status::InvalidArgument("an empty data version: want NAME@VERSION or a path in the store");
  auto store = open_registry(store_dir);
  if (!store) return store.status();
  const std::filesystem::path blobs = (*store)->blobs_dir();
  std::string digest;
  if (ref.find('/') != std::string::npos) {
    auto b = ArtifactStore::blob_at(blobs, ref);
    if (!b) return Json(nullptr);
    digest = b->digest;
  } else {
    if (ref.find('@') == std::string::npos)
      return Status::InvalidArgument("'" + ref + "' is not a data version: want NAME@VERSION (e.g. " + ref + "@latest)");
    auto d = (*store)->resolve_data_tag(ref);
    if (d.code() == StatusCode::kNotFound) return Json(nullptr);
    if (!d) return d.status();
    digest = *d;
  }
  auto blob = ArtifactStore(blobs).get(digest);
  if (!blob) return Status::WithCode(blob.code(), "data version '" + ref + "' (" + digest + "): " + blob.message());
  auto tags = (*store)->data_tags_of(digest);
  if (!tags) return tags.status();
  Json t = Json::array();
  for (const auto& d : *tags) t.push_back({{"tag", d.tag}, {"created_at", d.created_at}});
  Json made_by = nullptr;
  auto uses = (*store)->artifact_uses(digest);
  if (!uses) return uses.status();
  for (const auto& u : *uses)
    if (u.role == "output") {
      made_by = {{"run_id", u.run_id}, {"step", u.step}};
      break;
    }
  return Json{{"ref", ref},          {"digest", blob->digest}, {"kind", blob->kind}, {"size", blob->size},
              {"path", blob->path.string()}, {"tags", t},   {"made_by", made_by}};
}

Result<std::string> registry_file_digest(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status::NotFound("'" + path.string() + "' is not a file");
  auto d = ArtifactStore::digest_file(path);
  if (!d) return Status::WithCode(d.code() == StatusCode::kInternal ? StatusCode::kIoError : d.code(),
                                  "cannot hash '" + path.string() + "': " + d.message());
  return d;
}

}  // namespace ctflow

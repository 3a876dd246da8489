// RunStore: the model registry. Versions count up from 1 per name; at most one
// version of a name is in Production: promoting one archives the one before
// (as MLflow's archive_existing_versions does).
#include "store/run_store.h"
#include "store/sqlite_util.h"
#include "store/store_internal.h"

namespace ctflow {

namespace {

constexpr const char* kModelColumns = "name, version, stage, run_id, step, artifacts, metrics, params, created_at";

ModelVersion read_model(const Statement& r) {
  ModelVersion m;
  m.name = r.text(0);
  m.version = static_cast<int>(r.int64(1));
  m.stage = r.text(2);
  m.run_id = r.text(3);
  m.step = r.text(4);
  m.artifacts = parse_json_column(r.text(5));
  m.metrics = parse_json_column(r.text(6));
  m.params = parse_json_column(r.text(7));
  m.created_at = r.int64(8);
  return m;
}

Status bad_stage(const std::string& stage) {
  return Status::InvalidArgument("invalid model stage '" + stage + "' (want None, Staging, Production or Archived)");
}

}  // namespace

Result<ModelVersion> RunStore::register_model(ModelVersion m) {
  if (m.name.empty()) return Status::InvalidArgument("a model needs a name");
  if (m.stage.empty()) m.stage = "None";
  if (!is_model_stage(m.stage)) return bad_stage(m.stage);
  if (m.created_at == 0) m.created_at = now_ms();
  Status s = write([&]() -> Status {
    auto next = prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?");
    if (!next.ok()) return next.status();
    next->bind(1, m.name);
    auto row = next->next();
    if (!row.ok()) return row.status();
    m.version = static_cast<int>(next->int64(0));
    if (m.stage == "Production") {
      auto archive = prepare("UPDATE models SET stage = 'Archived' WHERE name = ? AND stage = 'Production'");
      if (!archive.ok()) return archive.status();
      archive->bind(1, m.name);
      if (Status a = archive->run(); !a) return a;
    }
    auto st = prepare(std::string("INSERT INTO models(") + kModelColumns + ") VALUES (?,?,?,?,?,?,?,?,?)");
    if (!st.ok()) return st.status();
    st->bind(1, m.name).bind(2, m.version).bind(3, m.stage).bind(4, m.run_id).bind(5, m.step);
    st->bind(6, json_text(m.artifacts)).bind(7, json_text(m.metrics)).bind(8, json_text(m.params)).bind(9, m.created_at);
    return st->run();
  });
  if (!s) return s;
  return m;
}

Result<std::optional<ModelVersion>> RunStore::production_model(const std::string& name) {
  auto st = prepare(std::string("SELECT ") + kModelColumns +
                    " FROM models WHERE name = ? AND stage = 'Production' ORDER BY version DESC LIMIT 1");
  if (!st.ok()) return st.status();
  st->bind(1, name);
  auto row = st->next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<ModelVersion>();
  return std::optional<ModelVersion>(read_model(*st));
}

namespace {

// RULE's verdict on CANDIDATE against the Production version PREVIOUS.
bool beats(const Json& candidate, const std::optional<ModelVersion>& previous, const PromotionRule& rule) {
  if (!previous) return true;
  const Json& old = previous->metrics;
  if (!old.is_object() || !old.contains(rule.metric) || !old[rule.metric].is_number()) return true;
  const double a = candidate[rule.metric].get<double>(), b = old[rule.metric].get<double>();
  return rule.higher_is_better ? a > b : a < b;
}

}  // namespace

Result<Promotion> RunStore::register_and_promote(ModelVersion m, const PromotionRule& rule) {
  if (rule.metric.empty()) return Status::InvalidArgument("a promotion rule needs a metric to compare");
  if (!m.metrics.is_object() || !m.metrics.contains(rule.metric) || !m.metrics[rule.metric].is_number())
    return Status::InvalidArgument("model '" + m.name + "': metrics have no number named '" + rule.metric +
                                   "' to compare with the Production version");
  Promotion out;
  Status s = write([&]() -> Status {
    auto prod = production_model(m.name);
    if (!prod.ok()) return prod.status();
    out.previous = std::move(*prod);
    out.promoted = beats(m.metrics, out.previous, rule);
    m.stage = out.promoted ? "Production" : "Staging";
    m.version = 0;
    auto reg = register_model(m);  // nests: a savepoint inside this transaction
    if (!reg.ok()) return reg.status();
    out.version = std::move(*reg);
    return Status::Ok();
  });
  if (!s) return s;
  return out;
}

Result<std::vector<ModelVersion>> RunStore::list_models(const std::string& name) {
  auto st = prepare(std::string("SELECT ") + kModelColumns +
                    " FROM models WHERE (?1 = '' OR name = ?1) ORDER BY name, version");
  if (!st.ok()) return st.status();
  st->bind(1, name);
  std::vector<ModelVersion> out;
  for (;;) {
    auto row = st->next();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(read_model(*st));
  }
}

Result<ModelVersion> RunStore::get_model(const std::string& name, int version) {
  // Version 0: the Production version, else the latest.
  auto st = prepare(std::string("SELECT ") + kModelColumns +
                    " FROM models WHERE name = ?1 AND (?2 = 0 OR version = ?2) "
                    "ORDER BY (stage = 'Production') DESC, version DESC LIMIT 1");
  if (!st.ok()) return st.status();
  st->bind(1, name).bind(2, version);
  auto row = st->next();
  if (!row.ok()) return row.status();
  if (*row) return read_model(*st);
  if (version == 0) return Status::NotFound("no model named '" + name + "' (see 'ctflow models list')");
  return Status::NotFound("model '" + name + "' has no version " + std::to_string(version) +
                       " (see 'ctflow models list')");
}

Status RunStore::set_model_stage(const std::string& name, int version, const std::string& stage) {
  if (!is_model_stage(stage)) return bad_stage(stage);
  return write([&]() -> Status {
    if (stage == "Production") {
      auto archive =
          prepare("UPDATE models SET stage = 'Archived' WHERE name = ? AND stage = 'Production' AND version <> ?");
      if (!archive.ok()) return archive.status();
      archive->bind(1, name).bind(2, version);
      if (Status a = archive->run(); !a) return a;
    }
    auto st = prepare("UPDATE models SET stage = ? WHERE name = ? AND version = ?");
    if (!st.ok()) return st.status();
    st->bind(1, stage).bind(2, name).bind(3, version);
    if (Status s = st->run(); !s) return s;
    if (sqlite3_changes(conn_->db()) == 0)
      return Status::NotFound("model '" + name + "' has no version " + std::to_string(version) +
                           " (see 'ctflow models list')");
    return Status::Ok();
  });
}

}  // namespace ctflow

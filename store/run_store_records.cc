// RunStore: steps, attempts, artifacts, data tags, metrics, confusion matrices
// and the step cache.
#include "store/artifact_store.h"
#include "store/run_store.h"
#include "store/sqlite_util.h"
#include "store/store_internal.h"

namespace ctflow {

namespace {

// Reads rows from ST with READ until done.
template <class T, class F>
Result<std::vector<T>> collect(Statement& st, F read) {
  std::vector<T> out;
  for (;;) {
    auto row = st.next();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(read(st));
  }
}

}  // namespace

// --- steps and attempts ---

Status RunStore::upsert_step(const StepRecord& s) {
  if (!is_step_status(s.status)) return Status::InvalidArgument("invalid step status '" + s.status + "' for step " + s.name);
  auto st = prepare(
      "INSERT INTO steps(run_id, name, step, status, attempts, cached, started_at, finished_at, outputs, message, "
      "log_path, exit_code, cache_key, inputs) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT(run_id, name) DO UPDATE SET step = excluded.step, status = excluded.status, "
      "attempts = excluded.attempts, cached = excluded.cached, started_at = excluded.started_at, "
      "finished_at = excluded.finished_at, outputs = excluded.outputs, message = excluded.message, "
      "log_path = excluded.log_path, exit_code = excluded.exit_code, cache_key = excluded.cache_key, "
      "inputs = CASE WHEN excluded.inputs = '{}' THEN steps.inputs ELSE excluded.inputs END");
  if (!st.ok()) return st.status();
  st->bind(1, s.run_id).bind(2, s.name).bind(3, s.step.empty() ? s.name : s.step).bind(4, s.status);
  st->bind(5, s.attempts).bind(6, s.cached ? 1 : 0).bind(7, s.started_at).bind(8, s.finished_at);
  st->bind(9, json_text(s.outputs)).bind(10, s.message).bind(11, s.log_path).bind(12, s.exit_code).bind(13, s.cache_key);
  st->bind(14, json_text(s.inputs));
  return st->run();
}

Status RunStore::add_attempt(const AttemptRecord& a) {
  if (!is_step_status(a.status))
    return Status::InvalidArgument("invalid attempt status '" + a.status + "' for step " + a.step);
  if (a.attempt < 1) return Status::InvalidArgument("invalid attempt number " + std::to_string(a.attempt) + " for step " + a.step);
  auto st = prepare(
      "INSERT INTO attempts(run_id, step, attempt, status, started_at, finished_at, exit_code, message, log_path) "
      "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id, step, attempt) DO UPDATE SET status = excluded.status, "
      "started_at = excluded.started_at, finished_at = excluded.finished_at, exit_code = excluded.exit_code, "
      "message = excluded.message, log_path = excluded.log_path");
  if (!st.ok()) return st.status();
  st->bind(1, a.run_id).bind(2, a.step).bind(3, a.attempt).bind(4, a.status).bind(5, a.started_at);
  st->bind(6, a.finished_at).bind(7, a.exit_code).bind(8, a.message).bind(9, a.log_path);
  return st->run();
}

Result<std::vector<StepRecord>> RunStore::get_steps(const std::string& run_id) {
  // Steps come back in the order they were first recorded.
  auto st = prepare(
      "SELECT run_id, name, step, status, attempts, cached, started_at, finished_at, outputs, message, log_path, "
      "exit_code, cache_key, inputs, progress FROM steps WHERE run_id = ? ORDER BY rowid");
  if (!st.ok()) return st.status();
  st->bind(1, run_id);
  return collect<StepRecord>(*st, [](const Statement& r) {
    StepRecord s;
    s.run_id = r.text(0);
    s.name = r.text(1);
    s.step = r.text(2);
    s.status = r.text(3);
    s.attempts = static_cast<int>(r.int64(4));
    s.cached = r.int64(5) != 0;
    s.started_at = r.int64(6);
    s.finished_at = r.int64(7);
    s.outputs = parse_json_column(r.text(8));
    s.message = r.text(9);
    s.log_path = r.text(10);
    s.exit_code = static_cast<int>(r.int64(11));
    s.cache_key = r.text(12);
    s.inputs = parse_json_column(r.text(13));
    if (std::string p = r.text(14); !p.empty()) s.progress = parse_json_column(p);
    return s;
  });
}

Status RunStore::set_progress(const std::string& run_id, const std::string& name, const Json& progress) {
  auto st = prepare("UPDATE steps SET progress = ? WHERE run_id = ? AND name = ?");
  if (!st.ok()) return st.status();
  st->bind(1, progress.is_null() ? std::string() : json_text(progress)).bind(2, run_id).bind(3, name);
  return st->run();
}

Result<std::vector<AttemptRecord>> RunStore::get_attempts(const std::string& run_id, const std::string& step) {
  auto st = prepare(
      "SELECT run_id, step, attempt, status, started_at, finished_at, exit_code, message, log_path FROM attempts "
      "WHERE run_id = ?1 AND (?2 = '' OR step = ?2) ORDER BY rowid, attempt");
  if (!st.ok()) return st.status();
  st->bind(1, run_id).bind(2, step);
  return collect<AttemptRecord>(*st, [](const Statement& r) {
    AttemptRecord a;
    a.run_id = r.text(0);
    a.step = r.text(1);
    a.attempt = static_cast<int>(r.int64(2));
    a.status = r.text(3);
    a.started_at = r.int64(4);
    a.finished_at = r.int64(5);
    a.exit_code = static_cast<int>(r.int64(6));
    a.message = r.text(7);
    a.log_path = r.text(8);
    return a;
  });
}

// --- artifacts ---

Status RunStore::add_artifact(const ArtifactRecord& a) {
  if (a.kind != "file" && a.kind != "dir")
    return Status::InvalidArgument("invalid artifact kind '" + a.kind + "' for " + a.name + " (want file or dir)");
  std::string role = a.role.empty() ? "output" : a.role;
  if (role != "output" && role != "input")
    return Status::InvalidArgument("invalid artifact role '" + a.role + "' for " + a.name + " (want output or input)");
  return write([&]() -> Status {
    auto blob = prepare("INSERT INTO artifacts(digest, size, kind, created_at) VALUES (?,?,?,?) "
                        "ON CONFLICT(digest) DO NOTHING");
    if (!blob.ok()) return blob.status();
    blob->bind(1, a.digest).bind(2, a.size).bind(3, a.kind).bind(4, now_ms());
    if (Status s = blob->run(); !s) return s;
    auto use = prepare("INSERT INTO run_artifacts(run_id, step, name, digest, role) VALUES (?,?,?,?,?) "
                       "ON CONFLICT(run_id, step, name, role) DO UPDATE SET digest = excluded.digest");
    if (!use.ok()) return use.status();
    use->bind(1, a.run_id).bind(2, a.step).bind(3, a.name).bind(4, a.digest).bind(5, role);
    return use->run();
  });
}

namespace {
ArtifactRecord read_artifact(const Statement& r, const std::filesystem::path& blobs) {
  ArtifactRecord a;
  a.run_id = r.text(0);
  a.step = r.text(1);
  a.name = r.text(2);
  a.digest = r.text(3);
  a.role = r.text(4);
  a.size = r.int64(5);
  a.kind = r.text(6);
  a.path = ArtifactStore::blob_path(blobs, a.digest, a.kind).string();
  return a;
}
}  // namespace

Result<std::vector<ArtifactRecord>> RunStore::get_artifacts(const std::string& run_id, const std::string& step) {
  auto st = prepare(
      "SELECT u.run_id, u.step, u.name, u.digest, u.role, a.size, a.kind FROM run_artifacts u "
      "JOIN artifacts a ON a.digest = u.digest WHERE u.run_id = ?1 AND (?2 = '' OR u.step = ?2) ORDER BY u.rowid");
  if (!st.ok()) return st.status();
  st->bind(1, run_id).bind(2, step);
  auto blobs = blobs_dir();
  return collect<ArtifactRecord>(*st, [&](const Statement& r) { return read_artifact(r, blobs); });
}

Result<std::vector<ArtifactRecord>> RunStore::artifact_uses(const std::string& digest) {
  auto st = prepare(
      "SELECT u.run_id, u.step, u.name, u.digest, u.role, a.size, a.kind FROM run_artifacts u "
      "JOIN artifacts a ON a.digest = u.digest JOIN runs r ON r.id = u.run_id WHERE u.digest = ? "
      "ORDER BY r.started_at, u.rowid");
  if (!st.ok()) return st.status();
  st->bind(1, digest);
  auto blobs = blobs_dir();
  return collect<ArtifactRecord>(*st, [&](const Statement& r) { return read_artifact(r, blobs); });
}

Status RunStore::tag_data(const std::string& tag, const std::string& digest) {
  if (tag.empty()) return Status::InvalidArgument("a data tag must not be empty");
  if (digest.rfind("sha256:", 0) != 0) return Status::InvalidArgument("invalid digest '" + digest + "' (want sha256:<hex>)");
  auto st = prepare("INSERT INTO data_tags(tag, digest, created_at) VALUES (?,?,?) "
                    "ON CONFLICT(tag) DO UPDATE SET digest = excluded.digest, created_at = excluded.created_at");
  if (!st.ok()) return st.status();
  st->bind(1, tag).bind(2, digest).bind(3, now_ms());
  return st->run();
}

Result<std::string> RunStore::resolve_data_tag(const std::string& tag) {
  auto st = prepare("SELECT digest FROM data_tags WHERE tag = ?");
  if (!st.ok()) return st.status();
  st->bind(1, tag);
  auto row = st->next();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no data tagged '" + tag + "'");
  return st->text(0);
}

Result<std::vector<DataTag>> RunStore::data_tags_of(const std::string& digest) {
  auto st = prepare("SELECT tag, digest, created_at FROM data_tags WHERE digest = ? ORDER BY created_at DESC, tag");
  if (!st.ok()) return st.status();
  st->bind(1, digest);
  return collect<DataTag>(*st, [](const Statement& r) { return DataTag{r.text(0), r.text(1), r.int64(2)}; });
}

// --- metrics ---

Status RunStore::add_metrics(const std::vector<MetricPoint>& points) {
  if (points.empty()) return Status::Ok();
  for (const auto& p : points)
    if (p.kind != "scalar" && p.kind != "series")
      return Status::InvalidArgument("invalid metric kind '" + p.kind + "' for " + p.name + " (want scalar or series)");
  int64_t now = now_ms();
  return write([&]() -> Status {
    auto series = prepare("INSERT INTO metric_series(run_id, step, name, kind) VALUES (?,?,?,?) "
                          "ON CONFLICT(run_id, step, name) DO UPDATE SET kind = excluded.kind RETURNING id");
    auto point = prepare("INSERT INTO metrics(series_id, idx, value, ts) VALUES (?,?,?,?) "
                         "ON CONFLICT(series_id, idx) DO UPDATE SET value = excluded.value, ts = excluded.ts");
    if (!series.ok()) return series.status();
    if (!point.ok()) return point.status();
    const MetricPoint* last = nullptr;  // points usually come grouped by series
    int64_t series_id = 0;
    for (const auto& p : points) {
      if (last == nullptr || p.run_id != last->run_id || p.step != last->step || p.name != last->name ||
          p.kind != last->kind) {
        series->bind(1, p.run_id).bind(2, p.step).bind(3, p.name).bind(4, p.kind);
        auto row = series->next();
        if (!row.ok()) return row.status();
        series_id = series->int64(0);
        if (Status s = series->run(); !s) return s;  // finish the RETURNING statement
        last = &p;
      }
      point->bind(1, series_id).bind(2, p.index).bind(3, p.value).bind(4, p.ts != 0 ? p.ts : now);
      if (Status s = point->run(); !s) return s;
    }
    return Status::Ok();
  });
}

Result<std::vector<MetricPoint>> RunStore::get_metrics(const std::string& run_id, const std::string& step) {
  auto st = prepare("SELECT s.run_id, s.step, s.name, s.kind, m.idx, m.value, m.ts FROM metric_series s "
                    "JOIN metrics m ON m.series_id = s.id WHERE s.run_id = ?1 AND (?2 = '' OR s.step = ?2) "
                    "ORDER BY s.step, s.name, m.idx");
  if (!st.ok()) return st.status();
  st->bind(1, run_id).bind(2, step);
  return collect<MetricPoint>(*st, [](const Statement& r) {
    MetricPoint p;
    p.run_id = r.text(0);
    p.step = r.text(1);
    p.name = r.text(2);
    p.kind = r.text(3);
    p.index = r.int64(4);
    p.value = r.real(5);
    p.ts = r.int64(6);
    return p;
  });
}

Status RunStore::add_confusion(const ConfusionRecord& c) {
  size_t n = c.labels.size();
  if (c.counts.size() != n * n)
    return Status::InvalidArgument("confusion matrix " + c.name + " has " + std::to_string(c.counts.size()) + " counts for " +
                         std::to_string(n) + " labels (want " + std::to_string(n * n) + ")");
  auto st = prepare("INSERT INTO confusions(run_id, step, name, labels, counts) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(run_id, step, name) DO UPDATE SET labels = excluded.labels, counts = excluded.counts");
  if (!st.ok()) return st.status();
  st->bind(1, c.run_id).bind(2, c.step).bind(3, c.name).bind(4, json_text(Json(c.labels))).bind(5, json_text(Json(c.counts)));
  return st->run();
}

Result<std::vector<ConfusionRecord>> RunStore::get_confusions(const std::string& run_id, const std::string& step) {
  auto st = prepare("SELECT run_id, step, name, labels, counts FROM confusions "
                    "WHERE run_id = ?1 AND (?2 = '' OR step = ?2) ORDER BY rowid");
  if (!st.ok()) return st.status();
  st->bind(1, run_id).bind(2, step);
  return collect<ConfusionRecord>(*st, [](const Statement& r) {
    ConfusionRecord c;
    c.run_id = r.text(0);
    c.step = r.text(1);
    c.name = r.text(2);
    Json labels = parse_json_column(r.text(3));
    Json counts = parse_json_column(r.text(4));
    if (labels.is_array()) c.labels = labels.get<std::vector<std::string>>();
    if (counts.is_array()) c.counts = counts.get<std::vector<int64_t>>();
    return c;
  });
}

// --- step cache ---

Result<std::optional<CacheEntry>> RunStore::cache_lookup(const std::string& key) {
  auto st = prepare("SELECT key, run_id, step, outputs, artifacts, created_at FROM cache WHERE key = ?");
  if (!st.ok()) return st.status();
  st->bind(1, key);
  auto row = st->next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<CacheEntry>();
  CacheEntry e;
  e.key = st->text(0);
  e.run_id = st->text(1);
  e.step = st->text(2);
  e.outputs = parse_json_column(st->text(3));
  e.artifacts = parse_json_column(st->text(4));
  e.created_at = st->int64(5);
  return std::optional<CacheEntry>(std::move(e));
}

Status RunStore::cache_store(const CacheEntry& e) {
  if (e.key.empty()) return Status::InvalidArgument("a cache key must not be empty");
  auto st = prepare("INSERT INTO cache(key, run_id, step, outputs, artifacts, created_at) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(key) DO UPDATE SET run_id = excluded.run_id, step = excluded.step, "
                    "outputs = excluded.outputs, artifacts = excluded.artifacts, created_at = excluded.created_at");
  if (!st.ok()) return st.status();
  st->bind(1, e.key).bind(2, e.run_id).bind(3, e.step).bind(4, json_text(e.outputs)).bind(5, json_text(e.artifacts));
  st->bind(6, e.created_at != 0 ? e.created_at : now_ms());
  return st->run();
}

}  // namespace ctflow

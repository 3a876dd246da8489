#include "store/migrations_internal.h"

#include <iterator>

#include "store/run_store.h"
#include "store/sqlite_util.h"

namespace ctflow {

namespace {

// Never edit a migration that has been released; add a new one at the end.
const char* const kMigrations[] = {
    // 1: runs, steps, attempts, artifacts, metrics, the step cache.
    R"sql(
CREATE TABLE runs (
  id           TEXT PRIMARY KEY,
  workflow     TEXT NOT NULL,
  file         TEXT NOT NULL DEFAULT '',
  status       TEXT NOT NULL CHECK (status IN ('Pending','Running','Succeeded','Failed','Errored','Cancelled')),
  params       TEXT NOT NULL DEFAULT '{}',
  source       TEXT NOT NULL DEFAULT '',
  started_at   INTEGER NOT NULL,
  finished_at  INTEGER NOT NULL DEFAULT 0,
  message      TEXT NOT NULL DEFAULT '',
  owner_pid    INTEGER NOT NULL DEFAULT 0,
  heartbeat_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE steps (
  run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  step        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('Pending','Running','Succeeded','Failed','Errored','Skipped',
                                              'Omitted','Cancelled')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  cached      INTEGER NOT NULL DEFAULT 0 CHECK (cached IN (0, 1)),
  started_at  INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  outputs     TEXT NOT NULL DEFAULT '{}',
  message     TEXT NOT NULL DEFAULT '',
  log_path    TEXT NOT NULL DEFAULT '',
  exit_code   INTEGER NOT NULL DEFAULT 0,
  cache_key   TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, name)
);
CREATE TABLE attempts (
  run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step        TEXT NOT NULL,
  attempt     INTEGER NOT NULL CHECK (attempt >= 1),
  status      TEXT NOT NULL CHECK (status IN ('Pending','Running','Succeeded','Failed','Errored','Skipped',
                                              'Omitted','Cancelled')),
  started_at  INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  exit_code   INTEGER NOT NULL DEFAULT 0,
  message     TEXT NOT NULL DEFAULT '',
  log_path    TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, step, attempt)
);
CREATE TABLE artifacts (
  digest     TEXT PRIMARY KEY CHECK (digest LIKE 'sha256:%'),
  size       INTEGER NOT NULL CHECK (size >= 0),
  kind       TEXT NOT NULL CHECK (kind IN ('file','dir')),
  created_at INTEGER NOT NULL
);
CREATE TABLE run_artifacts (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step   TEXT NOT NULL,
  name   TEXT NOT NULL,
  digest TEXT NOT NULL REFERENCES artifacts(digest),
  role   TEXT NOT NULL CHECK (role IN ('output','input')),
  PRIMARY KEY (run_id, step, name, role)
);
-- One row per metric of a step; its points below, keyed by series and index
-- (small rows: ingest runs at hundreds of thousands of points a second).
CREATE TABLE metric_series (
  id     INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step   TEXT NOT NULL,
  name   TEXT NOT NULL,
  kind   TEXT NOT NULL CHECK (kind IN ('scalar','series')),
  UNIQUE (run_id, step, name)
);
CREATE TABLE metrics (
  series_id INTEGER NOT NULL REFERENCES metric_series(id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL,
  value     REAL NOT NULL,
  ts        INTEGER NOT NULL,
  PRIMARY KEY (series_id, idx)
) WITHOUT ROWID;
CREATE TABLE confusions (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step   TEXT NOT NULL,
  name   TEXT NOT NULL,
  labels TEXT NOT NULL,
  counts TEXT NOT NULL,
  PRIMARY KEY (run_id, step, name)
);
CREATE TABLE cache (
  key        TEXT PRIMARY KEY,
  run_id     TEXT NOT NULL,
  step       TEXT NOT NULL,
  outputs    TEXT NOT NULL DEFAULT '{}',
  artifacts  TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
)sql",
    // 2: the model registry and data tags.
    R"sql(
CREATE TABLE models (
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL CHECK (version >= 1),
  stage      TEXT NOT NULL DEFAULT 'None' CHECK (stage IN ('None','Staging','Production','Archived')),
  run_id     TEXT NOT NULL DEFAULT '',
  step       TEXT NOT NULL DEFAULT '',
  artifacts  TEXT NOT NULL DEFAULT '{}',
  metrics    TEXT NOT NULL DEFAULT '{}',
  params     TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE TABLE data_tags (
  tag        TEXT PRIMARY KEY,
  digest     TEXT NOT NULL CHECK (digest LIKE 'sha256:%'),
  created_at INTEGER NOT NULL
);
)sql",
    // 3: indexes for the listings and lineage queries.
    R"sql(
CREATE INDEX runs_by_start ON runs(started_at);
CREATE INDEX run_artifacts_by_digest ON run_artifacts(digest);
CREATE INDEX models_by_stage ON models(name, stage);
)sql",
    // 4: what a step ran with (resolved parameters, plugin and version, argv), for lineage.
    R"sql(
ALTER TABLE steps ADD COLUMN inputs TEXT NOT NULL DEFAULT '{}';
)sql",
    // 5: 'Stopped' (a sweep's trial stopped early) for steps and attempts; a
    // step's latest progress report ({"done", "total", "message", "at"}).
    // SQLite cannot change a CHECK: the two tables are made anew.
    R"sql(
CREATE TABLE steps_v5 (
  run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  step        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('Pending','Running','Succeeded','Failed','Errored','Skipped',
                                              'Omitted','Cancelled','Stopped')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  cached      INTEGER NOT NULL DEFAULT 0 CHECK (cached IN (0, 1)),
  started_at  INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  outputs     TEXT NOT NULL DEFAULT '{}',
  message     TEXT NOT NULL DEFAULT '',
  log_path    TEXT NOT NULL DEFAULT '',
  exit_code   INTEGER NOT NULL DEFAULT 0,
  cache_key   TEXT NOT NULL DEFAULT '',
  inputs      TEXT NOT NULL DEFAULT '{}',
  progress    TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, name)
);
INSERT INTO steps_v5(run_id, name, step, status, attempts, cached, started_at, finished_at, outputs, message,
                     log_path, exit_code, cache_key, inputs)
  SELECT run_id, name, step, status, attempts, cached, started_at, finished_at, outputs, message, log_path,
         exit_code, cache_key, inputs FROM steps ORDER BY rowid;
DROP TABLE steps;
ALTER TABLE steps_v5 RENAME TO steps;
CREATE TABLE attempts_v5 (
  run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step        TEXT NOT NULL,
  attempt     INTEGER NOT NULL CHECK (attempt >= 1),
  status      TEXT NOT NULL CHECK (status IN ('Pending','Running','Succeeded','Failed','Errored','Skipped',
                                              'Omitted','Cancelled','Stopped')),
  started_at  INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  exit_code   INTEGER NOT NULL DEFAULT 0,
  message     TEXT NOT NULL DEFAULT '',
  log_path    TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, step, attempt)
);
INSERT INTO attempts_v5 SELECT run_id, step, attempt, status, started_at, finished_at, exit_code, message, log_path
  FROM attempts ORDER BY rowid;
DROP TABLE attempts;
ALTER TABLE attempts_v5 RENAME TO attempts;
)sql",
    // 6: trigger firings (ctflow daemon): one row per (workflow, trigger, slot),
    // so a restarted daemon neither repeats nor drops a firing.
    R"sql(
CREATE TABLE trigger_firings (
  workflow  TEXT NOT NULL,
  trigger_name TEXT NOT NULL,
  slot      TEXT NOT NULL,
  slot_time INTEGER NOT NULL,
  fired_at  INTEGER NOT NULL,
  event     TEXT NOT NULL DEFAULT '{}',
  outcome   TEXT NOT NULL CHECK (outcome IN ('pending','started','skipped','missed','failed','baseline')),
  reason    TEXT NOT NULL DEFAULT '',
  run_id    TEXT NOT NULL DEFAULT '',
  pid       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workflow, trigger_name, slot)
);
CREATE INDEX trigger_firings_by_time ON trigger_firings(workflow, trigger_name, slot_time);
CREATE INDEX trigger_firings_by_run ON trigger_firings(run_id);
)sql",
    // 7: drift scores a daemon's drift trigger read from `ctflow serve`, over
    // time (the dashboard's Drift page).
    R"sql(
CREATE TABLE drift_samples (
  workflow     TEXT NOT NULL,
  trigger_name TEXT NOT NULL,
  model        TEXT NOT NULL,
  version      INTEGER NOT NULL DEFAULT 0,
  at           INTEGER NOT NULL,
  score        REAL NOT NULL,
  above        REAL NOT NULL,
  signals      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX drift_samples_by_model ON drift_samples(model, at);
)sql",
};

constexpr int kLatest = static_cast<int>(std::size(kMigrations));

Result<bool> has_table(sqlite3* db, const char* name) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1, &raw, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(raw);
    return sqlite_error(db);
  }
  Result<bool> row = false;
  {
    Statement st(db, raw);  // resets RAW when it goes, so before the finalize
    st.bind(1, name);
    row = st.next();
  }
  sqlite3_finalize(raw);
  if (!row.ok()) return row.status();
  return *row;
}

}  // namespace

int latest_schema_version() { return kLatest; }

Result<int> current_schema_version(sqlite3* db) {
  auto has = has_table(db, "schema_migrations");
  if (!has.ok()) return has.status();
  if (!*has) return 0;
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &raw, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(raw);
    return sqlite_error(db);
  }
  int version = 0;
  {
    Statement st(db, raw);
    auto row = st.next();
    if (!row.ok()) {
      sqlite3_finalize(raw);
      return row.status();
    }
    version = static_cast<int>(st.int64(0));
  }
  sqlite3_finalize(raw);
  return version;
}

Status apply_migrations(sqlite3* db, int max_version) {
  if (max_version > kLatest) max_version = kLatest;
  // Read the version inside the write transaction: two processes opening a new
  // store at once must not both apply migration 1.
  return with_write_transaction(db, [&]() -> Status {
    if (Status s = exec_sql(db,
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
        !s)
      return s;
    auto current = current_schema_version(db);
    if (!current.ok()) return current.status();
    if (*current > kLatest)
      return Status::Error("store schema version " + std::to_string(*current) + " is newer than this ctflow (" +
                           std::to_string(kLatest) + "); upgrade ctflow");
    for (int v = *current + 1; v <= max_version; ++v) {
      if (Status s = exec_sql(db, kMigrations[v - 1]); !s)
        return Status::Error("store: migration " + std::to_string(v) + " failed: " + s.message());
      std::string record = "INSERT INTO schema_migrations(version, applied_at) VALUES (" + std::to_string(v) + ", " +
                           std::to_string(now_ms()) + ")";
      if (Status s = exec_sql(db, record.c_str()); !s) return s;
    }
    return Status::Ok();
  });
}

}  // namespace ctflow
